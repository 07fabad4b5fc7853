// BackupManifest: the JSON document that describes one stored backup (manifests/<id>.json). A backup exists when
// its manifest exists. The field names are snake_case and the key order is stable (sorted), so manifests diff well.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import LifeboatBase
import LifeboatRetention

/// Everything Lifeboat records about one backup. Encoded by ``encoded()`` as pretty-printed JSON with sorted keys;
/// every key is always present (unknown values are `null`), and `manifest_version` says which layout it is.
///
/// ```json
/// {
///   "archive_format_version" : 1,
///   "archive_key_id" : "3f0c…",
///   "cluster" : { "id" : "…", "name" : "vault-prod" },
///   "compression_ratio" : 0.9993,
///   "created_at" : "2026-11-28T23:15:00+01:00",
///   "data_object" : "data/20261128T221500Z-7f3a.lbk",
///   …
/// }
/// ```
public struct BackupManifest: Sendable, Equatable, Codable {
    /// The manifest layout this Lifeboat writes and the newest it reads.
    public static let currentVersion = 1
    /// How many verification records a manifest keeps (the newest ones).
    public static let maximumVerificationRecords = 20

    /// Which cluster the snapshot came from.
    public struct Cluster: Sendable, Equatable, Codable {
        /// `cluster_name` from `sys/health` / `sys/leader` (nil when unknown, e.g. for an imported file).
        public var name: String?
        /// `cluster_id`.
        public var id: String?

        public init(name: String? = nil, id: String? = nil) {
            self.name = name
            self.id = id
        }

        enum CodingKeys: String, CodingKey { case name, id }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            id = try c.decodeIfPresent(String.self, forKey: .id)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(name, forKey: .name)
            try c.encode(id, forKey: .id)
        }
    }

    /// The node that served the snapshot.
    public struct Leader: Sendable, Equatable, Codable {
        /// The raft node id, when known.
        public var nodeID: String?
        /// The API address the snapshot was taken from.
        public var address: String?

        public init(nodeID: String? = nil, address: String? = nil) {
            self.nodeID = nodeID
            self.address = address
        }

        enum CodingKeys: String, CodingKey {
            case nodeID = "node_id"
            case address
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            nodeID = try c.decodeIfPresent(String.self, forKey: .nodeID)
            address = try c.decodeIfPresent(String.self, forKey: .address)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(nodeID, forKey: .nodeID)
            try c.encode(address, forKey: .address)
        }
    }

    /// One raft server from the snapshot's meta.json.
    public struct Server: Sendable, Equatable, Codable {
        public var id: String
        public var address: String
        /// `voter`, `nonvoter`, `staging`, or `suffrage-<n>` for a value raft does not define.
        public var suffrage: String

        public init(id: String, address: String, suffrage: String) {
            self.id = id
            self.address = address
            self.suffrage = suffrage
        }

        /// From meta.json's numeric suffrage (0 voter, 1 nonvoter, 2 staging).
        public init(_ server: RaftServer) {
            let names = ["voter", "nonvoter", "staging"]
            self.init(id: server.id, address: server.address,
                      suffrage: names.indices.contains(server.suffrage) ? names[server.suffrage] : "suffrage-\(server.suffrage)")
        }
    }

    /// Raft position and membership from meta.json.
    public struct Raft: Sendable, Equatable, Codable {
        public var index: UInt64
        public var term: UInt64
        public var configurationIndex: UInt64
        public var servers: [Server]

        public init(index: UInt64, term: UInt64, configurationIndex: UInt64, servers: [Server]) {
            self.index = index
            self.term = term
            self.configurationIndex = configurationIndex
            self.servers = servers
        }

        enum CodingKeys: String, CodingKey {
            case index, term, servers
            case configurationIndex = "configuration_index"
        }
    }

    /// The outcome of one verification of the stored data.
    public struct Verification: Sendable, Equatable, Codable {
        public enum Result: String, Sendable, Equatable, Codable {
            case ok
            case damaged
        }

        public var verifiedAt: ManifestTimestamp
        public var result: Result
        /// Why it was damaged (the failing check), or nil.
        public var detail: String?

        public init(verifiedAt: ManifestTimestamp, result: Result, detail: String? = nil) {
            self.verifiedAt = verifiedAt
            self.result = result
            self.detail = detail
        }

        enum CodingKeys: String, CodingKey {
            case verifiedAt = "verified_at"
            case result, detail
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            verifiedAt = try c.decode(ManifestTimestamp.self, forKey: .verifiedAt)
            result = try c.decode(Result.self, forKey: .result)
            detail = try c.decodeIfPresent(String.self, forKey: .detail)
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(verifiedAt, forKey: .verifiedAt)
            try c.encode(result, forKey: .result)
            try c.encode(detail, forKey: .detail)
        }
    }

    /// `manifest_version`: the layout of this document.
    public var manifestVersion: Int
    public var id: BackupID
    /// When the backup started, with the UTC offset of the machine that took it.
    public var createdAt: ManifestTimestamp
    public var cluster: Cluster
    public var leader: Leader
    /// The Vault (or OpenBao) version reported by the leader.
    public var vaultVersion: String?
    public var raft: Raft
    /// Number of StorageEntry records in state.bin.
    public var entryCount: Int
    /// Size of the snapshot exactly as Vault sent it (the .snap bytes).
    public var originalSize: Int64
    /// Lowercase hex SHA-256 of the snapshot exactly as Vault sent it (`lifeboat export` reproduces it).
    public var originalSHA256: String
    /// Size of the stored (encrypted) data object.
    public var storedSize: Int64
    /// `original_size / stored_size` (above 1 when compression saved space; Vault snapshots are gzip already, so
    /// usually slightly below 1 because of the envelope's overhead).
    public var compressionRatio: Double
    /// Lowercase hex id of the key the archive is encrypted with.
    public var archiveKeyID: String
    /// The Lifeboat archive format version of the data object.
    public var archiveFormatVersion: Int
    /// The Lifeboat version that took the backup.
    public var lifeboatVersion: String
    /// Seconds from the start of the backup to the commit of its data.
    public var durationSeconds: Double
    public var tags: [String]
    /// Verification records, oldest first, at most ``maximumVerificationRecords``.
    public var verifications: [Verification]
    /// The store object holding the encrypted snapshot.
    public var dataObject: String
    /// The write-once lock the destination applied to the data object (`object_lock`: mode and `retain_until`, UTC);
    /// nil when the destination does not lock. Recorded per destination: copies on different stores differ here.
    public var objectLock: StoreObjectLock?
    /// For an archive encrypted to X25519 recipients: their recipient ids (hex, header order), the identities that
    /// can decrypt it (`archive_recipients`; absent otherwise). `archive_key_id` is then the archive's own file key.
    public var archiveRecipients: [String] = []

    public init(id: BackupID, createdAt: ManifestTimestamp, cluster: Cluster = Cluster(), leader: Leader = Leader(),
                vaultVersion: String? = nil, raft: Raft, entryCount: Int, originalSize: Int64, originalSHA256: String,
                storedSize: Int64, archiveKeyID: String, archiveFormatVersion: Int = Int(ArchiveHeader.currentVersion),
                lifeboatVersion: String = LifeboatVersion.current, durationSeconds: Double, tags: [String] = [],
                verifications: [Verification] = [], dataObject: String? = nil) {
        manifestVersion = Self.currentVersion
        self.id = id
        self.createdAt = createdAt
        self.cluster = cluster
        self.leader = leader
        self.vaultVersion = vaultVersion
        self.raft = raft
        self.entryCount = entryCount
        self.originalSize = originalSize
        self.originalSHA256 = originalSHA256
        self.storedSize = storedSize
        compressionRatio = Self.ratio(original: originalSize, stored: storedSize)
        self.archiveKeyID = archiveKeyID
        self.archiveFormatVersion = archiveFormatVersion
        self.lifeboatVersion = lifeboatVersion
        self.durationSeconds = durationSeconds
        self.tags = tags
        self.verifications = verifications
        self.dataObject = dataObject ?? BackupRepository.dataObjectName(for: id)
    }

    /// A manifest for a snapshot the verifier accepted: raft fields, entry count, size and SHA-256 come from `summary`.
    public init(id: BackupID, createdAt: ManifestTimestamp, summary: SnapshotSummary, cluster: Cluster = Cluster(),
                leader: Leader = Leader(), vaultVersion: String? = nil, storedSize: Int64, archiveKeyID: String,
                archiveFormatVersion: Int = Int(ArchiveHeader.currentVersion), durationSeconds: Double, tags: [String] = []) {
        self.init(id: id, createdAt: createdAt, cluster: cluster, leader: leader, vaultVersion: vaultVersion,
                  raft: Raft(index: summary.meta.index, term: summary.meta.term,
                             configurationIndex: summary.meta.configurationIndex, servers: summary.meta.servers.map(Server.init)),
                  entryCount: summary.entryCount, originalSize: summary.byteCount, originalSHA256: summary.sha256Hex,
                  storedSize: storedSize, archiveKeyID: archiveKeyID, archiveFormatVersion: archiveFormatVersion,
                  durationSeconds: durationSeconds, tags: tags)
    }

    /// `original / stored`, rounded to 4 decimals so the JSON stays short; 0 when nothing was stored.
    public static func ratio(original: Int64, stored: Int64) -> Double {
        guard stored > 0 else { return 0 }
        return (Double(original) / Double(stored) * 10_000).rounded() / 10_000
    }

    /// The newest verification record.
    public var lastVerification: Verification? { verifications.last }

    /// Appends a verification record, keeping the newest ``maximumVerificationRecords``.
    public mutating func recordVerification(_ record: Verification) {
        verifications.append(record)
        if verifications.count > Self.maximumVerificationRecords {
            verifications.removeFirst(verifications.count - Self.maximumVerificationRecords)
        }
    }

    /// The backup as the retention planner sees it: its time and offset, tags, and whether its last verification passed.
    public var retentionCandidate: RetentionCandidate {
        RetentionCandidate(id: id.rawValue, time: createdAt.date, utcOffsetSeconds: createdAt.utcOffsetSeconds,
                           tags: tags, verified: lastVerification?.result == .ok, lockedUntil: objectLock?.retainUntil)
    }

    // MARK: JSON

    /// The manifest as stored: pretty-printed JSON, keys sorted, slashes unescaped, ending in a newline.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(self))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes a stored manifest; `object` names it in errors. Rejects newer layouts and ids that do not match their
    /// data object.
    public static func decode(_ bytes: [UInt8], object: String) throws -> BackupManifest {
        let manifest: BackupManifest
        do {
            manifest = try BackupManifest(json: try JSONDocumentParser.parse(bytes))
        } catch ManifestError.unsupportedVersion(_, let version, let supported) {
            throw ManifestError.unsupportedVersion(object: object, version: version, supported: supported)
        } catch let error as JSONDocumentParser.SyntaxError {
            throw ManifestError.unreadable(object: object, reason: "not valid JSON: \(error)")
        } catch let error as ManifestJSONObject.FieldError {
            throw ManifestError.unreadable(object: object, reason: error.reason)
        }
        guard StoreObjectName.isValid(manifest.dataObject) else {
            throw ManifestError.inconsistent(object: object, reason: "data_object \"\(manifest.dataObject)\" is not a valid object name")
        }
        return manifest
    }

    enum CodingKeys: String, CodingKey {
        case manifestVersion = "manifest_version"
        case id
        case createdAt = "created_at"
        case cluster, leader
        case vaultVersion = "vault_version"
        case raft
        case entryCount = "entry_count"
        case originalSize = "original_size"
        case originalSHA256 = "original_sha256"
        case storedSize = "stored_size"
        case compressionRatio = "compression_ratio"
        case archiveKeyID = "archive_key_id"
        case archiveFormatVersion = "archive_format_version"
        case lifeboatVersion = "lifeboat_version"
        case durationSeconds = "duration_seconds"
        case tags, verifications
        case dataObject = "data_object"
        case objectLock = "object_lock"
        case archiveRecipients = "archive_recipients"
    }

    private enum ObjectLockKeys: String, CodingKey {
        case mode
        case retainUntil = "retain_until"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        manifestVersion = try c.decode(Int.self, forKey: .manifestVersion)
        guard manifestVersion >= 1, manifestVersion <= Self.currentVersion else {
            throw ManifestError.unsupportedVersion(object: "", version: manifestVersion, supported: Self.currentVersion)
        }
        id = try c.decode(BackupID.self, forKey: .id)
        createdAt = try c.decode(ManifestTimestamp.self, forKey: .createdAt)
        cluster = try c.decodeIfPresent(Cluster.self, forKey: .cluster) ?? Cluster()
        leader = try c.decodeIfPresent(Leader.self, forKey: .leader) ?? Leader()
        vaultVersion = try c.decodeIfPresent(String.self, forKey: .vaultVersion)
        raft = try c.decode(Raft.self, forKey: .raft)
        entryCount = try c.decode(Int.self, forKey: .entryCount)
        originalSize = try c.decode(Int64.self, forKey: .originalSize)
        originalSHA256 = try c.decode(String.self, forKey: .originalSHA256)
        storedSize = try c.decode(Int64.self, forKey: .storedSize)
        compressionRatio = try c.decode(Double.self, forKey: .compressionRatio)
        archiveKeyID = try c.decode(String.self, forKey: .archiveKeyID)
        archiveFormatVersion = try c.decode(Int.self, forKey: .archiveFormatVersion)
        lifeboatVersion = try c.decode(String.self, forKey: .lifeboatVersion)
        durationSeconds = try c.decode(Double.self, forKey: .durationSeconds)
        tags = try c.decodeIfPresent([String].self, forKey: .tags) ?? []
        verifications = try c.decodeIfPresent([Verification].self, forKey: .verifications) ?? []
        dataObject = try c.decode(String.self, forKey: .dataObject)
        archiveRecipients = try c.decodeIfPresent([String].self, forKey: .archiveRecipients) ?? []
        if c.contains(.objectLock) {
            let lock = try c.nestedContainer(keyedBy: ObjectLockKeys.self, forKey: .objectLock)
            let modeText = try lock.decode(String.self, forKey: .mode)
            guard let mode = StoreObjectLock.Mode(rawValue: modeText) else {
                throw DecodingError.dataCorruptedError(forKey: .mode, in: lock, debugDescription: "unknown object lock mode \"\(modeText)\"")
            }
            objectLock = StoreObjectLock(mode: mode, retainUntil: try lock.decode(ManifestTimestamp.self, forKey: .retainUntil).date)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(manifestVersion, forKey: .manifestVersion)
        try c.encode(id, forKey: .id)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(cluster, forKey: .cluster)
        try c.encode(leader, forKey: .leader)
        try c.encode(vaultVersion, forKey: .vaultVersion)
        try c.encode(raft, forKey: .raft)
        try c.encode(entryCount, forKey: .entryCount)
        try c.encode(originalSize, forKey: .originalSize)
        try c.encode(originalSHA256, forKey: .originalSHA256)
        try c.encode(storedSize, forKey: .storedSize)
        try c.encode(compressionRatio, forKey: .compressionRatio)
        try c.encode(archiveKeyID, forKey: .archiveKeyID)
        try c.encode(archiveFormatVersion, forKey: .archiveFormatVersion)
        try c.encode(lifeboatVersion, forKey: .lifeboatVersion)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(tags, forKey: .tags)
        try c.encode(verifications, forKey: .verifications)
        try c.encode(dataObject, forKey: .dataObject)
        if !archiveRecipients.isEmpty { try c.encode(archiveRecipients, forKey: .archiveRecipients) }
        if let objectLock {
            var lock = c.nestedContainer(keyedBy: ObjectLockKeys.self, forKey: .objectLock)
            try lock.encode(objectLock.mode.rawValue, forKey: .mode)
            try lock.encode(ManifestTimestamp(date: objectLock.retainUntil, utcOffsetSeconds: 0), forKey: .retainUntil)
        }
    }
}
