// The streaming snapshot verifier: raw bytes in (chunk by chunk, as the HTTP body arrives), a SnapshotSummary or a
// SnapshotError naming the failed check out. Constant memory: state.bin values are hashed and skipped, never buffered.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LifeboatArchive

/// Verifies a Vault raft snapshot while it streams (docs/vault-behaviour.md §6.1 "Agent", §8.8, issue 4 "Verifying while streaming").
///
/// Checks: gzip with CRC32/ISIZE trailer; tar members exactly meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed in that
/// order with valid ustar headers and exactly two zero blocks at the end; meta.json Version 1 and Size equal to
/// state.bin's length; SHA256SUMS against the real hashes; SHA256SUMS.sealed present and non-empty; state.bin framing
/// parsed to the end; no bytes after the gzip stream or the tar end; non-empty input.
///
/// Feed every chunk to `consume`, then call `finish`. After a thrown error every later call throws the same error.
/// Do not copy a verifier that is in use: copies share the zlib and hash contexts.
public struct SnapshotVerifier {
    /// What to collect besides the checks.
    public struct Options: Sendable {
        /// Group keys by this many leading path segments (0 = whole keys) for `inspect`; nil collects no statistics.
        public var keyStatisticsDepth: Int?
        /// Only keys starting with this prefix are counted in the statistics (Vault's `-filter`).
        public var keyStatisticsFilter: String

        public init(keyStatisticsDepth: Int? = nil, keyStatisticsFilter: String = "") {
            self.keyStatisticsDepth = keyStatisticsDepth
            self.keyStatisticsFilter = keyStatisticsFilter
        }
    }

    /// Largest slice of compressed input inflated at once. Memory does not depend on it (inflated bytes pass through
    /// zlib's fixed scratch space); it only sets the granularity of the byte offset in gzip error messages.
    private static let inflateSliceSize = 256 * 1024

    /// Hashes the raw input; nil when the caller hashes it (PipelinedSnapshotVerifier does, on its own thread).
    private var rawHasher: SHA256Digest? = SHA256Digest()
    private var rawCount: Int64 = 0
    private var gzipHeader: [UInt8] = []
    private var inflater: Inflater
    private var archive: SnapshotArchiveParser
    private var failure: SnapshotError?
    private var result: SnapshotSummary?
    private let options: Options

    /// - Parameter entryHandler: called for each state.bin entry with its key and value. Setting it makes the verifier
    ///   buffer one value at a time (memory grows with the largest value). Entries arrive before the final checks, so
    ///   treat them as provisional until `finish()` succeeds.
    public init(options: Options = Options(), entryHandler: SnapshotEntryHandler? = nil) throws {
        try self.init(options: options, entryHandler: entryHandler, hashesRawInput: true)
    }

    /// - Parameter hashesRawInput: false leaves `SnapshotSummary.sha256` empty for a caller that hashes the raw
    ///   bytes itself.
    init(options: Options, entryHandler: SnapshotEntryHandler?, hashesRawInput: Bool) throws {
        if !hashesRawInput { rawHasher = nil }
        self.options = options
        inflater = try Inflater(format: .gzip)
        archive = SnapshotArchiveParser(state: StateBinParser(
            statisticsDepth: options.keyStatisticsDepth, statisticsFilter: options.keyStatisticsFilter,
            entryHandler: entryHandler))
    }

    /// Raw bytes fed so far.
    public var bytesConsumed: Int64 { rawCount }

    /// Feeds the next chunk of the raw snapshot (the gzip bytes).
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws {
        if let failure { throw failure }
        if result != nil {
            throw fail(SnapshotError(.trailingData, "bytes were fed after finish(); the snapshot was already complete"))
        }
        guard bytes.count > 0 else { return }
        rawHasher?.update(bytes: bytes)
        if gzipHeader.count < 10 {
            gzipHeader.append(contentsOf: bytes.prefix(10 - gzipHeader.count))
        }
        let start = rawCount
        rawCount += Int64(bytes.count)
        var offset = 0
        // A local copy of the inflater (a struct around one zlib stream) so the output closure may mutate `archive`.
        var inflater = self.inflater
        defer { self.inflater = inflater }
        do {
            while offset < bytes.count {
                if inflater.isFinished {
                    throw SnapshotError(.trailingData, "\(bytes.count - offset) or more bytes follow the end of the gzip stream at byte \(start + Int64(offset)); a Vault snapshot is a single gzip stream. The file was altered or concatenated: take a new snapshot")
                }
                let end = min(bytes.count, offset + Self.inflateSliceSize)
                let used: Int
                do {
                    // Inflated bytes go from zlib's scratch space straight to the tar parser, without a copy.
                    used = try inflater.decompress(UnsafeRawBufferPointer(rebasing: bytes[offset..<end])) { piece in
                        try archive.consume(piece)
                    }
                } catch let error as ZlibError {
                    throw gzipError(error, near: start + Int64(offset))
                }
                if used == 0 && !inflater.isFinished {
                    throw SnapshotError(.gzip, "the gzip decoder made no progress at byte \(start + Int64(offset)); the snapshot is corrupt: take a new one")
                }
                offset += used
            }
        } catch let error as SnapshotError {
            throw fail(error)
        }
    }

    /// Feeds the next chunk of the raw snapshot.
    public mutating func consume(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try consume($0) }
    }

    /// Ends the input and runs the final checks; returns the summary on success. Calling it again returns the same.
    public mutating func finish() throws -> SnapshotSummary {
        if let failure { throw failure }
        if let result { return result }
        guard rawCount > 0 else {
            throw fail(SnapshotError(.emptySnapshot, "empty snapshot: zero bytes were received. Vault (or a proxy) answered without a body; check the server logs and take a new snapshot"))
        }
        guard inflater.isFinished else {
            let sealed = archive.hasSealedHashes ? "" : "SHA256SUMS.sealed missing, "
            throw fail(SnapshotError(.truncated, "incomplete snapshot: \(sealed)the stream ended after \(rawCount) bytes \(archive.progressDescription) without the gzip trailer; the leader probably failed mid-stream. Take a new snapshot"))
        }
        do {
            try archive.finish()
        } catch let error as SnapshotError {
            throw fail(error)
        }
        guard let meta = archive.meta else {
            throw fail(SnapshotError(.metaJSON, "meta.json was not read; the snapshot is corrupt: take a new one"))
        }
        let state = archive.state
        var sealConfig: SealConfig?
        if let json = state.sealConfigJSON { sealConfig = try? SealConfig.parse(json) }
        let statistics = options.keyStatisticsDepth == nil
            ? nil : state.statistics.values.sorted(by: KeyPrefixStatistic.vaultOrder)
        let summary = SnapshotSummary(
            byteCount: rawCount, sha256: rawHasher?.finalize() ?? [], gzipHeader: gzipHeader, tarByteCount: archive.tarBytes,
            members: archive.headers, meta: meta, metaJSON: archive.metaBytes, metaSHA256: archive.metaDigest,
            stateByteCount: state.consumed, stateSHA256: archive.stateDigest, sha256Sums: archive.sumsBytes,
            sealedHashes: archive.sealedBytes, entryCount: state.entryCount, entryBytes: state.entryBytes,
            keysAscending: state.keysAscending, sealConfigJSON: state.sealConfigJSON, sealConfig: sealConfig,
            keyStatistics: statistics)
        result = summary
        return summary
    }

    private mutating func fail(_ error: SnapshotError) -> SnapshotError {
        failure = error
        return error
    }

    private func gzipError(_ error: ZlibError, near offset: Int64) -> SnapshotError {
        if gzipHeader.count >= 2 && (gzipHeader[0] != 0x1f || gzipHeader[1] != 0x8b) {
            let hex = gzipHeader.prefix(4).map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            let text = String(decoding: gzipHeader.map { (0x20..<0x7f).contains($0) ? $0 : UInt8(ascii: ".") }, as: UTF8.self)
            return SnapshotError(.gzip, "not a gzip stream: the data starts with \(hex.joined(separator: " ")) (\(text.debugDescription)), which is not a Vault snapshot. Check that the address points at Vault's sys/storage/raft/snapshot and that no proxy rewrote the response")
        }
        return SnapshotError(.gzip, "the gzip stream is corrupt near byte \(offset) (\(error)); the snapshot was damaged in transit or storage: take a new one")
    }
}

extension SnapshotVerifier {
    /// Verifies a snapshot held in memory, feeding it in `chunkSize` pieces.
    public static func verify(_ bytes: [UInt8], options: Options = Options(), chunkSize: Int = 64 * 1024) throws -> SnapshotSummary {
        var verifier = try SnapshotVerifier(options: options)
        try bytes.withUnsafeBytes { all in
            var offset = 0
            while offset < all.count {
                let end = min(all.count, offset + chunkSize)
                try verifier.consume(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                offset = end
            }
        }
        return try verifier.finish()
    }

    /// Verifies a snapshot file, reading it in 1 MiB pieces (constant memory).
    public static func verifyFile(atPath path: String, options: Options = Options(),
                                  entryHandler: SnapshotEntryHandler? = nil) throws -> SnapshotSummary {
        var verifier = try SnapshotVerifier(options: options, entryHandler: entryHandler)
        try SnapshotFile.read(path: path) { try verifier.consume($0) }
        return try verifier.finish()
    }
}

/// Reading snapshot files with plain POSIX calls (failures are LifeboatArchive's `FileIOError`).
public enum SnapshotFile {
    /// Calls `body` with successive pieces of the file (at most `chunkSize` bytes each).
    public static func read(path: String, chunkSize: Int = 1 << 20,
                            _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, chunkSize), alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileDescriptorIO.read(fd, into: buffer, path: path)
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }
}
