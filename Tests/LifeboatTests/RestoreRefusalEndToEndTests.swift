// Issue 14: `lifeboat restore --force` never destroys a cluster it cannot bring back. Every refused case runs the
// real `lifeboat` against a three-node cluster (2-of-3 Shamir keys) and proves nothing was touched: the reset hook
// never ran (it would leave a marker file), the secret is still readable, and the raft applied index is unchanged.
// The cases that need only Vault's API take their cluster from `ClusterLaunchers.selected` (vault-sim, or real Vault
// with LIFEBOAT_TEST_VAULT_BIN; the reset hook is the launcher's `resetCommand`); those that seal or wipe nodes
// through vault-sim's control API start vault-sim (`RefusalScene.start(on: VaultSimLauncher())`).

import Foundation
import Testing

/// A production cluster with a secret and a backup, and the things a refused restore must leave alone.
struct RefusalScene {
    let sim: any LaunchedCluster
    let workspace: E2EWorkspace
    let environment: [String: String]
    let keysFile: String
    /// The reset hook touches this file; it must never exist after a refused restore.
    let marker: String

    static func start(on launcher: any ClusterLauncher = ClusterLaunchers.selected) async throws -> RefusalScene {
        let sim = try await launcher.start(nodes: 3, shares: 3, threshold: 2)
        let workspace = try await E2EWorkspace()
        let addresses = sim.nodes.map(\.api_addr)
        let environment = ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": sim.rootToken]
        let scene = RefusalScene(sim: sim, workspace: workspace, environment: environment, keysFile: sim.keysFile,
                                 marker: workspace.directory + "/reset-hook-ran")
        chmod(scene.keysFile, 0o600)
        try await scene.writeSecret("lifeboat/canary/e2e", value: "survives")
        let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        guard backup.status == 0 else { throw E2EError("backup failed: \(backup.stderr)") }
        return scene
    }

    func stop() {
        sim.stop()
        workspace.remove()
    }

    var leaderAddress: String {
        get async throws {
            guard let id = try await sim.activeNode() else { throw E2EError("no active node") }
            return try sim.address(id)
        }
    }

    func curl(_ arguments: [String]) async throws -> ProcessResult {
        try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s"] + arguments)
    }

    func writeSecret(_ path: String, value: String, token: String? = nil) async throws {
        let r = try await curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "X-Vault-Token: \(token ?? sim.rootToken)",
                          try await leaderAddress + "/v1/secret/data/" + path, "-d", #"{"data":{"value":"\#(value)"}}"#])
        guard r.stdout == "200" else { throw E2EError("writing \(path) answered \(r.stdout)") }
    }

    /// The secret's value, read from the active node with the root token (nil when unreadable).
    func readSecret(_ path: String) async throws -> String? {
        let r = try await curl(["-H", "X-Vault-Token: \(sim.rootToken)", try await leaderAddress + "/v1/secret/data/" + path])
        let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        return ((json?["data"] as? [String: Any])?["data"] as? [String: Any])?["value"] as? String
    }

    /// Every node's raft applied index (sys/leader), in node order.
    func appliedIndexes() async throws -> [Int] {
        var indexes: [Int] = []
        for node in sim.nodes {
            let r = try await curl([node.api_addr + "/v1/sys/leader"])
            let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            indexes.append((json?["raft_applied_index"] as? Int) ?? -1)
        }
        return indexes
    }

    /// `restore --force` (the reset hook would touch the marker and wipe the node) with `extra` arguments.
    func forceRestore(_ extra: [String], keysFile: String? = nil, environment extraEnvironment: [String: String] = [:]) async throws -> ProcessResult {
        // A launcher that cannot reset a node from a hook (real Vault) gets a hook that fails: it must not run anyway.
        let reset = sim.resetCommand ?? "echo 'this launcher cannot reset {node} from a hook' >&2; exit 1"
        var arguments = ["restore", "latest", "--force", "--yes", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                         "--unseal-keys-file", keysFile ?? self.keysFile, "--canary", "secret/lifeboat/canary/e2e",
                         "--state-dir", workspace.directory + "/restore-state",
                         "--reset-command", "touch \(marker); " + reset]
        for node in sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
        return try await lifeboat(arguments + extra, environment: environment.merging(extraEnvironment) { $1 })
    }

    /// A 0600 keys file holding `keys` (one per line).
    func keysFile(_ name: String, _ keys: [String]) throws -> String {
        let path = workspace.directory + "/" + name
        try (keys.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        return path
    }

    /// The proof that a refused restore touched nothing.
    func expectUntouched(indexesBefore: [Int], _ result: ProcessResult, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        #expect(!FileManager.default.fileExists(atPath: marker), "the reset hook ran: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(try await readSecret("lifeboat/canary/e2e") == "survives", sourceLocation: sourceLocation)
        #expect(try await appliedIndexes() == indexesBefore, "the raft index moved", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains("==> reset"), "a destructive phase started: \(result.stderr)", sourceLocation: sourceLocation)
        let staged = (try? FileManager.default.contentsOfDirectory(atPath: workspace.directory + "/restore-state/staging")) ?? []
        #expect(staged.filter { !$0.hasPrefix(".") }.isEmpty, "a staged snapshot was left behind: \(staged)", sourceLocation: sourceLocation)
    }
}

@Suite("restore refuses what it cannot bring back (launched clusters)", .serialized)
struct RestoreRefusalEndToEndTests {
    @Test("another cluster's unseal keys: exit 65 before anything is touched")
    func otherClustersKeys() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let other = try await ClusterLaunchers.selected.start(nodes: 1, shares: 3, threshold: 2)
        defer { other.stop() }
        let otherKeys = other.keysFile
        chmod(otherKeys, 0o600)
        let before = try await scene.appliedIndexes()

        let plan = try await scene.forceRestore(["--plan", "--overwrite-newer"], keysFile: otherKeys)
        #expect(plan.status == 65, "\(plan.stderr)")
        #expect(plan.stderr.contains("no 2 of the 3 keys given reconstruct the key that sealed this backup"), "\(plan.stderr)")
        let run = try await scene.forceRestore(["--overwrite-newer"], keysFile: otherKeys)
        #expect(run.status == 65, "\(run.stderr)")
        #expect(run.stderr.contains("are not shares of the unseal key of the backup's cluster"), "\(run.stderr)")
        #expect(run.stderr.contains("nothing was changed"))
        try await scene.expectUntouched(indexesBefore: before, run)
    }

    @Test("a shuffled share among good ones, a truncated share, and too few keys: each its own message and exit code")
    func damagedAndTooFewKeys() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let keys = scene.sim.unsealKeys
        let before = try await scene.appliedIndexes()

        // Share 2 with two characters swapped: still 33 bytes of base64, no longer a share of this key.
        var shuffled = Array(keys[1])
        let i = shuffled.firstIndex { $0 != shuffled[5] && $0 != "=" } ?? 0
        shuffled.swapAt(5, i == 5 ? 6 : i)
        if String(shuffled) == keys[1] { shuffled.swapAt(2, 9) }
        let mixed = try await scene.forceRestore(["--overwrite-newer"], keysFile: try scene.keysFile("shuffled.txt", [keys[0], String(shuffled), keys[2]]))
        #expect(mixed.status == 65, "\(mixed.stderr)")
        #expect(mixed.stderr.contains("key 2 (of 3 given) is not a share of the backup's unseal key"), "\(mixed.stderr)")
        try await scene.expectUntouched(indexesBefore: before, mixed)

        // Share 2 missing its last 8 characters: 27 bytes.
        let truncated = try await scene.forceRestore(["--overwrite-newer"], keysFile: try scene.keysFile("truncated.txt", [keys[0], String(keys[1].dropLast(8))]))
        #expect(truncated.status == 65, "\(truncated.stderr)")
        #expect(truncated.stderr.contains("key 2 is 27 bytes"), "\(truncated.stderr)")
        #expect(truncated.stderr.contains("truncated or damaged"))
        try await scene.expectUntouched(indexesBefore: before, truncated)

        // A hex key with a digit lost.
        struct HexKeys: Decodable { var unseal_keys_hex: [String] }
        let hex = try JSONDecoder().decode(HexKeys.self, from: Data(contentsOf: URL(fileURLWithPath: scene.keysFile))).unseal_keys_hex
        let oddHex = try await scene.forceRestore(["--overwrite-newer"], keysFile: try scene.keysFile("odd.txt", [hex[0], String(hex[1].dropLast())]))
        #expect(oddHex.status == 65, "\(oddHex.stderr)")
        #expect(oddHex.stderr.contains("key 2 of 2: an unseal key has an odd number of hex digits"), "\(oddHex.stderr)")
        try await scene.expectUntouched(indexesBefore: before, oddHex)

        // The backup's own keys, but only one of the two needed.
        let tooFew = try await scene.forceRestore(["--overwrite-newer"], keysFile: try scene.keysFile("one.txt", [keys[2]]))
        #expect(tooFew.status == 64, "\(tooFew.stderr)")
        #expect(tooFew.stderr.contains("needs 2 of its 3 unseal keys, but only 1 distinct key was given"), "\(tooFew.stderr)")
        try await scene.expectUntouched(indexesBefore: before, tooFew)
    }

    @Test("--plan with the right keys says they are verified, shows the target, and leaves no staged snapshot")
    func planVerifiesKeys() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let before = try await scene.appliedIndexes()
        let plan = try await scene.forceRestore(["--plan", "--overwrite-newer"])
        #expect(plan.status == 0, "\(plan.stderr)")
        #expect(plan.stdout.contains("unseal keys: verified against the backup (2 of 3 needed"), "\(plan.stdout)")
        #expect(plan.stdout.contains("target:      running and unsealed: the SAME cluster as the backup"), "\(plan.stdout)")
        #expect(plan.stdout.contains("vault_1 \(scene.sim.nodes[0].api_addr): "), "\(plan.stdout)")
        #expect(plan.stdout.contains("credentials: reset: the reset hook"), "\(plan.stdout)")
        #expect(plan.stdout.contains("checked with sys/capabilities-self"), "\(plan.stdout)")
        #expect(plan.stdout.contains("(removed again: --plan keeps no plaintext)"))
        try await scene.expectUntouched(indexesBefore: before, plan)
    }

    @Test("a healthy target ahead of the backup needs --overwrite-newer; --yes is not enough")
    func healthyTargetAhead() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        try await scene.writeSecret("lifeboat/after-backup", value: "newer")
        let before = try await scene.appliedIndexes()
        let run = try await scene.forceRestore([])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("the target is healthy: running and unsealed: the SAME cluster as the backup"), "\(run.stderr)")
        #expect(run.stderr.contains("is AHEAD of the backup's"), "\(run.stderr)")
        #expect(run.stderr.contains("restore without --force"), "same cluster: the message offers the same-cluster restore")
        #expect(run.stderr.contains("add --overwrite-newer"))
        try await scene.expectUntouched(indexesBefore: before, run)

        // The same-cluster restore needs it too.
        var arguments = ["restore", "latest", "--yes", "--repo", scene.workspace.repository, "--key-file", scene.workspace.keyFile,
                         "--state-dir", scene.workspace.directory + "/restore-state"]
        for node in scene.sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
        let same = try await lifeboat(arguments, environment: scene.environment)
        #expect(same.status == 64, "\(same.stderr)")
        #expect(same.stderr.contains("run again with --overwrite-newer"), "\(same.stderr)")
        #expect(!same.stderr.contains("--force"), "a same-cluster problem must not suggest --force: \(same.stderr)")
        try await scene.expectUntouched(indexesBefore: before, same)
    }

    @Test("a token with only the backup policy is refused in preflight, naming policies/lifeboat-restore.hcl")
    func missingCredentials() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let policy = try String(contentsOf: coreTestsDirectory.appendingPathComponent("../../policies/lifeboat-backup.hcl").standardized, encoding: .utf8)
        let leader = try await scene.leaderAddress
        let body = try JSONSerialization.data(withJSONObject: ["policy": policy])
        let put = try await scene.curl(["-o", "/dev/null", "-w", "%{http_code}", "-X", "PUT", "-H", "X-Vault-Token: \(scene.sim.rootToken)",
                                  leader + "/v1/sys/policy/lifeboat-backup", "-d", String(decoding: body, as: UTF8.self)])
        #expect(put.stdout == "204" || put.stdout == "200", "policy write answered \(put.stdout)")
        let created = try await scene.curl(["-X", "POST", "-H", "X-Vault-Token: \(scene.sim.rootToken)", leader + "/v1/auth/token/create",
                                      "-d", #"{"policies":["lifeboat-backup"],"no_default_policy":true}"#])
        let json = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any]
        let token = try #require((json?["auth"] as? [String: Any])?["client_token"] as? String, "\(created.stdout)")
        let before = try await scene.appliedIndexes()

        let run = try await scene.forceRestore(["--overwrite-newer"], environment: ["VAULT_TOKEN": token])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("lacks read on sys/storage/raft/autopilot/state (rebootstrap)"), "\(run.stderr)")
        #expect(run.stderr.contains("read on secret/data/lifeboat/canary/e2e (verify)"), "\(run.stderr)")
        #expect(run.stderr.contains("policies/lifeboat-restore.hcl"))
        #expect(!run.stderr.contains("lifeboat-backup.hcl"))
        try await scene.expectUntouched(indexesBefore: before, run)
    }

    @Test("a same-cluster restore pointed at a standby follows its leader instead of suggesting --force")
    func standbyTarget() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let active = try await #require(try scene.sim.activeNode())
        let standby = try #require(scene.sim.nodes.first { $0.id != active })
        let arguments = ["restore", "latest", "--yes", "--overwrite-newer", "--repo", scene.workspace.repository,
                         "--key-file", scene.workspace.keyFile, "--state-dir", scene.workspace.directory + "/restore-state",
                         "--node", "\(standby.id)=\(standby.api_addr)", "--canary", "secret/lifeboat/canary/e2e"]
        let run = try await lifeboat(arguments, environment: scene.environment)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("--force"), "\(run.stderr)")
        #expect(run.stderr.contains("their active node"), "\(run.stderr)")
        await #expect(try scene.readSecret("lifeboat/canary/e2e") == "survives")
    }

    @Test("a sealed cluster: a same-cluster restore says to unseal it, not --force")
    func sealedSameCluster() async throws {
        let scene = try await RefusalScene.start(on: VaultSimLauncher())  // seals every node through vault-sim's control API
        defer { scene.stop() }
        let sim = try #require(scene.sim as? VaultSimProcess)
        for node in sim.nodes { try await sim.control(["node", "seal", node.id]) }
        var arguments = ["restore", "latest", "--yes", "--overwrite-newer", "--repo", scene.workspace.repository,
                         "--key-file", scene.workspace.keyFile, "--state-dir", scene.workspace.directory + "/restore-state"]
        for node in scene.sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
        let run = try await lifeboat(arguments, environment: scene.environment)
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("the cluster is sealed"), "\(run.stderr)")
        #expect(run.stderr.contains("vault operator unseal"))
        #expect(!run.stderr.contains("--force"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scene.marker))
    }

    @Test("a failed restore prints each node's state and the exact --resume command, which finishes the job")
    func failedRestoreSaysHowToResume() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let wipe = try #require(scene.sim.resetCommand)
        let gate = scene.workspace.directory + "/hook-fixed"
        let hook = "if [ {node} = vault_2 ] && [ ! -f \(gate) ]; then echo disk busy on {node} >&2; exit 3; fi; " + wipe
        var arguments = ["restore", "latest", "--force", "--yes", "--overwrite-newer", "--repo", scene.workspace.repository,
                         "--key-file", scene.workspace.keyFile, "--unseal-keys-file", scene.keysFile, "--canary", "secret/lifeboat/canary/e2e",
                         "--state-dir", scene.workspace.directory + "/restore-state", "--reset-command", hook]
        for node in scene.sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
        let failed = try await lifeboat(arguments, environment: scene.environment)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(failed.stderr.contains("  [reset vault_2] disk busy on vault_2"), "hook output streamed with its prefix: \(failed.stderr)")
        #expect(failed.stderr.contains("node vault_1 \(scene.sim.nodes[0].api_addr): uninitialized"), "\(failed.stderr)")
        #expect(failed.stderr.contains("node vault_2 \(scene.sim.nodes[1].api_addr): "))
        #expect(failed.stderr.contains("node vault_3 \(scene.sim.nodes[2].api_addr): "))
        let prefix = "to continue after fixing the cause: "
        let line = try #require(failed.stderr.split(separator: "\n").first { $0.hasPrefix(prefix) }, "\(failed.stderr)")
        let command = String(line.dropFirst(prefix.count))
        #expect(command.hasSuffix(" --resume"))
        #expect(!command.contains(scene.sim.rootToken), "no secret on the command line")

        // Fix the cause, then run exactly the printed command.
        FileManager.default.createFile(atPath: gate, contents: nil)
        let resumed = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command], environment: scene.environment,
                                     removing: ["LIFEBOAT_REPO"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Restore complete"), "\(resumed.stdout)")
        await #expect(try scene.readSecret("lifeboat/canary/e2e") == "survives")
    }

    @Test("a drill whose scratch nodes are production is refused before anything is touched")
    func drillPointedAtProduction() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let before = try await scene.appliedIndexes()
        var arguments = ["drill", "latest", "--repo", scene.workspace.repository, "--key-file", scene.workspace.keyFile,
                         "--unseal-keys-file", scene.keysFile, "--reset-command", "touch \(scene.marker)",
                         "--report-dir", scene.workspace.directory + "/reports"]
        for node in scene.sim.nodes { arguments += ["--scratch-node", "\(node.id)=\(node.api_addr)"] }
        let drill = try await lifeboat(arguments, environment: scene.environment)
        #expect(drill.status == 1, "\(drill.stderr)")
        #expect(drill.stderr.contains("answer as the backup's OWN cluster"), "\(drill.stderr)")
        #expect(!FileManager.default.fileExists(atPath: scene.marker))
        await #expect(try scene.readSecret("lifeboat/canary/e2e") == "survives")
        await #expect(try scene.appliedIndexes() == before)
    }

    @Test("a 1-of-1 Shamir cluster: its own key is verified by --plan, another 1-of-1 cluster's key is refused")
    func oneOfOneSeal() async throws {
        let sim = try await ClusterLaunchers.selected.start(shares: 1, threshold: 1)
        defer { sim.stop() }
        let other = try await ClusterLaunchers.selected.start(nodes: 1, shares: 1, threshold: 1)
        defer { other.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let environment = ["VAULT_ADDR": sim.nodes[0].api_addr, "LIFEBOAT_VAULT_ADDRS": sim.nodes.map(\.api_addr).joined(separator: ","),
                           "VAULT_TOKEN": sim.rootToken]
        #expect(try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment).status == 0)
        for file in [sim.keysFile, other.keysFile] { chmod(file, 0o600) }
        func plan(_ keysFile: String) async throws -> ProcessResult {
            var arguments = ["restore", "latest", "--force", "--plan", "--overwrite-newer", "--repo", workspace.repository,
                             "--key-file", workspace.keyFile, "--unseal-keys-file", keysFile, "--reset-command", "false",
                             "--state-dir", workspace.directory + "/state"]
            for node in sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
            return try await lifeboat(arguments, environment: environment)
        }
        let own = try await plan(sim.keysFile)
        #expect(own.status == 0, "\(own.stderr)")
        #expect(own.stdout.contains("unseal keys: verified against the backup (1 of 1 key"), "\(own.stdout)")
        let foreign = try await plan(other.keysFile)
        #expect(foreign.status == 65, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("the unseal key does not open the backup's SHA256SUMS.sealed"), "\(foreign.stderr)")
    }

    @Test("a dead cluster cannot check the token in preflight: the plan says so, and the restored data checks it before any join")
    func tokenCheckedAgainstRestoredData() async throws {
        let scene = try await RefusalScene.start(on: VaultSimLauncher())  // wipes every node through vault-sim's control API
        defer { scene.stop() }
        let sim = try #require(scene.sim as? VaultSimProcess)
        // A token created after the backup: valid today, absent from the backup's token store.
        let created = try await scene.curl(["-X", "POST", "-H", "X-Vault-Token: \(scene.sim.rootToken)", try scene.leaderAddress + "/v1/auth/token/create",
                                      "-d", #"{"policies":["root"]}"#])
        let json = try JSONSerialization.jsonObject(with: Data(created.stdout.utf8)) as? [String: Any]
        let lateToken = try #require((json?["auth"] as? [String: Any])?["client_token"] as? String, "\(created.stdout)")
        for node in sim.nodes { try await sim.control(["node", "wipe", node.id]) }

        let run = try await scene.forceRestore([], environment: ["VAULT_TOKEN": lateToken])
        #expect(run.status == 78, "\(run.stderr)")
        #expect(run.stderr.contains("NOT checked: no node is unsealed"), "the plan says what it could not check: \(run.stderr)")
        #expect(run.stderr.contains("target:      every node is uninitialized (empty)"), "\(run.stderr)")
        #expect(run.stderr.contains("does not accept the token"), "\(run.stderr)")
        #expect(run.stderr.contains("vault_1 is restored and unsealed"))

        let resumed = try await scene.forceRestore(["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        await #expect(try scene.readSecret("lifeboat/canary/e2e") == "survives")
    }

    @Test("a healthy cluster that holds nothing newer is not wiped either without --overwrite-newer")
    func healthyTargetNotAhead() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let before = try await scene.appliedIndexes()
        let run = try await scene.forceRestore([])
        #expect(run.status == 64, "\(run.stderr)")
        #expect(run.stderr.contains("--force would WIPE a working cluster"), "\(run.stderr)")
        #expect(run.stderr.contains("restore without --force"))
        try await scene.expectUntouched(indexesBefore: before, run)
    }
}
