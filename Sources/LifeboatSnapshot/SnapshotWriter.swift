// Streams a snapshot in Vault's exact format (docs/vault-behaviour.md §8): gzip with Go's header bytes around a Go archive/tar
// ustar archive of meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed. Memory stays bounded whatever the size:
// entries are visited twice (a size pass, as Vault's pass 1, then the write pass) and values may arrive in pieces.

import LifeboatArchive

/// What the writer produced.
public struct SnapshotWriteResult: Sendable, Equatable {
    /// meta.json's contents, with `size` filled in.
    public var meta: SnapshotMeta
    /// Bytes handed to the sink (the .snap length).
    public var byteCount: Int64
    /// SHA-256 of everything handed to the sink.
    public var sha256: [UInt8]
    public var stateSHA256: [UInt8]
    public var metaSHA256: [UInt8]
    public var entryCount: Int
    /// The SHA256SUMS text that was written and sealed.
    public var sha256Sums: [UInt8]
}

/// Collects the state.bin entries the caller visits. In the size pass it only counts; in the write pass it writes.
///
/// Entries must come in strictly ascending byte-wise key order (bolt's cursor order), identically in both passes.
/// A value is given whole with `add(key:value:)` or in pieces with `begin(key:valueLength:)` followed by
/// `appendValue(_:)` calls totalling exactly `valueLength` bytes.
public struct SnapshotEntryEmitter {
    fileprivate let output: SnapshotOutput?
    fileprivate var stateSize: Int64 = 0
    fileprivate var entryCount = 0
    fileprivate var valueRemaining = 0
    private var previousKey: [UInt8] = []
    private var scratch: [UInt8] = []

    fileprivate init(output: SnapshotOutput?) {
        self.output = output
        scratch.reserveCapacity(64)
    }

    /// True in the write pass. In the size pass value bytes are ignored (only `valueLength` counts), so a source may
    /// skip `appendValue` calls there.
    public var isWritingValues: Bool { output != nil }

    /// Adds one entry whose value is in memory.
    public mutating func add(key: String, value: [UInt8]) throws {
        try value.withUnsafeBytes { try add(key: key, value: $0) }
    }

    /// Adds one entry whose value is in memory.
    public mutating func add(key: String, value: UnsafeRawBufferPointer) throws {
        try begin(key: key, valueLength: value.count)
        try appendValue(value)
    }

    /// Starts an entry whose `valueLength` value bytes follow through `appendValue`.
    public mutating func begin(key: String, valueLength: Int) throws {
        guard valueRemaining == 0 else {
            throw SnapshotError(.writer, "entry begun while the previous value still lacks \(valueRemaining) bytes")
        }
        precondition(valueLength >= 0, "negative value length")
        let keyBytes = Array(key.utf8)
        if entryCount > 0 {
            guard previousKey.lexicographicallyPrecedes(keyBytes) else {
                throw SnapshotError(.writer, "entries must come in strictly ascending byte-wise key order, as bolt stores them: \(key.debugDescription) follows \(String(decoding: previousKey, as: UTF8.self).debugDescription)")
            }
        }
        // proto3 omits empty fields: key (1) and value (2) only when non-empty.
        var messageLength = 0
        if !keyBytes.isEmpty { messageLength += 1 + Uvarint.length(UInt64(keyBytes.count)) + keyBytes.count }
        if valueLength > 0 { messageLength += 1 + Uvarint.length(UInt64(valueLength)) + valueLength }
        stateSize += Int64(Uvarint.length(UInt64(messageLength)) + messageLength)
        entryCount += 1
        previousKey = keyBytes
        guard let output else { return }
        valueRemaining = valueLength
        scratch.removeAll(keepingCapacity: true)
        Uvarint.append(UInt64(messageLength), to: &scratch)
        if !keyBytes.isEmpty {
            scratch.append(0x0a)
            Uvarint.append(UInt64(keyBytes.count), to: &scratch)
            scratch.append(contentsOf: keyBytes)
        }
        if valueLength > 0 {
            scratch.append(0x12)
            Uvarint.append(UInt64(valueLength), to: &scratch)
        }
        try scratch.withUnsafeBytes { try output.writeState($0) }
    }

    /// Appends the next piece of the current entry's value.
    public mutating func appendValue(_ piece: UnsafeRawBufferPointer) throws {
        guard let output else { return }
        guard piece.count <= valueRemaining else {
            throw SnapshotError(.writer, "value piece of \(piece.count) bytes exceeds the \(valueRemaining) bytes announced for \(String(decoding: previousKey, as: UTF8.self).debugDescription)")
        }
        valueRemaining -= piece.count
        try output.writeState(piece)
    }

    /// Appends the next piece of the current entry's value.
    public mutating func appendValue(_ piece: [UInt8]) throws {
        try piece.withUnsafeBytes { try appendValue($0) }
    }

    fileprivate func checkComplete() throws {
        guard valueRemaining == 0 else {
            throw SnapshotError(.writer, "the last entry's value lacks \(valueRemaining) of its announced bytes")
        }
    }
}

/// The gzip + tar byte pipeline behind the writer. A class so the emitter and writer share it during one write.
private final class SnapshotOutput {
    /// Bytes of tar data staged before a deflate call, and the largest piece handed to the sink (plus deflate's slack).
    static let stagingSize = 64 * 1024
    /// Go's `compress/gzip` header: no name, MTIME 0, XFL 0, OS 255.
    static let goGzipHeader: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]

    private var deflater: Deflater
    private var staging: [UInt8] = []
    private var compressed: [UInt8] = []
    private let sink: (UnsafeRawBufferPointer) throws -> Void
    private var outputHasher = SHA256Digest()
    private(set) var outputCount: Int64 = 0
    var stateHasher = SHA256Digest()
    private(set) var stateWritten: Int64 = 0

    init(level: Int32, sink: @escaping (UnsafeRawBufferPointer) throws -> Void) throws {
        deflater = try Deflater(format: .gzip, level: level)
        self.sink = sink
        staging.reserveCapacity(Self.stagingSize)
        compressed.reserveCapacity(Self.stagingSize + 1024)
    }

    func writeTar(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            if staging.isEmpty && bytes.count - offset >= Self.stagingSize {
                try compress(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + Self.stagingSize)]))
                offset += Self.stagingSize
                continue
            }
            let take = min(Self.stagingSize - staging.count, bytes.count - offset)
            staging.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + take)]))
            offset += take
            if staging.count == Self.stagingSize { try flushStaging() }
        }
    }

    func writeTar(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeTar($0) }
    }

    func writeZeros(_ count: Int) throws {
        guard count > 0 else { return }
        try writeTar([UInt8](repeating: 0, count: count))
    }

    func writeState(_ bytes: UnsafeRawBufferPointer) throws {
        stateHasher.update(bytes: bytes)
        stateWritten += Int64(bytes.count)
        try writeTar(bytes)
    }

    private func flushStaging() throws {
        guard !staging.isEmpty else { return }
        try staging.withUnsafeBytes { try compress($0) }
        staging.removeAll(keepingCapacity: true)
    }

    private func compress(_ bytes: UnsafeRawBufferPointer) throws {
        compressed.removeAll(keepingCapacity: true)
        try deflater.compress(bytes, into: &compressed)
        try emit()
    }

    func finish() throws -> (count: Int64, sha256: [UInt8]) {
        try flushStaging()
        compressed.removeAll(keepingCapacity: true)
        try deflater.finish(into: &compressed)
        try emit()
        return (outputCount, outputHasher.finalize())
    }

    /// Hands `compressed` to the sink, rewriting zlib's gzip header bytes 4-9 to Go's (they are outside the CRC).
    private func emit() throws {
        guard !compressed.isEmpty else { return }
        if outputCount < 10 {
            for i in 0..<min(compressed.count, 10 - Int(outputCount)) {
                let position = Int(outputCount) + i
                if position >= 4 { compressed[i] = Self.goGzipHeader[position] }
            }
        }
        try compressed.withUnsafeBytes { bytes in
            outputHasher.update(bytes: bytes)
            try sink(bytes)
        }
        outputCount += Int64(compressed.count)
    }
}

/// Writes Vault-format raft snapshots (docs/vault-behaviour.md §8), streaming, in bounded memory.
public enum SnapshotWriter {
    /// Writes one snapshot.
    ///
    /// - Parameters:
    ///   - meta: Version, ID, Index, Term, Peers, servers and ConfigurationIndex; `size` is computed (Vault's pass 1).
    ///   - modificationTime: Unix seconds for every tar header's mtime (Vault uses one `time.Now()` for all).
    ///   - compressionLevel: zlib level; 6 matches Go's default, 1 is much faster for large snapshots.
    ///   - entries: visits the state.bin entries in ascending key order through the emitter. It is called twice
    ///     (size pass, then write pass) and must visit identical entries both times.
    ///   - sealHashes: turns the SHA256SUMS text into the SHA256SUMS.sealed bytes (for Vault 1.14 Shamir, a `BlobInfo`).
    ///   - sink: receives the snapshot bytes in pieces of at most about 64 KiB.
    public static func write(
        meta: SnapshotMeta,
        modificationTime: Int64,
        compressionLevel: Int32 = 6,
        entries: (inout SnapshotEntryEmitter) throws -> Void,
        sealHashes: ([UInt8]) throws -> [UInt8],
        sink: (UnsafeRawBufferPointer) throws -> Void
    ) throws -> SnapshotWriteResult {
        // Pass 1: the size of state.bin, without producing values.
        var sizing = SnapshotEntryEmitter(output: nil)
        try entries(&sizing)
        try sizing.checkComplete()

        var finalMeta = meta
        finalMeta.size = sizing.stateSize
        let metaJSON = finalMeta.goJSON()
        let metaSHA256 = SHA256Digest.hash(metaJSON)

        return try withoutActuallyEscaping(sink, do: { (sink) throws -> SnapshotWriteResult in
            let output = try SnapshotOutput(level: compressionLevel, sink: sink)
            try output.writeTar(TarMemberHeader.goUSTAR(name: "meta.json", size: Int64(metaJSON.count), modificationTime: modificationTime))
            try output.writeTar(metaJSON)
            try output.writeZeros(TarMemberHeader.padding(forSize: Int64(metaJSON.count)))

            // Pass 2: state.bin itself.
            try output.writeTar(TarMemberHeader.goUSTAR(name: "state.bin", size: finalMeta.size, modificationTime: modificationTime))
            var writing = SnapshotEntryEmitter(output: output)
            try entries(&writing)
            try writing.checkComplete()
            guard output.stateWritten == finalMeta.size, writing.entryCount == sizing.entryCount else {
                throw SnapshotError(.writer, "the entries changed between the size pass and the write pass (\(sizing.entryCount) entries, \(finalMeta.size) bytes, then \(writing.entryCount) entries, \(output.stateWritten) bytes); the source must visit identical entries twice")
            }
            try output.writeZeros(TarMemberHeader.padding(forSize: finalMeta.size))
            let stateSHA256 = output.stateHasher.finalize()

            let sums = SHA256Sums(metaJSON: metaSHA256, stateBin: stateSHA256).encoded()
            try output.writeTar(TarMemberHeader.goUSTAR(name: "SHA256SUMS", size: Int64(sums.count), modificationTime: modificationTime))
            try output.writeTar(sums)
            try output.writeZeros(TarMemberHeader.padding(forSize: Int64(sums.count)))

            let sealed = try sealHashes(sums)
            try output.writeTar(TarMemberHeader.goUSTAR(name: "SHA256SUMS.sealed", size: Int64(sealed.count), modificationTime: modificationTime))
            try output.writeTar(sealed)
            try output.writeZeros(TarMemberHeader.padding(forSize: Int64(sealed.count)))

            // End of archive: exactly two zero blocks, no record padding (Go's tar.Writer.Close).
            try output.writeZeros(2 * TarMemberHeader.blockSize)
            let (count, sha256) = try output.finish()
            return SnapshotWriteResult(meta: finalMeta, byteCount: count, sha256: sha256, stateSHA256: stateSHA256,
                                       metaSHA256: metaSHA256, entryCount: writing.entryCount, sha256Sums: sums)
        })
    }

    /// Convenience: writes a snapshot of in-memory entries (sorted here) into a byte array.
    public static func snapshot(
        meta: SnapshotMeta, modificationTime: Int64, entries: [(key: String, value: [UInt8])],
        compressionLevel: Int32 = 6, sealHashes: ([UInt8]) throws -> [UInt8]
    ) throws -> (bytes: [UInt8], result: SnapshotWriteResult) {
        let sorted = entries.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        var bytes: [UInt8] = []
        let result = try write(
            meta: meta, modificationTime: modificationTime, compressionLevel: compressionLevel,
            entries: { emitter in
                for entry in sorted { try emitter.add(key: entry.key, value: entry.value) }
            },
            sealHashes: sealHashes,
            sink: { bytes.append(contentsOf: $0) })
        return (bytes, result)
    }
}
