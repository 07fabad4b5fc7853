// The agent state file: round trip, owner-only permissions even over a looser existing file, no temporary file
// left behind, and a clear error for a damaged file.

import Foundation
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
import Testing

@Suite("Agent state file")
struct AgentStateFileTests {
    @Test("round trip, mode 0600 over an existing 0644 file, no temporary file left")
    func roundTrip() throws {
        let directory = try agentTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.json").path
        FileManager.default.createFile(atPath: path, contents: Data("{}".utf8), attributes: [.posixPermissions: 0o644])
        let state = AgentState(
            jobs: [
                "backup:local": .init(
                    lastRun: agentDate("2025-01-06T01:00:00Z"), lastFinished: agentDate("2025-01-06T01:00:07Z"),
                    lastSuccess: agentDate("2025-01-06T01:00:07Z"), lastResult: .success, lastMessage: "ok"),
                "verify": .init(lastResult: .failure, lastFailureReason: .verificationFailed, consecutiveFailures: 2),
            ],
            leader: .init(address: "10.0.0.1:8200", seenAt: agentDate("2025-01-06T01:00:00Z")))
        let file = AgentStateFile(path: path)
        try file.save(state)
        #expect(try file.load() == state)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["state.json"])
    }

    @Test("a missing file is an empty state; a damaged one is an error that says what to do")
    func missingAndDamaged() throws {
        let directory = try agentTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("state.json").path
        #expect(try AgentStateFile(path: path).load() == AgentState())
        try Data("{\"version\":1,\"jobs\":".utf8).write(to: URL(fileURLWithPath: path))
        do {
            _ = try AgentStateFile(path: path).load()
            Issue.record("a damaged state file was accepted")
        } catch {
            #expect(error.message.contains("move it aside"))
        }
    }

    @Test("missed-run planning: one catch-up per job, none without a record")
    func missedJobs() throws {
        let configuration = AgentConfiguration(
            destinations: ["local"],
            backupGroups: [.init(name: "local", schedule: try Schedule(every: .seconds(3600)), destinations: ["local"])],
            verify: .init(schedule: try Schedule.parse("0 4 * * *")))
        let now = agentDate("2025-01-06T09:30:00Z")
        let missed = AgentPlanner.missedJobs(
            configuration: configuration,
            lastRuns: ["backup:local": agentDate("2025-01-06T02:00:00Z"), "verify": agentDate("2025-01-06T04:00:00Z")],
            now: now)
        #expect(missed.map(\.job) == [.backup(group: "local")])
        #expect(missed.first?.missedSlot == agentDate("2025-01-06T03:00:00Z"))
        #expect(AgentPlanner.missedJobs(configuration: configuration, lastRuns: [:], now: now).isEmpty)
    }
}
