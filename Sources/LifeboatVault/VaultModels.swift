// The JSON shapes Vault answers with (docs/vault-behaviour.md §2-§5, §9), decoded from snake_case, and a small JSON value
// type for KV data. Secret fields (tokens, unseal keys) are `VaultSecret`, so printing a model never shows them.

import Foundation
import LifeboatSnapshot

/// Any JSON value (KV v2 data, request bodies).
public enum VaultJSON: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([VaultJSON])
    case object([String: VaultJSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([VaultJSON].self) { self = .array(a) }
        else { self = .object(try c.decode([String: VaultJSON].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n.rounded() == n, abs(n) < 1e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The string, when this is a string.
    public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
}

/// The standard envelope of logical endpoints.
struct VaultEnvelope<D: Decodable>: Decodable {
    var data: D?
    var auth: VaultAuthInfo?
    var warnings: [String]?
}

/// The `auth` block of a login or renewal.
public struct VaultAuthInfo: Sendable, Decodable, Equatable {
    public var clientToken: VaultSecret
    public var accessor: String?
    public var policies: [String]?
    /// Token TTL in seconds (0: no expiry).
    public var leaseDuration: Int
    public var renewable: Bool

    enum CodingKeys: String, CodingKey { case clientToken, accessor, policies, leaseDuration, renewable }

    public init(clientToken: VaultSecret, accessor: String? = nil, policies: [String]? = nil, leaseDuration: Int, renewable: Bool) {
        self.clientToken = clientToken
        self.accessor = accessor
        self.policies = policies
        self.leaseDuration = leaseDuration
        self.renewable = renewable
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        clientToken = VaultSecret(try c.decode(String.self, forKey: .clientToken))
        accessor = try c.decodeIfPresent(String.self, forKey: .accessor)
        policies = try c.decodeIfPresent([String].self, forKey: .policies)
        leaseDuration = try c.decodeIfPresent(Int.self, forKey: .leaseDuration) ?? 0
        renewable = try c.decodeIfPresent(Bool.self, forKey: .renewable) ?? false
    }
}

/// `GET sys/health` (decoded whatever the status).
public struct VaultHealth: Sendable, Decodable, Equatable {
    public var initialized: Bool
    public var sealed: Bool
    public var standby: Bool
    public var performanceStandby: Bool?
    public var replicationPerformanceMode: String?
    public var replicationDrMode: String?
    public var serverTimeUtc: Int?
    public var version: String?
    public var clusterName: String?
    public var clusterId: String?
    public var enterprise: Bool?
    public var haConnectionHealthy: Bool?
    public var removedFromCluster: Bool?
}

/// `GET sys/leader`.
public struct VaultLeaderStatus: Sendable, Decodable, Equatable {
    public var haEnabled: Bool
    public var isSelf: Bool
    /// The active node's api_addr; "" when no leader is known.
    public var leaderAddress: String
    public var leaderClusterAddress: String?
    public var activeTime: String?
    public var performanceStandby: Bool?
    public var raftCommittedIndex: UInt64?
    public var raftAppliedIndex: UInt64?

    enum CodingKeys: String, CodingKey {
        case haEnabled, isSelf, leaderAddress, leaderClusterAddress, activeTime, performanceStandby, raftCommittedIndex, raftAppliedIndex
    }

    public init(haEnabled: Bool, isSelf: Bool, leaderAddress: String) {
        self.haEnabled = haEnabled
        self.isSelf = isSelf
        self.leaderAddress = leaderAddress
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        haEnabled = try c.decodeIfPresent(Bool.self, forKey: .haEnabled) ?? false
        isSelf = try c.decodeIfPresent(Bool.self, forKey: .isSelf) ?? false
        leaderAddress = try c.decodeIfPresent(String.self, forKey: .leaderAddress) ?? ""
        leaderClusterAddress = try c.decodeIfPresent(String.self, forKey: .leaderClusterAddress)
        activeTime = try c.decodeIfPresent(String.self, forKey: .activeTime)
        performanceStandby = try c.decodeIfPresent(Bool.self, forKey: .performanceStandby)
        raftCommittedIndex = try c.decodeIfPresent(UInt64.self, forKey: .raftCommittedIndex)
        raftAppliedIndex = try c.decodeIfPresent(UInt64.self, forKey: .raftAppliedIndex)
    }
}

/// `GET sys/seal-status` (also the answer of sys/unseal).
public struct VaultSealStatus: Sendable, Decodable, Equatable {
    public var type: String?
    public var initialized: Bool
    public var sealed: Bool
    public var t: Int
    public var n: Int
    public var progress: Int
    public var nonce: String?
    public var version: String?
    public var clusterName: String?
    public var clusterId: String?
    public var storageType: String?
}

/// The answer of `PUT sys/init`. Keys and root token are secrets.
public struct VaultInitResponse: Sendable, Decodable, Equatable {
    public var keys: [VaultSecret]
    public var keysBase64: [VaultSecret]
    public var rootToken: VaultSecret

    enum CodingKeys: String, CodingKey { case keys, keysBase64, rootToken }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        keys = (try c.decodeIfPresent([String].self, forKey: .keys) ?? []).map(VaultSecret.init)
        keysBase64 = (try c.decodeIfPresent([String].self, forKey: .keysBase64) ?? []).map(VaultSecret.init)
        rootToken = VaultSecret(try c.decode(String.self, forKey: .rootToken))
    }
}

/// `GET sys/storage/raft/configuration` (`data.config`).
public struct VaultRaftConfiguration: Sendable, Decodable, Equatable {
    public struct Server: Sendable, Decodable, Equatable {
        public var nodeId: String
        public var address: String
        public var leader: Bool
        public var voter: Bool
        public var protocolVersion: String?
    }
    public var index: UInt64
    public var servers: [Server]
}

/// `GET sys/storage/raft/autopilot/state` (`data`).
public struct VaultAutopilotState: Sendable, Decodable, Equatable {
    public struct Server: Sendable, Decodable, Equatable {
        public var id: String
        public var name: String?
        public var address: String?
        public var nodeStatus: String?
        public var lastContact: String?
        public var lastTerm: UInt64?
        public var lastIndex: UInt64?
        public var healthy: Bool
        public var status: String?
        public var version: String?
        public var nodeType: String?
    }
    public var healthy: Bool
    public var failureTolerance: Int
    public var leader: String?
    public var voters: [String]?
    public var nonVoters: [String]?
    public var servers: [String: Server]?
}

/// `GET auth/token/lookup-self` (`data`).
public struct VaultTokenLookup: Sendable, Decodable, Equatable {
    public var accessor: String?
    public var policies: [String]?
    public var path: String?
    public var displayName: String?
    /// Remaining seconds (0 for tokens that never expire).
    public var ttl: Int
    public var creationTtl: Int?
    public var expireTime: String?
    public var renewable: Bool?
    public var type: String?
    public var orphan: Bool?
    public var numUses: Int?
}

/// A KV v2 secret (`secret/data/<path>`).
public struct VaultKVSecret: Sendable, Decodable, Equatable {
    public struct Metadata: Sendable, Decodable, Equatable {
        public var version: Int
        public var createdTime: String?
        public var deletionTime: String?
        public var destroyed: Bool?
    }
    public var data: [String: VaultJSON]?
    public var metadata: Metadata
}

extension JSONDecoder {
    /// A decoder for Vault's snake_case JSON.
    static var vault: JSONDecoder {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return d
    }
}
