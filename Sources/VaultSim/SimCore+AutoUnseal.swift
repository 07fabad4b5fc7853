// Transit auto-unseal: init with recovery keys, nodes that unseal themselves through the seal (at start, after a
// wipe-and-join, after a restore brings another root key), retries while the KMS is unreachable, and unseal with
// recovery keys. The root key is stored at core/hsm/barrier-unseal-keys wrapped by the seal, as Vault's stored keys.

import Foundation
import LifeboatArchive
import LifeboatSnapshot

extension SimCore {
    static let recoveryConfigPath = "core/recovery-config"
    static let recoveryKeyPath = "core/recovery-key"

    /// The configured transit seal's client, nil for Shamir.
    var transitSeal: TransitSealClient? {
        if case .transit(let address, let token, let mount, let key) = settings.seal {
            return TransitSealClient(address: address, token: token, mountPath: mount, keyName: key)
        }
        return nil
    }

    /// Recovery shares/threshold of an auto-unseal cluster (plaintext, like core/seal-config).
    func recoveryConfig(_ g: RaftGroup) -> (shares: Int, threshold: Int)? {
        guard let raw = g.store.get(SimCore.recoveryConfigPath), let j = JSONValue.parse(raw),
              let n = j["secret_shares"]?.intValue, let t = j["secret_threshold"]?.intValue else { return nil }
        return (n, t)
    }

    /// The seal type stored in the group's `core/seal-config` ("shamir" when absent or unreadable).
    func storedSealType(_ g: RaftGroup) -> String {
        guard let raw = g.store.get(Barrier.sealConfigPath), let j = JSONValue.parse(raw) else { return "shamir" }
        return j["type"]?.stringValue ?? "shamir"
    }

    // MARK: Init

    /// `sys/init` on a transit-sealed node (called under the lock; talks to the KMS).
    func initializeTransit(_ n: SimNode, body: JSONValue, client: TransitSealClient) -> SimResponse {
        if let refused = Self.inapplicableInitParameters(body, ["secret_shares", "secret_threshold", "pgp_keys"], sealType: "transit") {
            return refused
        }
        let shares = body["recovery_shares"]?.intValue ?? 0
        let threshold = body["recovery_threshold"]?.intValue ?? 0
        func invalid(_ m: String) -> SimResponse { .errors(400, ["invalid recovery configuration: \(m)"]) }
        if let problem = Self.shareRuleViolation(shares: shares, threshold: threshold) { return invalid(problem) }
        if !(body["recovery_pgp_keys"]?.arrayValue ?? []).isEmpty {
            return invalid("count mismatch between number of provided PGP keys and number of shares")
        }
        let recoveryKey = SecureRandom.bytes(32)
        let recoveryShares: [[UInt8]]
        do {
            recoveryShares = shares == 1 ? [recoveryKey] : try Shamir.split(recoveryKey, parts: shares, threshold: threshold)
        } catch { return .errors(500, ["failed to generate recovery keys: \(error)"]) }
        let seal = SealAccess.transit(client)
        let rootKey = SecureRandom.bytes(32)
        let wrappedRoot: [UInt8]
        do {
            wrappedRoot = try seal.wrap(JSONValue.strings([Data(rootKey).base64EncodedString()]).bytes)
        } catch {
            return .errors(500, ["failed to initialize barrier: failed to store keys: failed to encrypt keys for storage: \(error)"])
        }
        let sealConfig = JSONValue.object([
            ("type", .string("transit")), ("secret_shares", .int(1)), ("secret_threshold", .int(1)),
            ("pgp_keys", .null), ("nonce", .string("")), ("backup", .bool(false)), ("stored_shares", .int(1)),
        ])
        let recoveryConfig = JSONValue.object([
            ("type", .string("shamir")), ("secret_shares", .int(shares)), ("secret_threshold", .int(threshold)),
            ("pgp_keys", .null), ("nonce", .string("")), ("backup", .bool(false)), ("stored_shares", .int(0)),
        ])
        let result = bootstrapGroup(n, sealConfig: sealConfig, wrappedRoot: wrappedRoot, rootKey: rootKey, seal: seal,
                                    extraPlain: [(SimCore.recoveryConfigPath, recoveryConfig.bytes)],
                                    extraSecret: [(SimCore.recoveryKeyPath, recoveryKey, false)])
        switch result {
        case .failure(let message): return .errors(500, [message])
        case .success(let rootToken):
            // Auto-unseal: the node unseals itself right after init.
            if let err = autoUnseal(n) { return .errors(500, ["failed to unseal after initialization: \(err)"]) }
            return .json(200, .object([
                ("keys", .array([])), ("keys_base64", .array([])),
                ("recovery_keys", .strings(recoveryShares.map { Hex.encode($0) })),
                ("recovery_keys_base64", .strings(recoveryShares.map { Data($0).base64EncodedString() })),
                ("root_token", .string(rootToken)),
            ]))
        }
    }

    // MARK: Unseal through the seal

    /// Unseals `n` with the seal (stored keys). Returns nil on success, else the reason it stayed sealed.
    /// Called under the lock.
    @discardableResult
    func autoUnseal(_ n: SimNode) -> String? {
        guard let client = transitSeal else { return "not an auto-unseal cluster" }
        guard n.running, n.sealed, !n.removed else { return nil }
        guard let g = n.pendingJoinGroup.flatMap({ groups[$0] }) ?? group(of: n) else { return "Vault is not initialized" }
        guard let wrapped = g.store.get(Barrier.unsealKeysPath) else { return "no stored keys found" }
        let seal = SealAccess.transit(client)
        let rootKey: [UInt8]
        do {
            let plain = try seal.unwrap(wrapped)
            guard let json = JSONValue.parse(plain), let first = json.arrayValue?.first?.stringValue,
                  let d = Data(base64Encoded: first), d.count == Barrier.keyLength else {
                return "failed to decrypt encrypted stored keys: stored keys are malformed"
            }
            rootKey = Array(d)
        } catch {
            return "stored unseal keys are supported, but failed to decrypt encrypted stored keys: \(error)"
        }
        guard let ringBlob = g.store.get(Barrier.keyringPath), let ring = try? Barrier.openKeyring(ringBlob, rootKey: rootKey) else {
            return "failed to decrypt keys from storage: keyring does not open with the root key"
        }
        if let failure = completePendingJoin(n, g) { return failure }
        n.unsealParts = []
        n.unsealNonce = ""
        n.keys = UnsealedKeys(seal: seal, rootKey: rootKey, barrierKeys: ring.keys, activeTerm: ring.active)
        n.appliedIndex = g.index
        n.persistRaftState()
        reconcileLeadership(g)
        return nil
    }

    /// Keeps trying to auto-unseal `nodeID` (as Vault retries unsealing with the seal) until it is unsealed,
    /// stopped, or the simulator shuts down.
    func scheduleAutoUnseal(_ nodeID: String) {
        guard transitSeal != nil else { return }
        let first: Bool = lock.withLock {
            guard !autoUnsealPending.contains(nodeID) else { return false }
            autoUnsealPending.insert(nodeID)
            return true
        }
        guard first else { return }
        DispatchQueue.global().async { [self] in autoUnsealAttempt(nodeID) }
    }

    private func autoUnsealAttempt(_ nodeID: String) {
        let again: Bool = lock.withLock {
            // A seal by request cancels the retries (`seal` drops the node from `autoUnsealPending`): like Vault, a node
            // sealed with sys/seal stays sealed until it is unsealed or restarted, never by a retry started before.
            guard !shutDown, autoUnsealPending.contains(nodeID), let n = node(nodeID), n.running, n.sealed,
                  n.groupID != nil || n.pendingJoinGroup != nil else {
                autoUnsealPending.remove(nodeID)
                return false
            }
            if autoUnseal(n) == nil {
                autoUnsealPending.remove(nodeID)
                return false
            }
            return true
        }
        if again { after(settings.autoUnsealRetry) { [self] in autoUnsealAttempt(nodeID) } }
    }

    // MARK: Unseal with recovery keys

    /// `sys/unseal` on an auto-unseal node: recovery key shares up to the threshold, checked against the stored
    /// recovery key after the seal has opened the barrier (so the KMS must be reachable).
    func unsealWithRecoveryKey(_ n: SimNode, _ g: RaftGroup, key: [UInt8]) -> SimResponse {
        guard let cfg = recoveryConfig(g) else { return .errors(400, ["Vault is not initialized"]) }
        let combined: [UInt8]
        switch collectShare(n, key: key, threshold: cfg.threshold) {
        case .progress(let response): return response
        case .combined(let key?): combined = key
        case .combined(nil): return .errors(400, ["invalid recovery key"])
        }
        if let err = autoUnseal(n) { return .errors(500, [err]) }
        guard let keys = n.keys, let stored = readEntry(g, keys: keys, SimCore.recoveryKeyPath),
              HMACSHA256.equal(stored, combined) else {
            seal(n)
            return .errors(400, ["invalid recovery key"])
        }
        return .json(200, sealStatusValue(n))
    }
}
