// SnapshotInspection against the real snapshots: statistics, Vault's table layout and its JSON form.

import Foundation
@testable import LifeboatSnapshot
import Testing

@Suite("SnapshotInspection")
struct SnapshotInspectionTests {
    @Test("backup.snap: meta and depth-2 statistics as Vault computes them")
    func backupStatistics() throws {
        let inspection = try SnapshotInspection.inspectFile(atPath: Fixture.backup.path)
        #expect(inspection.id == "bolt-snapshot")
        #expect(inspection.size == 16273)
        #expect(inspection.index == 36)
        #expect(inspection.term == 3)
        #expect(inspection.version == 1)
        #expect(inspection.totalCount == 30)
        #expect(inspection.totalSize == 16222)
        #expect(inspection.statistics.count == 21)
        #expect(Array(inspection.statistics.prefix(5)) == [
            KeyPrefixStatistic(name: "logical/b2f00a57-bee0-117d-0d15-12966c8f31f8", count: 5, size: 5382),
            KeyPrefixStatistic(name: "sys/policy", count: 3, size: 3298),
            KeyPrefixStatistic(name: "sys/token", count: 3, size: 904),
            KeyPrefixStatistic(name: "core/cluster", count: 2, size: 236),
            KeyPrefixStatistic(name: "core/audit", count: 1, size: 104),
        ])
        #expect(inspection.statistics.last == KeyPrefixStatistic(name: "core/wrapping", count: 1, size: 560))
    }

    @Test("ellie.snap: 36 entries, a second logical mount")
    func ellieStatistics() throws {
        let inspection = try SnapshotInspection.inspectFile(atPath: Fixture.ellie.path)
        #expect(inspection.index == 45)
        #expect(inspection.totalCount == 36)
        #expect(inspection.totalSize == 18677)
        #expect(inspection.statistics.first == KeyPrefixStatistic(name: "logical/524a2a9e-da43-c2f9-6608-eedd8b2f3199", count: 6, size: 2361))
    }

    @Test("depth 0 groups by whole key; a filter keeps only matching keys")
    func depthAndFilter() throws {
        let all = try SnapshotInspection.inspect(try Fixture.backup.bytes, depth: 0)
        #expect(all.statistics.count == 30)
        #expect(all.statistics.allSatisfy { $0.count == 1 })
        #expect(all.statistics.map(\.name) == all.statistics.map(\.name).sorted())
        #expect(all.statistics.first?.name == "core/audit")

        let sys = try SnapshotInspection.inspect(try Fixture.backup.bytes, depth: 2, filter: "sys/")
        #expect(sys.statistics.map(\.name) == ["sys/policy", "sys/token"])
        #expect(sys.totalCount == 6)
        #expect(sys.totalSize == 3298 + 904)

        let one = try SnapshotInspection.inspect(try Fixture.backup.bytes, depth: 1)
        #expect(one.statistics.map(\.name) == ["core", "sys", "logical"])
        #expect(one.statistics.map(\.count) == [19, 6, 5])
    }

    static let byteSizes: [(Int64, String)] = [
        (0, "0"), (1, "1B"), (1023, "1023B"), (1024, "1KB"), (1536, "1.5KB"), (16222, "15.8KB"),
        (1 << 20, "1MB"), (5 * (1 << 30) + (1 << 29), "5.5GB"), (3 << 40, "3TB"),
    ]

    @Test("Vault's ByteSize", arguments: byteSizes)
    func byteSize(_ bytes: Int64, _ text: String) {
        #expect(SnapshotInspection.byteSize(bytes) == text)
    }

    @Test("the table has Go tabwriter's layout")
    func table() throws {
        let table = try SnapshotInspection.inspectFile(atPath: Fixture.backup.path).renderTable()
        let lines = table.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: width - s.count) }
        #expect(Array(lines.prefix(8)) == [
            pad(" ID", 14) + "bolt-snapshot",
            pad(" Size", 14) + "16273",
            pad(" Index", 14) + "36",
            pad(" Term", 14) + "3",
            pad(" Version", 14) + "1",
            "",
            "",
            pad(" Key Name", 51) + pad("Count", 11) + "Size",
        ])
        #expect(lines[8] == pad(" ----", 51) + pad("----", 11) + "----")
        #expect(lines[9] == pad(" logical/b2f00a57-bee0-117d-0d15-12966c8f31f8", 51) + pad("5", 11) + "5.3KB")
        #expect(lines[10] == pad(" sys/policy", 51) + pad("3", 11) + "3.2KB")
        #expect(lines[lines.count - 2] == pad(" ----", 51) + "----")
        #expect(lines[lines.count - 1] == pad(" Total Size", 51) + pad("", 8) + "15.8KB")
        #expect(lines.count == 8 + 21 + 3)
    }

    @Test("the table without statistics stops after Version")
    func tableWithoutStatistics() throws {
        let summary = try SnapshotVerifier.verifyFile(atPath: Fixture.backup.path)
        let table = SnapshotInspection(summary: summary).renderTable()
        #expect(table.hasSuffix(" Version" + String(repeating: " ", count: 6) + "1\n"))
        #expect(!table.contains("Key Name"))
    }

    @Test("the JSON form has Vault's field names, order and indentation")
    func json() throws {
        let inspection = try SnapshotInspection.inspectFile(atPath: Fixture.backup.path)
        let json = inspection.renderJSON()
        #expect(json.hasPrefix("""
            {
               "Meta": {
                  "ID": "bolt-snapshot",
                  "Size": 16273,
                  "Index": 36,
                  "Term": 3,
                  "Version": 1
               },
               "StatsKV": [
                  {
                     "Name": "logical/b2f00a57-bee0-117d-0d15-12966c8f31f8",
                     "Count": 5,
                     "Size": 5382
                  },
                  {
            """))
        #expect(json.hasSuffix("""
                  {
                     "Name": "core/wrapping",
                     "Count": 1,
                     "Size": 560
                  }
               ],
               "TotalCountKV": 30,
               "TotalSizeKV": 16222
            }
            """))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect((parsed["StatsKV"] as? [Any])?.count == 21)
        #expect(parsed["TotalCountKV"] as? Int == 30)

        let empty = SnapshotInspection(summary: try SnapshotVerifier.verifyFile(atPath: Fixture.backup.path)).renderJSON()
        #expect(empty.contains("\"StatsKV\": null,"))
    }
}
