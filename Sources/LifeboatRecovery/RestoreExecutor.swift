// RestoreExecutor: runs a restore phase by phase (docs/vault-behaviour.md §6.2, §7): preflight (nothing touches
// the cluster before the backup is proven good), then for --force reset -> initialize with a temporary key and
// snapshot-force -> wait for the asynchronous apply -> unseal with the original keys -> rebootstrap the other
// nodes -> verify -> report; for a same-cluster restore, upload -> apply -> verify -> report. Every phase is timed,
// journaled, and safe to repeat, so `resume()` continues at the phase that failed.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import Logging
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// A restore whose preflight passed: the verified staged snapshot and the plan built from it.
public struct PreparedRestore: Sendable {
    public var plan: RestorePlan
    public var staged: StagedSnapshot
    public var source: RestoreSource
}

/// A restore that failed in a phase. Carries the report written so far; `--resume` continues at `error.phase`.
public struct RestoreFailed: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var error: RecoveryError
    public var report: RestoreReport
    public var description: String { error.description }
    public var exitStatus: ExitStatus { error.exitStatus }
}

/// Runs restores. One executor per restore; it is not reentrant.
///
/// ## Resuming, and the temporary credentials
/// The temporary unseal key and root token from initializing the first node live only in this object's memory:
/// they are never logged, journaled or written anywhere. A process that dies after `sys/init` but before the
/// snapshot upload completed therefore leaves a first node initialized with credentials nobody has. The journal
/// marks the `restore` phase complete only after Vault accepted the upload, so `resume()` re-enters `restore`; that
/// phase first checks the first node and, when it is already initialized, runs the reset hook on it again (the
/// "lost credentials" path: wipe, wait until uninitialized), then initializes it anew. This is always safe: at that
/// point the node holds either an empty temporary cluster or a copy of the staged snapshot, both of which the
/// restore rebuilds from the staged file. Every other phase needs no temporary credentials: `apply` polls seal
/// status, `unseal` uses the original keys (resetting any partial unseal first), `rebootstrap` skips nodes the
/// journal or the raft configuration shows as done, `verify` only reads.
public final class RestoreExecutor: @unchecked Sendable {
    // Mutable state (`journal`, `temporary`, `phaseSeconds`) is touched only by the one task running the restore.
    let vault: any RecoveryVaultAPI
    var options: RestoreOptions
    private let logger: Logger
    private let sleeper: any VaultSleeper
    let now: @Sendable () -> Date

    private var journal: RestoreJournal?
    private var temporary: TemporaryCredentials?
    /// The cluster id of the temporary cluster (auto-unseal: the apply phase waits until the node reports another).
    private var temporaryClusterID: String?
    /// The temporary token of this attempt, kept after the restore to prove it is rejected.
    private var revokedTemporaryToken: VaultSecret?
    private var phaseSeconds: [RestorePhase: Double] = [:]
    private var verification: (nodes: [RestoreReport.NodeState], leader: String?, canaries: [RestoreReport.CanaryResult]) = ([], nil, [])

    /// - Parameters:
    ///   - vault: node-addressed Vault calls (``VaultRecoveryClient`` in production).
    ///   - sleeper: waits between polls (tests may inject one that returns at once).
    ///   - now: the wall clock for journal and plan times.
    public init(vault: any RecoveryVaultAPI, options: RestoreOptions, logger: Logger = Logger(label: "lifeboat.restore"),
                sleeper: any VaultSleeper = TaskVaultSleeper(), now: @escaping @Sendable () -> Date = { Date() }) {
        self.vault = vault
        self.options = options
        self.logger = logger
        self.sleeper = sleeper
        self.now = now
    }

    /// How long the last preflight took (also the `preflight` entry of the report).
    public var preflightSeconds: Double { phaseSeconds[.preflight] ?? 0 }

    // MARK: Preflight

    /// Phase 1: fetches the backup, authenticates every chunk, verifies the snapshot completely into a 0600 staging
    /// file, reads the original seal configuration and checks the unseal keys against its threshold. Touches no node.
    ///
    /// `--plan` stops after this call and prints `plan.render()`.
    public func preflight(_ source: RestoreSource) async throws -> PreparedRestore {
        let started = ContinuousClock.now
        emit(.phaseStarted(.preflight))
        do {
            try checkOptions()
            let name = "snapshot-" + Self.safeName(source.id) + ".snap"
            let staged = try await SnapshotStager.stage(source, keyRing: options.keyRing, directory: options.stagingDirectory, name: name)
            let seal = Self.sealConfig(of: staged.summary)
            var plan: RestorePlan
            do {
                // Only a forced restore reseals the nodes; a same-cluster restore keeps them unsealed. The keys are
                // proven against the backup's SHA256SUMS.sealed, offline, before anything is touched.
                let verdict: UnsealKeyVerdict
                if options.mode == .force {
                    verdict = try options.unsealKeys.prove(sealedHashes: staged.summary.sealedHashes, sha256Sums: staged.summary.sha256Sums,
                                                           seal: seal, cluster: "the backup's cluster (\(Self.clusterText(source.cluster)))")
                } else {
                    verdict = UnsealKeyVerdict(.notNeeded, "not needed (the cluster keeps its keys and stays unsealed)")
                }
                var target = await assessTarget(source, snapshotIndex: staged.summary.meta.index)
                target = await followLeader(target, source: source, snapshotIndex: staged.summary.meta.index)
                try checkTarget(target, source: source, snapshotIndex: staged.summary.meta.index, seal: seal)
                let credentials = try await checkCredentials(target)
                plan = RestorePlan.make(mode: options.mode, backup: Self.facts(source, staged), sealConfig: seal,
                                        unsealKeys: options.unsealKeys.count, nodes: options.nodes,
                                        canaries: options.canaries.map(\.description), stagingPath: staged.path, now: now(),
                                        hasResetHook: options.resetHook != nil)
                plan.unsealKeyVerdict = verdict
                plan.target = target
                plan.credentials = credentials
                plan.backupCluster = source.cluster
                plan.backupTakenFrom = [source.takenFrom, source.vaultVersion.map { "Vault \($0)" }].compactMap { $0 }.joined(separator: ", ")
                if target.holdsNewerData {
                    plan.warnings.append("--overwrite-newer: the target holds data the backup does not (\(target.summary)); it will be " + (options.mode == .force ? "DESTROYED" : "REPLACED by the backup's"))
                }
                if options.mode == .force, !target.nodes.contains(where: \.isUnsealed), target.nodes.contains(where: { $0.state == .sealed }) {
                    plan.warnings.append("some nodes are only sealed: if this is the backup's cluster and unsealing it (`vault operator unseal`) brings it back, no restore is needed")
                }
            } catch {
                TemporaryFiles.remove(staged.path)
                throw error
            }
            let seconds = elapsed(since: started)
            phaseSeconds[.preflight] = seconds
            emit(.phaseFinished(.preflight, seconds: seconds))
            logger.info("preflight passed", metadata: ["backup": "\(source.id)", "index": "\(staged.summary.meta.index)",
                                                       "keys": "\(staged.summary.entryCount)", "seconds": "\(Self.round(seconds))"])
            return PreparedRestore(plan: plan, staged: staged, source: source)
        } catch {
            let e = RecoveryError.wrap(error, phase: .preflight)
            emit(.phaseFailed(.preflight, message: e.message))
            throw e
        }
    }

    private func checkOptions() throws {
        guard !options.nodes.isEmpty else {
            throw RecoveryError(.configuration, "no Vault nodes configured for the restore: list every node's API address (the first one is initialized and receives the snapshot)")
        }
        let names = options.nodes.map(\.name)
        guard Set(names).count == names.count else {
            throw RecoveryError(.configuration, "two nodes share a name (\(names.joined(separator: ", "))): names must be unique, hooks receive them as {node}")
        }
        if options.mode == .force && options.nodes.count > 1 && options.resetHook == nil {
            throw RecoveryError(.configuration, "--force needs a reset hook to wipe the other nodes before they rejoin (a node holding old data answers joined:true and never joins): configure restore.reset_hook")
        }
    }

    // MARK: Execution

    /// Runs every phase after the preflight. `confirm` sees the plan first (the CLI asks on a terminal unless
    /// `--yes`); returning false stops before anything is touched.
    ///
    /// - Returns: the report of a successful restore.
    /// - Throws: ``RestoreFailed`` (with the report so far) when a phase fails; the journal then allows ``resume()``.
    public func execute(_ prepared: PreparedRestore,
                        confirm: @Sendable (RestorePlan) async throws -> Bool = { _ in true }) async throws -> RestoreReport {
        guard try await confirm(prepared.plan) else {
            TemporaryFiles.remove(prepared.staged.path)
            throw RecoveryError(.declined, "the restore was not confirmed; nothing was changed")
        }
        if let existing = try RestoreJournal.load(stateDirectory: options.stateDirectory), existing.status != .complete,
           existing.stagingPath != prepared.staged.path || existing.backupID != prepared.source.id {
            logger.warning("replacing an unfinished restore journal", metadata: ["run": "\(existing.runID)", "backup": "\(existing.backupID)"])
        }
        var j = RestoreJournal(runID: Hex.encode(SecureRandom.bytes(6)), mode: options.mode, backupID: prepared.source.id,
                               backupOrigin: prepared.source.origin, stagingPath: prepared.staged.path,
                               stagingSHA256: prepared.staged.sha256Hex, snapshotIndex: prepared.staged.summary.meta.index,
                               nodes: options.nodes, now: now())
        j.complete(.preflight, seconds: phaseSeconds[.preflight] ?? 0, at: now())
        journal = j
        try saveJournal()
        // The journal holds the staged snapshot now: an interrupted restore keeps it for `--resume`.
        TemporaryFiles.forget(prepared.staged.path)
        return try await runPhases(staged: prepared.staged)
    }

    /// Continues the restore recorded in the state directory's journal at its first unfinished phase.
    ///
    /// The staged snapshot is verified again and must still have the journaled SHA-256. The nodes are the
    /// journal's (the options' nodes are ignored); keys, hooks, token and canaries come from the options.
    public func resume() async throws -> RestoreReport {
        guard var j = try RestoreJournal.load(stateDirectory: options.stateDirectory) else {
            throw RecoveryError(.journal, "there is no restore to resume in \(options.stateDirectory): start one with `lifeboat restore`")
        }
        guard j.status != .complete else {
            throw RecoveryError(.journal, "the restore of backup \(j.backupID) (run \(j.runID)) already completed; nothing to resume")
        }
        let staged = try SnapshotStager.revalidate(path: j.stagingPath, expectedSHA256: j.stagingSHA256)
        let seal = Self.sealConfig(of: staged.summary)
        if j.mode == .force {
            _ = try options.unsealKeys.prove(sealedHashes: staged.summary.sealedHashes, sha256Sums: staged.summary.sha256Sums,
                                             seal: seal, cluster: "the backup's cluster")
        }
        options.mode = j.mode
        options.nodes = j.nodes
        j.attempts += 1
        j.status = .running
        j.updatedAt = now()
        journal = j
        try saveJournal()
        logger.info("resuming restore", metadata: ["run": "\(j.runID)", "backup": "\(j.backupID)", "at": "\(j.nextPhase?.rawValue ?? "-")"])
        return try await runPhases(staged: staged)
    }

    private func runPhases(staged: StagedSnapshot) async throws -> RestoreReport {
        let attemptStart = ContinuousClock.now
        for phase in options.mode.phases where phase != .preflight && phase != .report {
            if journal!.isComplete(phase) {
                emit(.phaseSkipped(phase))
                continue
            }
            let started = ContinuousClock.now
            emit(.phaseStarted(phase))
            logger.info("phase started", metadata: ["phase": "\(phase.rawValue)"])
            do {
                try Task.checkCancellation()
                try await run(phase, staged: staged)
                let seconds = elapsed(since: started)
                phaseSeconds[phase] = seconds
                journal!.complete(phase, seconds: seconds, at: now())
                try saveJournal()
                emit(.phaseFinished(phase, seconds: seconds))
                logger.info("phase finished", metadata: ["phase": "\(phase.rawValue)", "seconds": "\(Self.round(seconds))"])
            } catch {
                let e = RecoveryError.wrap(error, phase: phase)
                journal!.status = .failed
                journal!.failedPhase = phase
                journal!.lastError = e.message
                journal!.updatedAt = now()
                try? saveJournal()
                emit(.phaseFailed(phase, message: e.message))
                logger.error("phase failed", metadata: ["phase": "\(phase.rawValue)", "error": "\(e.message)"])
                throw RestoreFailed(error: e, report: makeReport(staged: staged, attemptStart: attemptStart, error: e))
            }
        }
        // Report.
        let reportStart = ContinuousClock.now
        emit(.phaseStarted(.report))
        journal!.status = .complete
        journal!.failedPhase = nil
        journal!.lastError = nil
        let seconds = elapsed(since: reportStart)
        phaseSeconds[.report] = seconds
        journal!.complete(.report, seconds: seconds, at: now())
        try saveJournal()
        // The staged copy is no longer needed; the journal keeps its path and SHA-256 for the record.
        unlink(staged.path)
        emit(.phaseFinished(.report, seconds: seconds))
        let report = makeReport(staged: staged, attemptStart: attemptStart, error: nil)
        logger.info("restore complete", metadata: ["backup": "\(report.backupID)", "recovery_seconds": "\(Self.round(report.totalSeconds))"])
        return report
    }

    private func run(_ phase: RestorePhase, staged: StagedSnapshot) async throws {
        switch (options.mode, phase) {
        case (.force, .reset): try await resetPhase()
        case (.force, .restore): try await forcedRestorePhase(staged)
        case (.force, .apply): try await applyPhase(staged)
        case (.force, .unseal): try await unsealPhase(staged)
        case (.force, .rebootstrap): try await rebootstrapPhase(staged)
        case (.sameCluster, .restore): try await sameClusterUploadPhase(staged)
        case (.sameCluster, .apply): try await sameClusterApplyPhase(staged)
        case (_, .verify): try await verifyPhase(staged)
        default: break
        }
    }

    // MARK: Phase 2: reset

    private func resetPhase() async throws {
        let first = options.nodes[0]
        if let hook = options.resetHook {
            for node in options.nodes {
                note(.reset, "resetting \(node.name) (\(hook.description))")
                try await runHook(hook, on: node, phase: .reset)
            }
        } else {
            note(.reset, "no reset hook: expecting \(first.name) to be wiped and running already")
        }
        try await waitUntilUninitialized(first, phase: .reset)
    }

    /// What a refused original key means during a restore, and what a key set that does not reconstruct the key means.
    static let keysRefused = "the keys given are not the ORIGINAL cluster's keys for this backup; use the keys of the cluster the backup was taken from (or of the key set current at that time), then run `lifeboat restore --resume`"
    static let keysNotEnough = "the keys given do not reconstruct the original cluster's key: check that they all come from the cluster the backup was taken from"

    /// The node-level steps, shared with the incident recoveries; failures end with `lifeboat restore --resume`.
    var operations: ClusterOperations {
        let options = self.options
        return ClusterOperations(vault: vault, timeouts: options.timeouts, sleeper: sleeper, resumeCommand: "lifeboat restore --resume",
                                 raftID: { options.raftID($0) }, note: { [self] phase, text in note(phase ?? .preflight, text) })
    }

    private func runHook(_ hook: any ResetHook, on node: RecoveryNode, phase: RestorePhase) async throws {
        let output = try await operations.runHook(hook, on: node, phase: phase)
        if !output.isEmpty { logger.debug("reset hook output", metadata: ["node": "\(node.name)", "output": "\(output)"]) }
    }

    private func waitUntilUninitialized(_ node: RecoveryNode, phase: RestorePhase) async throws {
        try await operations.waitUntilUninitialized(node, phase: phase)
    }

    // MARK: Phase 3: initialize with a temporary key, snapshot-force

    private func forcedRestorePhase(_ staged: StagedSnapshot) async throws {
        let first = options.nodes[0]
        temporary = nil
        let status = try await vault.sealStatus(at: first.apiAddress)
        if status.initialized {
            // An earlier attempt initialized it and its temporary credentials died with that process.
            guard let hook = options.resetHook else {
                throw RecoveryError(.configuration, "\(first.name) is already initialized (an earlier attempt's temporary credentials are gone, or it was not wiped) and no reset hook is configured: wipe its raft data, start it, and run `lifeboat restore --resume`", node: first.name)
            }
            note(.restore, "\(first.name) is already initialized (temporary credentials of an earlier attempt are lost): resetting it again")
            try await runHook(hook, on: first, phase: .restore)
            try await waitUntilUninitialized(first, phase: .restore)
        }
        // A node configured with an auto-unseal seal takes recovery shares and unseals itself through its KMS.
        let autoUnseal = !(status.type.map { $0 == "shamir" || $0.isEmpty } ?? true)
        note(.restore, autoUnseal ? "initializing \(first.name) (auto-unseal, \(status.type ?? "")) with a temporary 1-of-1 recovery key"
                                  : "initializing \(first.name) with a temporary 1-of-1 key")
        let creds = try await vault.initialize(at: first.apiAddress, shares: 1, threshold: 1, autoUnseal: autoUnseal)
        temporary = creds
        if let key = creds.key {
            let unsealed = try await vault.unseal(at: first.apiAddress, key: key)
            guard !unsealed.sealed else {
                throw RecoveryError(.vault, "\(first.name) stayed sealed after the temporary key was submitted", node: first.name)
            }
        }
        try await waitUntilActive(first, phase: .restore)
        temporaryClusterID = try? await vault.health(at: first.apiAddress).health.clusterId
        let timeout = options.timeouts.upload(bytes: staged.byteCount)
        note(.restore, "uploading the snapshot to \(first.name) (snapshot-force, \(ByteCountText.format(staged.byteCount)), timeout \(timeout))")
        try await vault.uploadSnapshot(at: first.apiAddress, file: staged.path, size: staged.byteCount, force: true,
                                       token: creds.rootToken, timeout: timeout)
        revokedTemporaryToken = creds.rootToken
    }

    private func waitUntilActive(_ node: RecoveryNode, phase: RestorePhase) async throws {
        try await operations.waitUntilActive(node, phase: phase)
    }

    // MARK: Phase 4: wait for the asynchronous apply

    private func applyPhase(_ staged: StagedSnapshot) async throws {
        let first = options.nodes[0]
        let seal = Self.sealConfig(of: staged.summary)
        let timeout = options.timeouts.apply(bytes: staged.byteCount)
        var last = "no answer yet"
        var sawRestored = false
        if !seal.isShamir {
            // Auto-unseal: the node reseals and unseals itself with the KMS key. Done when it is unsealed again as
            // another cluster than the temporary one (the restored data carries the backup's cluster id).
            let temporaryID = temporaryClusterID
            note(.apply, "waiting for \(first.name) to unseal itself (\(seal.type)) with the restored data")
            try await poll(timeout: timeout, phase: .apply, node: first.name, what: {
                "\(first.name) did not come back unsealed with the restored data within \(timeout) (last: \(last)); if it stays sealed, its KMS (\(seal.type)) cannot open the backup's keys: the nodes must use the backup's cluster's KMS key. Check Vault's log, then run `lifeboat restore --resume`"
            }) {
                do {
                    let (status, health) = try await self.vault.health(at: first.apiAddress)
                    last = "sys/health \(status), sealed \(health.sealed), cluster id \(health.clusterId ?? "-")"
                    return !health.sealed && health.initialized && health.clusterId != nil && health.clusterId != temporaryID
                } catch let e as VaultError where [.unreachable, .connectionLost, .timeout].contains(e.kind) {
                    last = e.message
                    return false
                }
            }
            return
        }
        note(.apply, "waiting for \(first.name) to reseal with the restored seal configuration (\(seal.threshold) of \(seal.shares))")
        try await poll(timeout: timeout, phase: .apply, node: first.name, what: {
            sawRestored ? "" : "\(first.name) did not reseal with the backup's seal configuration (\(seal.threshold) of \(seal.shares)) within \(timeout) (last: \(last)); the asynchronous apply failed or is still running: check Vault's log, then run `lifeboat restore --resume`"
        }) {
            do {
                let s = try await self.vault.sealStatus(at: first.apiAddress)
                last = "sealed \(s.sealed), \(s.t) of \(s.n)"
                if s.sealed && s.initialized && s.t == seal.threshold && s.n == seal.shares {
                    sawRestored = true
                    return true
                }
                return false
            } catch let e as VaultError where [.unreachable, .connectionLost, .timeout].contains(e.kind) {
                last = e.message
                return false
            }
        }
    }

    // MARK: Phase 5: unseal with the original keys

    private func unsealPhase(_ staged: StagedSnapshot) async throws {
        let first = options.nodes[0]
        let seal = Self.sealConfig(of: staged.summary)
        if seal.isShamir {
            try await unsealNode(first, seal: seal, phase: .unseal)
        }
        try await waitUntilActive(first, phase: .unseal)
        temporary = nil
    }

    /// Submits the original keys until `node` is unsealed (clears a partial unseal first).
    private func unsealNode(_ node: RecoveryNode, seal: RestoredSealConfig, phase: RestorePhase) async throws {
        try await operations.unseal(node, keys: options.unsealKeys, phase: phase,
                                    refused: Self.keysRefused,
                                    notEnough: Self.keysNotEnough)
    }

    // MARK: Phase 6: rebootstrap the other nodes

    private func rebootstrapPhase(_ staged: StagedSnapshot) async throws {
        let first = options.nodes[0]
        let seal = Self.sealConfig(of: staged.summary)
        let others = Array(options.nodes.dropFirst())
        guard !others.isEmpty else { return }
        let token = try await requireOriginalToken(phase: .rebootstrap)
        try await checkTokenInRestoredData(token, on: first, phase: .rebootstrap)
        for node in others {
            if journal!.nodesDone.contains(node.name) {
                // Done in an earlier attempt; it may have restarted sealed since.
                if try await vault.sealStatus(at: node.apiAddress).sealed, seal.isShamir {
                    try await unsealNode(node, seal: seal, phase: .rebootstrap)
                }
                continue
            }
            if try await isVoterAndUnsealed(node, via: first, token: token) {
                note(.rebootstrap, "\(node.name) is already a voter of the restored cluster and unsealed")
            } else {
                try await rejoin(node, leader: first, seal: seal, token: token)
            }
            journal!.nodesDone.append(node.name)
            journal!.updatedAt = now()
            try saveJournal()
        }
        try await waitForHealthyVoters(via: first, token: token, phase: .rebootstrap)
    }

    private func isVoterAndUnsealed(_ node: RecoveryNode, via leader: RecoveryNode, token: VaultSecret) async throws -> Bool {
        let config = try await vault.raftConfiguration(at: leader.apiAddress, token: token)
        guard config.servers.contains(where: { $0.nodeId == options.raftID(node) && $0.voter }) else { return false }
        guard let s = try? await vault.sealStatus(at: node.apiAddress) else { return false }
        return s.initialized && !s.sealed
    }

    private func rejoin(_ node: RecoveryNode, leader: RecoveryNode, seal: RestoredSealConfig, token: VaultSecret) async throws {
        guard let hook = options.resetHook else {
            throw RecoveryError(.configuration, "no reset hook to wipe \(node.name) before it joins", phase: .rebootstrap, node: node.name)
        }
        note(.rebootstrap, "wiping \(node.name)")
        try await runHook(hook, on: node, phase: .rebootstrap)
        try await waitUntilUninitialized(node, phase: .rebootstrap)
        try await operations.join(node, leader: leader, keys: seal.isShamir ? options.unsealKeys : nil, token: token, phase: .rebootstrap,
                                  refused: Self.keysRefused,
                                  notEnough: Self.keysNotEnough)
    }

    private func waitForHealthyVoters(via leader: RecoveryNode, token: VaultSecret, phase: RestorePhase) async throws {
        try await operations.waitForHealthyVoters(Set(options.nodes.map { options.raftID($0) }), via: leader, token: token, phase: phase,
                                                  what: "the restored cluster")
    }

    // MARK: Same-cluster restore

    private var indexBeforeUpload: UInt64 = 0

    private func sameClusterUploadPhase(_ staged: StagedSnapshot) async throws {
        let token = try await requireOriginalToken(phase: .restore)
        let leader = try await findLeader(phase: .restore)
        indexBeforeUpload = (try? await vault.leader(at: leader.apiAddress).raftAppliedIndex) ?? 0
        let timeout = options.timeouts.upload(bytes: staged.byteCount)
        note(.restore, "uploading the snapshot to the active node \(leader.name) (\(ByteCountText.format(staged.byteCount)))")
        do {
            try await vault.uploadSnapshot(at: leader.apiAddress, file: staged.path, size: staged.byteCount, force: false,
                                           token: token, timeout: timeout)
        } catch let e as VaultError where e.kind == .snapshotKeyMismatch {
            throw RecoveryError(.uploadRefused, "Vault refused the snapshot: this snapshot comes from another cluster or an older key set: use --force (Vault said: \(e.vaultErrors.joined(separator: "; ")))", phase: .restore, node: leader.name)
        }
    }

    private func sameClusterApplyPhase(_ staged: StagedSnapshot) async throws {
        let before = indexBeforeUpload
        var last = "no answer yet"
        let timeout = options.timeouts.apply(bytes: staged.byteCount)
        try await poll(timeout: timeout, phase: .apply, node: nil, what: {
            "the cluster did not come back active with the restored data within \(timeout) (\(last)); if a node is sealed the apply failed (e.g. the root key was rotated after the backup): unseal it with the keys current when the backup was taken, or use --force"
        }) {
            for node in self.options.nodes {
                guard let (status, health) = try? await self.vault.health(at: node.apiAddress) else { continue }
                if status == 200, let l = try? await self.vault.leader(at: node.apiAddress) {
                    let applied = l.raftAppliedIndex ?? 0
                    last = "\(node.name) active, applied index \(applied)"
                    // The restore is installed at max(snapshot index, last index) + 1.
                    return applied > before && applied > staged.summary.meta.index
                }
                last = "\(node.name): sys/health \(status), sealed \(health.sealed)"
            }
            return false
        }
    }

    private func findLeader(phase: RestorePhase) async throws -> RecoveryNode {
        var seen: [String] = []
        for node in options.nodes {
            do {
                let (status, health) = try await vault.health(at: node.apiAddress)
                if status == 200 { return node }
                if health.initialized, !health.sealed, let l = try? await vault.leader(at: node.apiAddress), !l.leaderAddress.isEmpty {
                    // A standby: the active node is the one it follows (listed or not).
                    let address = l.leaderAddress.hasSuffix("/") ? String(l.leaderAddress.dropLast()) : l.leaderAddress
                    if let listed = options.nodes.first(where: { $0.apiAddress == address }) { return listed }
                    return RecoveryNode(name: "active node (via \(node.name))", apiAddress: address)
                }
                seen.append("\(node.name): \(health.sealed ? "sealed" : health.initialized ? "standby" : "uninitialized")")
            } catch let e as VaultError {
                seen.append("\(node.name): \(e.kind.rawValue)")
            }
        }
        throw RecoveryError(.vault, "no active node among \(options.nodes.map(\.name).joined(separator: ", ")) (\(seen.joined(separator: "; "))); a same-cluster restore needs a running, unsealed cluster: unseal it (`vault operator unseal`), then run `lifeboat restore --resume`", phase: phase)
    }

    // MARK: Phase 7: verify

    private func verifyPhase(_ staged: StagedSnapshot) async throws {
        let token = try await requireOriginalToken(phase: .verify)
        let index = staged.summary.meta.index
        var nodes: [RestoreReport.NodeState] = []
        var problems: [String] = []
        // Standbys take a moment to apply the restored index: poll until every node is unsealed, there is one leader
        // and every applied index is past the snapshot's.
        var lastProblems: [String] = []
        do {
            try await poll(timeout: options.timeouts.cluster, phase: .verify, node: nil, what: { "" }) {
                (nodes, lastProblems) = try await self.observeNodes(token: token, snapshotIndex: index)
                return lastProblems.isEmpty
            }
        } catch let e as RecoveryError where e.code == .timeout {
            problems += lastProblems
        }
        let leader = nodes.first { $0.active }?.name
        verification.nodes = nodes
        verification.leader = leader
        let reader = nodes.first { $0.active }.flatMap { n in options.nodes.first { $0.name == n.name } } ?? options.nodes[0]
        var canaries: [RestoreReport.CanaryResult] = []
        for canary in options.canaries {
            do {
                if let secret = try await vault.readKV(at: reader.apiAddress, mount: canary.mount, path: canary.path, token: token) {
                    if let key = canary.requiredKey, secret.data?[key] == nil {
                        canaries.append(.init(path: canary.description, readable: false, detail: "readable, but its data has no key \"\(key)\""))
                    } else if let key = canary.requiredKey, let expected = canary.expectedValue, secret.data?[key] != .string(expected) {
                        canaries.append(.init(path: canary.description, readable: false,
                                              detail: "readable, but \"\(key)\" does not hold the expected value (values are not shown)"))
                    } else {
                        canaries.append(.init(path: canary.description, readable: true, detail: "version \(secret.metadata.version)"))
                    }
                } else {
                    canaries.append(.init(path: canary.description, readable: false, detail: "not found (404)"))
                }
            } catch let e as VaultError {
                canaries.append(.init(path: canary.description, readable: false, detail: e.message))
            }
        }
        verification.canaries = canaries
        for c in canaries where !c.readable { problems.append("canary \(c.path): \(c.detail)") }
        if let temp = revokedTemporaryToken {
            let status = try? await vault.tokenStatus(at: reader.apiAddress, token: temp)
            if status == 200 {
                problems.append("the temporary root token still works: the restored token store is not in place")
            }
        }
        guard problems.isEmpty else {
            throw RecoveryError(.verificationFailed, "the restored cluster failed verification: " + problems.joined(separator: "; "), phase: .verify)
        }
    }

    /// One look at every node: (states, problems).
    private func observeNodes(token: VaultSecret, snapshotIndex: UInt64) async throws -> ([RestoreReport.NodeState], [String]) {
        var states: [RestoreReport.NodeState] = []
        var problems: [String] = []
        var voters: Set<String> = []
        if let leaderNode = options.nodes.first, let config = try? await vault.raftConfiguration(at: leaderNode.apiAddress, token: token) {
            voters = Set(config.servers.filter(\.voter).map(\.nodeId))
        }
        for node in options.nodes {
            do {
                let (status, health) = try await vault.health(at: node.apiAddress)
                var applied: UInt64?
                if !health.sealed, let l = try? await vault.leader(at: node.apiAddress) { applied = l.raftAppliedIndex }
                let state = RestoreReport.NodeState(name: node.name, address: node.apiAddress, sealed: health.sealed,
                                                    active: status == 200, voter: voters.contains(options.raftID(node)), appliedIndex: applied)
                states.append(state)
                if health.sealed { problems.append("\(node.name) is sealed") }
                else if let a = applied, a < snapshotIndex { problems.append("\(node.name) applied index \(a) < snapshot index \(snapshotIndex)") }
                else if applied == nil { problems.append("\(node.name) reports no applied index") }
            } catch let e as VaultError {
                problems.append("\(node.name): \(e.message)")
                states.append(.init(name: node.name, address: node.apiAddress, sealed: true, active: false, voter: false, appliedIndex: nil))
            }
        }
        let leaders = states.filter(\.active).map(\.name)
        if leaders.count != 1 {
            problems.append(leaders.isEmpty ? "no node is active" : "\(leaders.count) nodes claim to be active (\(leaders.joined(separator: ", ")))")
        }
        return (states, problems)
    }

    // MARK: Helpers

    private func requireOriginalToken(phase: RestorePhase) async throws -> VaultSecret {
        let token: VaultSecret?
        do { token = try await options.originalToken() } catch {
            throw RecoveryError(.configuration, "cannot obtain the original cluster's token: \(error)", phase: phase)
        }
        guard let token, !token.isEmpty else {
            throw RecoveryError(.configuration, "no token of the original cluster is configured: membership, autopilot and canaries are checked with it (set VAULT_TOKEN or the restore role's AppRole; the backup's root token works), then run `lifeboat restore --resume`", phase: phase)
        }
        return token
    }

    private func poll(timeout: Duration, phase: RestorePhase, node: String?, what: () -> String,
                      _ check: () async throws -> Bool) async throws {
        try await operations.poll(timeout: timeout, phase: phase, node: node, what: what, check)
    }

    private func note(_ phase: RestorePhase, _ text: String) {
        emit(.note(phase, text))
        logger.info("\(text)", metadata: ["phase": "\(phase.rawValue)"])
    }

    func emit(_ event: RestoreEvent) { options.onEvent?(event) }

    private func saveJournal() throws {
        guard let journal else { return }
        try journal.save(stateDirectory: options.stateDirectory)
    }

    private func elapsed(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return d.secondsValue
    }

    private func makeReport(staged: StagedSnapshot, attemptStart: ContinuousClock.Instant, error: RecoveryError?) -> RestoreReport {
        let j = journal!
        var timings: [RestoreReport.PhaseTiming] = []
        for record in j.completedPhases {
            timings.append(.init(phase: record.phase, seconds: record.seconds, fromEarlierAttempt: phaseSeconds[record.phase] == nil))
        }
        return RestoreReport(runID: j.runID, mode: j.mode, backupID: j.backupID, snapshotIndex: staged.summary.meta.index,
                             succeeded: error == nil, phases: timings, totalSeconds: timings.reduce(0) { $0 + $1.seconds },
                             attemptSeconds: elapsed(since: attemptStart), attempts: j.attempts, nodes: verification.nodes,
                             leader: verification.leader, canaries: verification.canaries, error: error?.message,
                             failedPhase: error?.phase)
    }

    static func sealConfig(of summary: SnapshotSummary) -> RestoredSealConfig {
        let c = summary.sealConfig
        return RestoredSealConfig(type: c?.type ?? "shamir", shares: c?.secretShares ?? 0, threshold: c?.secretThreshold ?? 0)
    }

    static func facts(_ source: RestoreSource, _ staged: StagedSnapshot) -> RestoreBackupFacts {
        RestoreBackupFacts(id: source.id, origin: source.origin, createdAt: source.createdAt, snapshotIndex: staged.summary.meta.index,
                           snapshotTerm: staged.summary.meta.term, entryCount: staged.summary.entryCount,
                           snapshotBytes: staged.byteCount, snapshotSHA256: staged.sha256Hex,
                           snapshotServers: staged.summary.meta.servers.map(\.id))
    }

    static func safeName(_ id: String) -> String {
        String(id.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." ? $0 : "_" })
    }

    static func round(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
}

extension RecoveryError {
    /// The same error with another code (keeps cancellations as they are).
    func withCode(_ code: Code) -> RecoveryError {
        guard self.code != .cancelled else { return self }
        var e = self
        e.code = code
        return e
    }
}
