// Streaming encryption into Lifeboat's envelope: plaintext in, header and sealed chunk records out.

/// Encrypts a stream into the Lifeboat archive format (docs/format.md).
///
/// Feed plaintext with `write`, end with `finish`; both append the bytes to store to the caller's buffer.
/// Memory is bounded by one chunk.
public struct ArchiveWriter {
    public let header: ArchiveHeader
    private let keys: ArchiveKeys
    private var pending: [UInt8] = []
    private var nextIndex: UInt64 = 0
    private var headerWritten = false
    private var finished = false
    private var deflater: Deflater?
    private var deflated: [UInt8] = []

    /// Plaintext bytes accepted so far.
    public private(set) var plaintextBytes: UInt64 = 0
    /// Archive bytes produced so far.
    public private(set) var archiveBytes: UInt64 = 0
    /// Chunks stored deflated / as they were.
    public private(set) var deflatedChunks = 0
    public private(set) var storedChunks = 0

    /// Sample of each chunk deflated first; when it shrinks by less than 10 %, the chunk is stored as it is.
    static let sampleSize = 16 * 1024

    /// - Parameters:
    ///   - compression: try zlib on each chunk and keep the result when it is smaller.
    public init(secret: EncryptionSecret, chunkSize: Int = ArchiveHeader.defaultChunkSize, compression: Bool = true) throws {
        try self.init(secret: secret, chunkSize: chunkSize, compression: compression, salt: SecureRandom.bytes(32))
    }

    /// With a fixed salt: for known-answer vectors only (a repeated salt repeats keys and nonces).
    init(secret: EncryptionSecret, chunkSize: Int, compression: Bool, salt: [UInt8]) throws {
        precondition(ArchiveHeader.chunkSizeRange.contains(chunkSize), "chunk size out of range")
        (header, keys) = try ArchiveKeys.create(secret: secret, chunkSize: chunkSize, compression: compression, salt: salt)
        pending.reserveCapacity(chunkSize)
        if compression { deflater = try Deflater(format: .zlib, level: 1) }
    }

    /// Accepts plaintext; appends the header (first call) and every completed chunk record to `output`.
    public mutating func write(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        precondition(!finished, "ArchiveWriter.write after finish")
        emitHeaderIfNeeded(into: &output)
        var offset = 0
        while offset < input.count {
            // A full chunk is sealed only once more data arrives, so the last chunk is always the final one.
            if pending.count == header.chunkSize {
                try sealPending(final: false, into: &output)
            }
            let take = min(header.chunkSize - pending.count, input.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + take]))
            offset += take
        }
        plaintextBytes += UInt64(input.count)
    }

    public mutating func write(_ input: [UInt8], into output: inout [UInt8]) throws {
        try input.withUnsafeBytes { try write($0, into: &output) }
    }

    /// Seals the final chunk (possibly empty, for empty input) and appends it to `output`.
    public mutating func finish(into output: inout [UInt8]) throws {
        precondition(!finished, "ArchiveWriter.finish called twice")
        emitHeaderIfNeeded(into: &output)
        try sealPending(final: true, into: &output)
        finished = true
    }

    private mutating func emitHeaderIfNeeded(into output: inout [UInt8]) {
        guard !headerWritten else { return }
        headerWritten = true
        output.append(contentsOf: header.encoded)
        archiveBytes += UInt64(ArchiveHeader.length)
    }

    private mutating func sealPending(final: Bool, into output: inout [UInt8]) throws {
        let useDeflated = try deflatePendingIfWorthIt()
        try seal(useDeflated ? deflated : pending, deflated: useDeflated, final: final, into: &output)
        pending.removeAll(keepingCapacity: true)
    }

    private mutating func seal(_ body: [UInt8], deflated useDeflated: Bool, final: Bool, into output: inout [UInt8]) throws {
        let record = ChunkRecordHeader(archiveTag: header.archiveTag, index: nextIndex,
                                       flags: (final ? ChunkRecordHeader.finalFlag : 0) | (useDeflated ? ChunkRecordHeader.deflatedFlag : 0),
                                       bodyLength: body.count + AESGCMContext.tagLength)
        let aad = record.encoded
        let nonce = ChunkRecordHeader.nonce(index: nextIndex, final: final)
        output.append(contentsOf: aad)
        let start = output.count
        output.append(contentsOf: repeatElement(0, count: record.bodyLength))
        try output.withUnsafeMutableBytes { out in
            try nonce.withUnsafeBytes { n in
                try aad.withUnsafeBytes { a in
                    try body.withUnsafeBytes { p in
                        try keys.payload.seal(nonce: n, aad: a, plaintext: p, into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
                    }
                }
            }
        }
        if useDeflated { deflatedChunks += 1 } else { storedChunks += 1 }
        archiveBytes += UInt64(ChunkRecordHeader.length + record.bodyLength)
        nextIndex += 1
    }

    /// Deflates `pending` into `deflated` when a sample suggests it pays; true when the result is smaller.
    private mutating func deflatePendingIfWorthIt() throws -> Bool {
        guard var deflater, !pending.isEmpty else { return false }
        defer { self.deflater = deflater }
        deflated.removeAll(keepingCapacity: true)
        let sampleCount = min(Self.sampleSize, pending.count)
        try pending.withUnsafeBytes { try deflater.compressWhole(UnsafeRawBufferPointer(rebasing: $0[0..<sampleCount]), into: &deflated) }
        guard deflated.count * 10 < sampleCount * 9 else { return false }
        deflated.removeAll(keepingCapacity: true)
        try pending.withUnsafeBytes { try deflater.compressWhole($0, into: &deflated) }
        return deflated.count < pending.count
    }
}
