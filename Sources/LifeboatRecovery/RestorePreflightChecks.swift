// The preflight's look at the target and the credentials, before anything is touched: every node's state
// (unreachable / uninitialized / sealed / standby / active with its raft index and cluster identity), whether the
// target is the backup's cluster, whether it holds newer data than the backup (then `--overwrite-newer` is needed),
// and which credential each later phase uses, checked with sys/capabilities-self where the cluster can answer.

import Foundation
import LifeboatArchive
import NIOHTTP1
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// One target node as the preflight saw it.
public struct TargetNodeState: Sendable, Codable, Equatable {
    public enum State: String, Sendable, Codable, Equatable {
        /// `removed`: the node holds data but was removed from its raft configuration (health 530, Vault >= 1.19).
        case unreachable, uninitialized, sealed, removed, standby, active
    }

    public var name: String
    public var address: String
    public var state: State
    public var clusterID: String?
    public var clusterName: String?
    /// The raft applied index (unsealed nodes only).
    public var appliedIndex: UInt64?
    public var version: String?
    /// The active node an unsealed node names (sys/leader `leader_address`).
    public var leaderAddress: String?
    /// Why it is unreachable.
    public var detail: String?
    /// The seal the node is configured with (`sys/seal-status` `type`: "shamir", "transit", "awskms", ...).
    public var sealType: String?
    /// The raft committed index the node reports (unsealed nodes only).
    public var committedIndex: UInt64?
    /// `sys/seal-status` `t`, `n` and `progress` (initialized nodes).
    public var sealThreshold: Int?
    public var sealShares: Int?
    public var unsealProgress: Int?

    public var isUnsealed: Bool { state == .active || state == .standby }

    /// `vault_1 http://...: active, cluster vault-cluster-1 (id ...), raft index 1234`.
    public var line: String {
        var text = "\(name) \(address): \(state.rawValue)"
        switch state {
        case .unreachable: text += detail.flatMap { $0 == state.rawValue ? nil : " (\($0))" } ?? ""
        case .uninitialized: text += " (empty: no data to lose)"
        case .sealed: text += " (its data is there but locked; cluster identity not visible while sealed)"
        case .removed: text += " (removed from its raft cluster: it must be wiped before it can join again)"
        case .standby, .active:
            if let clusterName { text += ", cluster \(clusterName)" }
            if let clusterID { text += " (id \(clusterID))" }
            if let appliedIndex { text += ", raft index \(appliedIndex)" }
        }
        return text
    }
}

/// The target as a whole.
public struct TargetAssessment: Sendable, Codable, Equatable {
    public var nodes: [TargetNodeState]
    /// true/false when both identities are known, nil otherwise.
    public var sameCluster: Bool?
    /// The highest applied index of an unsealed node.
    public var newestIndex: UInt64?
    /// An unsealed node holds data the backup does not (a higher index, or another cluster's data).
    public var holdsNewerData: Bool
    /// One line for the plan.
    public var summary: String
}

extension RecoveryVaultAPI {
    /// Clients that cannot ask sys/capabilities-self answer nil (the check is then reported as not done).
    public func capabilitiesSelf(at address: String, token: VaultSecret, paths: [String]) async throws -> [String: [String]]? { nil }
}

extension VaultRecoveryClient {
    /// `POST sys/capabilities-self` with `{"paths": [...]}`: the token's capabilities on each path (the client's
    /// one implementation, with this explicit token).
    public func capabilitiesSelf(at address: String, token: VaultSecret, paths: [String]) async throws -> [String: [String]]? {
        try await client.capabilitiesSelf(paths, at: address, token: token)
    }
}

extension TargetNodeState {
    /// Every node's state now, from unauthenticated calls only (sys/health, sys/seal-status, sys/leader): the one
    /// look at the nodes that restore's preflight, `lifeboat doctor` and the recoveries share. Touches nothing.
    public static func observe(_ nodes: [RecoveryNode], vault: any RecoveryVaultAPI) async -> [TargetNodeState] {
        var observed: [TargetNodeState] = []
        for node in nodes { observed.append(await observe(node, vault: vault)) }
        return observed
    }

    /// One node's state now.
    public static func observe(_ node: RecoveryNode, vault: any RecoveryVaultAPI) async -> TargetNodeState {
        var state = TargetNodeState(name: node.name, address: node.apiAddress, state: .unreachable)
        do {
            let (status, health) = try await vault.health(at: node.apiAddress)
            state.version = health.version
            let seal = try? await vault.sealStatus(at: node.apiAddress)
            state.sealType = seal?.type
            if let seal, seal.initialized {
                state.sealThreshold = seal.t
                state.sealShares = seal.n
                state.unsealProgress = seal.progress
            }
            if status == 501 || !health.initialized {
                state.state = .uninitialized
            } else if status == 530 || health.removedFromCluster == true {
                state.state = .removed
            } else if health.sealed {
                state.state = .sealed
            } else {
                state.state = status == 200 ? .active : .standby
                state.clusterID = health.clusterId.flatMap { $0.isEmpty ? nil : $0 }
                state.clusterName = health.clusterName.flatMap { $0.isEmpty ? nil : $0 }
                let leader = try? await vault.leader(at: node.apiAddress)
                state.appliedIndex = leader?.raftAppliedIndex
                state.committedIndex = leader?.raftCommittedIndex
                state.leaderAddress = leader.flatMap { $0.leaderAddress.isEmpty ? nil : $0.leaderAddress }
            }
        } catch let e as VaultError {
            state.detail = e.kind.rawValue
        } catch {
            state.detail = "\(error)"
        }
        return state
    }
}

extension RestoreExecutor {
    /// Looks at every node (unauthenticated sys/health and sys/leader): touches nothing.
    func assessTarget(_ source: RestoreSource, snapshotIndex: UInt64) async -> TargetAssessment {
        let nodes = await observeTargetNodes()
        return Self.assess(nodes, source: source, snapshotIndex: snapshotIndex)
    }

    /// Every node's state now (unauthenticated calls only), e.g. for the message of a failed restore.
    public func observeTargetNodes() async -> [TargetNodeState] {
        await TargetNodeState.observe(options.nodes, vault: vault)
    }

    static func assess(_ nodes: [TargetNodeState], source: RestoreSource, snapshotIndex: UInt64) -> TargetAssessment {
        let unsealed = nodes.filter(\.isUnsealed)
        let targetIDs = Set(unsealed.compactMap(\.clusterID))
        var same: Bool?
        if let backupID = source.cluster.id, !backupID.isEmpty, !targetIDs.isEmpty {
            same = targetIDs == [backupID]
        }
        let newest = unsealed.compactMap(\.appliedIndex).max()
        let holdsNewer = !unsealed.isEmpty && ((newest ?? 0) > snapshotIndex || same == false)
        var summary: String
        let backupName = Self.clusterText(source.cluster)
        if unsealed.isEmpty {
            let states = Set(nodes.map(\.state))
            if states == [.uninitialized] {
                summary = "every node is uninitialized (empty)"
            } else if states.isSubset(of: [.sealed, .uninitialized, .unreachable]) && states.contains(.sealed) {
                summary = "no node is unsealed (\(nodes.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))); whether it is the backup's cluster cannot be seen while sealed"
            } else {
                summary = "no node answered as unsealed (\(nodes.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", ")))"
            }
        } else {
            let name = unsealed.compactMap(\.clusterName).first ?? "an unnamed cluster"
            switch same {
            case true?: summary = "running and unsealed: the SAME cluster as the backup (\(backupName))"
            case false?: summary = "running and unsealed: cluster \(name), NOT the backup's cluster (\(backupName))"
            case nil: summary = "running and unsealed: cluster \(name); the backup records no cluster identity, so whether they are the same cannot be checked"
            }
            if let newest {
                summary += newest > snapshotIndex ? "; its raft index \(newest) is AHEAD of the backup's \(snapshotIndex)" : "; raft index \(newest) (backup \(snapshotIndex))"
            }
        }
        return TargetAssessment(nodes: nodes, sameCluster: same, newestIndex: newest, holdsNewerData: holdsNewer, summary: summary)
    }

    /// Same-cluster restore: when the nodes given are standbys only, the active node they follow is added to the
    /// restore's nodes (it receives the upload), so pointing at a standby just works.
    func followLeader(_ target: TargetAssessment, source: RestoreSource, snapshotIndex: UInt64) async -> TargetAssessment {
        guard options.mode == .sameCluster, !target.nodes.contains(where: { $0.state == .active }),
              let leader = target.nodes.compactMap(\.leaderAddress).first else { return target }
        var address = leader
        while address.hasSuffix("/") { address.removeLast() }
        guard !options.nodes.contains(where: { $0.apiAddress == address }) else { return target }
        options.nodes.append(RecoveryNode(name: "active", apiAddress: address))
        emit(.note(.preflight, "the nodes given are standbys; their active node \(address) receives the upload"))
        return await assessTarget(source, snapshotIndex: snapshotIndex)
    }

    static func clusterText(_ cluster: BackupManifest.Cluster) -> String {
        switch (cluster.name, cluster.id) {
        case let (name?, id?): return "\(name), id \(id)"
        case let (name?, nil): return name
        case let (nil, id?): return "id \(id)"
        case (nil, nil): return "cluster identity not recorded"
        }
    }

    /// Refuses targets the operator cannot have meant; never suggests --force where unsealing or a same-cluster
    /// restore would do.
    func checkTarget(_ target: TargetAssessment, source: RestoreSource, snapshotIndex: UInt64, seal: RestoredSealConfig) throws {
        if options.mode == .force { try checkSeals(target, seal: seal) }
        let age = source.createdAt.map { " taken \(DurationText.format(seconds: max(0, now().timeIntervalSince($0)))) ago" } ?? ""
        let states = Set(target.nodes.map(\.state))
        switch options.mode {
        case .sameCluster:
            if target.nodes.allSatisfy({ !$0.isUnsealed }) {
                if states == [.uninitialized] {
                    throw RecoveryError(.target, "every node is uninitialized (empty): there is no running cluster to restore into in place. Nothing was changed. To rebuild the cluster from this backup on these empty nodes, restore with --force (nothing is lost: they hold no data)")
                }
                if states.contains(.sealed) {
                    throw RecoveryError(.target, "the cluster is sealed (\(target.nodes.map { "\($0.name) \($0.state.rawValue)" }.joined(separator: ", "))): a same-cluster restore needs it running. Nothing was changed. Unseal it with its keys (`vault operator unseal`), then run this again; if unsealing brings your data back, you may not need a restore at all")
                }
                throw RecoveryError(.target, "no node answered (\(target.nodes.map { "\($0.name): \($0.detail ?? $0.state.rawValue)" }.joined(separator: "; "))). Nothing was changed: check the addresses (--node) and that Vault is running")
            }
            if target.sameCluster == false {
                throw RecoveryError(.target, "the target is another cluster than the backup's (\(target.summary)); Vault refuses another cluster's snapshot in a same-cluster restore. Nothing was changed. Check --node / VAULT_ADDR; only if you mean to REPLACE that cluster with this backup, use --force (it wipes it)")
            }
            if target.holdsNewerData && !options.overwriteNewer {
                throw RecoveryError(.target, "the running cluster is at raft index \(target.newestIndex ?? 0), ahead of backup \(source.id) (index \(snapshotIndex)\(age)): the restore replaces everything written since. Nothing was changed. If that is what you want, run again with --overwrite-newer")
            }
        case .force:
            if options.scratchTarget && target.sameCluster == true {
                throw RecoveryError(.target, "the drill's scratch nodes answer as the backup's OWN cluster (\(target.summary)): they are production, not a scratch cluster. Nothing was changed. Check the scratch node addresses (--scratch-node / drill.nodes)")
            }
            if target.holdsNewerData && !options.overwriteNewer {
                var what = "\(target.summary). --force would WIPE every node and lose its data"
                if target.sameCluster == true {
                    what += ". To go back to the backup on this same cluster without wiping it, restore without --force"
                }
                throw RecoveryError(.target, "the target is healthy: \(what). Nothing was changed. If destroying that data is intended, add --overwrite-newer (backup \(source.id): index \(snapshotIndex)\(age))")
            }
            if target.nodes.contains(where: \.isUnsealed) && !options.overwriteNewer {
                // Running and unsealed, not ahead: wiping it would rebuild what it already holds.
                throw RecoveryError(.target, "the target is healthy and holds nothing newer than the backup (\(target.summary)): --force would WIPE a working cluster to put back what it already has. Nothing was changed. To return to the backup's data on this cluster, restore without --force; to rebuild it from the backup anyway, add --overwrite-newer")
            }
        }
    }

    /// A forced restore reseals the nodes with the backup's seal configuration: nodes configured with another kind
    /// of seal could never unseal the restored data (Vault would need a seal migration), and auto-unseal nodes that
    /// are sealed now show that their KMS does not answer (the restored nodes would stay sealed just the same).
    func checkSeals(_ target: TargetAssessment, seal: RestoredSealConfig) throws {
        func isShamir(_ type: String) -> Bool { type == "shamir" || type.isEmpty }
        let backupSeal = isShamir(seal.type) ? "a Shamir seal (unseal keys)" : "auto-unseal (\(seal.type))"
        for node in target.nodes {
            guard let type = node.sealType, node.state != .unreachable else { continue }
            if isShamir(type) != isShamir(seal.type) || (!isShamir(type) && type != seal.type) {
                let nodeSeal = isShamir(type) ? "a Shamir seal" : "auto-unseal (\(type))"
                throw RecoveryError(.target, "\(node.name) is configured with \(nodeSeal), but the backup's cluster used \(backupSeal): after a forced restore the node could not unseal the restored data (Vault needs a seal migration for that). Nothing was changed. Restore onto nodes configured with the backup's seal (for auto-unseal: the same KMS key)")
            }
        }
        guard !isShamir(seal.type) else { return }
        let stuck = target.nodes.filter { $0.state == .sealed && !isShamir($0.sealType ?? "shamir") }
        if !stuck.isEmpty {
            throw RecoveryError(.target, "\(stuck.map(\.name).joined(separator: ", ")) \(stuck.count == 1 ? "is" : "are") configured with auto-unseal (\(seal.type)) but sealed: the KMS does not unseal \(stuck.count == 1 ? "it" : "them") now (unreachable, or it refuses the key). A forced restore would wipe the nodes and leave the restored data sealed just the same. Nothing was changed. Make the KMS reachable (the nodes then unseal themselves; if they do, you may not need a restore at all), then run this again")
        }
    }

    /// The credential each phase uses, checked where the live cluster can answer. Returns the plan's lines.
    func checkCredentials(_ target: TargetAssessment) async throws -> [String] {
        var lines: [String] = []
        var needed: [(path: String, capability: String, phase: String)] = []
        switch options.mode {
        case .force:
            lines.append("reset: the reset hook (no Vault credential)")
            lines.append("restore, apply: the fresh cluster's temporary root token (memory only, dead after the restore)")
            lines.append("unseal, join: unauthenticated, with the original unseal keys")
            if options.nodes.count > 1 {
                needed += [("sys/storage/raft/configuration", "read", "rebootstrap"), ("sys/storage/raft/autopilot/state", "read", "rebootstrap")]
            }
        case .sameCluster:
            needed.append(("sys/storage/raft/snapshot", "update", "restore"))
        }
        needed.append(("sys/storage/raft/configuration", "read", "verify"))
        for canary in options.canaries { needed.append((canary.description, "read", "verify")) }
        let later = options.mode == .force ? "rebootstrap, verify" : "restore, verify"
        let validIn = options.mode == .force ? "valid in the BACKUP's data (only the backup's tokens and auth exist after the restore)" : "valid on the running cluster"

        let token: VaultSecret?
        do { token = try await options.originalToken() } catch {
            if options.mode == .sameCluster {
                throw RecoveryError(.credentials, "cannot obtain a token for the restore (\(error)). Nothing was changed: set VAULT_TOKEN or configure the restore AppRole (policies/lifeboat-restore.hcl)")
            }
            lines.append("\(later): \(options.tokenSource), NOT checked: it could not be obtained now (\(error)); it must be \(validIn)")
            return lines
        }
        guard let token, !token.isEmpty else {
            throw RecoveryError(.credentials, "no token for the \(later) phases: they read \(Set(needed.map { $0.path }).sorted().joined(separator: ", ")). Nothing was changed. Set VAULT_TOKEN (for --force: the backup cluster's root token, or a token with policies/lifeboat-restore.hcl that existed when the backup was taken) or configure the restore AppRole")
        }
        guard let active = target.nodes.first(where: { $0.state == .active }) ?? target.nodes.first(where: \.isUnsealed) else {
            lines.append("\(later): \(options.tokenSource), NOT checked: no node is unsealed to ask sys/capabilities-self; it must be \(validIn) and carry policies/lifeboat-restore.hcl")
            return lines
        }
        let meaningful = options.mode == .sameCluster || target.sameCluster == true
        let answer: [String: [String]]?
        do {
            answer = try await vault.capabilitiesSelf(at: active.address, token: token, paths: Array(Set(needed.map { $0.path })).sorted())
        } catch let e as VaultError where e.kind == .permissionDenied {
            if meaningful {
                throw RecoveryError(.credentials, "the token for the \(later) phases (\(options.tokenSource)) was refused by sys/capabilities-self on \(active.name): it is not valid there (expired, revoked, or from another cluster) or may not ask (policies/lifeboat-restore.hcl grants it). Nothing was changed: use a token with policies/lifeboat-restore.hcl")
            }
            lines.append("\(later): \(options.tokenSource), not valid on the live cluster (another cluster than the backup's): it must be \(validIn)")
            return lines
        } catch {
            lines.append("\(later): \(options.tokenSource), NOT checked: sys/capabilities-self on \(active.name) failed (\(error)); it must be \(validIn)")
            return lines
        }
        guard let answer else {
            lines.append("\(later): \(options.tokenSource), NOT checked (this client cannot ask sys/capabilities-self); it must be \(validIn)")
            return lines
        }
        let missing = needed.filter { need in
            let caps = answer[need.path] ?? []
            return !(caps.contains("root") || caps.contains(need.capability)) || caps.contains("deny")
        }
        if missing.isEmpty {
            lines.append("\(later): \(options.tokenSource), checked with sys/capabilities-self on \(active.name): every path allowed" + (options.mode == .force ? " (on the live cluster; a token created after the backup does not exist in the restored data)" : ""))
            return lines
        }
        let list = missing.map { "\($0.capability) on \($0.path) (\($0.phase))" }.joined(separator: ", ")
        if meaningful {
            throw RecoveryError(.credentials, "the token for the \(later) phases (\(options.tokenSource)) lacks \(list): the restore would fail after the point of no return. Nothing was changed: give it policies/lifeboat-restore.hcl (not the backup policy), or use the backup cluster's root token")
        }
        lines.append("\(later): \(options.tokenSource) lacks \(list) on the live cluster, which is not the backup's; it must be \(validIn) with policies/lifeboat-restore.hcl")
        return lines
    }

    /// Once the first node serves the restored data: the token the later phases use must be valid THERE (the
    /// backup's token store). Checked before any other node is joined, so a wrong token is named at once instead
    /// of surfacing as a timeout; the first node is restored and unsealed by then, and `--resume` continues.
    func checkTokenInRestoredData(_ token: VaultSecret, on node: RecoveryNode, phase: RestorePhase) async throws {
        var paths = ["sys/storage/raft/configuration"]
        if options.nodes.count > 1 { paths.append("sys/storage/raft/autopilot/state") }
        paths += options.canaries.map(\.description)
        let answer: [String: [String]]?
        do {
            answer = try await vault.capabilitiesSelf(at: node.apiAddress, token: token, paths: paths)
        } catch let e as VaultError where e.kind == .permissionDenied {
            throw RecoveryError(.credentials, "the restored data on \(node.name) does not accept the token (\(options.tokenSource)): it did not exist when the backup was taken. \(node.name) is restored and unsealed; give the backup cluster's root token, or a token with policies/lifeboat-restore.hcl from before the backup, and run `lifeboat restore --resume`", phase: phase, node: node.name)
        } catch {
            return  // Not answerable here: the phases report what fails.
        }
        guard let answer else { return }
        let missing = paths.filter { path in
            let caps = answer[path] ?? []
            return caps.contains("deny") || !(caps.contains("root") || caps.contains("read"))
        }
        guard missing.isEmpty else {
            throw RecoveryError(.credentials, "in the restored data the token (\(options.tokenSource)) lacks read on \(missing.joined(separator: ", ")). \(node.name) is restored and unsealed; give a token with policies/lifeboat-restore.hcl (or the backup cluster's root token) and run `lifeboat restore --resume`", phase: phase, node: node.name)
        }
    }
}
