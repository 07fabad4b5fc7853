// Typed Vault endpoints: health, leader, seal status, init, unseal, seal, raft configuration/join/remove-peer,
// autopilot state, token lookup/renewal, KV v2, policies, auth mounts and AppRole roles (docs/vault-behaviour.md §2-§5, §9).
// Node-local endpoints take the node address; forwarded ones go to the last known leader or the first reachable node.

import Foundation
import NIOHTTP1
import LifeboatSnapshot

/// Query parameters of `sys/health`.
public struct VaultHealthQuery: Sendable, Equatable {
    public var standbyOK = false
    public var perfStandbyOK = false
    public var activeCode: Int?
    public var standbyCode: Int?
    public var sealedCode: Int?
    public var uninitCode: Int?
    public var performanceStandbyCode: Int?
    public var drSecondaryCode: Int?

    public init(standbyOK: Bool = false, perfStandbyOK: Bool = false, activeCode: Int? = nil, standbyCode: Int? = nil,
                sealedCode: Int? = nil, uninitCode: Int? = nil, performanceStandbyCode: Int? = nil, drSecondaryCode: Int? = nil) {
        self.standbyOK = standbyOK
        self.perfStandbyOK = perfStandbyOK
        self.activeCode = activeCode
        self.standbyCode = standbyCode
        self.sealedCode = sealedCode
        self.uninitCode = uninitCode
        self.performanceStandbyCode = performanceStandbyCode
        self.drSecondaryCode = drSecondaryCode
    }

    var items: [(String, String)] {
        var q: [(String, String)] = []
        if standbyOK { q.append(("standbyok", "true")) }
        if perfStandbyOK { q.append(("perfstandbyok", "true")) }
        let codes: [(String, Int?)] = [("activecode", activeCode), ("standbycode", standbyCode), ("sealedcode", sealedCode),
                                       ("uninitcode", uninitCode), ("performancestandbycode", performanceStandbyCode),
                                       ("drsecondarycode", drSecondaryCode)]
        for (k, v) in codes { if let v { q.append((k, String(v))) } }
        return q
    }
}

extension VaultClient {
    // MARK: Node-local, unauthenticated

    /// `GET sys/health` on one node; any status is accepted and the body decoded.
    public func health(at address: String, query: VaultHealthQuery = VaultHealthQuery()) async throws -> (status: Int, health: VaultHealth) {
        let path = "sys/health"
        let (r, addr) = try await request(.GET, path, query: query.items, at: address, authenticated: false, accept: Set(100..<600))
        guard let h = try? JSONDecoder.vault.decode(VaultHealth.self, from: Data(r.body)) else {
            // Not a health body: a parameter error ({"errors":[]}) or something else answering on that port.
            throw VaultError.fromResponse(status: r.status, body: r.body, method: "GET", path: path, address: addr)
        }
        return (r.status, h)
    }

    /// `GET sys/leader` on one node. 503 sealed and 500 errors are thrown as `VaultError`.
    public func leaderStatus(at address: String) async throws -> VaultLeaderStatus {
        let (r, addr) = try await request(.GET, "sys/leader", at: address, authenticated: false, accept: [200])
        return try Self.decode(VaultLeaderStatus.self, r, path: "sys/leader", address: addr)
    }

    /// `GET sys/seal-status` on one node.
    public func sealStatus(at address: String) async throws -> VaultSealStatus {
        let (r, addr) = try await request(.GET, "sys/seal-status", at: address, authenticated: false, accept: [200])
        return try Self.decode(VaultSealStatus.self, r, path: "sys/seal-status", address: addr)
    }

    /// `PUT sys/init` on one node (Shamir). The keys and root token are secrets: never log them.
    public func initialize(at address: String, shares: Int, threshold: Int) async throws -> VaultInitResponse {
        let body = try Self.encode(["secret_shares": shares, "secret_threshold": threshold])
        let (r, addr) = try await request(.PUT, "sys/init", body: body, at: address, authenticated: false, accept: [200])
        return try Self.decode(VaultInitResponse.self, r, path: "sys/init", address: addr)
    }

    /// `PUT sys/unseal` on one node with one key share (or `reset`).
    public func unseal(at address: String, key: VaultSecret?, reset: Bool = false) async throws -> VaultSealStatus {
        var fields: [String: VaultJSON] = [:]
        if let key { fields["key"] = .string(key.exposedValue) }
        if reset { fields["reset"] = .bool(true) }
        let (r, addr) = try await request(.PUT, "sys/unseal", body: try Self.encode(fields), at: address, authenticated: false, accept: [200])
        return try Self.decode(VaultSealStatus.self, r, path: "sys/unseal", address: addr)
    }

    /// `PUT sys/seal` on one node (needs update+sudo on sys/seal; fails on standbys).
    public func seal(at address: String) async throws {
        try await request(.PUT, "sys/seal", at: address)
    }

    // MARK: Raft (authenticated, forwarded to the active node)

    /// `GET sys/storage/raft/configuration`.
    public func raftConfiguration(at address: String? = nil) async throws -> VaultRaftConfiguration {
        struct Data: Decodable { var config: VaultRaftConfiguration }
        let (r, addr) = try await request(.GET, "sys/storage/raft/configuration", at: address, accept: [200])
        return try Self.decodeData(Data.self, r, path: "sys/storage/raft/configuration", address: addr).config
    }

    /// `GET sys/storage/raft/autopilot/state`.
    public func autopilotState(at address: String? = nil) async throws -> VaultAutopilotState {
        let (r, addr) = try await request(.GET, "sys/storage/raft/autopilot/state", at: address, accept: [200])
        return try Self.decodeData(VaultAutopilotState.self, r, path: "sys/storage/raft/autopilot/state", address: addr)
    }

    /// `POST sys/storage/raft/remove-peer`.
    public func removePeer(serverID: String, at address: String? = nil) async throws {
        try await request(.POST, "sys/storage/raft/remove-peer", body: try Self.encode(["server_id": serverID]), at: address)
    }

    // MARK: Tokens

    /// `GET auth/token/lookup-self` with the current token.
    public func lookupSelf(at address: String? = nil) async throws -> VaultTokenLookup {
        let (r, addr) = try await request(.GET, "auth/token/lookup-self", at: address, accept: [200])
        return try Self.decodeData(VaultTokenLookup.self, r, path: "auth/token/lookup-self", address: addr)
    }

    /// `POST auth/token/renew-self` with the current token (`increment` in seconds, optional).
    public func renewSelf(increment: Int? = nil, at address: String? = nil) async throws -> VaultAuthInfo {
        var fields: [String: VaultJSON] = [:]
        if let increment { fields["increment"] = .number(Double(increment)) }
        let (r, addr) = try await request(.POST, "auth/token/renew-self", body: try Self.encode(fields), at: address, accept: [200])
        guard let auth = try Self.decode(VaultEnvelope<VaultJSON>.self, r, path: "auth/token/renew-self", address: addr).auth else {
            throw VaultError.unexpected("no auth block", status: r.status, body: r.body, address: addr, path: "auth/token/renew-self")
        }
        return auth
    }

    /// `POST sys/capabilities-self` with `{"paths": [...]}`: a token's capabilities on each path (`root` for a root
    /// token, `deny` where nothing is granted; a path missing from the answer counts as none). Vault's default
    /// policy lets every token ask. `token` nil: the client's own token (re-authenticating after a 403).
    public func capabilitiesSelf(_ paths: [String], at address: String? = nil, token: VaultSecret? = nil) async throws -> [String: [String]] {
        let path = "sys/capabilities-self"
        let body = try Self.encode(["paths": paths])
        let (r, addr): (VaultHTTPResponse, String)
        if let token {
            (r, addr) = try await requester.send(.POST, path, body: body, token: token, at: address)
            guard r.status == 200 else {
                throw VaultError.fromResponse(status: r.status, body: r.body, method: "POST", path: path, address: addr)
            }
        } else {
            (r, addr) = try await request(.POST, path, body: body, at: address, accept: [200])
        }
        // A plain decoder: the snake-case key strategy would rewrite paths with underscores.
        guard let object = try? JSONDecoder().decode([String: VaultJSON].self, from: Data(r.body)) else {
            throw VaultError.unexpected("not a JSON object", status: r.status, body: r.body, address: addr, path: path)
        }
        // Vault answers each path as a top-level key and again under `data`.
        let data: [String: VaultJSON]
        if case .object(let inner)? = object["data"] { data = inner } else { data = object }
        var result: [String: [String]] = [:]
        for requested in paths {
            guard case .array(let items)? = data[requested] ?? object[requested] else {
                result[requested] = []
                continue
            }
            result[requested] = items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        }
        return result
    }

    // MARK: KV v2

    /// Reads `<mount>/data/<path>`; nil when the secret does not exist (404).
    public func kvRead(_ path: String, mount: String = "secret") async throws -> VaultKVSecret? {
        let p = "\(mount)/data/\(path)"
        let (r, addr) = try await request(.GET, p, accept: [200, 404])
        if r.status == 404 { return nil }
        return try Self.decodeData(VaultKVSecret.self, r, path: p, address: addr)
    }

    /// Writes `<mount>/data/<path>`; returns the new version.
    @discardableResult
    public func kvWrite(_ path: String, data: [String: VaultJSON], mount: String = "secret") async throws -> Int {
        let p = "\(mount)/data/\(path)"
        let (r, addr) = try await request(.POST, p, body: try Self.encode(["data": VaultJSON.object(data)]), accept: [200, 204])
        if r.status == 204 || r.body.isEmpty { return 0 }
        return try Self.decodeData(VaultKVSecret.Metadata.self, r, path: p, address: addr).version
    }
}
