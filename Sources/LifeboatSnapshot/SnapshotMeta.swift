// meta.json: hashicorp/raft's SnapshotMeta as Vault writes it, parsed and re-encoded byte for byte (docs/vault-behaviour.md §8.3).

import Foundation

/// One server of the raft configuration recorded in meta.json.
public struct RaftServer: Sendable, Equatable, Hashable {
    /// 0 = voter, 1 = nonvoter, 2 = staging (raft's `ServerSuffrage`, encoded as a plain integer).
    public var suffrage: Int
    public var id: String
    public var address: String

    public init(suffrage: Int, id: String, address: String) {
        self.suffrage = suffrage
        self.id = id
        self.address = address
    }

    public var isVoter: Bool { suffrage == 0 }
}

/// The contents of a snapshot's meta.json (`raft.SnapshotMeta`).
public struct SnapshotMeta: Sendable, Equatable {
    /// Raft snapshot format version; Vault only restores version 1.
    public var version: Int
    /// Always "bolt-snapshot" for Vault API snapshots.
    public var id: String
    public var index: UInt64
    public var term: UInt64
    /// Legacy peers blob; Vault writes `null` (nil here).
    public var peers: [UInt8]?
    public var servers: [RaftServer]
    public var configurationIndex: UInt64
    /// Exact byte length of state.bin.
    public var size: Int64

    public init(version: Int = 1, id: String = "bolt-snapshot", index: UInt64, term: UInt64, peers: [UInt8]? = nil,
                servers: [RaftServer], configurationIndex: UInt64, size: Int64 = 0) {
        self.version = version
        self.id = id
        self.index = index
        self.term = term
        self.peers = peers
        self.servers = servers
        self.configurationIndex = configurationIndex
        self.size = size
    }

    /// The 8192-byte cap raft-snapshot puts on meta.json, SHA256SUMS and SHA256SUMS.sealed (a member must be smaller).
    public static let maximumSmallMemberSize = 8192

    /// Parses meta.json. Missing fields take Go's zero values, as `json.Unmarshal` does.
    public static func parse(_ bytes: [UInt8]) throws -> SnapshotMeta {
        let decoded: Wire
        do {
            decoded = try JSONDecoder().decode(Wire.self, from: Data(bytes))
        } catch {
            let preview = String(decoding: bytes.prefix(80), as: UTF8.self)
            throw SnapshotError(.metaJSON, "meta.json is not valid snapshot metadata (\(Self.describe(error))); it starts with \(preview.debugDescription). The snapshot is corrupt: take a new one")
        }
        var peers: [UInt8]?
        if let text = decoded.Peers {
            guard let data = Data(base64Encoded: text) else {
                throw SnapshotError(.metaJSON, "meta.json field Peers is not base64; the snapshot is corrupt: take a new one")
            }
            peers = [UInt8](data)
        }
        return SnapshotMeta(
            version: decoded.Version ?? 0, id: decoded.ID ?? "", index: decoded.Index ?? 0, term: decoded.Term ?? 0,
            peers: peers,
            servers: (decoded.Configuration?.Servers ?? []).map {
                RaftServer(suffrage: $0.Suffrage ?? 0, id: $0.ID ?? "", address: $0.Address ?? "")
            },
            configurationIndex: decoded.ConfigurationIndex ?? 0, size: decoded.Size ?? 0)
    }

    /// meta.json exactly as Vault writes it: Go's `json.Encoder` output in struct-field order with a trailing newline.
    public func goJSON() -> [UInt8] {
        var w = GoJSONWriter()
        w.raw("{")
        w.key("Version"); w.int(version); w.raw(",")
        w.key("ID"); w.string(id); w.raw(",")
        w.key("Index"); w.int(index); w.raw(",")
        w.key("Term"); w.int(term); w.raw(",")
        w.key("Peers")
        if let peers { w.string(Data(peers).base64EncodedString()) } else { w.raw("null") }
        w.raw(",")
        w.key("Configuration"); w.raw("{"); w.key("Servers")
        if servers.isEmpty {
            w.raw("null")
        } else {
            w.raw("[")
            for (i, server) in servers.enumerated() {
                if i > 0 { w.raw(",") }
                w.raw("{")
                w.key("Suffrage"); w.int(server.suffrage); w.raw(",")
                w.key("ID"); w.string(server.id); w.raw(",")
                w.key("Address"); w.string(server.address)
                w.raw("}")
            }
            w.raw("]")
        }
        w.raw("},")
        w.key("ConfigurationIndex"); w.int(configurationIndex); w.raw(",")
        w.key("Size"); w.int(size)
        w.raw("}\n")
        return w.bytes
    }

    private struct Wire: Decodable {
        struct Server: Decodable {
            var Suffrage: Int?
            var ID: String?
            var Address: String?
        }
        struct Configuration: Decodable {
            var Servers: [Server]?
        }
        var Version: Int?
        var ID: String?
        var Index: UInt64?
        var Term: UInt64?
        var Peers: String?
        var Configuration: Configuration?
        var ConfigurationIndex: UInt64?
        var Size: Int64?
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.keyNotFound(_, let context), DecodingError.dataCorrupted(let context):
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return path.isEmpty ? context.debugDescription : "\(path): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}
