// The public face of vault-sim: start N simulated Vault nodes on loopback, drive them (init, unseal, join),
// inject faults, seed data, and shut down. Used in-process by tests and by the `vault-sim` executable.

import Foundation
import LifeboatArchive
import NIOCore
import NIOPosix

/// A running simulated Vault Raft cluster (one process, N nodes, one HTTP listener each).
public final class VaultSimulator: Sendable {
    /// How to start a simulator.
    public struct Configuration: Sendable {
        /// Number of nodes (ids `<nodeIDPrefix>1` ... `<nodeIDPrefix>N`).
        public var nodeCount: Int = 3
        /// Where node and cluster state persist; reuse it to restart the simulator with its data.
        public var dataDirectory: String
        public var nodeIDPrefix: String = "vault_"
        /// First node's port (others follow); 0 lets the OS choose each port (reported in `nodes`).
        public var basePort: Int = 0
        /// Port of the control API listener; 0 = OS-chosen, nil = no control listener.
        public var controlPort: Int? = 0
        /// How long a raft election takes after the active node stops or seals (and after the first unseal).
        public var electionDelay: Duration = .seconds(1)
        /// How long after a restore's 204 the snapshot is applied.
        public var restoreApplyDelay: Duration = .milliseconds(500)
        /// Token TTLs and reported timestamps read this clock.
        public var clock: any SimClock = SystemClock()
        /// Dev-mode convenience, as `vault server -dev`: `initializeCluster` mounts `secret/` (KV version 2) after
        /// init. A cluster initialized through `sys/init` by a client never gets `secret/`; real setups (and
        /// conformance tests) enable their mounts through `sys/mounts`.
        public var devMode: Bool = true
        /// The seal: Shamir unseal keys (default) or transit auto-unseal through another cluster.
        public var seal: VaultSimSeal = .shamir
        /// How often a sealed auto-unseal node retries its seal (while the KMS is unreachable).
        public var autoUnsealRetry: Duration = .seconds(1)

        public init(dataDirectory: String) { self.dataDirectory = dataDirectory }
    }

    /// One node's identity and addresses.
    public struct NodeInfo: Sendable, Equatable {
        public var id: String
        /// e.g. `http://127.0.0.1:41234`.
        public var apiAddress: String
        public var clusterAddress: String
        public var running: Bool
        public var sealed: Bool
        public var active: Bool
    }

    /// The result of initializing a cluster (secret: never log it).
    public struct InitResult: Sendable, Equatable {
        public var keysHex: [String]
        public var keysBase64: [String]
        public var rootToken: String
        public var shares: Int
        public var threshold: Int
        /// Recovery keys (auto-unseal clusters; then `keysHex`/`keysBase64` are empty).
        public var recoveryKeysHex: [String] = []
        public var recoveryKeysBase64: [String] = []

        /// The JSON `vault operator init -format=json` prints.
        public func operatorInitJSON() -> [UInt8] {
            JSONValue.object([
                ("unseal_keys_b64", .strings(keysBase64)), ("unseal_keys_hex", .strings(keysHex)),
                ("unseal_shares", .int(shares)), ("unseal_threshold", .int(threshold)),
                ("recovery_keys_b64", .strings(recoveryKeysBase64)), ("recovery_keys_hex", .strings(recoveryKeysHex)),
                ("recovery_keys_shares", .int(recoveryKeysBase64.isEmpty ? 0 : shares)),
                ("recovery_keys_threshold", .int(recoveryKeysBase64.isEmpty ? 0 : threshold)),
                ("root_token", .string(rootToken)),
            ]).bytes + [0x0a]
        }
    }

    /// An error from driving the simulator.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ d: String) { description = d }
    }

    let core: SimCore
    let devMode: Bool
    let eventLoopGroup: MultiThreadedEventLoopGroup
    private let listeners: ListenerTable
    private let control: HTTPListener?
    private let spoolDirectory: String

    private init(core: SimCore, group: MultiThreadedEventLoopGroup, listeners: ListenerTable, control: HTTPListener?, spool: String,
                 devMode: Bool) {
        self.core = core
        self.devMode = devMode
        self.eventLoopGroup = group
        self.listeners = listeners
        self.control = control
        self.spoolDirectory = spool
    }

    /// Starts the nodes (sealed; data from an earlier run in `dataDirectory` is kept).
    public static func start(_ configuration: Configuration) async throws -> VaultSimulator {
        guard (1...99).contains(configuration.nodeCount) else { throw Failure("nodeCount must be 1 to 99") }
        let ids = (1...configuration.nodeCount).map { configuration.nodeIDPrefix + String($0) }
        let core = try SimCore(settings: CoreSettings(dataDirectory: configuration.dataDirectory, nodeIDs: ids,
                                                      electionDelay: configuration.electionDelay,
                                                      restoreApplyDelay: configuration.restoreApplyDelay,
                                                      clock: configuration.clock, seal: configuration.seal,
                                                      autoUnsealRetry: configuration.autoUnsealRetry))
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(2, min(4, ProcessInfo.processInfo.activeProcessorCount)))
        let spool = configuration.dataDirectory + "/spool"
        try? FileManager.default.removeItem(atPath: spool)
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let table = ListenerTable()
        do {
            for (i, id) in ids.enumerated() {
                let wanted = configuration.basePort > 0 ? configuration.basePort + i : (core.node(id)?.port ?? 0)
                let listener = try await bindNode(core: core, group: group, id: id, port: wanted, spool: spool)
                table.set(id, listener)
                core.lock.withLock { core.setPort(listener.port, for: core.node(id)!) }
            }
            var control: HTTPListener?
            if let cp = configuration.controlPort {
                control = try await bindControl(core: core, group: group, port: cp, spool: spool)
            }
            let sim = VaultSimulator(core: core, group: group, listeners: table, control: control, spool: spool,
                                     devMode: configuration.devMode)
            core.listenerHook = { [weak sim] id, up in sim?.setListener(id, up: up) }
            // Auto-unseal nodes holding data unseal themselves at start (retrying while the KMS is unreachable).
            for id in ids { core.scheduleAutoUnseal(id) }
            return sim
        } catch {
            for l in table.all() { await l.close() }
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private static func bindNode(core: SimCore, group: EventLoopGroup, id: String, port: Int, spool: String) async throws -> HTTPListener {
        let service: SimService = { req in core.handle(nodeID: id, request: req) }
        do {
            return try await HTTPListener.bind(group: group, host: "127.0.0.1", port: port, spoolDirectory: spool, service: service)
        } catch where port != 0 {
            return try await HTTPListener.bind(group: group, host: "127.0.0.1", port: 0, spoolDirectory: spool, service: service)
        }
    }

    private static func bindControl(core: SimCore, group: EventLoopGroup, port: Int, spool: String) async throws -> HTTPListener {
        try await HTTPListener.bind(group: group, host: "127.0.0.1", port: port, spoolDirectory: spool) { req in
            ControlAPI.handle(core: core, request: req)
        }
    }

    /// Binds or unbinds a node's listener after the core started or stopped it (keeps its port: while the node is
    /// down, a `LoopbackPortHold` refuses connections on it and keeps other servers off it). Blocks on NIO futures
    /// only (never on Swift tasks), so it is safe from any thread that is not an event loop.
    private func setListener(_ id: String, up: Bool) {
        if up {
            listeners.releaseHold(id)
            let port = core.lock.withLock { core.node(id)?.port ?? 0 }
            let service: SimService = { [core] req in core.handle(nodeID: id, request: req) }
            let listener = (try? HTTPListener.bindBlocking(group: eventLoopGroup, host: "127.0.0.1", port: port,
                                                           spoolDirectory: spoolDirectory, service: service))
                ?? (try? HTTPListener.bindBlocking(group: eventLoopGroup, host: "127.0.0.1", port: 0,
                                                   spoolDirectory: spoolDirectory, service: service))
            if let l = listener {
                listeners.set(id, l)
                core.lock.withLock { core.setPort(l.port, for: core.node(id)!) }
            }
        } else if let l = listeners.remove(id) {
            l.closeBlocking()
            // Without the hold the address is merely free, and works as "down" only until the port is reused.
            if let hold = try? LoopbackPortHold(port: l.port) { listeners.hold(id, hold) }
        }
    }

    // MARK: Inspection

    /// Every node, in id order.
    public var nodes: [NodeInfo] {
        core.lock.withLock {
            core.nodes.map { n in
                NodeInfo(id: n.id, apiAddress: n.apiAddress, clusterAddress: n.clusterAddress, running: n.running,
                         sealed: n.sealed, active: core.isActive(n))
            }
        }
    }

    /// The API address of `nodeID` (e.g. `http://127.0.0.1:41234`).
    public func apiAddress(_ nodeID: String) -> String? { nodes.first { $0.id == nodeID }?.apiAddress }

    /// The control API's address, e.g. `http://127.0.0.1:40000` (nil when disabled).
    public var controlAddress: String? { control.map { "http://127.0.0.1:\($0.port)" } }

    /// The id of the active node, if any.
    public var activeNodeID: String? { nodes.first { $0.active }?.id }

    /// Waits (polling) until some node is active; returns its id.
    public func waitForActive(timeout: Duration = .seconds(10), excluding: String? = nil) async throws -> String {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if let a = activeNodeID, a != excluding { return a }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw Failure("no active node after \(timeout)")
    }

    // MARK: Driving nodes in-process

    /// Sends one request straight to a node's handler (no HTTP); for setup steps.
    func call(_ nodeID: String, _ method: String, _ path: String, body: JSONValue? = nil, token: String? = nil) -> (Int, JSONValue?) {
        var headers: [(String, String)] = []
        if let token { headers.append(("X-Vault-Token", token)) }
        let r = core.handle(nodeID: nodeID, request: SimRequest(method: method, path: "/v1/" + path, rawQuery: nil, headers: headers,
                                                                  body: body?.bytes ?? [], bodyFile: nil))
        if case .bytes(let b) = r.body { return (r.status, JSONValue.parse(b)) }
        return (r.status, nil)
    }

    /// Initializes the first node, unseals it, joins and unseals every other running node, and waits for a
    /// leader. Returns the keys and root token (keep them secret).
    public func initializeCluster(shares: Int = 1, threshold: Int = 1) async throws -> InitResult {
        let ids = nodes.filter(\.running).map(\.id)
        guard let first = ids.first else { throw Failure("no running node to initialize") }
        let auto = core.transitSeal != nil
        let request: JSONValue = auto
            ? .object([("recovery_shares", .int(shares)), ("recovery_threshold", .int(threshold))])
            : .object([("secret_shares", .int(shares)), ("secret_threshold", .int(threshold))])
        let (status, body) = call(first, "PUT", "sys/init", body: request)
        guard status == 200, let b = body, let hex = b["keys"]?.stringList, let b64 = b["keys_base64"]?.stringList,
              let root = b["root_token"]?.stringValue else {
            throw Failure("sys/init on \(first) answered \(status): \(body?.serialized() ?? "")")
        }
        var result = InitResult(keysHex: hex, keysBase64: b64, rootToken: root, shares: shares, threshold: threshold)
        result.recoveryKeysHex = b["recovery_keys"]?.stringList ?? []
        result.recoveryKeysBase64 = b["recovery_keys_base64"]?.stringList ?? []
        if !auto { try unseal(first, keys: result.keysBase64) }
        _ = try await waitForActive()
        if devMode {
            let (s, e) = call(first, "POST", "sys/mounts/secret",
                              body: .object([("type", .string("kv")), ("options", .object([("version", .string("2"))])),
                                             ("description", .string("key/value secret storage"))]), token: result.rootToken)
            guard s == 204 else { throw Failure("mounting secret/ answered \(s): \(e?.serialized() ?? "")") }
        }
        for id in ids.dropFirst() {
            try await joinAndUnseal(id, keys: result.keysBase64)
        }
        return result
    }

    /// Submits `threshold` keys to `nodeID`'s sys/unseal.
    public func unseal(_ nodeID: String, keys: [String]) throws {
        for k in keys {
            let (status, body) = call(nodeID, "PUT", "sys/unseal", body: .object([("key", .string(k))]))
            guard status == 200 else { throw Failure("unseal of \(nodeID) answered \(status): \(body?.serialized() ?? "")") }
            if body?["sealed"]?.boolValue == false { return }
        }
    }

    /// Joins `nodeID` to the active node (sys/storage/raft/join) and unseals it with `keys`.
    public func joinAndUnseal(_ nodeID: String, keys: [String]) async throws {
        guard let leader = activeNodeID, let addr = apiAddress(leader) else { throw Failure("no active node to join") }
        let (status, body) = call(nodeID, "PUT", "sys/storage/raft/join", body: .object([("leader_api_addr", .string(addr))]))
        guard status == 200 else { throw Failure("join of \(nodeID) answered \(status): \(body?.serialized() ?? "")") }
        if core.transitSeal != nil {
            // Auto-unseal: the node unseals itself through the seal.
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(10)
            while clock.now < deadline {
                if nodes.first(where: { $0.id == nodeID })?.sealed == false { return }
                try await Task.sleep(for: .milliseconds(10))
            }
            throw Failure("\(nodeID) did not unseal itself through the transit seal")
        }
        try unseal(nodeID, keys: keys)
    }

    // MARK: Faults and operations

    /// Stops a node (its listener closes; it comes back sealed).
    public func stopNode(_ nodeID: String) { _ = core.stopNode(nodeID) }

    /// Starts a stopped node (sealed, on the same port when possible). A `raft/peers.json` in its data directory
    /// replaces its raft configuration first (and is deleted), as Vault's lost-quorum recovery does.
    /// - Throws: when the node refuses to start (damaged raft data, an unusable peers.json), with Vault's message.
    public func startNode(_ nodeID: String) throws {
        if case .refused(let message) = core.startNode(nodeID) { throw Failure(message) }
    }

    /// Makes a node a stuck follower: its applied index (sys/leader `raft_applied_index`) stops following the
    /// cluster's until it is stopped or wiped.
    public func lagNode(_ nodeID: String) { core.lock.withLock { core.node(nodeID)?.lagging = true } }

    /// Damages a node's raft data: it stops and refuses to start (as Vault with a corrupt `raft.db`) until wiped.
    public func corruptNode(_ nodeID: String) { core.corruptNode(nodeID) }

    /// The node's raft directory (`<data-dir>/nodes/<id>/raft`), where Vault's `peers.json` goes.
    public func raftDirectory(_ nodeID: String) -> String? { core.lock.withLock { core.node(nodeID)?.raftDirectory } }

    /// Deletes a node's raft data (`rm -rf raft/`); a running node restarts empty.
    public func wipeNode(_ nodeID: String) { core.wipeNode(nodeID) }

    /// Seals a node as if it had been told to (also standbys).
    public func sealNode(_ nodeID: String) {
        core.lock.withLock { if let n = core.node(nodeID) { core.seal(n) } }
    }

    /// Moves leadership to `nodeID` (or any other eligible voter) now; false when nobody is eligible.
    @discardableResult
    public func forceLeaderChange(to nodeID: String? = nil) -> Bool { core.forceLeaderChange(to: nodeID) }

    /// Injects a fault.
    public func inject(_ fault: VaultSimFault) { core.lock.withLock { core.faults.apply(fault) } }

    /// Writes about `bytes` of barrier-encrypted data under `logical/seed/` on the active node's cluster
    /// (values of `valueSize` bytes), as one raft index.
    public func seed(bytes: Int, valueSize: Int = 256 * 1024) throws {
        try core.seed(bytes: bytes, valueSize: valueSize)
    }

    /// Blocking `shutdown()` for synchronous cleanup (e.g. a test's `defer`). Never call it on an event loop.
    public func shutdownBlocking() {
        core.lock.withLock { core.shutDown = true }
        core.listenerHook = nil
        for l in listeners.all() { l.closeBlocking() }
        listeners.releaseHolds()
        control?.closeBlocking()
        try? eventLoopGroup.syncShutdownGracefully()
    }

    /// Closes every listener and stops the event loops. Data stays in `dataDirectory`.
    public func shutdown() async {
        core.lock.withLock { core.shutDown = true }
        core.listenerHook = nil
        for l in listeners.all() { await l.close() }
        listeners.releaseHolds()
        await control?.close()
        try? await eventLoopGroup.shutdownGracefully()
    }
}

/// Node id -> listener (guarded by a lock).
final class ListenerTable: @unchecked Sendable {
    private let lock = NSLock()
    private var table: [String: HTTPListener] = [:]
    /// The ports of stopped nodes (guarded by `lock`).
    private var holds: [String: LoopbackPortHold] = [:]
    func set(_ id: String, _ l: HTTPListener) { lock.withLock { table[id] = l } }
    func remove(_ id: String) -> HTTPListener? { lock.withLock { table.removeValue(forKey: id) } }
    func all() -> [HTTPListener] { lock.withLock { Array(table.values) } }
    func hold(_ id: String, _ hold: LoopbackPortHold) { lock.withLock { holds[id] = hold } }
    /// Lets the node's port go (the hold closes when the table drops it), so the node can bind it again.
    func releaseHold(_ id: String) { lock.withLock { holds[id] = nil } }
    func releaseHolds() { lock.withLock { holds.removeAll() } }
}

extension SimCore {
    /// Bounds of a seed request (the control API passes client numbers through).
    static let maxSeedBytes = 1 << 40
    static let maxSeedValueSize = 64 << 20

    /// Bulk data for benchmarks: encrypted values written straight into the active cluster's store.
    func seed(bytes: Int, valueSize: Int) throws {
        guard (1...SimCore.maxSeedBytes).contains(bytes) else { throw VaultSimulator.Failure("seed bytes must be 1 to \(SimCore.maxSeedBytes)") }
        guard (1...SimCore.maxSeedValueSize).contains(valueSize) else {
            throw VaultSimulator.Failure("seed value size must be 1 to \(SimCore.maxSeedValueSize)")
        }
        let (g, keys): (RaftGroup, UnsealedKeys) = try lock.withLock {
            guard let a = nodes.first(where: { isActive($0) }), let g = group(of: a), let k = a.keys else {
                throw VaultSimulator.Failure("seeding needs an active (unsealed) node")
            }
            return (g, k)
        }
        let count = max(1, (bytes + valueSize - 1) / valueSize)
        guard let key = keys.barrierKeys[keys.activeTerm] else { throw VaultSimulator.Failure("the active barrier key is missing") }
        let plain = [UInt8](repeating: 0x5a, count: valueSize)
        var batch: [(String, [UInt8]?)] = []
        var batchBytes = 0
        func flush() throws {
            guard !batch.isEmpty else { return }
            let b = batch
            try lock.withLock { try g.store.apply(b) }
            batch.removeAll(keepingCapacity: true)
            batchBytes = 0
        }
        for i in 0..<count {
            let path = String(format: "logical/seed/%08d", i)
            let value = try Barrier.encrypt(key: key, term: keys.activeTerm, path: path, plaintext: plain)
            batch.append((path, value))
            batchBytes += value.count
            if batchBytes >= 32 << 20 { try flush() }
        }
        try flush()
        lock.withLock { bumpIndex(g) }
        prerenderSnapshot()
    }
}
