// IncidentRecovery: the recoveries short of a full restore (docs/runbooks/), each with a read-only preflight that
// decides a plan (`--plan` prints it), a journal (`--resume` continues at the step that failed) and the node-level
// steps of ClusterOperations:
//   unseal  - every sealed node gets the keys; the first one proves them before any other node is touched.
//   node    - one lost, corrupt, removed or foreign node: reset (hook), join the active node, unseal, wait until it is
//             a voter, remove its old raft id if that changed.
//   quorum  - Vault's lost-quorum procedure: the survivor(s) with the highest committed index get a raft/peers.json
//             listing only them (through a hook: Lifeboat does not run on the nodes), are restarted and unsealed; a
//             leader and the committed index are verified; then every other node is reset and rejoined.
// Nothing the survivors hold is lost by any of them.

import Foundation
import Logging
import LifeboatBase
import LifeboatVault

/// Writes peers.json on a node and restarts it (Vault's lost-quorum procedure needs both on the node itself).
public protocol QuorumHooks: Sendable {
    var description: String { get }
    /// Writes `peersJSON` to the node's `<raft data dir>/raft/peers.json` (the hook receives it on stdin).
    func writePeers(_ node: RecoveryNode, peersJSON: [UInt8]) async throws -> String
    /// Restarts the node's Vault process (it comes back sealed, having applied peers.json).
    func restart(_ node: RecoveryNode) async throws -> String
}

/// Quorum hooks made of argv commands (`{node}` and `{api_addr}` replaced), run through CommandRunner.
public struct CommandQuorumHooks: QuorumHooks {
    public var peersCommands: [[String]]
    public var restartCommands: [[String]]
    public var timeout: Duration
    public var environment: [String: String]

    public init(peersCommands: [[String]], restartCommands: [[String]], timeout: Duration = CommandResetHook.defaultTimeout,
                environment: [String: String] = [:]) {
        self.peersCommands = peersCommands
        self.restartCommands = restartCommands
        self.timeout = timeout
        self.environment = environment
    }

    public var description: String {
        "peers: " + peersCommands.map { $0.joined(separator: " ") }.joined(separator: " && ")
            + "; restart: " + restartCommands.map { $0.joined(separator: " ") }.joined(separator: " && ")
    }

    public func writePeers(_ node: RecoveryNode, peersJSON: [UInt8]) async throws -> String {
        try await CommandResetHook.run(peersCommands, on: node, what: "peers", environment: environment, timeout: timeout, input: peersJSON)
    }

    public func restart(_ node: RecoveryNode) async throws -> String {
        try await CommandResetHook.run(restartCommands, on: node, what: "restart", environment: environment, timeout: timeout)
    }
}

/// Quorum hooks running closures (in-process simulators, tests).
public struct ClosureQuorumHooks: QuorumHooks {
    public let description: String
    private let peers: @Sendable (RecoveryNode, [UInt8]) async throws -> Void
    private let restartBody: @Sendable (RecoveryNode) async throws -> Void

    public init(description: String, writePeers: @escaping @Sendable (RecoveryNode, [UInt8]) async throws -> Void,
                restart: @escaping @Sendable (RecoveryNode) async throws -> Void) {
        self.description = description
        self.peers = writePeers
        self.restartBody = restart
    }

    public func writePeers(_ node: RecoveryNode, peersJSON: [UInt8]) async throws -> String {
        try await peers(node, peersJSON)
        return ""
    }

    public func restart(_ node: RecoveryNode) async throws -> String {
        try await restartBody(node)
        return ""
    }
}

/// What an incident recovery needs.
public struct IncidentOptions: Sendable {
    /// Every node of the cluster (the raft node id is the name unless `raftNodeIDs` maps it).
    public var nodes: [RecoveryNode]
    public var unsealKeys: UnsealKeySet
    public var resetHook: (any ResetHook)?
    public var quorumHooks: (any QuorumHooks)?
    /// Where the journal lives.
    public var stateDirectory: String
    /// The token for the raft configuration, autopilot and remove-peer (read when a step needs it).
    public var token: @Sendable () async throws -> VaultSecret?
    public var timeouts: RestoreTimeouts
    public var raftNodeIDs: [String: String] = [:]
    /// Each node's raft (cluster) address for peers.json, `host:port`; default: the API host with the API port + 1
    /// (Vault's convention: 8200 -> 8201).
    public var clusterAddresses: [String: String] = [:]
    /// `recover node`: rebuild a node that is a running member of the cluster (a stale or diverged node).
    public var rebuild = false
    /// `recover node`: wipe a node that is unsealed in another cluster (the join trap).
    public var discardForeignData = false
    /// Only the plan is wanted (`--plan`): no keys given is then a line of the plan, not a refusal.
    public var planOnly = false
    /// Progress lines for a terminal.
    public var onProgress: (@Sendable (String) -> Void)?

    public init(nodes: [RecoveryNode], unsealKeys: UnsealKeySet, resetHook: (any ResetHook)?, quorumHooks: (any QuorumHooks)?,
                stateDirectory: String, timeouts: RestoreTimeouts = RestoreTimeouts(), token: @escaping @Sendable () async throws -> VaultSecret?) {
        self.nodes = nodes
        self.unsealKeys = unsealKeys
        self.resetHook = resetHook
        self.quorumHooks = quorumHooks
        self.stateDirectory = stateDirectory
        self.timeouts = timeouts
        self.token = token
    }

    public func raftID(_ node: RecoveryNode) -> String { raftNodeIDs[node.name] ?? node.name }

    /// The node's raft address for peers.json.
    public func clusterAddress(_ node: RecoveryNode) -> String {
        if let given = clusterAddresses[node.name] { return given }
        guard let c = URLComponents(string: node.apiAddress), let host = c.host else { return node.apiAddress }
        let port = c.port ?? (c.scheme == "http" ? 80 : 443)
        let hostText = host.contains(":") ? "[\(host)]" : host
        return "\(hostText):\(port < 65535 ? port + 1 : port)"
    }
}

/// Runs one incident recovery. Not reentrant.
public final class IncidentRecovery: @unchecked Sendable {
    // `journal` is touched only by the one task running the recovery.
    let vault: any RecoveryVaultAPI
    let options: IncidentOptions
    private let sleeper: any VaultSleeper
    private let logger: Logger
    let now: @Sendable () -> Date
    private var journal: IncidentJournal?

    public init(vault: any RecoveryVaultAPI, options: IncidentOptions, logger: Logger = Logger(label: "lifeboat.recover"),
                sleeper: any VaultSleeper = TaskVaultSleeper(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.vault = vault
        self.options = options
        self.logger = logger
        self.sleeper = sleeper
        self.now = now
    }

    func operations(_ plan: IncidentPlan) -> ClusterOperations {
        let options = self.options
        return ClusterOperations(vault: vault, timeouts: options.timeouts, sleeper: sleeper, resumeCommand: plan.resumeCommand,
                                 raftID: { options.raftID($0) }, note: { [self] _, text in progress(text) })
    }

    func progress(_ text: String) {
        options.onProgress?(text)
        logger.info("\(text)")
    }

    // MARK: Preflight

    /// Looks at the cluster (read-only) and decides the plan; refuses, touching nothing, when the operation does not
    /// fit the incident or a check fails.
    public func prepare(_ operation: IncidentOperation, target: String? = nil) async throws -> IncidentPlan {
        guard !options.nodes.isEmpty else {
            throw RecoveryError(.configuration, "no Vault nodes given: list every node of the cluster (--node NAME=ADDRESS or restore.nodes)")
        }
        if let old = try IncidentJournal.load(stateDirectory: options.stateDirectory), old.status != .complete {
            throw RecoveryError(.journal, "an earlier recovery (\(old.plan.operation.rawValue)\(old.plan.target.map { " \($0)" } ?? ""), run \(old.runID)) did not finish (\(old.lastError ?? "interrupted")): continue it with `\(old.plan.resumeCommand)`, or move \(IncidentJournal.path(in: options.stateDirectory)) away to start over")
        }
        let observed = await TargetNodeState.observe(options.nodes, vault: vault)
        switch operation {
        case .unseal: return try planUnseal(observed)
        case .node:
            guard let target else { throw RecoveryError(.configuration, "recover node needs the name of the node to replace") }
            return try await planNode(target, observed)
        case .quorum: return try await planQuorum(observed)
        }
    }

    private func sealTypeIsShamir(_ nodes: [TargetNodeState]) -> Bool {
        nodes.allSatisfy { ($0.sealType ?? "shamir").isEmpty || $0.sealType == "shamir" || $0.state == .uninitialized || $0.state == .unreachable }
    }

    private func checkKeys(threshold: Int?, shares: Int?, checks: inout [String]) throws {
        guard let threshold, threshold > 0 else { return }
        let keys = options.unsealKeys
        if keys.isEmpty && options.planOnly {
            checks.append("no unseal keys given (--plan): the run needs \(threshold)\(shares.map { " of \($0)" } ?? "")")
            return
        }
        guard keys.count >= threshold else {
            throw RecoveryError(.notEnoughUnsealKeys, "the cluster needs \(threshold)\(shares.map { " of its \($0)" } ?? "") unseal keys and \(keys.count) distinct key\(keys.count == 1 ? " was" : "s were") given; nothing was changed: give the cluster's keys with --unseal-keys-file (or restore.unseal_keys_file)")
        }
        checks.append("\(keys.count) distinct unseal key(s) given; the cluster needs \(threshold)\(shares.map { " of \($0)" } ?? "")")
    }

    private func planUnseal(_ observed: [TargetNodeState]) throws -> IncidentPlan {
        let sealed = observed.filter { $0.state == .sealed }
        guard !sealed.isEmpty else {
            throw RecoveryError(.target, "no node is sealed (\(observed.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))): nothing to unseal; run `lifeboat doctor` to see what is wrong")
        }
        guard sealTypeIsShamir(sealed) else {
            throw RecoveryError(.target, "\(sealed.map(\.name).joined(separator: ", ")) use auto-unseal (\(sealed.compactMap(\.sealType).first ?? "")): they unseal themselves through their seal; check the seal's KMS and the nodes' logs")
        }
        let thresholds = Set(sealed.compactMap(\.sealThreshold))
        var checks: [String] = []
        var warnings: [String] = []
        if thresholds.count > 1 {
            warnings.append("the sealed nodes report different thresholds (\(thresholds.sorted().map(String.init).joined(separator: ", "))): they may belong to different clusters; run `lifeboat doctor`")
        }
        try checkKeys(threshold: thresholds.max(), shares: sealed.compactMap(\.sealShares).max(), checks: &checks)
        let first = sealed[0].name
        checks.append("the keys are proven on \(first) first: a key Vault refuses stops the run before any other node gets a key (a refused key changes nothing: Vault resets the unseal progress)")
        let voters = observed.count
        let couldLead = observed.filter { $0.isUnsealed || $0.state == .sealed }.count
        var steps = sealed.map { IncidentPlan.Step(id: "unseal:\($0.name)", description: "unseal \($0.name) (\($0.sealThreshold.map { "\($0) key(s)" } ?? "its threshold"))", destructive: false) }
        let expectsLeader = couldLead * 2 > voters
        if expectsLeader {
            steps.append(.init(id: "leader", description: "wait for an active node", destructive: false))
        } else {
            warnings.append("after unsealing, only \(couldLead) of \(voters) nodes can vote: the cluster will still have no quorum; then run `lifeboat doctor` (the next step is `lifeboat recover quorum`)")
        }
        steps.append(.init(id: "verify", description: "look at every node again", destructive: false))
        var plan = IncidentPlan(operation: .unseal, target: nil, nodes: options.nodes, observed: observed, steps: steps, createdAt: now())
        plan.expectsLeader = expectsLeader
        plan.checks = checks
        plan.warnings = warnings
        return plan
    }

    private func planNode(_ name: String, _ observed: [TargetNodeState]) async throws -> IncidentPlan {
        guard let targetNode = options.nodes.first(where: { $0.name == name }), let target = observed.first(where: { $0.name == name }) else {
            throw RecoveryError(.configuration, "\(name) is not one of the nodes given (\(options.nodes.map(\.name).joined(separator: ", "))): name it with --node \(name)=ADDRESS or in restore.nodes")
        }
        guard let active = observed.first(where: { $0.state == .active && $0.name != name }) else {
            throw RecoveryError(.target, "no other node is active (\(observed.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))): replacing a node needs a cluster with quorum to join; run `lifeboat doctor` (sealed nodes: `lifeboat recover unseal`; quorum lost: `lifeboat recover quorum`)")
        }
        guard options.resetHook != nil else {
            throw RecoveryError(.configuration, "recover node needs a reset hook (--reset-command or restore.hooks): how to stop \(name), wipe its raft data and start it empty")
        }
        var checks = ["\(active.name) is active" + (active.committedIndex.map { " (committed index \($0))" } ?? "")]
        var warnings: [String] = []
        guard let token = try await options.token() else {
            throw RecoveryError(.credentials, "no Vault token: recover node reads the raft configuration and may remove a peer; give a token (--token-file, VAULT_TOKEN or vault.auth)")
        }
        let activeNode = RecoveryNode(name: active.name, apiAddress: active.address)
        try await checkCapabilities(token, at: activeNode, [("sys/storage/raft/configuration", "read"), ("sys/storage/raft/autopilot/state", "read")],
                                    checks: &checks)
        let config: VaultRaftConfiguration
        do {
            config = try await vault.raftConfiguration(at: active.address, token: token)
        } catch {
            throw RecoveryError(.credentials, "the raft configuration could not be read from \(active.name) (\(ClusterDoctor.short(error))): the token needs read on sys/storage/raft/configuration (policies/lifeboat-restore.hcl)")
        }
        let raftID = options.raftID(targetNode)
        let member = config.servers.first { $0.nodeId == raftID }
        switch target.state {
        case .active, .standby:
            if let id = target.clusterID, let activeID = active.clusterID, id != activeID {
                guard options.discardForeignData else {
                    throw RecoveryError(.target, "\(name) is unsealed in ANOTHER cluster (\(target.clusterName ?? id)): recovering it wipes that cluster's data; if nobody needs it, run again with --discard-foreign-data")
                }
                warnings.append("--discard-foreign-data: \(name)'s data of cluster \(target.clusterName ?? id) is wiped")
            } else if member != nil {
                guard options.rebuild else {
                    throw RecoveryError(.target, "\(name) is an unsealed member of the cluster: there is nothing to replace; if its raft data is stale or diverged and must be rebuilt from \(active.name), run again with --rebuild")
                }
                warnings.append("--rebuild: \(name) is running and unsealed; its raft data is wiped and rebuilt from \(active.name)")
            }
        case .sealed:
            if member != nil && !options.rebuild {
                throw RecoveryError(.target, "\(name) is only sealed and still a member: `lifeboat recover unseal` brings it back without wiping anything (to rebuild it anyway: --rebuild)")
            }
            if member == nil { warnings.append("\(name) is sealed and not in the raft configuration: it holds another cluster's (or an old configuration's) data, which is wiped") }
        case .unreachable:
            checks.append("\(name) does not answer (\(target.detail ?? "unreachable")): the reset hook must start it empty")
        case .uninitialized:
            checks.append("\(name) is empty: nothing to wipe")
        case .removed:
            checks.append("\(name) was removed from the raft configuration: its old data is wiped")
        }
        // An old raft id to drop afterwards: the entry that was this node's under another id (same raft address).
        var oldID: String?
        let address = options.clusterAddress(targetNode)
        let known = Set(options.nodes.map { options.raftID($0) })
        if member == nil, let stale = config.servers.first(where: { $0.address == address && !known.contains($0.nodeId) }) {
            oldID = stale.nodeId
            checks.append("the raft configuration lists \(stale.nodeId) at \(address): \(name)'s old raft id, removed after it rejoins")
            try await checkCapabilities(token, at: activeNode, [("sys/storage/raft/remove-peer", "update")], checks: &checks)
        }
        let seal = try? await vault.sealStatus(at: active.address)
        let shamir = sealTypeIsShamir([active])
        if shamir { try checkKeys(threshold: seal?.t, shares: seal?.n, checks: &checks) }
        let notes = ["the keys themselves (Vault has no API to test keys on an unsealed cluster): a key Vault refuses stops the run at the unseal step, and `--resume` continues with the right keys"]
        var steps: [IncidentPlan.Step] = [
            .init(id: "reset:\(name)", description: "reset \(name) with the reset hook and wait until it answers uninitialized", destructive: target.state != .uninitialized),
            .init(id: "join:\(name)", description: "join \(name) to the active node" + (shamir ? ", unseal it with the keys" : "") + ", wait until the raft configuration lists it as a voter", destructive: false),
        ]
        if let oldID { steps.append(.init(id: "remove-peer:\(oldID)", description: "remove the old raft id \(oldID)", destructive: false)) }
        steps.append(.init(id: "healthy:\(name)", description: "wait until autopilot reports \(name) healthy", destructive: false))
        steps.append(.init(id: "verify", description: "look at every node again", destructive: false))
        var plan = IncidentPlan(operation: .node, target: name, nodes: options.nodes, observed: observed, steps: steps, createdAt: now())
        plan.oldRaftID = oldID
        plan.checks = checks
        plan.notes = notes
        plan.warnings = warnings
        return plan
    }

    private func checkCapabilities(_ token: VaultSecret, at node: RecoveryNode, _ needed: [(String, String)], checks: inout [String]) async throws {
        guard let caps = try? await vault.capabilitiesSelf(at: node.apiAddress, token: token, paths: needed.map(\.0)) else {
            checks.append("token: sys/capabilities-self could not be asked; the capabilities are tried as the steps run")
            return
        }
        let missing = needed.filter { path, cap in
            let have = caps[path] ?? []
            return !(have.contains("root") || have.contains(cap))
        }
        guard missing.isEmpty else {
            throw RecoveryError(.credentials, "the token lacks \(missing.map { "\($0.1) on \($0.0)" }.joined(separator: ", ")); nothing was changed: use a token with policies/lifeboat-restore.hcl")
        }
        checks.append("the token has \(needed.map { "\($0.1) on \($0.0)" }.joined(separator: ", "))")
    }

    private func planQuorum(_ observed: [TargetNodeState]) async throws -> IncidentPlan {
        if let active = observed.first(where: { $0.state == .active }) {
            throw RecoveryError(.target, "\(active.name) is active: the cluster has its quorum; run `lifeboat doctor` (a lost node: `lifeboat recover node NAME`)")
        }
        let sealed = observed.filter { $0.state == .sealed }
        if !sealed.isEmpty {
            throw RecoveryError(.target, "\(sealed.map(\.name).joined(separator: ", ")) \(sealed.count == 1 ? "is" : "are") sealed: unseal first with `lifeboat recover unseal` (that may bring the quorum back by itself, and a sealed node's raft index cannot be read to choose the survivor)")
        }
        let live = observed.filter(\.isUnsealed)
        guard !live.isEmpty else {
            throw RecoveryError(.target, "no node holds the cluster's data unsealed (\(observed.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))): there is no survivor to recover from; if every node's data is lost, `lifeboat restore latest --force` is the way back")
        }
        if live.count * 2 > observed.count {
            throw RecoveryError(.target, "\(live.count) of \(observed.count) nodes are unsealed: that is a quorum, an election should be under way; wait and run `lifeboat doctor` again")
        }
        guard let hooks = options.quorumHooks else {
            throw RecoveryError(.configuration, "recover quorum needs --peers-command (writes raft/peers.json from its stdin on the node) and --restart-command (restarts the node)")
        }
        let best = live.compactMap(\.committedIndex).max()
        let chosen = live.filter { $0.committedIndex == best }
        let chosenNodes = options.nodes.filter { n in chosen.contains { $0.name == n.name } }
        let others = options.nodes.filter { n in !chosen.contains { $0.name == n.name } }
        if !others.isEmpty && options.resetHook == nil {
            throw RecoveryError(.configuration, "recover quorum rejoins \(others.map(\.name).joined(separator: ", ")) afterwards and needs a reset hook (--reset-command or restore.hooks) to wipe them first")
        }
        var checks: [String] = []
        var warnings: [String] = []
        // No leader can answer for the token now (lookup-self and capabilities-self are forwarded to the active
        // node): at least one must be there, or the run would stop after the survivor was rewritten.
        guard try await options.token() != nil else {
            throw RecoveryError(.credentials, "no Vault token: after the survivor is back, recover quorum reads the raft configuration to rejoin the others; give a token valid in this cluster (--token-file, VAULT_TOKEN or vault.auth)")
        }
        checks.append("a token is given")
        let notes = ["the token's capabilities (nothing can answer for it without a leader): it needs read on sys/storage/raft/configuration and autopilot/state (policies/lifeboat-restore.hcl); the run stops at the first rejoin without them, after the survivor is back, and `--resume` continues",
                     "the keys themselves: a key Vault refuses stops the run at the survivor's unseal (peers.json applied, nothing lost), and `--resume` continues with the right keys"]
        let dropped = live.filter { n in !chosen.contains { $0.name == n.name } }
        for d in dropped {
            warnings.append("\(d.name) is unsealed with committed index \(d.committedIndex.map(String.init) ?? "unknown"), lower than \(best.map(String.init) ?? "?"): it is wiped and rejoined (everything it holds, \(chosen.map(\.name).joined(separator: ", ")) hold too)")
        }
        checks.append("no node is active and only \(live.count) of \(observed.count) can vote: the quorum is lost")
        checks.append("survivor(s) with the highest committed index: \(chosen.map(\.name).joined(separator: ", "))" + (best.map { " (\($0))" } ?? ""))
        if sealTypeIsShamir(chosen) {
            try checkKeys(threshold: chosen.compactMap(\.sealThreshold).max(), shares: chosen.compactMap(\.sealShares).max(), checks: &checks)
        } else {
            checks.append("auto-unseal (\(chosen.compactMap(\.sealType).first ?? "")): the nodes unseal themselves after the restart; no keys are needed")
        }
        checks.append("the hooks: \(hooks.description)")
        let peers = "[" + chosenNodes.map { n in
            "{\"id\":\(Self.jsonString(options.raftID(n))),\"address\":\(Self.jsonString(options.clusterAddress(n))),\"non_voter\":false}"
        }.joined(separator: ",") + "]"
        var steps: [IncidentPlan.Step] = []
        for n in chosenNodes {
            steps.append(.init(id: "peers:\(n.name)", description: "write raft/peers.json on \(n.name) (peers hook, JSON on stdin)", destructive: true))
        }
        for n in chosenNodes {
            steps.append(.init(id: "restart:\(n.name)", description: "restart \(n.name) (restart hook): it applies peers.json and comes back sealed", destructive: false))
        }
        for n in chosenNodes {
            steps.append(.init(id: "unseal:\(n.name)", description: "unseal \(n.name)", destructive: false))
        }
        steps.append(.init(id: "leader", description: "wait until \(chosenNodes.map(\.name).joined(separator: " or ")) is active", destructive: false))
        steps.append(.init(id: "index", description: "check that the active node's committed index is at least \(best.map(String.init) ?? "the survivor's")", destructive: false))
        for n in others {
            steps.append(.init(id: "reset:\(n.name)", description: "reset \(n.name) (reset hook): its old raft data and configuration are wiped", destructive: true))
            steps.append(.init(id: "join:\(n.name)", description: "join \(n.name) to the active node, unseal it, wait until it is a voter", destructive: false))
        }
        steps.append(.init(id: "verify", description: "wait for every node as a healthy voter, look at every node again", destructive: false))
        var plan = IncidentPlan(operation: .quorum, target: nil, nodes: options.nodes, observed: observed, steps: steps, createdAt: now())
        plan.survivors = chosenNodes.map(\.name)
        plan.survivorIndex = best
        plan.peersJSON = peers
        plan.checks = checks
        plan.notes = notes
        plan.warnings = warnings
        return plan
    }

    static func jsonString(_ s: String) -> String {
        (try? String(decoding: JSONEncoder().encode(s), as: UTF8.self)) ?? "\"\""
    }

    // MARK: Execution

    /// Runs `plan` from the start (after `confirm` agreed, for a destructive plan).
    public func execute(_ plan: IncidentPlan, confirm: (IncidentPlan) async -> Bool = { _ in true }) async throws -> IncidentReport {
        if plan.destructive {
            guard await confirm(plan) else {
                throw RecoveryError(.declined, "not confirmed: nothing was changed")
            }
        }
        var j = IncidentJournal(runID: UUID().uuidString.lowercased(), plan: plan, now: now())
        try j.save(stateDirectory: options.stateDirectory)
        j.updatedAt = now()
        journal = j
        return try await run()
    }

    /// Continues the recovery recorded in the journal at the step that failed or was interrupted.
    public func resume(expecting operation: IncidentOperation? = nil, target: String? = nil) async throws -> IncidentReport {
        guard var j = try IncidentJournal.load(stateDirectory: options.stateDirectory) else {
            throw RecoveryError(.journal, "no recovery journal in \(options.stateDirectory): nothing to resume; start the recovery without --resume")
        }
        guard j.status != .complete else {
            throw RecoveryError(.journal, "the recovery in \(IncidentJournal.path(in: options.stateDirectory)) completed already (\(j.plan.operation.rawValue)); run `lifeboat doctor`")
        }
        if let operation, operation != j.plan.operation || (target != nil && target != j.plan.target) {
            throw RecoveryError(.journal, "the unfinished recovery is `\(j.plan.resumeCommand)`, not this one: continue that first, or move \(IncidentJournal.path(in: options.stateDirectory)) away")
        }
        j.attempts += 1
        j.status = .running
        j.updatedAt = now()
        try j.save(stateDirectory: options.stateDirectory)
        journal = j
        progress("resuming \(j.plan.operation.rawValue) (attempt \(j.attempts)); done already: \(j.completed.isEmpty ? "nothing" : j.completed.joined(separator: ", "))")
        return try await run()
    }

    private func run() async throws -> IncidentReport {
        guard var j = journal else { throw RecoveryError(.journal, "no plan to run") }
        let started = ContinuousClock.now
        let plan = j.plan
        let ops = operations(plan)
        for step in plan.steps where !j.completed.contains(step.id) {
            progress("==> \(step.description)")
            do {
                try await perform(step, plan: plan, ops: ops)
            } catch {
                let e = RecoveryError.wrap(error, phase: nil, node: nil, resumeCommand: plan.resumeCommand)
                j.status = .failed
                j.lastError = e.message
                j.failedStep = step.id
                j.updatedAt = now()
                try? j.save(stateDirectory: options.stateDirectory)
                journal = j
                var failed = e
                failed.message = "step `\(step.id)` failed: " + e.message
                let report = await makeReport(j, seconds: elapsed(started), error: failed.message)
                throw IncidentFailed(error: failed, report: report)
            }
            j.completed.append(step.id)
            j.updatedAt = now()
            try j.save(stateDirectory: options.stateDirectory)
            journal = j
        }
        j.status = .complete
        j.lastError = nil
        j.failedStep = nil
        j.updatedAt = now()
        try j.save(stateDirectory: options.stateDirectory)
        journal = j
        return await makeReport(j, seconds: elapsed(started), error: nil)
    }

    private func elapsed(_ start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    private func makeReport(_ j: IncidentJournal, seconds: Double, error: String?) async -> IncidentReport {
        let nodes = await TargetNodeState.observe(options.nodes, vault: vault)
        return IncidentReport(operation: j.plan.operation, target: j.plan.target, runID: j.runID, completed: j.completed, nodes: nodes,
                              leader: nodes.first { $0.state == .active }?.name, seconds: seconds, error: error,
                              resumeCommand: error == nil ? nil : j.plan.resumeCommand)
    }

    private func node(_ name: String) throws -> RecoveryNode {
        guard let n = options.nodes.first(where: { $0.name == name }) else {
            throw RecoveryError(.configuration, "\(name) is in the journal but not among the nodes given now: give the same --node list as the first run")
        }
        return n
    }

    private func requireToken() async throws -> VaultSecret {
        guard let t = try await options.token() else {
            throw RecoveryError(.credentials, "no Vault token: this step reads the raft configuration; give a token (--token-file, VAULT_TOKEN or vault.auth)")
        }
        return t
    }

    /// The active node now (listed nodes only).
    private func activeNode(excluding: String? = nil) async throws -> RecoveryNode {
        for n in options.nodes where n.name != excluding {
            if let answer = try? await vault.health(at: n.apiAddress), answer.status == 200 { return n }
        }
        throw RecoveryError(.vault, "no active node among \(options.nodes.map(\.name).joined(separator: ", ")); run `lifeboat doctor`")
    }

    private func refusedText(_ plan: IncidentPlan) -> String {
        "the keys given are not this cluster's unseal keys; nothing else was touched: give the right keys and run `\(plan.resumeCommand)`"
    }

    private let notEnoughText = "the keys given do not reconstruct the cluster's key: check that they all come from this cluster (and the current key set, after a rekey)"

    private func perform(_ step: IncidentPlan.Step, plan: IncidentPlan, ops: ClusterOperations) async throws {
        // Step ids come from the journal, a file: an empty or unknown one is an error, never a trap.
        let parts = step.id.split(separator: ":", maxSplits: 1).map(String.init)
        let kind = parts.first ?? ""
        let argument = parts.count > 1 ? parts[1] : ""
        switch kind {
        case "unseal":
            let n = try node(argument)
            let status = try await vault.sealStatus(at: n.apiAddress)
            guard status.sealed else {
                progress("\(n.name) is unsealed already")
                return
            }
            if let type = status.type, !type.isEmpty, type != "shamir" {
                // Auto-unseal: the node unseals itself through its seal once it runs; recovery keys do not unseal.
                var last = "sealed"
                try await ops.poll(timeout: options.timeouts.activation, phase: nil, node: n.name, what: {
                    "\(n.name) (\(type) seal) did not unseal itself within \(options.timeouts.activation) (\(last)): check that it reaches its KMS, then run `\(plan.resumeCommand)`"
                }) {
                    let s = try await vault.sealStatus(at: n.apiAddress)
                    last = s.sealed ? "sealed" : "unsealed"
                    return !s.sealed
                }
                return
            }
            try await ops.unseal(n, keys: options.unsealKeys, phase: nil, refused: refusedText(plan), notEnough: notEnoughText)
        case "leader":
            let candidates: [RecoveryNode] = try plan.operation == .quorum ? plan.survivors.map { try node($0) } : options.nodes
            var last = "no answer yet"
            try await ops.poll(timeout: options.timeouts.activation, phase: nil, node: nil, what: {
                "no active node within \(options.timeouts.activation) (\(last)); run `lifeboat doctor`, then `\(plan.resumeCommand)`"
            }) {
                var states: [String] = []
                for n in candidates {
                    let s = await TargetNodeState.observe(n, vault: vault)
                    if s.state == .active { return true }
                    states.append("\(n.name) \(s.state.rawValue)")
                }
                last = states.joined(separator: ", ")
                return false
            }
        case "index":
            let leader = try await activeNode()
            let status = try await vault.leader(at: leader.apiAddress)
            let index = status.raftCommittedIndex ?? status.raftAppliedIndex ?? 0
            if let wanted = plan.survivorIndex, index < wanted {
                throw RecoveryError(.verificationFailed, "\(leader.name) is active with committed index \(index), below the survivor's \(wanted): data would be missing; stop and look at the nodes (`lifeboat doctor`) before going on")
            }
            progress("\(leader.name) is active, committed index \(index)" + (plan.survivorIndex.map { " (survivor had \($0))" } ?? ""))
        case "reset":
            let n = try node(argument)
            guard let hook = options.resetHook else {
                throw RecoveryError(.configuration, "no reset hook to wipe \(n.name): give --reset-command (or restore.hooks) and run `\(plan.resumeCommand)`")
            }
            progress("resetting \(n.name) (\(hook.description))")
            let output = try await ops.runHook(hook, on: n, phase: nil)
            if !output.isEmpty { logger.debug("reset hook output", metadata: ["node": "\(n.name)", "output": "\(output)"]) }
            try await ops.waitUntilUninitialized(n, phase: nil)
        case "join":
            let n = try node(argument)
            let token = try await requireToken()
            let leader = try await activeNode(excluding: n.name)
            let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
            if config.servers.contains(where: { $0.nodeId == options.raftID(n) && $0.voter }),
               let s = try? await vault.sealStatus(at: n.apiAddress), s.initialized, !s.sealed {
                progress("\(n.name) is a voter and unsealed already")
                return
            }
            let leaderSeal = try? await vault.sealStatus(at: leader.apiAddress)
            let shamir = (leaderSeal?.type ?? "shamir").isEmpty || leaderSeal?.type == "shamir"
            if let s = try? await vault.sealStatus(at: n.apiAddress), s.initialized {
                // Joined in an earlier attempt (challenge pending or data held): only the unseal and the wait remain.
                if shamir { try await ops.unseal(n, keys: options.unsealKeys, phase: nil, refused: refusedText(plan), notEnough: notEnoughText) }
                try await ops.waitUntilVoter(n, leader: leader, token: token, phase: nil)
                return
            }
            try await ops.join(n, leader: leader, keys: shamir ? options.unsealKeys : nil, token: token, phase: nil,
                               refused: refusedText(plan), notEnough: notEnoughText)
        case "remove-peer":
            let token = try await requireToken()
            let leader = try await activeNode()
            let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
            guard config.servers.contains(where: { $0.nodeId == argument }) else {
                progress("\(argument) is no longer in the raft configuration")
                return
            }
            progress("removing the old raft id \(argument)")
            try await vault.removePeer(at: leader.apiAddress, serverID: argument, token: token)
        case "healthy":
            let n = try node(argument)
            let token = try await requireToken()
            let leader = try await activeNode(excluding: n.name)
            let id = options.raftID(n)
            var last = "no answer yet"
            try await ops.poll(timeout: options.timeouts.cluster, phase: nil, node: n.name, what: {
                "\(n.name) did not become a healthy voter within \(options.timeouts.cluster) (\(last)); check its log, then run `\(plan.resumeCommand)`"
            }) {
                let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
                guard config.servers.contains(where: { $0.nodeId == id && $0.voter }) else {
                    last = "not a voter"
                    return false
                }
                guard let autopilot = try? await vault.autopilotState(at: leader.apiAddress, token: token) else { return true }
                let healthy = autopilot.servers?[id]?.healthy ?? autopilot.healthy
                last = healthy ? "healthy" : "autopilot reports it unhealthy"
                return healthy
            }
        case "peers":
            let n = try node(argument)
            guard let hooks = options.quorumHooks else {
                throw RecoveryError(.configuration, "no peers hook: give --peers-command and --restart-command and run `\(plan.resumeCommand)`")
            }
            let json = Array((plan.peersJSON ?? "[]").utf8) + [0x0a]
            progress("writing raft/peers.json on \(n.name): \(plan.peersJSON ?? "[]")")
            let output = try await hooks.writePeers(n, peersJSON: json)
            if !output.isEmpty { logger.debug("peers hook output", metadata: ["node": "\(n.name)", "output": "\(output)"]) }
        case "restart":
            let n = try node(argument)
            guard let hooks = options.quorumHooks else {
                throw RecoveryError(.configuration, "no restart hook: give --restart-command and run `\(plan.resumeCommand)`")
            }
            progress("restarting \(n.name)")
            let output = try await hooks.restart(n)
            if !output.isEmpty { logger.debug("restart hook output", metadata: ["node": "\(n.name)", "output": "\(output)"]) }
            try await ops.waitUntilAnswering(n, phase: nil)
        case "verify":
            if plan.operation == .quorum {
                let token = try await requireToken()
                let leader = try await activeNode()
                try await ops.waitForHealthyVoters(Set(options.nodes.map { options.raftID($0) }), via: leader, token: token, phase: nil,
                                                   what: "the recovered cluster")
            }
            let observed = await TargetNodeState.observe(options.nodes, vault: vault)
            for n in observed { progress("  " + n.line) }
            if plan.expectsLeader && !observed.contains(where: { $0.state == .active }) {
                throw RecoveryError(.verificationFailed, "no node is active after the recovery; run `lifeboat doctor`")
            }
        default:
            throw RecoveryError(.journal, "unknown step `\(step.id)` in the journal (written by another Lifeboat version?)")
        }
    }
}
