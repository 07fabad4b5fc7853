// Node-local system endpoints: sys/health, sys/leader, sys/seal-status, sys/init, sys/unseal, sys/seal and
// sys/storage/raft/join; and the raft endpoints answered by the active node (configuration, remove-peer,
// autopilot/state).

import Foundation
import LifeboatArchive
import LifeboatSnapshot

extension SimCore {
    /// Initialized as Vault's `Core.Initialized` reports it (includes a node with a pending raft join).
    func isInitialized(_ n: SimNode) -> Bool {
        if n.pendingJoinGroup != nil { return true }
        guard let g = group(of: n) else { return false }
        return sealConfig(g) != nil
    }

    /// The seal config a node reports: its own data's, or the leader's while a join is pending.
    func reportedSealConfig(_ n: SimNode) -> (shares: Int, threshold: Int)? {
        if let p = n.pendingJoinGroup, let g = groups[p] { return sealConfig(g) }
        return group(of: n).flatMap { sealConfig($0) }
    }

    // MARK: sys/health

    func health(_ n: SimNode, _ req: SimRequest) -> SimResponse {
        var codes: [String: Int] = ["activecode": 200, "standbycode": 429, "drsecondarycode": 472,
                                    "performancestandbycode": 473, "sealedcode": 503, "uninitcode": 501,
                                    "haunhealthycode": 474, "removedcode": 530]
        var standbyOK = false, perfStandbyOK = false
        for (k, v) in req.queryItems {
            switch k {
            case "standbyok", "perfstandbyok":
                guard let b = JSONValue.string(v).boolValue else { return .errors(400, []) }
                if k == "standbyok" { standbyOK = b } else { perfStandbyOK = b }
            default:
                if codes[k] != nil {
                    guard let c = Int(v) else { return .errors(400, []) }
                    codes[k] = c
                }
            }
        }
        _ = perfStandbyOK
        let initialized = isInitialized(n)  // true for a join pending unseal, as Vault's Core.Initialized
        let sealed = n.sealed
        let active = isActive(n)
        let status: Int
        if !initialized { status = codes["uninitcode"]! }
        else if n.removed { status = codes["removedcode"]! }
        else if sealed { status = codes["sealedcode"]! }
        else if !active && !standbyOK { status = codes["standbycode"]! }
        else { status = codes["activecode"]! }
        var fields: [(String, JSONValue)] = [
            ("initialized", .bool(initialized)), ("sealed", .bool(sealed)), ("standby", .bool(!active)),
            ("performance_standby", .bool(false)), ("replication_performance_mode", .string("disabled")),
            ("replication_dr_mode", .string("disabled")), ("server_time_utc", .int(Int(now.timeIntervalSince1970))),
            ("version", .string(VaultSimVersion.vaultVersion)),
        ]
        if !sealed, let info = clusterInfo(n) {
            fields += [("cluster_name", .string(info.name)), ("cluster_id", .string(info.id))]
        }
        if n.removed { fields.append(("removed_from_cluster", .bool(true))) }
        if !sealed && !active && activeNode(for: n) != nil {
            fields += [("ha_connection_healthy", .bool(true)), ("last_request_forwarding_heartbeat_ms", .int(0))]
        }
        var r = SimResponse.json(status, .object(fields))
        if req.method == "HEAD" { r.body = .empty }
        return r
    }

    // MARK: sys/leader

    func leader(_ n: SimNode) -> SimResponse {
        if n.sealed { return .sealed }
        let g = group(of: n)
        let active = activeNode(for: n)
        let isSelf = active?.id == n.id
        var fields: [(String, JSONValue)] = [
            ("ha_enabled", .bool(true)), ("is_self", .bool(isSelf)),
            ("active_time", .string(isSelf ? TimeFormat.rfc3339Nano(n.activeTime ?? now) : TimeFormat.zeroTime)),
            ("leader_address", .string(active?.apiAddress ?? "")),
            ("leader_cluster_address", .string(active?.clusterAddress ?? "")),
            ("performance_standby", .bool(false)), ("performance_standby_last_remote_wal", .int(0)),
        ]
        if isSelf { fields.append(("last_wal", .int(0))) }
        if let g {
            let committed = n.appliedIndex == 0 ? g.index : max(n.appliedIndex, g.index)
            fields += [("raft_committed_index", .uint(committed)), ("raft_applied_index", .uint(n.appliedIndex))]
        }
        return .json(200, .object(fields))
    }

    // MARK: sys/seal-status

    func sealStatusValue(_ n: SimNode) -> JSONValue {
        let auto = transitSeal != nil
        let dataGroup = n.pendingJoinGroup.flatMap { groups[$0] } ?? group(of: n)
        // With auto-unseal, t and n come from the recovery config.
        let cfg = auto ? dataGroup.flatMap { recoveryConfig($0) } : reportedSealConfig(n)
        let initialized = isInitialized(n)
        var fields: [(String, JSONValue)] = [
            ("type", .string(settings.seal.typeName)), ("initialized", .bool(initialized)), ("sealed", .bool(n.sealed)),
            ("t", .int(initialized ? cfg?.threshold ?? 0 : 0)), ("n", .int(initialized ? cfg?.shares ?? 0 : 0)),
            ("progress", .int(n.unsealParts.count)), ("nonce", .string(n.unsealNonce)),
            ("version", .string(VaultSimVersion.vaultVersion)), ("build_date", .string(VaultSimVersion.buildDate)),
            ("migration", .bool(false)),
        ]
        if !n.sealed, let info = clusterInfo(n) {
            fields += [("cluster_name", .string(info.name)), ("cluster_id", .string(info.id))]
        }
        fields += [("recovery_seal", .bool(auto)), ("storage_type", .string("raft"))]
        if n.removed { fields.append(("removed_from_cluster", .bool(true))) }
        return .object(fields)
    }

    // MARK: sys/init

    func initStatus(_ n: SimNode) -> SimResponse { .json(200, .object([("initialized", .bool(isInitialized(n)))])) }

    func initialize(_ n: SimNode, _ req: SimRequest) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body), body.objectValue != nil else {
            return .errors(400, ["failed to parse JSON input: invalid character"])
        }
        if isInitialized(n) { return .errors(400, ["Vault is already initialized"]) }
        if let client = transitSeal { return initializeTransit(n, body: body, client: client) }
        if let refused = Self.inapplicableInitParameters(body, ["recovery_shares", "recovery_threshold", "recovery_pgp_keys"], sealType: "shamir") {
            return refused
        }
        let shares = body["secret_shares"]?.intValue ?? 0
        let threshold = body["secret_threshold"]?.intValue ?? 0
        let stored = body["stored_shares"]?.intValue ?? 0
        let pgp = body["pgp_keys"]?.arrayValue ?? []
        func invalid(_ m: String) -> SimResponse { .errors(400, ["invalid seal configuration: \(m)"]) }
        if let problem = Self.shareRuleViolation(shares: shares, threshold: threshold) { return invalid(problem) }
        if stored > 1 { return invalid("stored keys cannot be larger than 1") }
        if !pgp.isEmpty { return invalid("count mismatch between number of provided PGP keys and number of shares") }

        let unsealKey = SecureRandom.bytes(32)
        let rootKey = SecureRandom.bytes(32)
        let shareBytes: [[UInt8]]
        do {
            shareBytes = shares == 1 ? [unsealKey] : try Shamir.split(unsealKey, parts: shares, threshold: threshold)
        } catch { return .errors(500, ["failed to generate unseal keys: \(error)"]) }
        let sealConfig = JSONValue.object([
            ("type", .string("shamir")), ("secret_shares", .int(shares)), ("secret_threshold", .int(threshold)),
            ("pgp_keys", .null), ("nonce", .string("")), ("backup", .bool(false)), ("stored_shares", .int(1)),
        ])
        let seal = SealAccess.shamir(key: unsealKey)
        let wrappedRoot: [UInt8]
        do { wrappedRoot = try seal.wrap(JSONValue.strings([Data(rootKey).base64EncodedString()]).bytes) } catch {
            return .errors(500, ["failed to initialize barrier: \(error)"])
        }
        switch bootstrapGroup(n, sealConfig: sealConfig, wrappedRoot: wrappedRoot, rootKey: rootKey, seal: seal) {
        case .failure(let message):
            return .errors(500, [message])
        case .success(let rootToken):
            return .json(200, .object([
                ("keys", .strings(shareBytes.map { Hex.encode($0) })),
                ("keys_base64", .strings(shareBytes.map { Data($0).base64EncodedString() })),
                ("root_token", .string(rootToken)),
            ]))
        }
    }

    enum BootstrapResult { case success(rootToken: String), failure(String) }

    /// Creates the raft group of a newly initialized node: seal config, stored (wrapped) root key, keyring, the
    /// initial mount and auth tables, policies and the root token. `n` stays sealed.
    func bootstrapGroup(_ n: SimNode, sealConfig: JSONValue, wrappedRoot: [UInt8], rootKey: [UInt8], seal: SealAccess,
                        extraPlain: [(String, [UInt8])] = [], extraSecret: [(String, [UInt8], Bool)] = []) -> BootstrapResult {
        let barrierKey = SecureRandom.bytes(32)
        let gid = UUID().uuidString.lowercased()
        do {
            let dir = settings.dataDirectory + "/groups/" + gid
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let g = try RaftGroup(id: gid, directory: dir, members: [RaftMember(id: n.id, address: n.clusterHostPort, voter: true)],
                                  configIndex: 1, index: 1, term: 1)
            let keys = UnsealedKeys(seal: seal, rootKey: rootKey, barrierKeys: [1: barrierKey], activeTerm: 1)
            let rootToken = newToken()
            let clusterID = UUID().uuidString.lowercased()
            let clusterName = "vault-cluster-" + String(UUID().uuidString.lowercased().prefix(8))
            let created = TimeFormat.rfc3339Nano(now)
            let keyring = try Barrier.encrypt(key: rootKey, term: 1, path: Barrier.keyringPath,
                                              plaintext: Barrier.keyringJSON(rootKey: rootKey, keys: [1: barrierKey], installTime: created))
            try g.store.apply([
                (Barrier.sealConfigPath, sealConfig.bytes),
                (Barrier.unsealKeysPath, wrappedRoot),
                (Barrier.keyringPath, keyring),
            ] + extraPlain.map { ($0.0, Optional($0.1)) })
            let salt = SecureRandom.bytes(32)
            var entries: [(String, [UInt8], Bool)] = [
                ("core/cluster/local/info", JSONValue.object([("name", .string(clusterName)), ("id", .string(clusterID))]).bytes, false),
                ("core/versions/\(VaultSimVersion.vaultVersion)", JSONValue.object([("Version", .string(VaultSimVersion.vaultVersion))]).bytes, false),
                (SimCore.mountTablePath, SimCore.initialMountTable().bytes, false),
                ("core/auth", JSONValue.object([("entries", .array([.object([("path", .string("token/")), ("type", .string("token"))])]))]).bytes, false),
                ("sys/token/salt", Array(Data(salt).base64EncodedString().utf8), false),
                ("sys/policy/default", JSONValue.object([("name", .string("default")), ("policy", .string(SimCore.defaultPolicyText))]).bytes, false),
                ("sys/policy/response-wrapping", JSONValue.object([("name", .string("response-wrapping")),
                    ("policy", .string("path \"cubbyhole/response\" {\n    capabilities = [\"create\", \"read\"]\n}\n"))]).bytes, false),
            ] + extraSecret
            let rootEntry = TokenEntry(id: rootToken, accessor: newAccessor(), policies: ["root"], path: "auth/token/root",
                                       meta: [:], displayName: "root", numUses: 0, creationTime: now, ttl: 0, explicitMaxTTL: 0,
                                       period: 0, renewable: false, orphan: true, type: "service", role: nil)
            entries += tokenEntries(rootEntry, salt: salt)
            try writeEntries(g, keys: keys, entries)
            g.persist()
            groups[gid] = g
            n.groupID = gid
            n.appliedIndex = g.index
            n.persistRaftState()
            return .success(rootToken: rootToken)
        } catch {
            return .failure("failed to initialize barrier: \(error)")
        }
    }

    // MARK: sys/unseal

    /// What one key share does to a node's unseal progress (Shamir unseal keys and recovery keys alike).
    enum ShareProgress {
        /// Fewer shares than the threshold so far (or this one again): the seal status to answer with.
        case progress(SimResponse)
        /// The threshold was reached: the combined key, nil when the shares do not combine.
        case combined([UInt8]?)
    }

    /// Adds `key` to `n`'s shares as Vault does: a repeated share changes nothing, the first one starts a new nonce,
    /// reaching the threshold combines the shares and resets the progress.
    func collectShare(_ n: SimNode, key: [UInt8], threshold: Int) -> ShareProgress {
        if n.unsealParts.contains(key) { return .progress(.json(200, sealStatusValue(n))) }
        if n.unsealParts.isEmpty { n.unsealNonce = UUID().uuidString.lowercased() }
        n.unsealParts.append(key)
        if n.unsealParts.count < threshold { return .progress(.json(200, sealStatusValue(n))) }
        let parts = n.unsealParts
        n.unsealParts = []
        n.unsealNonce = ""
        return .combined(threshold == 1 ? parts.first : try? Shamir.combine(parts))
    }

    func unseal(_ n: SimNode, _ req: SimRequest) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) else {
            return .errors(400, ["failed to parse JSON input: invalid character"])
        }
        func field(_ name: String) -> JSONValue? {
            body.objectValue?.last(where: { $0.0.lowercased() == name })?.1
        }
        if n.removed { return .errors(500, ["node was removed from a HA cluster"]) }
        if field("reset")?.boolValue == true {
            if !n.sealed { return .errors(400, ["vault is unsealed"]) }
            n.unsealParts = []
            n.unsealNonce = ""
            return .json(200, sealStatusValue(n))
        }
        guard let keyText = field("key")?.stringValue, !keyText.isEmpty else {
            return .errors(400, ["'key' must be specified in request body as JSON, or 'reset' set to true"])
        }
        guard isInitialized(n) else { return .errors(400, ["Vault is not initialized"]) }
        if !n.sealed { return .json(200, sealStatusValue(n)) }
        var key: [UInt8]
        if let h = Hex.decode(keyText), (16...33).contains(h.count) {
            key = h
        } else if let d = Data(base64Encoded: keyText) {
            key = Array(d)
        } else {
            return .errors(400, ["'key' must be a valid hex or base64 string"])
        }
        if key.count < 16 { return .errors(400, ["invalid key: key is shorter than minimum 16 bytes"]) }
        if key.count > 33 { return .errors(400, ["invalid key: key is longer than maximum 33 bytes"]) }
        guard let g = n.pendingJoinGroup.flatMap({ groups[$0] }) ?? group(of: n), let cfg = sealConfig(g) else {
            return .errors(400, ["Vault is not initialized"])
        }
        if transitSeal != nil { return unsealWithRecoveryKey(n, g, key: key) }
        let combined: [UInt8]
        switch collectShare(n, key: key, threshold: cfg.threshold) {
        case .progress(let response): return response
        case .combined(let key?): combined = key
        case .combined(nil): return .errors(400, ["Unseal failed, invalid key"])
        }
        // Vault hands the combined key to the Shamir wrapper's AES cipher: Go's crypto/aes takes 16, 24 or 32 bytes.
        if ![16, 24, 32].contains(combined.count) {
            return .errors(400, ["invalid key: failed to setup unseal key: crypto/aes: invalid key size \(combined.count)"])
        }
        guard let wrapped = g.store.get(Barrier.unsealKeysPath),
              let rootKey = try? Barrier.rootKey(fromUnsealKeysBlob: wrapped, unsealKey: combined) else {
            return .errors(400, ["Unseal failed, invalid key"])
        }
        guard let ringBlob = g.store.get(Barrier.keyringPath),
              let ring = try? Barrier.openKeyring(ringBlob, rootKey: rootKey) else {
            return .errors(400, ["invalid key: failed to decrypt keys from storage: keyring does not open with the root key"])
        }
        if let failure = completePendingJoin(n, g) { return .errors(500, [failure]) }
        n.keys = UnsealedKeys(seal: .shamir(key: combined), rootKey: rootKey, barrierKeys: ring.keys, activeTerm: ring.active)
        n.appliedIndex = g.index
        n.persistRaftState()
        if let i = g.members.firstIndex(where: { $0.id == n.id }), g.members[i].address != n.clusterHostPort {
            g.members[i].address = n.clusterHostPort
            g.persist()
        }
        reconcileLeadership(g)
        return .json(200, sealStatusValue(n))
    }

    // MARK: sys/seal

    func sealRequest(_ n: SimNode, _ req: SimRequest) -> SimResponse {
        if n.sealed { return .noContent() }
        guard let g = group(of: n), let active = activeNode(for: n), active.keys != nil else {
            return .errors(500, ["vault cannot seal when in standby mode; please restart instead"])
        }
        // The token is checked against the active node's storage (the data is shared).
        switch authorize(req, path: "sys/seal", capability: "update", group: g, keys: active.keys!, sudo: true) {
        case .denied(let r): return r
        case .allowed: break
        }
        if active.id != n.id { return .errors(500, ["vault cannot seal when in standby mode; please restart instead"]) }
        seal(n)
        return .noContent()
    }

    // MARK: sys/storage/raft/join

    func join(_ n: SimNode, _ req: SimRequest) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body), body.objectValue != nil else {
            return .errors(400, ["failed to parse JSON input: invalid character"])
        }
        if body["non_voter"]?.boolValue == true { return .errors(400, ["non-voting nodes not allowed"]) }
        if let scheme = body["auto_join_scheme"]?.stringValue, !scheme.isEmpty, scheme != "http", scheme != "https" {
            return .errors(400, ["invalid scheme \"\(scheme)\"; must either be http or https"])
        }
        // The trap: a node holding any cluster's data is "initialized" and the join is a no-op.
        if let g = group(of: n), sealConfig(g) != nil { return .json(200, .object([("joined", .bool(true))])) }
        if !n.sealed { return .errors(500, ["node must be sealed before joining"]) }
        let leaderAddr = (body["leader_api_addr"]?.stringValue ?? "").trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        let retry = body["retry"]?.boolValue ?? false
        func attempt() -> String? {
            guard !leaderAddr.isEmpty else { return "failed to join raft cluster: no leader_api_addr or auto_join given" }
            guard let target = nodes.first(where: { $0.running && $0.apiAddress == leaderAddr }) else {
                return "failed to join raft cluster: failed to get raft challenge: dial tcp \(leaderAddr): connection refused"
            }
            guard !target.sealed, let g = group(of: target), let leader = g.leaderID.flatMap({ node($0) }), !leader.sealed else {
                return "failed to join raft cluster: failed to get raft challenge: Vault is sealed"
            }
            n.pendingJoinGroup = g.id
            // Auto-unseal: the joining node unseals itself through the seal and completes the join.
            if transitSeal != nil, autoUnseal(n) != nil { scheduleAutoUnseal(n.id) }
            return nil
        }
        if retry {
            if attempt() != nil {
                let nid = n.id
                scheduleJoinRetry(nodeID: nid, attempt: { [self] in
                    guard let n = node(nid), n.running, n.groupID == nil, n.pendingJoinGroup == nil else { return true }
                    guard let target = nodes.first(where: { $0.running && $0.apiAddress == leaderAddr }),
                          let g = group(of: target), g.leaderID != nil else { return false }
                    n.pendingJoinGroup = g.id
                    if transitSeal != nil, autoUnseal(n) != nil { scheduleAutoUnseal(n.id) }
                    return true
                })
            }
            return .json(200, .object([("joined", .bool(false))]))
        }
        if let err = attempt() { return .errors(500, [err]) }
        return .json(200, .object([("joined", .bool(true))]))
    }

    func scheduleJoinRetry(nodeID: String, attempt: @escaping () -> Bool) {
        nonisolated(unsafe) let attempt = attempt
        after(.seconds(2)) { [self] in
            let done = lock.withLock { attempt() }
            if !done { scheduleJoinRetry(nodeID: nodeID, attempt: attempt) }
        }
    }

    // MARK: Raft endpoints on the active node

    func raftConfiguration(_ g: RaftGroup) -> SimResponse {
        .envelope(data: .object([("config", .object([
            ("index", .uint(g.configIndex)),
            ("servers", .array(g.members.map { m in
                .object([("node_id", .string(m.id)), ("address", .string(m.address)), ("leader", .bool(m.id == g.leaderID)),
                         ("protocol_version", .string("3")), ("voter", .bool(m.voter))])
            })),
        ]))]))
    }

    func removePeer(_ g: RaftGroup, _ req: SimRequest) -> SimResponse {
        let body = JSONValue.parse(req.body) ?? .object([])
        guard let id = body["server_id"]?.stringValue, !id.isEmpty else { return .errors(400, ["no server id provided"]) }
        if let i = g.members.firstIndex(where: { $0.id == id }) {
            g.members.remove(at: i)
            bumpIndex(g)
            g.configIndex = g.index
            g.persist()
            if let n = node(id), n.groupID == g.id {
                n.removed = true
                n.persistRaftState()
                seal(n)
            }
            reconcileLeadership(g)
        }
        return .noContent()
    }

    func autopilotState(_ g: RaftGroup) -> SimResponse {
        let live = Set(liveVoters(g).map(\.id))
        let voters = g.members.filter(\.voter).map(\.id)
        let nonVoters = g.members.filter { !$0.voter }.map(\.id)
        let healthyCount = g.members.filter { live.contains($0.id) }.count
        let stable = TimeFormat.rfc3339Nano(now)
        var servers: [(String, JSONValue)] = []
        for m in g.members {
            let alive = live.contains(m.id)
            servers.append((m.id, .object([
                ("id", .string(m.id)), ("name", .string(m.id)), ("address", .string(m.address)),
                ("node_status", .string(alive ? "alive" : "failed")), ("last_contact", .string(alive ? "0s" : "10s")),
                ("last_term", .uint(g.term)), ("last_index", .uint(node(m.id)?.appliedIndex ?? 0)),
                ("healthy", .bool(alive)), ("stable_since", .string(stable)),
                ("status", .string(m.id == g.leaderID ? "leader" : (m.voter ? "voter" : "non-voter"))),
                ("version", .string(VaultSimVersion.vaultVersion)), ("node_type", .string(m.voter ? "voter" : "non-voter")),
            ])))
        }
        var fields: [(String, JSONValue)] = [
            ("healthy", .bool(healthyCount == g.members.count)),
            ("failure_tolerance", .int(max(0, healthyCount - (g.voterCount / 2 + 1)))),
            ("leader", .string(g.leaderID ?? "")),
            ("voters", .strings(voters)),
        ]
        if !nonVoters.isEmpty { fields.append(("non_voters", .strings(nonVoters))) }
        fields.append(("servers", .object(servers)))
        return .envelope(data: .object(fields))
    }
}

extension SimCore {
    /// Completes a raft join at the joining node's first unseal (Shamir or auto-unseal): the leader adds the node to
    /// its configuration. Returns Vault's error text when no active leader can answer.
    func completePendingJoin(_ n: SimNode, _ g: RaftGroup) -> String? {
        guard let joining = n.pendingJoinGroup else { return nil }
        guard let leader = g.leaderID.flatMap({ node($0) }), leader.keys != nil, leader.running else {
            return "failed to send answer to raft leader node: no active leader for the cluster"
        }
        n.pendingJoinGroup = nil
        if let i = g.members.firstIndex(where: { $0.id == n.id }) {
            g.members[i].address = n.clusterHostPort
            g.members[i].voter = true
        } else {
            g.members.append(RaftMember(id: n.id, address: n.clusterHostPort, voter: true))
        }
        bumpIndex(g)
        g.configIndex = g.index
        g.persist()
        n.groupID = joining
        n.removed = false
        return nil
    }
}

extension SimCore {
    /// Vault's 400 for `sys/init` parameters that belong to the other kind of seal (set to a non-empty value).
    static func inapplicableInitParameters(_ body: JSONValue, _ names: [String], sealType: String) -> SimResponse? {
        let given = names.filter {
            if let v = body[$0] { return !(v == .null || v == .int(0) || v == .array([])) }
            return false
        }
        return given.isEmpty ? nil : .errors(400, ["parameters \(given.joined(separator: ",")) not applicable to seal type \(sealType)"])
    }

    /// Vault's rule for a share/threshold pair (unseal or recovery keys); nil when it holds.
    static func shareRuleViolation(shares: Int, threshold: Int) -> String? {
        if shares < 1 { return "shares must be at least one" }
        if threshold < 1 { return "threshold must be at least one" }
        if shares > 1 && threshold == 1 { return "threshold must be greater than one for multiple shares" }
        if shares > 255 { return "shares must be less than 256" }
        if threshold > 255 { return "threshold must be less than 256" }
        if threshold > shares { return "threshold cannot be larger than shares" }
        return nil
    }
}
