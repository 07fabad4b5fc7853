// Issue 14, items 4 and 5, with real processes: a drill whose create hook leaves daemons holding its stdout finishes
// (it used to wait for an EOF that never came) and prints its phases and the hook's output live; and
// `backup --only-if-leader` skips only on an unsealed standby of an active cluster, failing with exit 69 on a sealed
// or uninitialized local node.

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

@Suite("hooks cannot hang; --only-if-leader decides on evidence", .serialized)
struct HookAndLeaderEndToEndTests {
    @Test("a create hook that leaves daemons holding its stdout does not hang the drill; phases and hook output are live")
    func drillWithDaemonHoldingStdout() async throws {
        let scene = try await RefusalScene.start()
        defer { scene.stop() }
        let vaultSim = productsDirectory.appendingPathComponent("vault-sim").path
        let scratch = scene.workspace.directory + "/scratch"
        // The scratch node's address must be known before the hook starts it. The test holds both ports for its whole
        // run (bound, never listening), so no other server of the parallel suite is handed them; vault-sim binds them
        // beside the holds (both sockets have SO_REUSEADDR, and only vault-sim's listens).
        let apiHold = try LoopbackPortHold(), controlHold = try LoopbackPortHold()
        defer { withExtendedLifetime((apiHold, controlHold)) {} }
        let apiPort = apiHold.port, controlPort = controlHold.port
        // Two daemons inherit the hook's stdout: a sleeper, and the scratch vault-sim (it prints its ready line there).
        // The hook fails at once if the simulator exits before it is ready.
        let create = "mkdir -p \(scratch); sleep 120 & echo $! > \(scratch)/sleep.pid; "
            + "\(vaultSim) serve --nodes 1 --base-port \(apiPort) --control-port \(controlPort) --data-dir \(scratch)/data "
            + "--ready-file \(scratch)/ready.json --election-delay-ms 200 --restore-delay-ms 100 & echo $! > \(scratch)/sim.pid; "
            + "while [ ! -f \(scratch)/ready.json ]; do kill -0 $(cat \(scratch)/sim.pid) || exit 1; sleep 0.1; done; "
            + "echo scratch cluster created"
        let destroy = "kill -9 $(cat \(scratch)/sim.pid) $(cat \(scratch)/sleep.pid) 2>/dev/null; rm -rf \(scratch)/data; true"
        let reset = "VAULT_SIM_CONTROL=http://127.0.0.1:\(controlPort) \(vaultSim) node wipe {node}"
        let arguments = ["drill", "latest", "--repo", scene.workspace.repository, "--key-file", scene.workspace.keyFile,
                         "--unseal-keys-file", scene.keysFile, "--create-command", create, "--destroy-command", destroy,
                         "--reset-command", reset, "--scratch-node", "vault_1=http://127.0.0.1:\(apiPort)",
                         "--canary", "secret/lifeboat/canary/e2e", "--report-dir", scene.workspace.directory + "/reports"]
        let started = ContinuousClock.now
        // `timeout` is the test's own watchdog: a hang fails the test instead of stalling the suite.
        let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/timeout"),
                                    ["-s", "KILL", "240", productsDirectory.appendingPathComponent("lifeboat").path] + arguments,
                                    environment: scene.environment, removing: ["LIFEBOAT_REPO"])
        let took = ContinuousClock.now - started
        #expect(result.status == 0, "exit \(result.status) after \(took): \(result.stderr)")
        #expect(took < .seconds(120), "the drill took \(took): it waited for the daemons")
        #expect(result.stderr.contains("  [drill create] scratch cluster created"), "hook output is streamed with its prefix: \(result.stderr)")
        #expect(result.stderr.contains("creating the scratch cluster"))
        #expect(result.stderr.contains("==> reset"), "phases are printed live: \(result.stderr)")
        #expect(result.stderr.contains("==> verify"))
        #expect(result.stdout.contains("PASSED"), "\(result.stdout)")
    }

    @Test("a hook's background process does not delay it, and a hook that outlives its timeout is killed with its group")
    func hookRunner() async throws {
        let lines = PThreadLocked<[String]>([])
        // The hook returns while its background child still runs: proven by the child's pid, not by a stopwatch (on a
        // loaded machine, or under a sanitizer, resuming the awaiting task can take longer than any fixed bound).
        let pidFile = NSTemporaryDirectory() + "lifeboat-hook-bg-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: pidFile) }
        let quick = try await CommandRunner.run(["sh", "-c", "sleep 3600 & echo $! > \(pidFile); echo started; echo to stderr >&2"],
                                                timeout: .seconds(20), label: "create", output: { line in lines.withLock { $0.append(line) } })
        #expect(quick.exitCode == 0)
        let background = try #require(pid_t(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(kill(background, 0) == 0, "the hook returned only after its background child ended: it waited for it")
        kill(background, SIGKILL)
        #expect(lines.withLock { $0 }.contains("  [create] started"))
        #expect(lines.withLock { $0 }.contains("  [create] to stderr"))
        #expect(quick.output.contains("started"))

        // stdin is closed (reads EOF at once) and no descriptor beyond 0-2 is inherited.
        let fds = try await CommandRunner.run(["sh", "-c", "cat; ls /proc/self/fd | sort -n | tr '\\n' ' '"], timeout: .seconds(20))
        #expect(fds.output.trimmingCharacters(in: .whitespaces) == "0 1 2 3", "open descriptors: \(fds.output)")  // 3: ls's own directory

        // The group dies at the timeout: the background child's marker never appears.
        let marker = NSTemporaryDirectory() + "lifeboat-hook-" + UUID().uuidString
        let error = await #expect(throws: RecoveryError.self) {
            _ = try await CommandRunner.run(["sh", "-c", "(sleep 3; touch \(marker)) & sleep 60"], timeout: .milliseconds(500))
        }
        #expect(error?.message.contains("every process it started were killed") == true)
        try await Task.sleep(for: .seconds(4))
        #expect(!FileManager.default.fileExists(atPath: marker), "the hook's background child survived the timeout")
    }

    @Test("--only-if-leader: a standby skips with exit 0; a sealed or uninitialized local node fails with exit 69")
    func onlyIfLeader() async throws {
        let sim = try await VaultSimProcess.start(shares: 3, threshold: 2)
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let active = try await #require(try sim.activeNode())
        let standbys = sim.nodes.filter { $0.id != active }
        func backup(at address: String) async throws -> ProcessResult {
            try await lifeboat(["backup", "--only-if-leader", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                         environment: ["VAULT_ADDR": address, "VAULT_TOKEN": sim.rootToken])
        }
        func backups() async throws -> Int {
            // Nothing at all was written until the first backup.
            guard FileManager.default.fileExists(atPath: workspace.repository) else { return 0 }
            let list = try await lifeboat(["list", "--json", "--repo", workspace.repository])
            guard list.status == 0 else { throw E2EError("list failed: \(list.stderr)") }
            let json = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [String: Any]
            return (json?["backups"] as? [Any])?.count ?? -1
        }

        let skipped = try await backup(at: standbys[0].api_addr)
        #expect(skipped.status == 0, "\(skipped.stderr)")
        #expect(skipped.stdout.contains("skipped: this node is a standby (unsealed; the active node"), "\(skipped.stdout)")

        try await sim.control(["node", "seal", standbys[0].id])
        let sealed = try await backup(at: standbys[0].api_addr)
        #expect(sealed.status == 69, "\(sealed.stdout) \(sealed.stderr)")
        #expect(sealed.stderr.contains("is sealed; no backup was taken"), "\(sealed.stderr)")
        await #expect(try backups() == 0)

        // The active node (two of three voters still up) backs up.
        let taken = try await backup(at: sim.address(active))
        #expect(taken.status == 0, "\(taken.stderr)")
        #expect(taken.stdout.contains("stored backup"))

        try await sim.control(["node", "wipe", standbys[1].id])
        let empty = try await backup(at: standbys[1].api_addr)
        #expect(empty.status == 69, "\(empty.stdout) \(empty.stderr)")
        #expect(empty.stderr.contains("is uninitialized; no backup was taken"), "\(empty.stderr)")
        await #expect(try backups() == 1)
    }
}
