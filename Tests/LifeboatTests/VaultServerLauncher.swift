// The real-Vault launcher: three (or N) `vault server` (or `bao server`, which reads the same HCL) processes on
// loopback, each with a server configuration the harness renders (Raft storage in a per-node temporary directory,
// retry_join naming the other nodes), started as children of the test process with their output in per-node log
// files, then initialized, unsealed and joined through the HTTP API only, as an operator would. No Docker. Chosen by
// LIFEBOAT_TEST_VAULT_BIN (ClusterLaunchers.selected).

import Foundation
import VaultSim
import LifeboatArchive
import Testing
@testable import LifeboatRecovery

/// One node's `vault server` configuration for a loopback test cluster (pure: rendering only).
struct VaultServerConfig: Equatable, Sendable {
    var nodeID: String
    var apiPort: Int
    var clusterPort: Int
    /// The node's Raft directory (storage "raft" path).
    var dataDirectory: String

    var apiAddress: String { "http://127.0.0.1:\(apiPort)" }
    var clusterAddress: String { "https://127.0.0.1:\(clusterPort)" }

    /// The HCL for this node; `peers` are the other nodes (each gets a retry_join block).
    func render(peers: [VaultServerConfig]) -> String {
        var hcl = """
            # \(nodeID): a loopback test node rendered by Lifeboat's test harness (VaultServerLauncher).
            storage "raft" {
              path    = "\(dataDirectory)"
              node_id = "\(nodeID)"

            """
        for peer in peers where peer.nodeID != nodeID {
            hcl += """
                  retry_join {
                    leader_api_addr = "\(peer.apiAddress)"
                  }

                """
        }
        hcl += """
            }

            listener "tcp" {
              address         = "127.0.0.1:\(apiPort)"
              cluster_address = "127.0.0.1:\(clusterPort)"
              tls_disable     = true   # loopback test cluster only: never disable TLS anywhere else
              # Large snapshot restores can exceed the default 30 s read timeout (docs/vault-behaviour.md §1.1).
              http_read_timeout = "10m"
            }

            api_addr      = "\(apiAddress)"
            cluster_addr  = "\(clusterAddress)"
            disable_mlock = true   # a throwaway test node; production keeps mlock
            ui            = false

            """
        return hcl
    }

    /// Configurations for `count` nodes `vault_1`... with distinct ports from `port()` and directories under `root`.
    static func cluster(count: Int, root: String, port: () throws -> Int) throws -> [VaultServerConfig] {
        var used: Set<Int> = []
        func distinctPort() throws -> Int {
            for _ in 0..<20 {
                let candidate = try port()
                if used.insert(candidate).inserted { return candidate }
            }
            throw E2EError("no distinct free loopback port after 20 tries")
        }
        return try (1...max(1, count)).map { index in
            VaultServerConfig(nodeID: "vault_\(index)", apiPort: try distinctPort(), clusterPort: try distinctPort(),
                              dataDirectory: root + "/vault_\(index)/data")
        }
    }
}

/// Starts real `vault`/`bao` servers (the binary LIFEBOAT_TEST_VAULT_BIN names).
struct VaultServerLauncher: ClusterLauncher {
    var binary: String
    var name: String { "real Vault (\(binary))" }
    /// How long a node may take to answer GET /v1/sys/health after it was started.
    var listenTimeout: Duration = .seconds(30)
    /// How long a SIGTERMed node may take to exit before it gets SIGKILL.
    var stopGrace: Duration = .seconds(10)

    func launch(nodes: Int, shares: Int, threshold: Int) async throws -> any LaunchedCluster {
        try await onOwnThread { try launchBlocking(nodes: nodes, shares: shares, threshold: threshold) }
    }

    /// Starts the servers and bootstraps them, blocking this thread (never call it from async code).
    func launchBlocking(nodes: Int, shares: Int, threshold: Int) throws -> VaultServerCluster {
        let cluster = try launchProcesses(nodes: nodes)
        do {
            try cluster.bootstrap(shares: shares, threshold: threshold)
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }

    /// The processes only: every node listening, nothing initialized.
    func launchProcesses(nodes: Int) throws -> VaultServerCluster {
        let directory = NSTemporaryDirectory() + "lifeboat-e2e-vault-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        let cluster: VaultServerCluster
        var holds: [LoopbackPortHold] = []
        do {
            // Every port stays held (bound, never listening) for the cluster's life: the servers bind beside the holds
            // (Go's listeners, like vault-sim's, set SO_REUSEADDR), and no other server of the parallel suite is handed
            // a node's port before the node starts or while it is stopped.
            let configs = try VaultServerConfig.cluster(count: nodes, root: directory) {
                let hold = try LoopbackPortHold()
                holds.append(hold)
                return hold.port
            }
            for config in configs {
                try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                try config.render(peers: configs).write(toFile: directory + "/\(config.nodeID).hcl", atomically: true, encoding: .utf8)
            }
            cluster = VaultServerCluster(launcher: self, directory: directory, configs: configs, portHolds: holds)
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw error
        }
        do {
            for config in cluster.configs { try cluster.startNodeBlocking(config.nodeID) }
            try cluster.watchResetRequests()
        } catch {
            cluster.stop()
            throw error
        }
        return cluster
    }
}

/// The running servers: child processes of the test process, one per node.
final class VaultServerCluster: LaunchedCluster, @unchecked Sendable {
    // `children` and `initialized` are only touched through their PThreadLockedes, `stopped` only with `resetLock` held.
    let launcher: VaultServerLauncher
    let directory: String
    let configs: [VaultServerConfig]
    /// The nodes' ports, held for the cluster's life (see `launchProcesses`).
    private let portHolds: [LoopbackPortHold]
    private let children = PThreadLocked<[String: pid_t]>([:])
    private let initialized = PThreadLocked<(rootToken: String, keys: [String])>(("", []))
    /// Set by `stop()`; a reset only runs while it is false, under `resetLock` (so stop never races a restart).
    private var stopped = false
    private let resetLock = NSLock()

    init(launcher: VaultServerLauncher, directory: String, configs: [VaultServerConfig], portHolds: [LoopbackPortHold]) {
        self.launcher = launcher
        self.directory = directory
        self.configs = configs
        self.portHolds = portHolds
    }

    deinit { stop() }

    var launcherName: String { launcher.name }
    var nodes: [LaunchedNode] { configs.map { LaunchedNode(id: $0.nodeID, api_addr: $0.apiAddress, cluster_addr: $0.clusterAddress) } }
    var rootToken: String { initialized.withLock { $0.rootToken } }
    var unsealKeys: [String] { initialized.withLock { $0.keys } }
    var keysFile: String { directory + "/keys.json" }
    /// The servers are children of the test process, so a hook cannot restart one itself: it asks the cluster's
    /// reset watcher (``watchResetRequests()``) through files in `<directory>/requests` and waits for the answer.
    var resetCommand: String? {
        let request = directory + "/requests/{node}"
        return "rm -f \(request).done \(request).failed; touch \(request).reset; i=0; "
            + "while [ ! -f \(request).done ]; do if [ -f \(request).failed ]; then cat \(request).failed >&2; exit 1; fi; "
            + "i=$((i+1)); if [ $i -gt 1200 ]; then echo 'reset of {node}: no answer within 120 s' >&2; exit 1; fi; sleep 0.1; done"
    }

    func logPath(_ id: String) -> String { directory + "/\(id).log" }

    /// The active node's id (the one whose sys/health answers 200), blocking this thread.
    private func activeNodeBlocking() -> String? {
        configs.first { (try? VaultHTTP.callBlocking("GET", $0.apiAddress + "/v1/sys/health", timeout: 2).status) == 200 }?.nodeID
    }
    func configPath(_ id: String) -> String { directory + "/\(id).hcl" }

    func config(_ id: String) throws -> VaultServerConfig {
        guard let config = configs.first(where: { $0.nodeID == id }) else { throw E2EError("no node \(id) in this cluster") }
        return config
    }

    /// The pid of `id`'s server while it runs.
    func pid(_ id: String) -> pid_t? { children.withLock { $0[id] } }

    /// Whether `id`'s process is alive; a process that exited is reaped here and forgotten.
    func isRunning(_ id: String) -> Bool {
        children.withLock { children in
            guard let pid = children[id] else { return false }
            var status: Int32 = 0
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == 0 { return true }
            children[id] = nil  // reaped now (or no longer our child)
            return false
        }
    }

    func startNode(_ id: String) async throws { try await onOwnThread { try self.startNodeBlocking(id) } }

    func startNodeBlocking(_ id: String) throws {
        let config = try config(id)
        guard !isRunning(id) else { throw E2EError("\(id) is already running (pid \(pid(id) ?? 0))") }
        let log = open(logPath(id), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard log >= 0 else { throw E2EError("cannot open \(logPath(id)): \(String(cString: strerror(errno)))") }
        defer { close(log) }
        let argv = [launcher.binary, "server", "-config=" + configPath(id)]
        let pid: pid_t
        do {
            pid = try HookProcess.spawnChild(executable: launcher.binary, argv: argv, environment: ProcessInfo.processInfo.environment,
                                             standardInput: nil, output: log)
        } catch {
            throw E2EError("cannot start \(launcher.binary) for \(id): \(error)")
        }
        children.withLock { $0[id] = pid }
        try waitForListener(id, pid: pid, address: config.apiAddress)
    }

    /// Waits until `id` answers GET /v1/sys/health with any status; a process that exits first, or a listener that
    /// never answers within the launcher's timeout, is an error carrying the end of the node's log.
    private func waitForListener(_ id: String, pid: pid_t, address: String) throws {
        var exited = false
        let answered = waitUntilBlocking(for: launcher.listenTimeout) {
            if (try? VaultHTTP.callBlocking("GET", address + "/v1/sys/health", timeout: 1)) != nil { return true }
            exited = !isRunning(id)
            return exited
        }
        if exited {
            throw E2EError("\(id) (\(launcher.binary) server, pid \(pid)) exited before listening on \(address); end of \(logPath(id)):\n\(logTail(id))")
        }
        if !answered {
            terminate(id, grace: .zero)
            throw E2EError("\(id) (\(launcher.binary) server, pid \(pid)) did not answer GET \(address)/v1/sys/health within \(launcher.listenTimeout); end of \(logPath(id)):\n\(logTail(id))")
        }
    }

    /// The last `lines` lines of `id`'s log.
    func logTail(_ id: String, lines: Int = 20) -> String {
        guard let data = FileManager.default.contents(atPath: logPath(id)) else { return "(no log)" }
        let text = String(decoding: data.suffix(16 * 1024), as: UTF8.self)
        let tail = text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines + 1).joined(separator: "\n")
        return tail.isEmpty ? "(empty log)" : tail
    }

    func stopNode(_ id: String) async throws { try await onOwnThread { try self.stopNodeBlocking(id) } }

    func stopNodeBlocking(_ id: String) throws {
        _ = try config(id)
        terminate(id, grace: launcher.stopGrace)
    }

    func killNode(_ id: String) async throws { try await onOwnThread { try self.killNodeBlocking(id) } }

    func killNodeBlocking(_ id: String) throws {
        _ = try config(id)
        terminate(id, grace: .zero)
    }

    /// SIGTERM to the node's process group, SIGKILL once `grace` passed (at once for zero), then reaped.
    private func terminate(_ id: String, grace: Duration) {
        guard let pid = children.withLock({ $0.removeValue(forKey: id) }) else { return }
        var status: Int32 = 0
        if grace > .zero {
            kill(-pid, SIGTERM)
            let exited = waitUntilBlocking(every: .milliseconds(20), for: grace) { waitpid(pid, &status, WNOHANG) != 0 }
            if exited {
                kill(-pid, SIGKILL)  // anything the server left in its group
                return
            }
        }
        kill(-pid, SIGKILL)
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }

    func stop() {
        resetLock.withLock { stopped = true }
        for config in configs { terminate(config.nodeID, grace: launcher.stopGrace) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: - Resets asked for by hooks

    /// Answers `<node>.reset` files in `<directory>/requests` (written by ``resetCommand``) on a thread of its own
    /// until the cluster stops: the node is stopped, its raft directory emptied, the node started again, then
    /// `<node>.done` (or `<node>.failed` holding the error) is written.
    func watchResetRequests() throws {
        let requests = directory + "/requests"
        try FileManager.default.createDirectory(atPath: requests, withIntermediateDirectories: true)
        Thread.detachNewThread { [weak self] in
            while let cluster = self, !cluster.resetLock.withLock({ cluster.stopped }) {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: requests)) ?? []
                for name in names where name.hasSuffix(".reset") {
                    let id = String(name.dropLast(".reset".count))
                    try? FileManager.default.removeItem(atPath: requests + "/" + name)
                    do {
                        try cluster.reset(id)
                        _ = FileManager.default.createFile(atPath: requests + "/\(id).done", contents: nil)
                    } catch {
                        _ = FileManager.default.createFile(atPath: requests + "/\(id).failed", contents: Data("reset of \(id) failed: \(error)\n".utf8))
                    }
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// `rm -rf` of one node's raft data, as scripts/cluster/reset-node.sh does for a container: stop, empty, start.
    func reset(_ id: String) throws {
        let config = try config(id)
        try resetLock.withLock {
            guard !stopped else { throw E2EError("the cluster is stopping") }
            terminate(id, grace: launcher.stopGrace)
            try FileManager.default.removeItem(atPath: config.dataDirectory)
            try FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            try startNodeBlocking(id)
        }
    }

    // MARK: - Bootstrap over the HTTP API

    /// What vault-sim's `--init-shares` gives a test, through the HTTP API only: `sys/init` on the first node, its
    /// keys in keys.json (0600, `vault operator init -format=json` shape), `sys/unseal` until it is active,
    /// `secret/` mounted as KV version 2 (as `vault server -dev` and vault-sim's bootstrap do), then every other node
    /// unsealed with the same keys (its retry_join finds the leader) until it is an unsealed voter.
    func bootstrap(shares: Int, threshold: Int, timeout: Duration = .seconds(90)) throws {
        guard let first = configs.first else { throw E2EError("a cluster without nodes") }
        let initAnswer = try VaultHTTP.callBlocking("PUT", first.apiAddress + "/v1/sys/init",
                                            body: ["secret_shares": shares, "secret_threshold": threshold])
        guard initAnswer.status == 200, let json = initAnswer.json, let token = json["root_token"] as? String,
              let keys = json["keys_base64"] as? [String], let hex = json["keys"] as? [String], keys.count >= threshold
        else { throw E2EError("sys/init on \(first.nodeID) answered \(initAnswer.status): \(String(decoding: initAnswer.body, as: UTF8.self))") }
        initialized.withLock { $0 = (token, keys) }
        let operatorInit: [String: Any] = [
            "unseal_keys_b64": keys, "unseal_keys_hex": hex, "unseal_shares": shares, "unseal_threshold": threshold,
            "recovery_keys_b64": [String](), "recovery_keys_hex": [String](), "recovery_keys_shares": 0,
            "recovery_keys_threshold": 0, "root_token": token,
        ]
        let descriptor = open(keysFile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw E2EError("cannot create \(keysFile)") }
        FileHandle(fileDescriptor: descriptor, closeOnDealloc: true).write(try JSONSerialization.data(withJSONObject: operatorInit, options: [.sortedKeys]))

        for config in configs {
            var lastAnswer = "nothing"
            let unsealed = waitUntilBlocking(every: .milliseconds(200), for: timeout) {
                let status = try? VaultHTTP.callBlocking("GET", config.apiAddress + "/v1/sys/seal-status", timeout: 2).json
                if status?["sealed"] as? Bool == false { return true }
                // A follower accepts the shares once its retry_join reached the leader; until then they are resent.
                for key in keys.prefix(threshold) {
                    let answer = try? VaultHTTP.callBlocking("PUT", config.apiAddress + "/v1/sys/unseal", body: ["key": key], timeout: 5)
                    if let answer { lastAnswer = "\(answer.status) " + String(decoding: answer.body.prefix(300), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) }
                    if answer?.json?["sealed"] as? Bool == false { return true }
                }
                return false
            }
            guard unsealed else {
                throw E2EError("\(config.nodeID) did not unseal within \(timeout) (the last sys/unseal answered \(lastAnswer)); end of its log:\n\(logTail(config.nodeID))")
            }
            if config == first {
                guard waitUntilBlocking(every: .milliseconds(100), for: timeout, until: { activeNodeBlocking() == first.nodeID }) else {
                    throw E2EError("\(first.nodeID) did not become active within \(timeout); end of its log:\n\(logTail(first.nodeID))")
                }
                let mount = try VaultHTTP.callBlocking("POST", first.apiAddress + "/v1/sys/mounts/secret", token: token,
                                               body: ["type": "kv", "options": ["version": "2"]])
                guard mount.status == 204 || mount.status == 200 else {
                    throw E2EError("mounting secret/ answered \(mount.status): \(String(decoding: mount.body, as: UTF8.self))")
                }
            }
        }
        // Every node a voter of one raft configuration, and serving (active or standby).
        let joined = waitUntilBlocking(every: .milliseconds(200), for: timeout) {
            let answer = try? VaultHTTP.callBlocking("GET", first.apiAddress + "/v1/sys/storage/raft/configuration", token: token, timeout: 2)
            let servers = ((answer?.json?["data"] as? [String: Any])?["config"] as? [String: Any])?["servers"] as? [[String: Any]] ?? []
            let voters = Set(servers.filter { $0["voter"] as? Bool == true }.compactMap { $0["node_id"] as? String })
            return voters == Set(configs.map(\.nodeID)) && configs.allSatisfy { config in
                let health = try? VaultHTTP.callBlocking("GET", config.apiAddress + "/v1/sys/health", timeout: 2).status
                return health == 200 || health == 429
            }
        }
        guard joined else { throw E2EError("the nodes did not all join \(first.nodeID)'s raft configuration as voters within \(timeout)") }
    }
}
