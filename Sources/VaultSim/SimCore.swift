// The simulator's state machine: nodes, raft groups (shared replicated storage per cluster lineage), the barrier
// state of each node, leadership and persistence. Every mutation happens under one lock; slow work (snapshot
// rendering, restore validation) runs outside it on consistent views.

import Foundation
import LifeboatArchive
import NIOCore

/// A raft member as the group's configuration lists it.
struct RaftMember: Sendable {
    var id: String
    var address: String
    var voter: Bool
}

/// One raft cluster lineage: its configuration, indexes and the storage all its members share.
final class RaftGroup {
    let id: String
    let directory: String
    var members: [RaftMember]
    var configIndex: UInt64
    var index: UInt64
    var term: UInt64
    var leaderID: String?
    var electionScheduled = false
    let store: ValueStore
    /// Guards rendering of the cached snapshot file (held outside the simulator lock).
    let renderLock = NSLock()

    init(id: String, directory: String, members: [RaftMember], configIndex: UInt64, index: UInt64, term: UInt64) throws {
        self.id = id
        self.directory = directory
        self.members = members
        self.configIndex = configIndex
        self.index = index
        self.term = term
        self.store = try ValueStore(directory: directory + "/store")
    }

    static func load(directory: String) throws -> RaftGroup? {
        guard let data = FileManager.default.contents(atPath: directory + "/group.json"),
              let json = JSONValue.parse(Array(data)), let id = json["id"]?.stringValue else { return nil }
        let members = (json["members"]?.arrayValue ?? []).compactMap { m -> RaftMember? in
            guard let id = m["id"]?.stringValue, let a = m["address"]?.stringValue else { return nil }
            return RaftMember(id: id, address: a, voter: m["voter"]?.boolValue ?? true)
        }
        return try RaftGroup(id: id, directory: directory, members: members,
                             configIndex: UInt64(clamping: json["config_index"]?.intValue ?? 0),
                             index: UInt64(clamping: json["index"]?.intValue ?? 0), term: UInt64(clamping: json["term"]?.intValue ?? 0))
    }

    func persist() {
        let json = JSONValue.object([
            ("id", .string(id)),
            ("members", .array(members.map { .object([("id", .string($0.id)), ("address", .string($0.address)), ("voter", .bool($0.voter))]) })),
            ("config_index", .uint(configIndex)), ("index", .uint(index)), ("term", .uint(term)),
        ])
        try? ValueStore.writeAtomically(path: directory + "/group.json", bytes: json.bytes)
    }

    var voterCount: Int { members.filter(\.voter).count }
}

/// One simulated Vault server.
final class SimNode {
    let id: String
    let directory: String
    var port: Int
    var running = true
    /// The raft group whose data this node holds (persisted in raft/node.json); nil = no data (fresh or wiped).
    var groupID: String?
    var appliedIndex: UInt64 = 0
    /// A join challenge received from a leader, pending unseal (in memory, like Vault's).
    var pendingJoinGroup: String?
    var keys: UnsealedKeys?
    var unsealParts: [[UInt8]] = []
    var unsealNonce = ""
    var activeTime: Date?
    /// Removed from its raft configuration while it still holds data (Vault >= 1.19 removed-node semantics).
    var removed = false
    /// A stuck follower (fault `lag`): its applied index stops following the group's until it is stopped or wiped.
    var lagging = false

    init(id: String, directory: String, port: Int) {
        self.id = id
        self.directory = directory
        self.port = port
    }

    var apiAddress: String { "http://127.0.0.1:\(port)" }
    /// The advertised cluster address; nothing listens there (request forwarding happens in-process).
    var clusterHostPort: String { "127.0.0.1:\(port + 1)" }
    var clusterAddress: String { "https://" + clusterHostPort }
    var sealed: Bool { keys == nil }
    var raftDirectory: String { directory + "/raft" }

    func persistRaftState() {
        guard let g = groupID else { return }
        try? FileManager.default.createDirectory(atPath: raftDirectory, withIntermediateDirectories: true)
        let json = JSONValue.object([("group", .string(g)), ("applied_index", .uint(appliedIndex)), ("removed", .bool(removed))])
        try? ValueStore.writeAtomically(path: raftDirectory + "/node.json", bytes: json.bytes)
    }

    /// Where Vault looks for the lost-quorum recovery file (`<raft path>/raft/peers.json`).
    var peersFilePath: String { raftDirectory + "/peers.json" }
    /// Marks damaged raft data (the simulator's stand-in for a corrupt `raft.db`); removed with the raft directory.
    var corruptMarkerPath: String { raftDirectory + "/raft.db.damaged" }
    /// What Vault prints and exits with when bolt cannot open `raft.db`.
    static let corruptStartError = "Error initializing storage of type raft: failed to create fsm: failed to open bolt file: invalid database"

    /// Parses peers.json: `[{"id": "...", "address": "host:port", "non_voter": false}, ...]` (hashicorp/raft's
    /// ReadConfigJSON: every entry needs an id and an address, ids are unique).
    static func parsePeersFile(_ bytes: [UInt8]) -> Result<[RaftMember], PeersFileError> {
        guard let json = JSONValue.parse(bytes), let entries = json.arrayValue else {
            return .failure(PeersFileError("invalid character in peers.json: expected a JSON array of servers"))
        }
        var members: [RaftMember] = []
        for entry in entries {
            guard let id = entry["id"]?.stringValue, !id.isEmpty else { return .failure(PeersFileError("empty ID in configuration")) }
            guard let address = entry["address"]?.stringValue, !address.isEmpty else {
                return .failure(PeersFileError("empty address in configuration"))
            }
            if members.contains(where: { $0.id == id }) { return .failure(PeersFileError("found duplicate ID in configuration: \(id)")) }
            members.append(RaftMember(id: id, address: address, voter: !(entry["non_voter"]?.boolValue ?? false)))
        }
        guard members.contains(where: \.voter) else { return .failure(PeersFileError("need at least one voter in configuration")) }
        return .success(members)
    }

    struct PeersFileError: Error, CustomStringConvertible {
        var description: String
        init(_ d: String) { description = d }
    }

    func loadRaftState() {
        groupID = nil
        appliedIndex = 0
        removed = false
        guard let data = FileManager.default.contents(atPath: raftDirectory + "/node.json"),
              let json = JSONValue.parse(Array(data)) else { return }
        groupID = json["group"]?.stringValue
        appliedIndex = UInt64(clamping: json["applied_index"]?.intValue ?? 0)
        removed = json["removed"]?.boolValue ?? false
    }
}

/// Timing and environment of a simulator core.
struct CoreSettings: Sendable {
    var dataDirectory: String
    var nodeIDs: [String]
    var electionDelay: Duration
    var restoreApplyDelay: Duration
    var clock: any SimClock
    var seal: VaultSimSeal = .shamir
    var autoUnsealRetry: Duration = .seconds(1)
}

/// The shared state of all simulated nodes.
final class SimCore: @unchecked Sendable {
    // All mutable state below is guarded by `lock`.
    let lock = NSRecursiveLock()
    let settings: CoreSettings
    var nodes: [SimNode] = []
    var groups: [String: RaftGroup] = [:]
    var faults = FaultState()
    /// Set by the simulator's shutdown: background retries (auto-unseal) stop.
    var shutDown = false
    /// Nodes with an auto-unseal retry loop running.
    var autoUnsealPending = Set<String>()
    /// Called (outside the lock) when a node starts or stops, so the HTTP layer can bind or unbind it.
    var listenerHook: (@Sendable (String, Bool) -> Void)?

    init(settings: CoreSettings) throws {
        self.settings = settings
        let fm = FileManager.default
        try fm.createDirectory(atPath: settings.dataDirectory + "/nodes", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: settings.dataDirectory + "/groups", withIntermediateDirectories: true)
        for id in settings.nodeIDs {
            let dir = settings.dataDirectory + "/nodes/" + id
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var port = 0
            if let d = fm.contents(atPath: dir + "/node.json"), let j = JSONValue.parse(Array(d)) { port = j["port"]?.intValue ?? 0 }
            let node = SimNode(id: id, directory: dir, port: port)
            node.loadRaftState()
            nodes.append(node)
        }
        for node in nodes { if let g = node.groupID { _ = try loadGroup(g) } }
    }

    var now: Date { settings.clock.now() }

    func node(_ id: String) -> SimNode? { nodes.first { $0.id == id } }

    func loadGroup(_ id: String) throws -> RaftGroup? {
        if let g = groups[id] { return g }
        guard let g = try RaftGroup.load(directory: settings.dataDirectory + "/groups/" + id) else { return nil }
        groups[id] = g
        return g
    }

    func group(of node: SimNode) -> RaftGroup? {
        guard let g = node.groupID else { return nil }
        return groups[g]
    }

    func setPort(_ port: Int, for node: SimNode) {
        node.port = port
        try? ValueStore.writeAtomically(path: node.directory + "/node.json",
                                        bytes: JSONValue.object([("id", .string(node.id)), ("port", .int(port))]).bytes)
    }

    // MARK: Schedule

    func after(_ delay: Duration, _ work: @escaping @Sendable () -> Void) {
        let nanos = max(0, TimeAmount(delay).nanoseconds)  // NIO's conversion clamps instead of trapping
        DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanos)), execute: work)
    }

    // MARK: Node lifecycle

    func stopNode(_ id: String) -> Bool {
        let changed: Bool = lock.withLock {
            guard let n = node(id), n.running else { return false }
            n.running = false
            n.lagging = false
            seal(n)
            n.pendingJoinGroup = nil
            return true
        }
        if changed { listenerHook?(id, false) }
        return changed
    }

    /// How a start request ended.
    enum StartOutcome: Equatable {
        case started
        case alreadyRunning
        /// The node refused to start (Vault's process would exit with this error): corrupt raft data, a bad peers.json.
        case refused(String)
    }

    @discardableResult
    func startNode(_ id: String) -> StartOutcome {
        let outcome: StartOutcome = lock.withLock {
            guard let n = node(id) else { return .refused("unknown node \(id)") }
            guard !n.running else { return .alreadyRunning }
            if FileManager.default.fileExists(atPath: n.corruptMarkerPath) { return .refused(SimNode.corruptStartError) }
            n.loadRaftState()
            if let g = n.groupID { _ = try? loadGroup(g) }
            if let refusal = recoverPeersFile(n) { return .refused(refusal) }
            n.running = true
            return .started
        }
        if outcome == .started {
            listenerHook?(id, true)
            scheduleAutoUnseal(id)
        }
        return outcome
    }

    /// Marks a node's raft data as damaged (as a torn or corrupted `raft.db`): the node stops and refuses to start
    /// until its raft directory is wiped.
    func corruptNode(_ id: String) {
        _ = stopNode(id)
        lock.withLock {
            guard let n = node(id) else { return }
            try? FileManager.default.createDirectory(atPath: n.raftDirectory, withIntermediateDirectories: true)
            try? ValueStore.writeAtomically(path: n.corruptMarkerPath, bytes: Array("damaged by vault-sim\n".utf8))
        }
    }

    /// Vault's lost-quorum recovery at start: a `raft/peers.json` in the node's data directory replaces the raft
    /// configuration of the data the node holds, and is deleted. Returns the start error when the file is unusable
    /// (Vault exits; the file stays for the operator to fix).
    func recoverPeersFile(_ n: SimNode) -> String? {
        let path = n.peersFilePath
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let members: [RaftMember]
        switch SimNode.parsePeersFile(Array(data)) {
        case .failure(let message): return "Error initializing storage of type raft: failed to read peers file: \(message)"
        case .success(let m): members = m
        }
        guard let g = group(of: n) else {
            return "Error initializing storage of type raft: raft recovery failed: refusing to recover cluster with no initial state, this is probably an operator error"
        }
        g.members = members
        if g.leaderID.map({ l in !members.contains { $0.id == l } }) ?? false { g.leaderID = nil }
        bumpIndex(g)
        g.configIndex = g.index
        g.persist()
        try? FileManager.default.removeItem(atPath: path)
        reconcileLeadership(g)
        return nil
    }

    /// `rm -rf` of the node's raft data: the node restarts empty (uninitialized, sealed).
    func wipeNode(_ id: String) {
        lock.withLock {
            guard let n = node(id) else { return }
            seal(n)
            n.pendingJoinGroup = nil
            try? FileManager.default.removeItem(atPath: n.raftDirectory)
            let old = n.groupID
            n.groupID = nil
            n.appliedIndex = 0
            n.removed = false
            n.lagging = false
            if let old, !nodes.contains(where: { $0.groupID == old }) {
                groups[old] = nil
                try? FileManager.default.removeItem(atPath: settings.dataDirectory + "/groups/" + old)
            }
        }
    }

    /// Seals `n` (clears key material and unseal progress) and lets its group pick another leader.
    func seal(_ n: SimNode) {
        lock.withLock {
            let wasUnsealed = n.keys != nil
            n.keys = nil
            n.unsealParts = []
            n.unsealNonce = ""
            n.activeTime = nil
            autoUnsealPending.remove(n.id)
            if wasUnsealed, let g = group(of: n) {
                if g.leaderID == n.id { g.leaderID = nil }
                reconcileLeadership(g)
            }
        }
    }

    // MARK: Leadership

    /// Members of `g` able to take part in raft: running, unsealed, holding this group's data.
    func liveVoters(_ g: RaftGroup) -> [SimNode] {
        g.members.filter(\.voter).compactMap { m in
            guard let n = node(m.id), n.running, n.keys != nil, n.groupID == g.id, !n.removed else { return nil }
            return n
        }
    }

    func hasQuorum(_ g: RaftGroup) -> Bool { liveVoters(g).count * 2 > g.voterCount }

    /// Drops a leader that can no longer lead and schedules an election when one is possible.
    func reconcileLeadership(_ g: RaftGroup) {
        let live = liveVoters(g)
        if let l = g.leaderID, !(live.contains { $0.id == l } && hasQuorum(g)) {
            node(l)?.activeTime = nil
            g.leaderID = nil
        }
        if g.leaderID == nil, hasQuorum(g), !g.electionScheduled {
            g.electionScheduled = true
            let gid = g.id
            after(settings.electionDelay) { [self] in
                lock.withLock {
                    guard let g = groups[gid] else { return }
                    g.electionScheduled = false
                    guard g.leaderID == nil, hasQuorum(g), let winner = liveVoters(g).first else { return }
                    elect(winner, in: g)
                }
            }
        }
    }

    func elect(_ n: SimNode, in g: RaftGroup) {
        if let old = g.leaderID { node(old)?.activeTime = nil }
        g.term += 1
        g.leaderID = n.id
        n.activeTime = now
        // The new leader writes core/lock and a no-op log entry.
        if let keys = n.keys {
            try? writeEntries(g, keys: keys, [("core/lock", Array(UUID().uuidString.lowercased().utf8), false)])
        } else {
            bumpIndex(g)
        }
    }

    /// Makes another live voter the leader immediately (a forced leader change); false when none is eligible.
    func forceLeaderChange(to target: String?) -> Bool {
        lock.withLock {
            for g in groups.values where g.leaderID != nil {
                let live = liveVoters(g).filter { $0.id != g.leaderID }
                let pick = target.flatMap { t in live.first { $0.id == t } } ?? (target == nil ? live.first : nil)
                guard let winner = pick else { continue }
                elect(winner, in: g)
                return true
            }
            return false
        }
    }

    /// The active node of the group `n` belongs to (nil when no leader is known).
    func activeNode(for n: SimNode) -> SimNode? {
        guard let g = group(of: n), let l = g.leaderID else { return nil }
        return node(l)
    }

    func isActive(_ n: SimNode) -> Bool {
        guard let g = group(of: n) else { return false }
        return g.leaderID == n.id && n.keys != nil && n.running
    }

    // MARK: Storage through the barrier

    func bumpIndex(_ g: RaftGroup) {
        g.index += 1
        for n in nodes where n.running && n.groupID == g.id && n.keys != nil && !n.lagging { n.appliedIndex = g.index }
        g.persist()
    }

    /// Writes entries (plaintext values are encrypted unless `plain`), one raft index for the batch.
    func writeEntries(_ g: RaftGroup, keys: UnsealedKeys, _ entries: [(String, [UInt8], Bool)]) throws {
        guard let key = keys.barrierKeys[keys.activeTerm] else { throw BarrierError.unknownTerm(keys.activeTerm) }
        let batch = try entries.map { (path, value, plain) -> (String, [UInt8]?) in
            (path, plain ? value : try Barrier.encrypt(key: key, term: keys.activeTerm, path: path, plaintext: value))
        }
        try g.store.apply(batch)
        bumpIndex(g)
    }

    func deleteEntries(_ g: RaftGroup, _ paths: [String]) throws {
        try g.store.apply(paths.map { ($0, nil) })
        bumpIndex(g)
    }

    func readEntry(_ g: RaftGroup, keys: UnsealedKeys, _ path: String) -> [UInt8]? {
        guard let blob = g.store.get(path) else { return nil }
        return try? Barrier.decrypt(keys: keys.barrierKeys, path: path, blob: blob)
    }

    func readJSON(_ g: RaftGroup, keys: UnsealedKeys, _ path: String) -> JSONValue? {
        readEntry(g, keys: keys, path).flatMap { JSONValue.parse($0) }
    }

    func writeJSON(_ g: RaftGroup, keys: UnsealedKeys, _ path: String, _ value: JSONValue) throws {
        try writeEntries(g, keys: keys, [(path, value.bytes, false)])
    }

    /// The seal configuration stored in plaintext in the group's data.
    func sealConfig(_ g: RaftGroup) -> (shares: Int, threshold: Int)? {
        guard let raw = g.store.get(Barrier.sealConfigPath), let j = JSONValue.parse(raw),
              let n = j["secret_shares"]?.intValue, let t = j["secret_threshold"]?.intValue else { return nil }
        return (n, t)
    }

    /// Cluster name and id from `core/cluster/local/info` (readable only while unsealed).
    func clusterInfo(_ n: SimNode) -> (name: String, id: String)? {
        guard let g = group(of: n), let keys = n.keys, let j = readJSON(g, keys: keys, "core/cluster/local/info"),
              let name = j["name"]?.stringValue, let id = j["id"]?.stringValue else { return nil }
        return (name, id)
    }
}
