// Hostile snapshot bytes never trap (issue 15): deeply nested JSON in meta.json and core/seal-config, tar header
// blocks of the wrong size, and a negative inspect depth are errors or ignored, not crashes.

import Testing
@testable import LifeboatSnapshot

@Suite("Hostile snapshot input")
struct HostileSnapshotTests {
    @Test("deeply nested JSON in meta.json or the seal config is a parse error, not a stack overflow")
    func nestedJSON() {
        for depth in [600, 60_000] {
            let nested = [UInt8](repeating: UInt8(ascii: "["), count: depth) + [UInt8](repeating: UInt8(ascii: "]"), count: depth)
            let meta = #expect(throws: SnapshotError.self) { _ = try SnapshotMeta.parse(nested) }
            #expect(meta?.description.contains("meta.json is not valid snapshot metadata") == true)
            let objects = Array(String(repeating: #"{"a":"#, count: depth).utf8)
            #expect(throws: SnapshotError.self) { _ = try SealConfig.parse(objects) }
        }
    }

    @Test("a tar header block that is not 512 bytes throws")
    func tarHeaderSize() {
        for size in [0, 1, 511, 513] {
            let block = [UInt8](repeating: 0x30, count: size)
            let error = #expect(throws: SnapshotError.self) {
                _ = try block.withUnsafeBytes { try TarMemberHeader.parse($0, memberNumber: 3) }
            }
            #expect(error?.description.contains("member #3 is \(size) bytes, not 512") == true)
        }
    }

    @Test("a negative inspect depth groups by whole key, like depth 0")
    func negativeDepth() throws {
        let snapshot = try Fixture.backup.bytes
        let whole = try SnapshotInspection.inspect(snapshot, depth: 0)
        #expect(try SnapshotInspection.inspect(snapshot, depth: -3).statistics == whole.statistics)
    }
}
