// `lifeboat restore --force` as a process against a launched cluster (vault-sim, or real Vault with
// LIFEBOAT_TEST_VAULT_BIN), killed with SIGKILL during rebootstrap (phase 6) and finished with `--resume`. The reset
// hook is the launcher's own (`resetCommand`: vault-sim's `node wipe`, or a wipe and restart of a real server).

import Foundation
import Testing

@Suite struct RestoreProcessEndToEndTests {
    @Test func killedDuringRebootstrapThenResumed() async throws {
        let sim = try await ClusterLaunchers.selected.start(shares: 3, threshold: 2)
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let addresses = sim.nodes.map(\.api_addr)
        let environment = ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": sim.rootToken]

        // A canary, then a backup.
        let canary = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "X-Vault-Token: \(sim.rootToken)",
                                     addresses[0] + "/v1/secret/data/lifeboat/canary/e2e", "-d", #"{"data":{"value":"survives"}}"#])
        #expect(canary.stdout == "200")
        let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        #expect(backup.status == 0, "\(backup.stderr)")

        let keysFile = sim.keysFile
        chmod(keysFile, 0o600)
        let wipe = try #require(sim.resetCommand)
        let marker = workspace.directory + "/reset-vault_3"
        // vault_3 is reset twice: once in phase 2 (every node), once in phase 6 (rebootstrap). The second time the
        // hook leaves a marker and hangs: the restore is then inside phase 6.
        let first = marker + "-phase2"
        let slowReset = "(\(wipe)) || exit 1; if [ {node} = vault_3 ]; then if [ -f \(first) ]; then touch \(marker); while [ ! -f \(marker)-stop ]; do sleep 0.1; done; else touch \(first); fi; fi"
        let fastReset = wipe
        var arguments = ["restore", "latest", "--force", "--yes", "--overwrite-newer", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                         "--unseal-keys-file", keysFile, "--canary", "secret/lifeboat/canary/e2e"]
        for node in sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }

        let killed = Process()
        killed.executableURL = productsDirectory.appendingPathComponent("lifeboat")
        killed.arguments = arguments + ["--reset-command", slowReset]
        killed.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        killed.standardOutput = FileHandle.nullDevice
        killed.standardError = FileHandle.nullDevice
        try killed.run()
        for _ in 0..<600 where !FileManager.default.fileExists(atPath: marker) {
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(FileManager.default.fileExists(atPath: marker), "the restore never reached vault_3's reset")
        kill(killed.processIdentifier, SIGKILL)
        await killed.exited()
        // The hanging hook outlives the killed process (as a real one would): release it.
        FileManager.default.createFile(atPath: marker + "-stop", contents: nil)

        let resumed = try await lifeboat(arguments + ["--resume", "--reset-command", fastReset], environment: environment)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stdout.contains("Restore complete"))
        #expect(resumed.stdout.contains("secret/data/lifeboat/canary/e2e: ok"))
        #expect(resumed.stderr.contains("already done"), "completed phases must be skipped on resume: \(resumed.stderr)")
        #expect(!resumed.stderr.contains("resetting vault_1"), "phase 2 must not run again")
    }
}
