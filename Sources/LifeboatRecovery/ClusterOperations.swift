// ClusterOperations: the node-level steps every journaled recovery is built from, in one place: polling with
// transient errors waited out, running a reset hook, waiting until a node is empty or active, unsealing with a set
// of keys (a partial unseal cleared first), joining a node and trusting only the raft configuration (the join
// trap), and waiting for healthy voters. Used by RestoreExecutor and IncidentRecovery; each failure is a
// RecoveryError saying what to do, ending with the run's own resume command.

import Foundation
import LifeboatBase
import LifeboatVault

struct ClusterOperations: Sendable {
    let vault: any RecoveryVaultAPI
    let timeouts: RestoreTimeouts
    let sleeper: any VaultSleeper
    /// The command that continues this run, e.g. `lifeboat restore --resume`.
    let resumeCommand: String
    /// The raft node id of a node (its name unless mapped).
    let raftID: @Sendable (RecoveryNode) -> String
    /// Progress lines.
    let note: @Sendable (RestorePhase?, String) -> Void

    /// Calls `check` every poll interval until it returns true; throws a timeout with `what()` (or rethrows the
    /// check's errors other than transient connection failures).
    func poll(timeout: Duration, phase: RestorePhase?, node: String?, what: () -> String,
              _ check: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        var transient: VaultError?
        while true {
            try Task.checkCancellation()
            do {
                if try await check() { return }
                transient = nil
            } catch let e as VaultError where [.unreachable, .connectionLost, .timeout, .sealed, .noLeader].contains(e.kind)
                || ((e.kind == .api || e.kind == .unexpectedResponse) && [500, 502, 503, 504].contains(e.statusCode ?? 0)) {
                transient = e
            }
            if ContinuousClock.now >= deadline {
                var message = what()
                if message.isEmpty { message = "timed out after \(timeout)" }
                if let transient { message += " (last error: \(transient.message))" }
                throw RecoveryError(.timeout, message, phase: phase, node: node)
            }
            try await sleeper.sleep(for: timeouts.pollInterval)
        }
    }

    /// Runs the reset hook on `node`; returns its output (for a debug log).
    func runHook(_ hook: any ResetHook, on node: RecoveryNode, phase: RestorePhase?) async throws -> String {
        do {
            return try await hook.reset(node)
        } catch {
            throw RecoveryError.wrap(error, phase: phase, node: node.name, resumeCommand: resumeCommand).withCode(.hookFailed)
        }
    }

    /// Polls until `node` answers sys/health 501 (or initialized:false); unreachable answers are waited out (the
    /// node is restarting).
    func waitUntilUninitialized(_ node: RecoveryNode, phase: RestorePhase?) async throws {
        var last = "no answer yet"
        try await poll(timeout: timeouts.nodeReset, phase: phase, node: node.name, what: {
            "\(node.name) did not come back uninitialized within \(timeouts.nodeReset) (last: \(last)); the reset hook did not wipe its raft data or did not start it again: check the hook, then run `\(resumeCommand)`"
        }) {
            do {
                let (status, health) = try await vault.health(at: node.apiAddress)
                last = "sys/health \(status), initialized \(health.initialized)"
                return status == 501 || !health.initialized
            } catch let e as VaultError where [.unreachable, .connectionLost, .timeout].contains(e.kind) {
                last = e.message
                return false
            }
        }
    }

    /// Polls until `node` answers at all and is initialized (restarted with its data, sealed or not).
    func waitUntilAnswering(_ node: RecoveryNode, phase: RestorePhase?) async throws {
        var last = "no answer yet"
        try await poll(timeout: timeouts.nodeReset, phase: phase, node: node.name, what: {
            "\(node.name) did not come back with its data within \(timeouts.nodeReset) (last: \(last)); check the restart hook and the node's log, then run `\(resumeCommand)`"
        }) {
            do {
                let (status, health) = try await vault.health(at: node.apiAddress)
                last = "sys/health \(status), initialized \(health.initialized)"
                return health.initialized
            } catch let e as VaultError where [.unreachable, .connectionLost, .timeout].contains(e.kind) {
                last = e.message
                return false
            }
        }
    }

    /// Polls until `node` is the active node (sys/health 200).
    func waitUntilActive(_ node: RecoveryNode, phase: RestorePhase?, timeout: Duration? = nil) async throws {
        let limit = timeout ?? timeouts.activation
        var last = "no answer yet"
        try await poll(timeout: limit, phase: phase, node: node.name, what: {
            "\(node.name) did not become active within \(limit) (last: \(last))"
        }) {
            do {
                let (status, health) = try await vault.health(at: node.apiAddress)
                last = "sys/health \(status), sealed \(health.sealed), standby \(health.standby)"
                return status == 200
            } catch let e as VaultError where [.unreachable, .connectionLost, .timeout].contains(e.kind) {
                last = e.message
                return false
            }
        }
    }

    /// Submits `keys` until `node` is unsealed (clears a partial unseal first).
    /// - Parameters:
    ///   - refused: what a 400 (a key Vault refuses) means here and what to do, e.g. "the keys given are not ...".
    func unseal(_ node: RecoveryNode, keys: UnsealKeySet, phase: RestorePhase?, refused: String, notEnough: String) async throws {
        var status = try await vault.sealStatus(at: node.apiAddress)
        guard status.sealed else { return }
        if status.progress > 0 { try await vault.resetUnseal(at: node.apiAddress) }
        var submitted = 0
        for key in keys.keys {
            do {
                status = try await vault.unseal(at: node.apiAddress, key: key)
            } catch let e as VaultError where e.statusCode == 400 {
                throw RecoveryError(.unsealFailed, "\(node.name) refused an unseal key (\(e.vaultErrors.joined(separator: "; "))): \(refused)", phase: phase, node: node.name)
            }
            submitted += 1
            note(phase, "unsealing \(node.name): \(min(submitted, max(1, status.t))) of \(status.t) keys")
            if !status.sealed { return }
        }
        throw RecoveryError(.unsealFailed, "\(node.name) is still sealed after \(submitted) keys (progress \(status.progress) of \(status.t)); \(notEnough)", phase: phase, node: node.name)
    }

    /// Joins `node` (already empty) to `leader`, unseals it with `keys` (Shamir), and waits until the leader's raft
    /// configuration lists it as a voter: a node that still held data answers joined:true and does not join.
    func join(_ node: RecoveryNode, leader: RecoveryNode, keys: UnsealKeySet?, token: VaultSecret, phase: RestorePhase?,
              refused: String, notEnough: String) async throws {
        note(phase, "joining \(node.name) to \(leader.name)")
        let joined: Bool
        do {
            joined = try await vault.join(at: node.apiAddress, leaderAPIAddress: leader.apiAddress)
        } catch let e as VaultError {
            throw RecoveryError(.joinFailed, "\(node.name) could not join \(leader.name): \(e.message)", phase: phase, node: node.name)
        }
        guard joined else {
            throw RecoveryError(.joinFailed, "\(node.name) answered joined:false to the join request", phase: phase, node: node.name)
        }
        if let keys { try await unseal(node, keys: keys, phase: phase, refused: refused, notEnough: notEnough) }
        try await waitUntilVoter(node, leader: leader, token: token, phase: phase)
    }

    /// Polls the leader's raft configuration until it lists `node` as a voter.
    func waitUntilVoter(_ node: RecoveryNode, leader: RecoveryNode, token: VaultSecret, phase: RestorePhase?) async throws {
        var last = "not listed"
        try await poll(timeout: timeouts.cluster, phase: phase, node: node.name, what: {
            "\(node.name) answered joined:true but is not a voter of \(leader.name)'s cluster after \(timeouts.cluster) (\(last)); it probably still holds old raft data (a node with data answers joined:true and does not join): check that the reset hook wipes its raft directory, then run `\(resumeCommand)`"
        }) {
            let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
            if let s = config.servers.first(where: { $0.nodeId == raftID(node) }) {
                last = s.voter ? "listed as voter" : "listed as non-voter"
                return s.voter
            }
            last = "raft configuration lists \(config.servers.map(\.nodeId).joined(separator: ", "))"
            return false
        }
    }

    /// Polls until every id in `wanted` is a voter and autopilot reports the cluster healthy.
    func waitForHealthyVoters(_ wanted: Set<String>, via leader: RecoveryNode, token: VaultSecret, phase: RestorePhase?,
                              what cluster: String) async throws {
        var last = "no answer yet"
        note(phase, "waiting for \(wanted.count) voters and a healthy autopilot")
        try await poll(timeout: timeouts.cluster, phase: phase, node: nil, what: {
            "\(cluster) did not reach \(wanted.count) healthy voters within \(timeouts.cluster) (\(last)); check the nodes' logs and run `\(resumeCommand)`"
        }) {
            let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
            let voters = Set(config.servers.filter(\.voter).map(\.nodeId))
            let missing = wanted.subtracting(voters)
            guard missing.isEmpty else {
                last = "not voters yet: \(missing.sorted().joined(separator: ", "))"
                return false
            }
            let autopilot = try await vault.autopilotState(at: leader.apiAddress, token: token)
            if !autopilot.healthy {
                let bad = (autopilot.servers ?? [:]).values.filter { !$0.healthy }.map(\.id).sorted()
                last = "autopilot unhealthy" + (bad.isEmpty ? "" : ": \(bad.joined(separator: ", "))")
                return false
            }
            return true
        }
    }
}
