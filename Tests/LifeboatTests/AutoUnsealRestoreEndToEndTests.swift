// Restore of a cluster that auto-unseals through another cluster's transit engine (Vault's `seal "transit"`), with
// real processes: a KMS vault-sim, a production vault-sim sealed through it, the real `lifeboat`. A total loss is
// rebuilt by `restore --force --auto-unseal` (recovery shares at the temporary init, the nodes unseal themselves),
// and a restore is refused, with nothing touched, while the KMS does not answer.

import Foundation
import Testing

@Suite(.serialized) struct AutoUnsealRestoreEndToEndTests {
    /// The KMS cluster (transit engine with the key `autounseal`) and the production cluster sealed through it.
    struct Scene {
        let kms: VaultSimProcess
        let prod: VaultSimProcess
        let workspace: E2EWorkspace
        let environment: [String: String]
        let marker: String

        static func start() async throws -> Scene {
            let kms = try await VaultSimProcess.start(nodes: 1)
            let kmsAddress = kms.nodes[0].api_addr
            try await curlOK(["-X", "POST", "-H", "X-Vault-Token: \(kms.rootToken)", kmsAddress + "/v1/sys/mounts/transit", "-d", #"{"type":"transit"}"#])
            try await curlOK(["-X", "POST", "-H", "X-Vault-Token: \(kms.rootToken)", kmsAddress + "/v1/transit/keys/autounseal", "-d", "{}"])
            let prod = try await VaultSimProcess.start(arguments: ["--transit-seal-address", kmsAddress],
                                                 environment: ["VAULT_TOKEN": kms.rootToken])
            let workspace = try await E2EWorkspace()
            let addresses = prod.nodes.map(\.api_addr)
            let environment = ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": prod.rootToken]
            let scene = Scene(kms: kms, prod: prod, workspace: workspace, environment: environment, marker: workspace.directory + "/reset-ran")
            try await scene.writeSecret("lifeboat/canary/auto", value: "through-the-kms")
            let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
            guard backup.status == 0 else { throw E2EError("backup failed: \(backup.stderr)") }
            return scene
        }

        func stop() {
            prod.stop()
            kms.stop()
            workspace.remove()
        }

        static func curlOK(_ arguments: [String]) async throws {
            let r = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] + arguments)
            guard r.stdout.hasPrefix("2") else { throw E2EError("curl \(arguments.joined(separator: " ")) answered \(r.stdout)") }
        }

        var leaderAddress: String {
            get async throws {
                guard let id = try await prod.activeNode() else { throw E2EError("no active node") }
                return try prod.address(id)
            }
        }

        func writeSecret(_ path: String, value: String) async throws {
            try await Self.curlOK(["-X", "POST", "-H", "X-Vault-Token: \(prod.rootToken)", try await leaderAddress + "/v1/secret/data/" + path,
                             "-d", #"{"data":{"value":"\#(value)"}}"#])
        }

        func readSecret(_ path: String) async throws -> String? {
            let r = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                   ["curl", "-s", "-H", "X-Vault-Token: \(prod.rootToken)", try await leaderAddress + "/v1/secret/data/" + path])
            let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            return ((json?["data"] as? [String: Any])?["data"] as? [String: Any])?["value"] as? String
        }

        func sealed() async throws -> [Bool] {
            var result: [Bool] = []
            for node in prod.nodes {
                let r = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"), ["curl", "-s", node.api_addr + "/v1/sys/seal-status"])
                let json = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
                result.append((json?["sealed"] as? Bool) ?? true)
            }
            return result
        }

        func forceRestore(_ extra: [String] = []) async throws -> ProcessResult {
            let vaultSim = productsDirectory.appendingPathComponent("vault-sim").path
            var arguments = ["restore", "latest", "--force", "--yes", "--auto-unseal", "--repo", workspace.repository,
                             "--key-file", workspace.keyFile, "--canary", "secret/lifeboat/canary/auto",
                             "--state-dir", workspace.directory + "/restore-state",
                             "--reset-command", "touch \(marker); VAULT_SIM_CONTROL=\(prod.ready.control_addr) \(vaultSim) node wipe {node}"]
            for node in prod.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
            return try await lifeboat(arguments + extra, environment: environment)
        }
    }

    @Test func totalLossOfAnAutoUnsealClusterIsRebuiltThroughTheKMS() async throws {
        let scene = try await Scene.start()
        defer { scene.stop() }
        // Total loss: every node's raft data is gone; the nodes come back empty, still configured with the transit seal.
        for node in scene.prod.nodes { try await scene.prod.control(["node", "wipe", node.id]) }
        let result = try await scene.forceRestore()
        #expect(result.status == 0, "restore failed: \(result.stderr)")
        #expect(result.stdout.contains("recovery key") || result.stderr.contains("recovery key"), "the temporary init uses recovery shares")
        await #expect(try scene.sealed() == [false, false, false], "every node unsealed itself through the KMS")
        await #expect(try scene.readSecret("lifeboat/canary/auto") == "through-the-kms")
    }

    @Test func restoreIsRefusedWhileTheKMSDoesNotAnswerAndNothingIsTouched() async throws {
        let scene = try await Scene.start()
        defer { scene.stop() }
        // A power cut with the KMS down: every node restarts sealed and cannot unseal itself.
        scene.kms.stop()
        for node in scene.prod.nodes {
            try await scene.prod.control(["node", "stop", node.id])
            try await scene.prod.control(["node", "start", node.id])
        }
        await #expect(try scene.sealed() == [true, true, true])
        let result = try await scene.forceRestore()
        #expect(result.status != 0)
        #expect(result.stderr.contains("the KMS does not unseal"), "\(result.stderr)")
        #expect(result.stderr.contains("Nothing was changed"))
        #expect(!FileManager.default.fileExists(atPath: scene.marker), "the reset hook must not run")
    }
}
