// What a successful verification learned about a snapshot: hashes, sizes, meta.json, headers, entry statistics.

import LifeboatArchive

/// The facts established by `SnapshotVerifier` about one complete, valid snapshot.
public struct SnapshotSummary: Sendable, Equatable {
    /// Length of the raw input (the .snap file / HTTP body).
    public var byteCount: Int64
    /// SHA-256 of the raw input.
    public var sha256: [UInt8]
    /// The first 10 bytes of the gzip stream (Vault: `1f 8b 08 00 00 00 00 00 00 ff`).
    public var gzipHeader: [UInt8]
    /// Length of the decompressed tar archive.
    public var tarByteCount: Int64
    /// The four tar headers in order.
    public var members: [TarMemberHeader]
    public var meta: SnapshotMeta
    /// meta.json exactly as stored.
    public var metaJSON: [UInt8]
    public var metaSHA256: [UInt8]
    public var stateByteCount: Int64
    public var stateSHA256: [UInt8]
    /// SHA256SUMS exactly as stored.
    public var sha256Sums: [UInt8]
    /// SHA256SUMS.sealed exactly as stored (opaque: encrypted under the cluster's seal).
    public var sealedHashes: [UInt8]
    /// Number of StorageEntry records in state.bin.
    public var entryCount: Int
    /// Sum of the record message lengths (Vault inspect's unfiltered "Total Size").
    public var entryBytes: Int64
    /// Whether keys are in strictly ascending byte order, as bolt's cursor yields them.
    public var keysAscending: Bool
    /// The raw `core/seal-config` value, when present.
    public var sealConfigJSON: [UInt8]?
    /// The parsed `core/seal-config`, when present and valid JSON.
    public var sealConfig: SealConfig?
    /// Key counts and sizes grouped by prefix, in Vault's order; nil unless requested in `SnapshotVerifier.Options`.
    public var keyStatistics: [KeyPrefixStatistic]?

    /// Lowercase hex of `sha256`.
    public var sha256Hex: String { Hex.encode(sha256) }
}
