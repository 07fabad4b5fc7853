// The incident recoveries' journal read back from disk (a damaged or hostile one is refused with a message, never
// a trap), and hooks that receive their input on stdin (the peers.json of `recover quorum`).

import Foundation
import Testing
@testable import LifeboatRecovery
@testable import LifeboatVault
import LifeboatConfiguration

@Suite struct IncidentJournalTests {
    static func directory() throws -> String {
        let d = NSTemporaryDirectory() + "lifeboat-incident-journal-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func journalRoundTripsAndKeepsNoSecrets() throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var plan = IncidentPlan(operation: .quorum, target: nil, nodes: [RecoveryNode(name: "v1", apiAddress: "http://127.0.0.1:1")],
                                observed: [], steps: [.init(id: "peers:v1", description: "write", destructive: true)], createdAt: Date(timeIntervalSince1970: 0))
        plan.peersJSON = #"[{"id":"v1","address":"127.0.0.1:2","non_voter":false}]"#
        var journal = IncidentJournal(runID: "r1", plan: plan, now: Date(timeIntervalSince1970: 0))
        journal.completed = ["peers:v1"]
        try journal.save(stateDirectory: dir)
        let path = IncidentJournal.path(in: dir)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try IncidentJournal.load(stateDirectory: dir) == journal)
        #expect(try IncidentJournal.load(stateDirectory: dir)?.remaining.isEmpty == true)
    }

    @Test(arguments: ["not json", "{}", #"{"version": 99}"#])
    func damagedJournalIsRefused(_ text: String) throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(FileManager.default.createFile(atPath: IncidentJournal.path(in: dir), contents: Data(text.utf8)))
        do {
            _ = try IncidentJournal.load(stateDirectory: dir)
            Issue.record("a damaged journal must be refused")
        } catch let e as RecoveryError {
            #expect(e.code == .journal)
            #expect(e.message.contains("recovery journal"))
        }
    }

    @Test func unknownOrEmptyStepsInAJournalAreErrorsNotTraps() async throws {
        let dir = try Self.directory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let node = RecoveryNode(name: "v1", apiAddress: "http://127.0.0.1:1")
        let plan = IncidentPlan(operation: .unseal, target: nil, nodes: [node], observed: [],
                                steps: [.init(id: "", description: "empty", destructive: false), .init(id: "launch:v1", description: "?", destructive: false)],
                                createdAt: Date())
        var journal = IncidentJournal(runID: "r2", plan: plan, now: Date())
        journal.status = .failed
        try journal.save(stateDirectory: dir)
        let client = try VaultClient(configuration: try VaultClientConfiguration(addresses: [node.apiAddress], authentication: .none))
        var options = IncidentOptions(nodes: [node], unsealKeys: .none, resetHook: nil, quorumHooks: nil, stateDirectory: dir, token: { nil })
        options.timeouts.pollInterval = .milliseconds(1)
        do {
            _ = try await IncidentRecovery(vault: VaultRecoveryClient(client: client), options: options).resume()
            Issue.record("unknown steps must fail")
        } catch let failed as IncidentFailed {
            #expect(failed.error.code == .journal)
            #expect(failed.description.contains("unknown step"))
        }
        try? await client.shutdown()
    }

    @Test func hookReceivesItsInputOnStdin() async throws {
        let input = Array(#"[{"id":"vault_1","address":"10.0.0.1:8201","non_voter":false}]"#.utf8) + [0x0a]
        let result = try await CommandRunner.run(["sh", "-c", "cat; echo done"], timeout: .seconds(10), label: "peers test", input: input,
                                                 output: { _ in })
        #expect(result.exitCode == 0)
        #expect(result.output == String(decoding: input, as: UTF8.self) + "done\n")
        // Without input, stdin is /dev/null: cat ends at once.
        let empty = try await CommandRunner.run(["sh", "-c", "cat; echo end"], timeout: .seconds(10), label: "no input", output: { _ in })
        #expect(empty.output == "end\n")
        // A large input cannot block on a pipe: it is a file.
        let big = [UInt8](repeating: 0x61, count: 1 << 20)
        let counted = try await CommandRunner.run(["sh", "-c", "wc -c"], timeout: .seconds(10), label: "big", input: big, output: { _ in })
        #expect(counted.output.trimmingCharacters(in: .whitespacesAndNewlines) == "\(1 << 20)")
    }
}

@Suite struct IncidentResetHookConfigurationTests {
    @Test func recoveriesNeverRunResetAll() {
        typealias Hooks = LifeboatConfiguration.Restore.Hooks
        let hooks = Hooks(resetAll: [.init(["rm", "-rf", "/srv/vault/data"])], wipeNode: [.init(["wipe", "{node}"])], start: [.init(["start", "{node}"])])
        let restore = LifeboatConfiguration.Restore(hooks: hooks)
        #expect(restore.resetHook?.description.contains("rm -rf") == true, "restore --force resets everything first")
        let perNode = restore.nodeResetHook?.description ?? ""
        #expect(perNode == "wipe {node} && start {node}")
        #expect(LifeboatConfiguration.Restore(hooks: Hooks(resetAll: [.init(["x"])])).nodeResetHook == nil)
    }
}
