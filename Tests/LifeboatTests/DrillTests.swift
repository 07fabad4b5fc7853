// Drills on vault-sim: a backup of a simulated production cluster restored into a scratch simulator created and
// destroyed for the drill. One passes (canaries, key count, reports written); one fails because a canary is
// missing, and still tears the scratch cluster down.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting
import VaultSim

@Suite("Drill (vault-sim)", .serialized)
struct DrillTests {
    func drillOptions(_ f: RecoveryFixture, scratch: SimulatorScratchCluster, canaries: [CanarySecret]) throws -> DrillOptions {
        let token = f.rootToken
        return DrillOptions(scratch: scratch, unsealKeys: try f.keys(3), keyRing: KeyRing(keys: [f.archiveKey]),
                            stateDirectory: f.directory + "/drill-state", reportDirectory: f.directory + "/drill-reports",
                            canaries: canaries, timeouts: .fast, originalToken: { token })
    }

    @Test("a drill of the latest backup passes: canaries readable, key count matches, reports written, scratch destroyed")
    func drillPasses() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("lifeboat/canary/prod", ["value": "alive"])
            let manifest = try await f.backup()
            let scratch = SimScratchCluster()
            let runner = DrillRunner(vault: f.vault, options: try drillOptions(f, scratch: scratch,
                                                                              canaries: [CanarySecret(path: "lifeboat/canary/prod")]))
            let report = try await runner.run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(report.passed, "reasons: \(report.reasons)")
            #expect(report.reasons.isEmpty)
            #expect(report.backupID == manifest.id.rawValue)
            #expect(report.expectedKeys == manifest.entryCount)
            #expect(report.restoredKeys == manifest.entryCount)
            #expect(report.snapshotIndex == manifest.raft.index)
            #expect((report.recoverySeconds ?? 0) > 0)
            #expect(report.drillSeconds >= report.recoverySeconds ?? 0)
            #expect(report.canaries.map(\.readable) == [true])
            #expect(report.tornDown)
            #expect(scratch.destroyed)
            #expect(!FileManager.default.fileExists(atPath: scratch.directory))
            // The production cluster was never touched.
            #expect(f.resetCalls.withLock { $0 }.isEmpty)
            #expect(f.allUnsealed)
            // Reports: JSON that decodes to the same verdict, Markdown with the headline.
            #expect(report.reportFiles.count == 2)
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: report.reportFiles[0]))) as? [String: Any]
            #expect(json?["passed"] as? Bool == true)
            #expect(json?["restoredKeys"] as? Int == manifest.entryCount)
            let md = try String(contentsOfFile: report.reportFiles[1], encoding: .utf8)
            #expect(md.hasPrefix("# Lifeboat restore drill"))
            #expect(md.contains("PASSED"))
            #expect(md.contains("| `secret/data/lifeboat/canary/prod` | ok"))
            // No plaintext snapshot is left behind.
            let staged = (try? FileManager.default.contentsOfDirectory(atPath: f.directory + "/drill-state/staging")) ?? []
            #expect(staged.isEmpty)
        }
    }

    @Test("a drill with a missing canary fails with the reason and still tears the scratch cluster down")
    func drillFailsOnMissingCanary() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("lifeboat/canary/prod", ["value": "alive"])
            try await f.backup()
            let scratch = SimScratchCluster()
            let runner = DrillRunner(vault: f.vault, options: try drillOptions(f, scratch: scratch, canaries: [
                CanarySecret(path: "lifeboat/canary/prod"), CanarySecret(path: "lifeboat/canary/never-written"),
            ]))
            let report = try await runner.run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(!report.passed)
            #expect(report.reasons.count == 1)
            #expect(report.reasons.first?.contains("canary secret/data/lifeboat/canary/never-written: not found (404)") == true)
            #expect(report.canaries.map(\.readable) == [true, false])
            #expect(report.tornDown)
            #expect(scratch.destroyed)
            let md = try String(contentsOfFile: report.reportFiles[1], encoding: .utf8)
            #expect(md.contains("FAILED"))
            #expect(md.contains("## Why it failed"))
        }
    }

    @Test("canary values are compared: the right value passes, a wrong one fails without either value in the report")
    func canaryValuesAreCompared() async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("lifeboat/canary/prod", ["value": "alive-7f3a"])
            try await f.backup()
            let runner = DrillRunner(vault: f.vault, options: try drillOptions(f, scratch: SimScratchCluster(), canaries: [
                CanarySecret(path: "lifeboat/canary/prod", requiredKey: "value", expectedValue: "alive-7f3a"),
                CanarySecret(path: "lifeboat/canary/prod", requiredKey: "value", expectedValue: "dead-0000"),
            ]))
            let report = try await runner.run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(report.canaries.map(\.readable) == [true, false])
            #expect(!report.passed)
            #expect(report.reasons.first?.contains("does not hold the expected value") == true, "\(report.reasons)")
            let json = String(decoding: try report.json(), as: UTF8.self)
            #expect(!json.contains("alive-7f3a") && !json.contains("dead-0000"))
        }
    }

    @Test("a drill whose scratch cluster cannot be created fails cleanly")
    func drillScratchCreationFails() async throws {
        try await RecoveryFixture.with { f in
            try await f.backup()
            let scratch = CommandScratchCluster(createCommands: [["sh", "-c", "echo cannot start docker >&2; exit 7"]],
                                                destroyCommands: [["true"]], resetCommands: [["true"]], nodes: f.nodes)
            let token = f.rootToken
            let options = DrillOptions(scratch: scratch, unsealKeys: try f.keys(3), keyRing: KeyRing(keys: [f.archiveKey]),
                                       stateDirectory: f.directory + "/drill-state", reportDirectory: f.directory + "/drill-reports",
                                       canaries: [], timeouts: .fast, originalToken: { token })
            let report = try await DrillRunner(vault: f.vault, options: options).run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(!report.passed)
            #expect(report.reasons.first?.contains("exited with status 7: cannot start docker") == true)
            #expect(report.tornDown)
            #expect(f.allUnsealed)
        }
    }
}
