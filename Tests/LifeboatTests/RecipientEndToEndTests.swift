// Public-key mode end to end, as processes against a vault-sim process: `key generate --recipient` writes the pair;
// `backup --recipient FILE.pub` runs with no private key at all; that host cannot verify or restore (exit 78, saying
// what it needs) but can check the structure; `verify` and `restore --force` with the identity file succeed, and the
// canary written before the backup is back.

import Foundation
import Testing

@Suite struct RecipientEndToEndTests {
    @Test func backupWithThePublicKeyRestoresWithThePrivateKey() async throws {
        let sim = try await VaultSimProcess.start(shares: 3, threshold: 2)
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let addresses = sim.nodes.map(\.api_addr)
        let environment = ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": sim.rootToken]

        let identity = workspace.directory + "/identity"
        let generated = try await lifeboat(["key", "generate", "--recipient", "--output", identity], environment: [:])
        #expect(generated.status == 0, "\(generated.stderr)")
        #expect(generated.stdout.hasPrefix("lifeboat-recipient-1:"))
        var info = stat()
        #expect(stat(identity, &info) == 0 && info.st_mode & 0o777 == 0o600)
        let publicKey = try String(contentsOfFile: identity + ".pub", encoding: .utf8)
        #expect(publicKey == generated.stdout)

        let canary = try await runProcess(URL(fileURLWithPath: "/usr/bin/env"),
                                    ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "-H", "X-Vault-Token: \(sim.rootToken)",
                                     addresses[0] + "/v1/secret/data/lifeboat/canary/e2e", "-d", #"{"data":{"value":"survives"}}"#])
        #expect(canary.stdout == "200")
        // The backup host holds only the public key.
        let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--recipient", identity + ".pub"], environment: environment)
        #expect(backup.status == 0, "\(backup.stderr)")

        // The manifest names the recipients; `key id` on the identity prints the same recipient id.
        let show = try await lifeboat(["show", "latest", "--repo", workspace.repository], environment: [:])
        #expect(show.status == 0, "\(show.stderr)")
        let id = try await lifeboat(["key", "id", identity], environment: [:])
        let recipientID = try #require(id.stdout.split(separator: " ").last.map { String($0.dropLast(2)) })
        #expect(id.stdout.hasPrefix(publicKey.trimmingCharacters(in: .newlines)), "\(id.stdout)")
        #expect(show.stdout.contains("Recipients:     \(recipientID) (any one's identity decrypts)"), "\(show.stdout) / \(recipientID)")

        // Without the identity: no full verification (78, naming what is needed), but the structure checks out.
        let blind = try await lifeboat(["verify", "--latest", "--repo", workspace.repository, "--recipient", identity + ".pub"], environment: [:])
        #expect(blind.status == 78, "\(blind.stdout) \(blind.stderr)")
        #expect(blind.stderr.contains("identity file"), "\(blind.stderr)")
        let structure = try await lifeboat(["verify", "--latest", "--structure-only", "--repo", workspace.repository], environment: [:])
        #expect(structure.status == 0, "\(structure.stdout) \(structure.stderr)")
        #expect(structure.stdout.contains("structure only"), "\(structure.stdout)")
        // With it: full verification.
        let verified = try await lifeboat(["verify", "--latest", "--repo", workspace.repository, "--key-file", identity], environment: [:])
        #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")
        // A symmetric key is no substitute: the error names the recipients.
        let wrong = try await lifeboat(["verify", "--latest", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: [:])
        #expect(wrong.status == 65, "\(wrong.stderr)")
        #expect(wrong.stderr.contains("recipients"), "\(wrong.stderr)")

        let keysFile = sim.directory + "/keys.json"
        chmod(keysFile, 0o600)
        let vaultSim = productsDirectory.appendingPathComponent("vault-sim").path
        let reset = "VAULT_SIM_CONTROL=\(sim.ready.control_addr) \(vaultSim) node wipe {node}"
        var arguments = ["restore", "latest", "--force", "--yes", "--overwrite-newer", "--repo", workspace.repository,
                         "--key-file", identity, "--unseal-keys-file", keysFile, "--canary", "secret/lifeboat/canary/e2e",
                         "--reset-command", reset]
        for node in sim.nodes { arguments += ["--node", "\(node.id)=\(node.api_addr)"] }
        let restored = try await lifeboat(arguments, environment: environment)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("Restore complete"))
        #expect(restored.stdout.contains("secret/data/lifeboat/canary/e2e: ok"))
    }
}
