// Errors raised while reading, verifying or writing a Vault raft snapshot, and the names of the checks.

/// A failed check on a Vault raft snapshot; `check` names the rule that failed.
///
/// `detail` is written for an operator: it says what was found and what to do about it.
public struct SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    public var check: String
    public var detail: String

    public init(check: String, detail: String) {
        self.check = check
        self.detail = detail
    }

    public var description: String { "\(check): \(detail)" }
}

extension SnapshotError {
    /// The rules a snapshot is checked against; `rawValue` is the `check` string.
    public enum Check: String, Sendable, CaseIterable {
        /// Zero bytes were received.
        case emptySnapshot = "empty-snapshot"
        /// The input is not a valid gzip stream (header, deflate data, CRC32 or ISIZE).
        case gzip = "gzip"
        /// The input ended before the gzip stream did: the snapshot is incomplete.
        case truncated = "truncated"
        /// Bytes follow the end of the gzip stream or the end of the tar archive.
        case trailingData = "trailing-data"
        /// A tar header is malformed (checksum, octal field, magic, type).
        case tarHeader = "tar-header"
        /// A tar member is unexpected, duplicated, out of order or missing.
        case tarMember = "tar-member"
        /// The tar archive does not end with exactly two zero blocks.
        case tarEnd = "tar-end"
        /// meta.json, SHA256SUMS or SHA256SUMS.sealed is 8192 bytes or larger.
        case memberSize = "member-size"
        /// meta.json is not valid JSON of a raft snapshot meta.
        case metaJSON = "meta-json"
        /// meta.json's Version is not 1.
        case metaVersion = "meta-version"
        /// meta.json's Size differs from state.bin's length.
        case metaSize = "meta-size"
        /// SHA256SUMS is malformed, names an unknown file or misses one.
        case sha256Sums = "sha256sums"
        /// A SHA-256 in SHA256SUMS differs from the member's actual hash.
        case hashMismatch = "hash-mismatch"
        /// SHA256SUMS.sealed is missing or empty.
        case sealedHashes = "sealed-hashes"
        /// state.bin is not a sequence of length-delimited StorageEntry protobuf messages.
        case stateFraming = "state-framing"
        /// A protobuf message (BlobInfo, StorageEntry) could not be decoded.
        case protobuf = "protobuf"
        /// The writer was driven incorrectly (unsorted keys, wrong value length, entries differing between passes).
        case writer = "writer"
    }

    /// Creates an error for one of the known checks.
    public init(_ check: Check, _ detail: String) {
        self.init(check: check.rawValue, detail: detail)
    }

    /// The known check this error names, if any.
    public var kind: Check? { Check(rawValue: check) }

    /// True when the snapshot is incomplete rather than corrupt: the stream was cut or SHA256SUMS.sealed is absent,
    /// which is what a leader failing mid-stream produces. Retrying the download is the usual fix.
    public var isIncomplete: Bool {
        kind == .truncated || kind == .sealedHashes || kind == .emptySnapshot
    }
}
