// BackupManifest, BackupID and ManifestTimestamp: golden JSON (key order and names), round trips, versions,
// unreadable manifests, ids that sort by time, timestamps with offsets, and a manifest built from a real snapshot.

import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import LifeboatSnapshot
import Testing

enum ManifestSamples {
    static let id = BackupID(rawValue: "20261128T221500Z-7f3a")!

    static func manifest(id: BackupID = id, offset: Int = 3600, tags: [String] = ["pre-upgrade"]) -> BackupManifest {
        BackupManifest(
            id: id, createdAt: ManifestTimestamp(date: id.date, utcOffsetSeconds: offset),
            cluster: .init(name: "vault-cluster-6a1f", id: "0b4b5a2e-9c1d-4c7e-8d7a-3f1e2d9c0a11"),
            leader: .init(nodeID: "node1", address: "https://10.0.0.1:8200"), vaultVersion: "1.14.3",
            raft: .init(index: 36, term: 3, configurationIndex: 1, servers: [
                .init(id: "node1", address: "10.0.0.1:8201", suffrage: "voter"),
                .init(id: "node2", address: "10.0.0.2:8201", suffrage: "nonvoter"),
            ]),
            entryCount: 30, originalSize: 10_000, originalSHA256: String(repeating: "ab", count: 32),
            storedSize: 10_250, archiveKeyID: "00112233445566778899aabbccddeeff", archiveFormatVersion: 1,
            lifeboatVersion: "0.1.0", durationSeconds: 1.5, tags: tags,
            verifications: [.init(verifiedAt: ManifestTimestamp(parsing: "2026-11-29T08:00:00+01:00")!, result: .ok)])
    }
}

@Suite("BackupManifest")
struct ManifestTests {
    @Test func goldenJSON() throws {
        let text = String(decoding: try ManifestSamples.manifest().encoded(), as: UTF8.self)
        let golden = """
        {
          "archive_format_version" : 1,
          "archive_key_id" : "00112233445566778899aabbccddeeff",
          "cluster" : {
            "id" : "0b4b5a2e-9c1d-4c7e-8d7a-3f1e2d9c0a11",
            "name" : "vault-cluster-6a1f"
          },
          "compression_ratio" : 0.9756,
          "created_at" : "2026-11-28T23:15:00+01:00",
          "data_object" : "data/20261128T221500Z-7f3a.lbk",
          "duration_seconds" : 1.5,
          "entry_count" : 30,
          "id" : "20261128T221500Z-7f3a",
          "leader" : {
            "address" : "https://10.0.0.1:8200",
            "node_id" : "node1"
          },
          "lifeboat_version" : "0.1.0",
          "manifest_version" : 1,
          "original_sha256" : "abababababababababababababababababababababababababababababababab",
          "original_size" : 10000,
          "raft" : {
            "configuration_index" : 1,
            "index" : 36,
            "servers" : [
              {
                "address" : "10.0.0.1:8201",
                "id" : "node1",
                "suffrage" : "voter"
              },
              {
                "address" : "10.0.0.2:8201",
                "id" : "node2",
                "suffrage" : "nonvoter"
              }
            ],
            "term" : 3
          },
          "stored_size" : 10250,
          "tags" : [
            "pre-upgrade"
          ],
          "vault_version" : "1.14.3",
          "verifications" : [
            {
              "detail" : null,
              "result" : "ok",
              "verified_at" : "2026-11-29T08:00:00+01:00"
            }
          ]
        }

        """
        #expect(text == golden)
    }

    @Test func unknownValuesAreNullNotMissing() throws {
        var manifest = ManifestSamples.manifest()
        manifest.cluster = .init()
        manifest.leader = .init()
        manifest.vaultVersion = nil
        let text = String(decoding: try manifest.encoded(), as: UTF8.self)
        #expect(text.contains(#""vault_version" : null"#))
        #expect(text.contains(#""node_id" : null"#))
        #expect(text.contains(#""name" : null"#))
        #expect(try BackupManifest.decode(try manifest.encoded(), object: "m") == manifest)
    }

    @Test(arguments: [0, 3600, -5 * 3600 - 1800, 14 * 3600])
    func roundTrip(offset: Int) throws {
        var manifest = ManifestSamples.manifest(offset: offset)
        manifest.recordVerification(.init(verifiedAt: ManifestTimestamp(date: Date(timeIntervalSince1970: 1_800_000_000), utcOffsetSeconds: offset),
                                          result: .damaged, detail: "chunk 3 failed authentication"))
        let decoded = try BackupManifest.decode(try manifest.encoded(), object: "manifests/x.json")
        #expect(decoded == manifest)
        #expect(decoded.createdAt.utcOffsetSeconds == offset)
        #expect(decoded.createdAt.date == ManifestSamples.id.date)
    }

    @Test func newerManifestVersionIsRefusedByName() throws {
        let text = String(decoding: try ManifestSamples.manifest().encoded(), as: UTF8.self)
            .replacingOccurrences(of: #""manifest_version" : 1"#, with: #""manifest_version" : 2"#)
        #expect(throws: ManifestError.unsupportedVersion(object: "manifests/a.json", version: 2, supported: 1)) {
            try BackupManifest.decode(Array(text.utf8), object: "manifests/a.json")
        }
        let error = ManifestError.unsupportedVersion(object: "manifests/a.json", version: 2, supported: 1)
        #expect(error.description.contains("upgrade Lifeboat"))
        #expect(ExitStatus.forError(error) == .dataError)
    }

    @Test func unreadableManifestsNameTheProblem() throws {
        let full = String(decoding: try ManifestSamples.manifest().encoded(), as: UTF8.self)
        let cases: [(String, String)] = [
            ("{ not json", "manifests/a.json is unreadable"),
            (full.replacingOccurrences(of: #""stored_size" : 10250,"#, with: ""), "missing field stored_size"),
            (full.replacingOccurrences(of: #""term" : 3"#, with: #""term" : "three""#), "raft.term"),
            (full.replacingOccurrences(of: "2026-11-28T23:15:00+01:00", with: "2026-11-28 23:15"), "invalid timestamp"),
            (full.replacingOccurrences(of: #""id" : "20261128T221500Z-7f3a""#, with: #""id" : "yesterday""#), "invalid backup id"),
            (full.replacingOccurrences(of: #""data_object" : "data/20261128T221500Z-7f3a.lbk""#, with: #""data_object" : "../etc/passwd""#), "not a valid object name"),
        ]
        for (text, expected) in cases {
            do {
                _ = try BackupManifest.decode(Array(text.utf8), object: "manifests/a.json")
                Issue.record("decoded a broken manifest expecting \(expected)")
            } catch let error as ManifestError {
                #expect(error.description.contains(expected), "\(error)")
                #expect(error.exitStatus == .dataError)
            }
        }
    }

    @Test func compressionRatioIsOriginalOverStored() {
        #expect(BackupManifest.ratio(original: 200, stored: 100) == 2)
        #expect(BackupManifest.ratio(original: 10_000, stored: 10_250) == 0.9756)
        #expect(BackupManifest.ratio(original: 5, stored: 0) == 0)
    }

    @Test func verificationRecordsKeepTheNewest() {
        var manifest = ManifestSamples.manifest()
        manifest.verifications = []
        #expect(manifest.lastVerification == nil)
        #expect(!manifest.retentionCandidate.verified)
        for index in 0..<25 {
            manifest.recordVerification(.init(verifiedAt: ManifestTimestamp(date: Date(timeIntervalSince1970: Double(index) * 60), utcOffsetSeconds: 0),
                                              result: index == 24 ? .ok : .damaged))
        }
        #expect(manifest.verifications.count == BackupManifest.maximumVerificationRecords)
        #expect(manifest.verifications.first?.verifiedAt.date == Date(timeIntervalSince1970: 5 * 60))
        #expect(manifest.lastVerification?.result == .ok)
        #expect(manifest.retentionCandidate.verified)
    }

    @Test func retentionCandidateCarriesTimeOffsetAndTags() {
        let candidate = ManifestSamples.manifest(offset: -7 * 3600, tags: ["pre-upgrade", "weekly"]).retentionCandidate
        #expect(candidate.id == "20261128T221500Z-7f3a")
        #expect(candidate.time == ManifestSamples.id.date)
        #expect(candidate.utcOffsetSeconds == -7 * 3600)
        #expect(candidate.tags == ["pre-upgrade", "weekly"])
        #expect(candidate.verified)
    }

    @Test func manifestFromARealSnapshot() throws {
        let path = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Tests/Fixtures/vault-1.14.3/backup.snap").standardizedFileURL.path
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let summary = try SnapshotVerifier.verify(bytes)
        let id = BackupID(rawValue: "20261128T221500Z-0001")!
        let manifest = BackupManifest(id: id, createdAt: ManifestTimestamp(date: id.date, utcOffsetSeconds: 0), summary: summary,
                                      storedSize: Int64(bytes.count) + 200, archiveKeyID: "ff", durationSeconds: 0.25)
        #expect(manifest.raft.index == 36)
        #expect(manifest.raft.term == 3)
        #expect(manifest.entryCount == 30)
        #expect(manifest.originalSize == Int64(bytes.count))
        #expect(manifest.originalSHA256 == Hex.encode(SHA256Digest.hash(bytes)))
        // README of the fixtures: ConfigurationIndex 36, vault-0 voter, vault-1/vault-2 suffrage 1.
        #expect(manifest.raft.configurationIndex == 36)
        #expect(manifest.raft.servers.map(\.suffrage) == ["voter", "nonvoter", "nonvoter"])
        #expect(manifest.raft.servers.map(\.id) == summary.meta.servers.map(\.id))
        #expect(manifest.originalSHA256 == "9f4225fe2e736daa56d3f7b99e0f8e6b53c5dc55daef5b16d96f4afcaabe53de")
        #expect(manifest.dataObject == "data/20261128T221500Z-0001.lbk")
        #expect(manifest.lifeboatVersion == LifeboatVersion.current)
        #expect(try BackupManifest.decode(try manifest.encoded(), object: "m") == manifest)
    }

    @Test func serverSuffrageNames() {
        #expect(BackupManifest.Server(RaftServer(suffrage: 0, id: "a", address: "x")).suffrage == "voter")
        #expect(BackupManifest.Server(RaftServer(suffrage: 1, id: "a", address: "x")).suffrage == "nonvoter")
        #expect(BackupManifest.Server(RaftServer(suffrage: 2, id: "a", address: "x")).suffrage == "staging")
        #expect(BackupManifest.Server(RaftServer(suffrage: 7, id: "a", address: "x")).suffrage == "suffrage-7")
    }
}

@Suite("BackupID")
struct ManifestBackupIDTests {
    @Test func generatedIDsEncodeUTCTimeAndRandomSuffix() {
        let date = ManifestTimestamp(parsing: "2026-11-29T00:15:00+01:00")!.date.addingTimeInterval(0.750)
        var generator = SeededRandomNumberGenerator(seed: 7)
        let id = BackupID.generate(at: date, using: &generator)
        #expect(id.rawValue.hasPrefix("20261128T231500Z-"))
        #expect(id.rawValue.count == "20261128T231500Z-".count + 6)
        #expect(id.rawValue.hasPrefix("20261128T231500Z-2ee"), "the suffix starts with the millisecond (750 = 0x2ee)")
        #expect(id.date == ManifestTimestamp(parsing: "2026-11-28T23:15:00Z")!.date)
        var again = SeededRandomNumberGenerator(seed: 7)
        #expect(BackupID.generate(at: date, using: &again) == id)
        let secure = BackupID.generate(at: date)
        #expect(secure.rawValue.hasPrefix("20261128T231500Z-"))
        #expect(StoreObjectName.isValid(secure.rawValue))
    }

    @Test func idsWithinOneSecondSortByMillisecond() {
        var generator = SeededRandomNumberGenerator(seed: 3)
        let base = ManifestTimestamp(parsing: "2026-11-28T23:15:00Z")!.date
        let ids = [0.001, 0.250, 0.5, 0.999].map { BackupID.generate(at: base.addingTimeInterval($0), using: &generator) }
        #expect(ids == ids.sorted())
    }

    @Test func idsSortChronologically() {
        var generator = SeededRandomNumberGenerator(seed: 11)
        var dates: [Date] = []
        for _ in 0..<500 {
            dates.append(Date(timeIntervalSince1970: Double(generator.next() % 4_000_000_000)))
        }
        let ids = dates.map { BackupID.generate(at: $0, using: &generator) }
        let byID = ids.sorted().map(\.date)
        #expect(byID == byID.sorted())
        #expect(ids.sorted().map(\.rawValue) == ids.map(\.rawValue).sorted())
    }

    @Test(arguments: ["20261128T231500Z-7f3a", "19700101T000000Z-0000", "20240229T235959Z-0123456789abcdef"])
    func validIDs(_ text: String) throws {
        #expect(try BackupID(parsing: text).rawValue == text)
    }

    @Test(arguments: ["", "20261128T231500Z", "20261128T231500Z-", "20261128T231500Z-7F3A", "20261128T231500Z-7f3", "20261128T231500Z-7f3a/",
                      "20261128t231500Z-7f3a", "20260230T231500Z-7f3a", "20261128T241500Z-7f3a", "20261128T231560Z-7f3a",
                      "20250229T000000Z-7f3a", "2026-11-28T231500Z-7f3a", "20261128T231500Z-0123456789abcdef0", "../20261128T231500Z-7f3a"])
    func invalidIDs(_ text: String) {
        #expect(BackupID(rawValue: text) == nil)
        #expect(throws: ManifestError.invalidBackupID(text)) { try BackupID(parsing: text) }
    }

    @Test func invalidIDMessageShowsTheForm() {
        let error = ManifestError.invalidBackupID("latest?")
        #expect(error.description.contains("20261128T231500Z-7f3a"))
        #expect(ExitStatus.forError(error) == .usage)
    }
}

@Suite("ManifestTimestamp")
struct ManifestTimestampTests {
    @Test(arguments: [
        ("2026-11-28T23:15:00+01:00", 1_795_904_100.0, 3600),
        ("2026-11-28T22:15:00Z", 1_795_904_100.0, 0),
        ("2026-11-28T22:15:00.123456z", 1_795_904_100.0, 0),
        ("2026-11-28T16:45:00-05:30", 1_795_904_100.0, -19_800),
        ("1969-12-31T23:59:59+00:00", -1.0, 0),
        ("2024-02-29T12:00:00+14:00", 1_709_157_600.0, 50_400),
    ])
    func parses(_ text: String, _ seconds: Double, _ offset: Int) throws {
        let timestamp = try #require(ManifestTimestamp(parsing: text))
        #expect(timestamp.date.timeIntervalSince1970 == seconds)
        #expect(timestamp.utcOffsetSeconds == offset)
        #expect(ManifestTimestamp(parsing: timestamp.description) == timestamp)
    }

    @Test func formatsWithOffsetAndUTC() {
        let timestamp = ManifestTimestamp(date: Date(timeIntervalSince1970: 1_795_904_100.9), utcOffsetSeconds: 3600)
        #expect(timestamp.description == "2026-11-28T23:15:00+01:00")
        #expect(timestamp.utcDescription == "2026-11-28T22:15:00Z")
        #expect(ManifestTimestamp(date: Date(timeIntervalSince1970: -1), utcOffsetSeconds: 0).description == "1969-12-31T23:59:59+00:00")
        #expect(ManifestTimestamp(date: Date(timeIntervalSince1970: 0), utcOffsetSeconds: -9000).description == "1969-12-31T21:30:00-02:30")
    }

    @Test func takesTheOffsetOfATimeZoneAtThatInstant() throws {
        let berlin = try #require(TimeZone(identifier: "Europe/Berlin"))
        let winter = ManifestTimestamp(date: ManifestTimestamp(parsing: "2026-01-15T12:00:00Z")!.date, timeZone: berlin)
        let summer = ManifestTimestamp(date: ManifestTimestamp(parsing: "2026-07-15T12:00:00Z")!.date, timeZone: berlin)
        #expect(winter.description == "2026-01-15T13:00:00+01:00")
        #expect(summer.description == "2026-07-15T14:00:00+02:00")
    }

    @Test(arguments: ["", "2026-11-28T23:15:00", "2026-11-28 23:15:00Z", "2026-02-29T00:00:00Z", "2026-11-28T23:15:00+1:00",
                      "2026-11-28T23:15:00+19:00", "2026-11-28T23:15:00.Z", "2026-11-28T23:15:00Zjunk", "2026-13-01T00:00:00Z"])
    func rejects(_ text: String) {
        #expect(ManifestTimestamp(parsing: text) == nil)
    }
}

/// `BackupManifest.decode` uses its own JSON parser (for listing speed); it must read what JSONEncoder writes and
/// agree with the Codable conformance.
@Suite("Manifest JSON parsing")
struct ManifestJSONParsingTests {
    static let awkwardTags = ["quote\"d", "back\\slash", "tab\there", "é", "😀", "slash/", "\u{1}ctl", ""]

    @Test func agreesWithCodableOnEveryEncoding() throws {
        var manifest = ManifestSamples.manifest(offset: -3 * 3600, tags: Self.awkwardTags)
        manifest.durationSeconds = 0.1 + 0.2
        manifest.recordVerification(.init(verifiedAt: ManifestTimestamp(parsing: "2027-01-01T00:00:00Z")!, result: .damaged, detail: "chunk 7: \"tag\" mismatch"))
        for formatting: JSONEncoder.OutputFormatting in [[], [.sortedKeys], [.prettyPrinted], [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = formatting
            let bytes = Array(try encoder.encode(manifest))
            let fast = try BackupManifest.decode(bytes, object: "m")
            let codable = try JSONDecoder().decode(BackupManifest.self, from: Data(bytes))
            #expect(fast == manifest)
            #expect(codable == manifest)
        }
    }

    @Test func acceptsEscapesNumbersAndUnknownFields() throws {
        var text = String(decoding: try ManifestSamples.manifest(tags: ["x"]).encoded(), as: UTF8.self)
        text = text.replacingOccurrences(of: #""tags" : ["#, with: #""future_field" : {"nested" : [1, 2.5e3, -0, true, false, null]}, "tags" : ["\u00e9\ud83d\ude00\/\n","#)
        text = text.replacingOccurrences(of: #""compression_ratio" : 0.9756"#, with: #""compression_ratio" : 9.756E-1"#)
        let manifest = try BackupManifest.decode(Array(text.utf8), object: "m")
        #expect(manifest.tags == ["é😀/\n", "x"])
        #expect(manifest.compressionRatio == 0.9756)
    }

    @Test(arguments: [
        ("", "not valid JSON"),
        ("[]", "not a JSON object"),
        ("{} x", "unexpected data after the JSON value"),
        (#"{"manifest_version": 1"#, "unexpected end of input"),
        (#"{"manifest_version": 01}"#, "expected ',' or '}'"),
        (#"{"manifest_version": 1.5}"#, "manifest_version: expected an integer"),
        (#"{"manifest_version": "1"}"#, "manifest_version: expected an integer"),
        (#"{"manifest_version": 1, "id": "\ud800"}"#, "unpaired surrogate"),
        ("{\"manifest_version\": 1, \"id\": \"a\u{1}b\"}", "control character in string"),
        (#"{"manifest_version": 1, "id": "x\q"}"#, "invalid escape"),
        (#"{"manifest_version": tru}"#, "invalid literal"),
        (#"{"manifest_version": null}"#, "null where a value is required at manifest_version"),
        (#"{"manifest_version": 1}"#, "missing field id"),
    ])
    func rejects(_ text: String, _ expected: String) {
        do {
            _ = try BackupManifest.decode(Array(text.utf8), object: "manifests/x.json")
            Issue.record("accepted \(text)")
        } catch {
            #expect("\(error)".contains(expected), "\(error)")
        }
    }

    @Test func deepNestingIsRefused() {
        let text = #"{"manifest_version": 1, "x": "# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(throws: ManifestError.self) { try BackupManifest.decode(Array(text.utf8), object: "m") }
        do {
            _ = try BackupManifest.decode(Array(text.utf8), object: "m")
        } catch {
            #expect("\(error)".contains("nesting too deep"))
        }
    }
}
