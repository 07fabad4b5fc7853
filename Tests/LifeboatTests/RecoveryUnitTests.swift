// Unit tests of the recovery engine's pure and local parts: unseal key files in every accepted shape, key
// thresholds, canary paths, the plan's rendering, the journal file, and command hooks run through Process.

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

@Suite("Recovery units")
struct RecoveryUnitTests {
    // Five 33-byte shares (as `vault operator init` gives for 5/3), in hex and base64.
    static let shares: [[UInt8]] = (1...5).map { i in (0..<33).map { UInt8(($0 * 7 + i * 13) & 0xff) } }
    static var hex: [String] { shares.map { Hex.encode($0) } }
    static var b64: [String] { shares.map { Data($0).base64EncodedString() } }

    func temporaryFile(_ text: String, mode: mode_t = 0o600) throws -> String {
        let path = NSTemporaryDirectory() + "lifeboat-keys-" + UUID().uuidString
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, mode)
        return path
    }

    @Test("vault operator init -format=json: unseal_keys_b64 is used, the hex list is the same shares")
    func operatorInitJSON() throws {
        let json = """
            {"unseal_keys_b64":["\(Self.b64[0])","\(Self.b64[1])","\(Self.b64[2])"],
             "unseal_keys_hex":["\(Self.hex[0])","\(Self.hex[1])","\(Self.hex[2])"],
             "unseal_shares":5,"unseal_threshold":3,"root_token":"hvs.secret"}
            """
        let keys = try UnsealKeySet.parse(Array(json.utf8))
        #expect(keys.count == 3)
        #expect(keys.duplicateCount == 0)
        let hexOnly = try UnsealKeySet.parse(Array("{\"unseal_keys_hex\":[\"\(Self.hex[3])\"]}".utf8))
        #expect(hexOnly.count == 1)
    }

    @Test("the sys/init API answer: keys_base64 or keys")
    func apiJSON() throws {
        let both = try UnsealKeySet.parse(Array("{\"keys\":[\"\(Self.hex[0])\",\"\(Self.hex[1])\"],\"keys_base64\":[\"\(Self.b64[0])\",\"\(Self.b64[1])\"],\"root_token\":\"x\"}".utf8))
        #expect(both.count == 2)
        let hexOnly = try UnsealKeySet.parse(Array("{\"keys\":[\"\(Self.hex[4])\"]}".utf8))
        #expect(hexOnly.count == 1)
        let array = try UnsealKeySet.parse(Array("[\"\(Self.b64[0])\",\"\(Self.hex[1])\"]".utf8))
        #expect(array.count == 2)
    }

    @Test("one key per line, comments, and `vault operator init` text output")
    func lines() throws {
        let plain = try UnsealKeySet.parse(Array("# keys\n\(Self.b64[0])\n\n\(Self.hex[1])\n".utf8))
        #expect(plain.count == 2)
        let text = "Unseal Key 1: \(Self.b64[0])\nUnseal Key 2: \(Self.b64[1])\nUnseal Key 3: \(Self.b64[2])\n\nInitial Root Token: hvs.abc\n"
        #expect(try UnsealKeySet.parse(Array(text.utf8)).count == 3)
    }

    @Test("the same share in hex and base64 counts once")
    func duplicates() throws {
        let keys = try UnsealKeySet(texts: [Self.b64[0], Self.hex[0], Self.b64[0], Self.b64[1]])
        #expect(keys.count == 2)
        #expect(keys.suppliedCount == 4)
        #expect(keys.duplicateCount == 2)
        #expect(throws: RecoveryError.self) { try keys.check(threshold: 3, shares: 5, sealType: "shamir") }
        try keys.check(threshold: 2, shares: 5, sealType: "shamir")
        // Auto-unseal clusters need no keys.
        try UnsealKeySet.none.check(threshold: 3, shares: 5, sealType: "awskms")
    }

    @Test("malformed keys and files are refused with what to do", arguments: [
        ("", "empty"),
        ("{\"root_token\":\"hvs.x\"}", "no unseal keys in the JSON"),
        ("{\"recovery_keys_b64\":[\"abc\"]}", "recovery keys only"),
        ("not a key!", "neither hex nor base64"),
        ("aGVsbG8=", "decodes to 5 bytes"),
        ("{broken", "not valid JSON"),
    ])
    func malformed(text: String, expected: String) throws {
        let error = #expect(throws: RecoveryError.self) { try UnsealKeySet.parse(Array(text.utf8)) }
        #expect(error?.message.contains(expected) == true, "\(error?.message ?? "")")
    }

    @Test("a key file others can read is refused; 0600 is accepted")
    func fileMode() throws {
        let open = try temporaryFile(Self.b64[0], mode: 0o644)
        defer { unlink(open) }
        let error = #expect(throws: RecoveryError.self) { try UnsealKeySet.load(path: open) }
        #expect(error?.message.contains("chmod 600") == true)
        let closed = try temporaryFile(Self.b64[0] + "\n" + Self.b64[1], mode: 0o600)
        defer { unlink(closed) }
        #expect(try UnsealKeySet.load(path: closed).count == 2)
    }

    @Test("keys never print")
    func keysRedacted() throws {
        let keys = try UnsealKeySet(texts: [Self.b64[0]])
        let printed = "\(keys) \(keys.keys) \(String(reflecting: keys.keys[0]))"
        #expect(!printed.contains(Self.b64[0]))
        #expect(!printed.contains(Self.hex[0]))
    }

    @Test("canary paths", arguments: [
        ("secret/data/lifeboat/canary/prod", "secret", "lifeboat/canary/prod"),
        ("secret/lifeboat/canary/prod", "secret", "lifeboat/canary/prod"),
        ("kv:app/canary", "kv", "app/canary"),
        ("/secret/x/", "secret", "x"),
    ])
    func canaryParsing(text: String, mount: String, path: String) throws {
        let c = try CanarySecret(parsing: text)
        #expect(c.mount == mount)
        #expect(c.path == path)
        #expect(c.description == mount + "/data/" + path)
    }

    @Test("a canary needs a mount and a path")
    func canaryInvalid() {
        #expect(throws: RecoveryError.self) { try CanarySecret(parsing: "secret") }
    }

    func facts(createdAt: Date?) -> RestoreBackupFacts {
        RestoreBackupFacts(id: "20261128T231500Z-7f3a", origin: "local directory /var/lib/lifeboat", createdAt: createdAt,
                           snapshotIndex: 45, snapshotTerm: 3, entryCount: 30, snapshotBytes: 18_619,
                           snapshotSHA256: String(repeating: "ab", count: 32), snapshotServers: ["vault-0"])
    }

    @Test("the forced plan names the backup, its age, the wiped nodes and every phase")
    func forcedPlan() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let nodes = [RecoveryNode(name: "vault_1", apiAddress: "https://10.0.0.1:8200/"), RecoveryNode(name: "vault_2", apiAddress: "https://10.0.0.2:8200")]
        let plan = RestorePlan.make(mode: .force, backup: facts(createdAt: now.addingTimeInterval(-2 * 86400)),
                                    sealConfig: RestoredSealConfig(type: "shamir", shares: 5, threshold: 3), unsealKeys: 3,
                                    nodes: nodes, canaries: ["secret/data/lifeboat/canary/prod"], stagingPath: "/var/lib/lifeboat/staging/x.snap",
                                    now: now, hasResetHook: true)
        #expect(plan.steps.map(\.phase) == RestorePhase.allCases)
        #expect(plan.wipedNodes == ["vault_1", "vault_2"])
        #expect(plan.nodes[0].apiAddress == "https://10.0.0.1:8200")
        #expect(abs((plan.backupAgeSeconds ?? 0) - 2 * 86400) < 0.001)
        #expect(plan.warnings.count == 1)
        #expect(plan.warnings[0].contains("2d 0h old"))
        let text = plan.render()
        #expect(text.contains("backup:      20261128T231500Z-7f3a from local directory /var/lib/lifeboat"))
        #expect(text.contains("(2d 0h ago)"))
        #expect(text.contains("raft index 45, term 3, 30 keys, 18.2 KiB"))
        #expect(text.contains("3 of 5 original keys needed, 3 distinct supplied"))
        #expect(text.contains("vault_1, vault_2 (ALL raft data on these nodes is destroyed)"))
        #expect(text.contains("[destructive] initialize vault_1 with a temporary 1-of-1 key"))
        #expect(text.contains("6. rebootstrap"))
        let decoded = try JSONDecoder.iso.decode(RestorePlan.self, from: Data(try plan.json()))
        #expect(decoded == plan)
    }

    @Test("the same-cluster plan wipes nothing; missing canaries and hooks are warned about")
    func sameClusterPlan() {
        let plan = RestorePlan.make(mode: .sameCluster, backup: facts(createdAt: nil), sealConfig: RestoredSealConfig(type: "shamir", shares: 1, threshold: 1),
                                    unsealKeys: 0, nodes: [RecoveryNode(name: "a", apiAddress: "http://a:8200")], canaries: [],
                                    stagingPath: "/s", now: Date(), hasResetHook: false)
        #expect(plan.steps.map(\.phase) == [.preflight, .restore, .apply, .verify, .report])
        #expect(plan.wipedNodes.isEmpty)
        #expect(plan.render().contains("wiped:       nothing"))
        #expect(plan.warnings.contains { $0.contains("no canary secrets") })
        #expect(!plan.warnings.contains { $0.contains("reset hook") })
    }

    @Test("durations and sizes for people", arguments: [
        (0.25, "250ms"), (12.44, "12.4s"), (185, "3m 05s"), (7800, "2h 10m"), (273_600, "3d 4h"),
    ])
    func durations(seconds: Double, text: String) {
        #expect(DurationText.format(seconds: seconds) == text)
    }

    @Test("the journal round-trips, is written 0600, and knows the next phase")
    func journal() throws {
        let dir = NSTemporaryDirectory() + "lifeboat-journal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(try RestoreJournal.load(stateDirectory: dir) == nil)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var j = RestoreJournal(runID: "abc", mode: .force, backupID: "b", backupOrigin: "o", stagingPath: "/p", stagingSHA256: "00",
                               snapshotIndex: 9, nodes: [RecoveryNode(name: "n1", apiAddress: "http://x:1")], now: now)
        j.complete(.reset, seconds: 2, at: now)
        j.complete(.preflight, seconds: 1, at: now)
        #expect(j.completedPhases.map(\.phase) == [.preflight, .reset])
        #expect(j.nextPhase == .restore)
        j.nodesDone = ["n2"]
        try j.save(stateDirectory: dir)
        var info = stat()
        #expect(stat(RestoreJournal.path(in: dir), &info) == 0 && info.st_mode & 0o777 == 0o600)
        #expect(stat(dir, &info) == 0 && info.st_mode & 0o777 == 0o700)
        #expect(try RestoreJournal.load(stateDirectory: dir) == j)
        j.reopen(from: .reset, at: now)
        #expect(j.completedPhases.map(\.phase) == [.preflight])
        #expect(j.nodesDone.isEmpty)
        try Data("{not json".utf8).write(to: URL(fileURLWithPath: RestoreJournal.path(in: dir)))
        let error = #expect(throws: RecoveryError.self) { try RestoreJournal.load(stateDirectory: dir) }
        #expect(error?.code == .journal)
    }

    @Test("a command hook substitutes {node} and {api_addr} (the configuration's words) and captures output")
    func commandHook() async throws {
        let hook = CommandResetHook(commands: [["sh", "-c", "echo wiping $0 at $1", "{node}", "{api_addr}"], ["true"]], timeout: .seconds(20))
        let output = try await hook.reset(RecoveryNode(name: "vault_2", apiAddress: "http://10.0.0.2:8200"))
        #expect(output.contains("wiping vault_2 at http://10.0.0.2:8200"))
        #expect(hook.description == "sh -c echo wiping $0 at $1 {node} {api_addr} && true")
        #expect(HookPlaceholders.unknown(in: "ssh {addr} rm -rf {node}/raft {x y}", allowed: HookPlaceholders.perNode) == ["{addr}"])
    }

    @Test("a failing command hook names the command, the status and the output's tail")
    func commandHookFails() async throws {
        let hook = CommandResetHook(commands: [["sh", "-c", "echo no such volume >&2; exit 3"], ["touch", "/should-not-run"]], timeout: .seconds(20))
        let error = await #expect(throws: RecoveryError.self) { _ = try await hook.reset(RecoveryNode(name: "n", apiAddress: "http://n")) }
        #expect(error?.code == .hookFailed)
        #expect(error?.message.contains("exited with status 3: no such volume") == true)
        #expect(error?.node == "n")
    }

    @Test("a command that hangs is killed at its timeout")
    func commandTimeout() async throws {
        let pidFile = NSTemporaryDirectory() + "lifeboat-hang-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let error = await #expect(throws: RecoveryError.self) {
            _ = try await CommandRunner.run(["sh", "-c", "echo $$ > \(pidFile); exec sleep 3600"], timeout: .seconds(2))
        }
        #expect(error?.message.contains("did not finish within") == true)
        // Killed and reaped, not waited for: the process is gone (a stopwatch would depend on how soon a loaded
        // machine resumes this task; the pid does not).
        let pid = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(pid, 0) == -1 && errno == ESRCH, "the hanging command \(pid) still exists")
    }

    @Test("a missing program is a hook failure")
    func missingProgram() async throws {
        let result = try await CommandRunner.run(["lifeboat-no-such-program-xyz"], timeout: .seconds(10))
        #expect(result.exitCode != 0)
    }
}

extension JSONDecoder {
    static var iso: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
