// Streaming encryption into Lifeboat's envelope: plaintext in, header and sealed chunk records out.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
    /// Before that, the byte entropy of the chunk's first 4 KiB: at `entropySkipBits` or more bits per byte (random,
    /// encrypted or already compressed data: ~7.95 for 4 KiB of random bytes) deflate is not tried at all. Deflating
    /// the 16 KiB sample cost about as much as encrypting the chunk; the histogram costs ~1 % of that.
    static let entropySampleSize = 4 * 1024
    static let entropySkipBits = 7.9

    /// - Parameters:
    ///   - compression: try zlib on each chunk and keep the result when it is smaller.
    public init(secret: EncryptionSecret, chunkSize: Int = ArchiveHeader.defaultChunkSize, compression: Bool = true) throws {
        try self.init(secret: secret, chunkSize: chunkSize, compression: compression, salt: SecureRandom.bytes(32))
    }

    /// With a fixed salt: for known-answer vectors only (a repeated salt repeats keys and nonces).
    /// `fileKey` and `ephemeralKeys` also fix a recipients archive's random choices (known-answer vectors only).
    init(secret: EncryptionSecret, chunkSize: Int, compression: Bool, salt: [UInt8], fileKey: SecureBytes? = nil,
         ephemeralKeys: [SecureBytes]? = nil) throws {
        guard ArchiveHeader.chunkSizeRange.contains(chunkSize) else {
            throw CryptoParameterError("archive chunk size \(chunkSize) is outside \(ArchiveHeader.chunkSizeRange)")
        }
        (header, keys) = try ArchiveKeys.create(secret: secret, chunkSize: chunkSize, compression: compression, salt: salt,
                                                fileKey: fileKey, ephemeralKeys: ephemeralKeys)
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
            // Whole chunks with more data after them are sealed straight from the input, without a copy.
            while pending.isEmpty && input.count - offset > header.chunkSize {
                try sealChunk(UnsafeRawBufferPointer(rebasing: input[offset..<offset + header.chunkSize]), final: false, into: &output)
                offset += header.chunkSize
            }
            let take = min(header.chunkSize - pending.count, input.count - offset)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: input[offset..<offset + take]).assumingMemoryBound(to: UInt8.self))
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
        let encoded = header.encoded
        output.append(contentsOf: encoded)
        archiveBytes += UInt64(encoded.count)
    }

    private mutating func sealPending(final: Bool, into output: inout [UInt8]) throws {
        let chunk = pending
        try chunk.withUnsafeBytes { try sealChunk($0, final: final, into: &output) }
        pending.removeAll(keepingCapacity: true)
    }

    /// Seals one chunk of plaintext, deflated when that pays.
    private mutating func sealChunk(_ chunk: UnsafeRawBufferPointer, final: Bool, into output: inout [UInt8]) throws {
        if try deflateIfWorthIt(chunk) {
            let body = deflated
            try body.withUnsafeBytes { try seal($0, deflated: true, final: final, into: &output) }
        } else {
            try seal(chunk, deflated: false, final: final, into: &output)
        }
    }

    private mutating func seal(_ body: UnsafeRawBufferPointer, deflated useDeflated: Bool, final: Bool, into output: inout [UInt8]) throws {
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
                    try keys.payload.seal(nonce: n, aad: a, plaintext: body, into: UnsafeMutableRawBufferPointer(rebasing: out[start...]))
                }
            }
        }
        if useDeflated { deflatedChunks += 1 } else { storedChunks += 1 }
        archiveBytes += UInt64(ChunkRecordHeader.length + record.bodyLength)
        nextIndex += 1
    }

    /// Deflates `chunk` into `deflated` when a sample suggests it pays; true when the result is smaller.
    private mutating func deflateIfWorthIt(_ chunk: UnsafeRawBufferPointer) throws -> Bool {
        guard var deflater, !chunk.isEmpty else { return false }
        if chunk.count >= Self.entropySampleSize,
           Self.entropy(UnsafeRawBufferPointer(rebasing: chunk[0..<Self.entropySampleSize])) >= Self.entropySkipBits {
            return false
        }
        defer { self.deflater = deflater }
        deflated.removeAll(keepingCapacity: true)
        let sampleCount = min(Self.sampleSize, chunk.count)
        try deflater.compressWhole(UnsafeRawBufferPointer(rebasing: chunk[0..<sampleCount]), into: &deflated)
        guard deflated.count * 10 < sampleCount * 9 else { return false }
        deflated.removeAll(keepingCapacity: true)
        try deflater.compressWhole(chunk, into: &deflated)
        return deflated.count < chunk.count
    }

    /// Order-0 entropy of `bytes` in bits per byte (0 for constant data, 8 at most).
    static func entropy(_ bytes: UnsafeRawBufferPointer) -> Double {
        guard !bytes.isEmpty else { return 0 }
        return withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { counts -> Double in
            counts.initialize(repeating: 0)
            for byte in bytes { counts[Int(byte)] += 1 }
            let total = Double(bytes.count)
            var bits = 0.0
            for count in counts where count > 0 {
                let p = Double(count) / total
                bits -= p * log2(p)
            }
            return bits
        }
    }
}
