// The real-Vault launcher without a Vault binary: the server configurations it renders (read back with vault-sim's
// HCL lexer and compared with scripts/cluster's reference HCL), and its process handling with a stand-in `vault`
// (a shell script that reads `server -config=FILE` and execs a single-node vault-sim on the rendered listener):
// start, a node killed and restarted, a graceful stop, nothing left behind, and the errors for a server that exits at
// once or never listens. The launcher selection reads LIFEBOAT_TEST_VAULT_BIN in one place.

import Foundation
import Testing
@testable import VaultSim

/// An HCL file's attributes as `block.label/inner/key` paths with their values, in order (blocks may repeat).
func hclAttributes(_ text: String) throws -> [(path: String, value: String)] {
    var lexer = HCLLexer(text: text)
    var attributes: [(path: String, value: String)] = []
    var stack: [String] = []
    while let token = try lexer.next() {
        switch token {
        case .rbrace:
            guard stack.popLast() != nil else { throw E2EError("unbalanced } on line \(lexer.line)") }
        case .ident(let word):
            switch try lexer.next() {
            case .equals:
                switch try lexer.next() {
                case .string(let value), .ident(let value):
                    attributes.append(((stack + [word]).joined(separator: "/"), value))
                default: throw E2EError("\(word): unexpected value on line \(lexer.line)")
                }
            case .string(let label):
                guard try lexer.next() == .lbrace else { throw E2EError("\(word) \"\(label)\": expected { on line \(lexer.line)") }
                stack.append(word + "." + label)
            case .lbrace:
                stack.append(word)
            default: throw E2EError("\(word): unexpected token on line \(lexer.line)")
            }
        default: throw E2EError("unexpected token on line \(lexer.line)")
        }
    }
    guard stack.isEmpty else { throw E2EError("unclosed block \(stack.joined(separator: "/"))") }
    return attributes
}

@Suite("the cluster launcher: configuration rendering and process handling", .serialized)
struct ClusterLauncherTests {
    /// Three nodes with ports 8200, 8201, ... in order.
    static func threeNodes(root: String = "/tmp/lifeboat-test") throws -> [VaultServerConfig] {
        var next = 8200
        return try VaultServerConfig.cluster(count: 3, root: root) {
            defer { next += 1 }
            return next
        }
    }

    @Test("each node's HCL has its raft path and node_id, retry_join to the others, its listener and addresses")
    func renderedConfigurations() throws {
        let configs = try Self.threeNodes()
        #expect(Set(configs.flatMap { [$0.apiPort, $0.clusterPort] }).count == 6, "every port distinct")
        #expect(Set(configs.map(\.dataDirectory)).count == 3, "every data directory distinct")
        for config in configs {
            let attributes = try hclAttributes(config.render(peers: configs))
            func values(_ path: String) -> [String] { attributes.filter { $0.path == path }.map(\.value) }
            #expect(values("storage.raft/path") == ["/tmp/lifeboat-test/\(config.nodeID)/data"])
            #expect(values("storage.raft/node_id") == [config.nodeID])
            let others = configs.filter { $0.nodeID != config.nodeID }.map { "http://127.0.0.1:\($0.apiPort)" }
            #expect(values("storage.raft/retry_join/leader_api_addr") == others, "retry_join names exactly the other nodes")
            #expect(values("listener.tcp/address") == ["127.0.0.1:\(config.apiPort)"])
            #expect(values("listener.tcp/cluster_address") == ["127.0.0.1:\(config.clusterPort)"])
            #expect(values("listener.tcp/tls_disable") == ["true"])
            #expect(values("api_addr") == ["http://127.0.0.1:\(config.apiPort)"])
            #expect(values("cluster_addr") == ["https://127.0.0.1:\(config.clusterPort)"])
            #expect(values("disable_mlock") == ["true"])
            #expect(values("ui") == ["false"])
        }
        // A single node joins nobody.
        let alone = try #require(configs.first)
        #expect(try hclAttributes(alone.render(peers: [alone])).filter { $0.path.contains("retry_join") }.isEmpty)
    }

    @Test("the rendered HCL has every setting of scripts/cluster's reference vault.hcl")
    func renderedConfigurationMatchesTheReference() throws {
        let reference = try String(contentsOf: coreTestsDirectory.appendingPathComponent("../../scripts/cluster/vault_1/vault.hcl").standardized,
                                   encoding: .utf8)
        let configs = try Self.threeNodes()
        let referencePaths = Set(try hclAttributes(reference).map(\.path))
        let renderedPaths = Set(try hclAttributes(configs[0].render(peers: configs)).map(\.path))
        #expect(referencePaths.count >= 8, "the reference file was read: \(referencePaths)")
        #expect(referencePaths.subtracting(renderedPaths).isEmpty, "missing: \(referencePaths.subtracting(renderedPaths))")
    }

    @Test("the environment picks the launcher in one place")
    func launcherSelection() {
        #expect(ClusterLaunchers.select([:]) is VaultSimLauncher)
        #expect(ClusterLaunchers.select([ClusterLaunchers.binaryVariable: ""]) is VaultSimLauncher)
        let real = ClusterLaunchers.select([ClusterLaunchers.binaryVariable: "/usr/local/bin/bao"])
        #expect((real as? VaultServerLauncher)?.binary == "/usr/local/bin/bao")
    }

    // MARK: - Process handling with a stand-in `vault`

    /// A directory holding an executable `vault` with `body` after the shebang; removed by the caller.
    static func fakeVault(_ body: String) throws -> (directory: String, binary: String) {
        let directory = NSTemporaryDirectory() + "lifeboat-fake-vault-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let binary = directory + "/vault"
        try ("#!/bin/sh\n" + body).write(toFile: binary, atomically: true, encoding: .utf8)
        chmod(binary, 0o755)
        return (directory, binary)
    }

    /// `vault server -config=FILE` played by one vault-sim node on the listener address and raft path of FILE.
    static var simulatedServer: String {
        """
        [ "$1" = server ] || { echo "fake vault: expected 'server -config=FILE', got: $*" >&2; exit 2; }
        config=${2#-config=}
        address=$(sed -n 's/^ *address *= *"\\(.*\\)".*/\\1/p' "$config" | head -n 1)
        data=$(sed -n 's/^ *path *= *"\\(.*\\)".*/\\1/p' "$config" | head -n 1)
        node=$(sed -n 's/^ *node_id *= *"\\(.*\\)".*/\\1/p' "$config")
        [ -n "$address" ] && [ -n "$data" ] && [ -n "$node" ] || { echo "fake vault: no listener, path or node_id in $config" >&2; exit 2; }
        echo "fake vault: $node on $address, data in $data"
        exec '\(productsDirectory.appendingPathComponent("vault-sim").path)' serve --nodes 1 --data-dir "$data" --base-port "${address##*:}" --election-delay-ms 50

        """
    }

    /// Whether a process with this pid exists (a zombie still does: so false also means it was reaped).
    static func exists(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 || errno != ESRCH }

    static func answers(_ address: String) async -> Bool { await (try? VaultHTTP.call("GET", address + "/v1/sys/health", timeout: 2)) != nil }

    @Test("three servers start and answer; one killed is reported dead and restarts; stop leaves no process or directory")
    func startKillRestartStop() async throws {
        let fake = try Self.fakeVault(Self.simulatedServer)
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        let cluster = try await onOwnThread { try VaultServerLauncher(binary: fake.binary, stopGrace: .seconds(5)).launchProcesses(nodes: 3) }
        var pids = cluster.nodes.compactMap { cluster.pid($0.id) }
        #expect(Set(pids).count == 3)
        for node in cluster.nodes {
            #expect(cluster.isRunning(node.id))
            #expect(await Self.answers(node.api_addr), "\(node.id) does not answer")
            let log = (try? String(contentsOfFile: cluster.logPath(node.id), encoding: .utf8)) ?? ""
            #expect(log.contains("fake vault: \(node.id) on \(node.api_addr.dropFirst("http://".count))"), "\(node.id)'s log: \(log)")
        }

        // A crash: SIGKILL from outside. The launcher sees it dead, and restarts it on the same address.
        let victim = cluster.nodes[1]
        let victimPID = try #require(cluster.pid(victim.id))
        kill(victimPID, SIGKILL)
        #expect(try await waitUntil(for: .seconds(10)) { !cluster.isRunning(victim.id) }, "the killed node is still reported running")
        #expect(!Self.exists(victimPID), "the killed node was not reaped")
        #expect(!(await Self.answers(victim.api_addr)))
        try await cluster.startNode(victim.id)
        #expect(cluster.isRunning(victim.id))
        #expect(await Self.answers(victim.api_addr))
        pids += cluster.pid(victim.id).map { [$0] } ?? []

        // A graceful stop: SIGTERM, and vault-sim exits well inside the grace period.
        let started = ContinuousClock.now
        try await cluster.stopNode(cluster.nodes[0].id)
        #expect(ContinuousClock.now - started < .seconds(5), "SIGTERM did not stop the server: it needed SIGKILL")
        #expect(!cluster.isRunning(cluster.nodes[0].id))
        await #expect(throws: E2EError.self) { try await cluster.startNode("vault_9") }

        _ = try? await onOwnThread { cluster.stop() }
        for pid in pids { #expect(!Self.exists(pid), "pid \(pid) is left") }
        #expect(!FileManager.default.fileExists(atPath: cluster.directory), "\(cluster.directory) is left")
    }

    @Test("the reset command a hook runs stops a node, empties its raft directory and starts it again")
    func resetFromAHook() async throws {
        let fake = try Self.fakeVault(Self.simulatedServer)
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        let cluster = try await onOwnThread { try VaultServerLauncher(binary: fake.binary).launchProcesses(nodes: 3) }
        defer { cluster.stop() }
        let node = try cluster.config("vault_2")
        let oldPID = try #require(cluster.pid(node.nodeID))
        let leftover = node.dataDirectory + "/raft.db"
        #expect(FileManager.default.createFile(atPath: leftover, contents: Data("old raft data".utf8)))
        let command = try #require(cluster.resetCommand)

        let reset = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command.replacingOccurrences(of: "{node}", with: node.nodeID)])
        #expect(reset.status == 0, "\(reset.stderr)")
        #expect(!FileManager.default.fileExists(atPath: leftover), "the raft directory was not emptied")
        #expect(cluster.isRunning(node.nodeID))
        #expect(cluster.pid(node.nodeID) != oldPID, "the node was not restarted")
        #expect(!Self.exists(oldPID))
        #expect(await Self.answers(node.apiAddress))

        let unknown = try await runProcess(URL(fileURLWithPath: "/bin/sh"), ["-c", command.replacingOccurrences(of: "{node}", with: "vault_9")])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("reset of vault_9 failed: no node vault_9 in this cluster"), "\(unknown.stderr)")
    }

    @Test("a server that exits at once: the error says so and shows the end of its log; nothing is left")
    func serverExitsAtOnce() throws {
        let fake = try Self.fakeVault("echo 'Error parsing listener configuration.' >&2\necho 'Error initializing listener of type tcp: bind: address already in use' >&2\nexit 1\n")
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        let before = try Self.launcherDirectories()
        let error = try #require(throws: E2EError.self) { try VaultServerLauncher(binary: fake.binary).launchProcesses(nodes: 3) }
        #expect(error.description.contains("vault_1"), "\(error)")
        #expect(error.description.contains("exited before listening on http://127.0.0.1:"), "\(error)")
        #expect(error.description.contains("Error initializing listener of type tcp: bind: address already in use"), "\(error)")
        #expect(try Self.launcherDirectories() == before, "a temporary directory was left")
    }

    @Test("a server that never listens times out with the end of its log, and is killed")
    func serverNeverListens() throws {
        let fake = try Self.fakeVault("echo \"fake vault: waiting forever ($*)\"\nexec sleep 300\n")
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        let before = try Self.launcherDirectories()
        let launcher = VaultServerLauncher(binary: fake.binary, listenTimeout: .milliseconds(1500))
        let started = ContinuousClock.now
        let error = try #require(throws: E2EError.self) { try launcher.launchProcesses(nodes: 3) }
        #expect(ContinuousClock.now - started < .seconds(20))
        #expect(error.description.contains("did not answer GET http://127.0.0.1:"), "\(error)")
        #expect(error.description.contains("within 1.5 seconds"), "\(error)")
        #expect(error.description.contains("fake vault: waiting forever (server -config="), "\(error)")
        let pidText = try #require(error.description.firstMatch(of: /pid (\d+)/)?.output.1, "\(error)")
        let pid = try #require(pid_t(pidText))
        #expect(!Self.exists(pid), "the server that never listened is still there")
        #expect(try Self.launcherDirectories() == before, "a temporary directory was left")
    }

    @Test("a one-node cluster is initialized, unsealed and given secret/ over HTTP only; a backup of it works")
    func singleNodeBootstrapAndBackup() async throws {
        let fake = try Self.fakeVault(Self.simulatedServer)
        defer { try? FileManager.default.removeItem(atPath: fake.directory) }
        // One node only: vault-sim cannot join nodes across processes, so three stand-ins never form one cluster.
        let cluster = try await VaultServerLauncher(binary: fake.binary).start(nodes: 1, shares: 3, threshold: 2)
        defer { cluster.stop() }
        let keys = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cluster.keysFile))) as? [String: Any]
        #expect((keys?["unseal_keys_b64"] as? [String])?.count == 3)
        #expect(keys?["unseal_threshold"] as? Int == 2)
        #expect(keys?["root_token"] as? String == cluster.rootToken)
        let attributes = try FileManager.default.attributesOfItem(atPath: cluster.keysFile)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        await #expect(try cluster.activeNode() == "vault_1")
        let node = try #require(cluster.nodes.first)
        let write = try await VaultHTTP.call("POST", node.api_addr + "/v1/secret/data/launcher", token: cluster.rootToken,
                                       body: ["data": ["value": "kept"]])
        #expect(write.status == 200, "secret/ is not a KV v2 mount: \(String(decoding: write.body, as: UTF8.self))")

        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let backup = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                                  environment: ["VAULT_ADDR": node.api_addr, "VAULT_TOKEN": cluster.rootToken])
        #expect(backup.status == 0, "\(backup.stderr)")
    }

    /// The launcher's temporary directories that exist now.
    static func launcherDirectories() throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory()).filter { $0.hasPrefix("lifeboat-e2e-vault-") })
    }
}
