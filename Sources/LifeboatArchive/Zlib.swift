// zlib deflate and inflate streams: one Swift owner per z_stream, every return code mapped to a typed error.

import CZlib

/// A zlib failure; `code` is zlib's return code and `message` its `msg` text when it set one.
public struct ZlibError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case corruptData, outputLimitExceeded, internalError }
    public let kind: Kind
    public let code: Int32
    public let message: String

    public var description: String {
        switch kind {
        case .corruptData: return "corrupt compressed data: \(message.isEmpty ? "zlib code \(code)" : message)"
        case .outputLimitExceeded: return "decompressed data exceeds the allowed size"
        case .internalError: return "zlib internal error \(code): \(message)"
        }
    }
}

/// The container around a deflate stream.
public enum ZlibFormat: Sendable {
    /// RFC 1950: 2-byte header, Adler-32 trailer.
    case zlib
    /// RFC 1952: gzip header, CRC-32 and ISIZE trailer (checked on inflate).
    case gzip
    /// RFC 1951 raw deflate, no header or check.
    case raw

    var windowBits: Int32 {
        switch self {
        case .zlib: return 15
        case .gzip: return 15 + 16
        case .raw: return -15
        }
    }
}

/// Owns one z_stream on the heap, so its address stays fixed for zlib's internal back-pointer.
private final class ZStream {
    // Invariant: `pointer` is allocated in init, initialised by deflateInit2/inflateInit2 iff `live`, ended and freed in deinit.
    let pointer: UnsafeMutablePointer<z_stream>
    var live = false
    let isDeflate: Bool
    /// Output scratch space zlib writes into before the bytes are appended to the caller's array.
    let scratch: UnsafeMutableBufferPointer<UInt8>

    init(isDeflate: Bool) {
        self.isDeflate = isDeflate
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: z_stream())
        scratch = .allocate(capacity: 256 * 1024)
    }

    deinit {
        if live {
            if isDeflate { deflateEnd(pointer) } else { inflateEnd(pointer) }
        }
        pointer.deinitialize(count: 1)
        pointer.deallocate()
        scratch.deallocate()
    }

    /// Points zlib's output at the scratch buffer.
    func resetOutput() {
        pointer.pointee.next_out = scratch.baseAddress
        pointer.pointee.avail_out = uInt(scratch.count)
    }

    /// Appends what zlib wrote into the scratch buffer to `output`.
    func drainOutput(into output: inout [UInt8]) {
        let produced = scratch.count - Int(pointer.pointee.avail_out)
        if produced > 0 { output.append(contentsOf: UnsafeBufferPointer(rebasing: scratch[0..<produced])) }
    }

    var message: String {
        guard let msg = pointer.pointee.msg else { return "" }
        return String(cString: msg)
    }
}

/// Streaming compressor. Appends compressed bytes to the caller's array.
public struct Deflater {
    private let stream = ZStream(isDeflate: true)
    /// - Parameters:
    ///   - level: 0 (store) ... 9 (smallest); 1 is fastest.
    public init(format: ZlibFormat, level: Int32 = 1) throws {
        let rc = lifeboat_deflateInit2(stream.pointer, level, format.windowBits, 8)
        guard rc == Z_OK else { throw ZlibError(kind: .internalError, code: rc, message: stream.message) }
        stream.live = true
    }

    /// Compresses all of `input`, appending whatever zlib emits to `output`.
    public mutating func compress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        try run(input, flush: Z_NO_FLUSH, into: &output)
    }

    /// Ends the stream (writes the trailer). The deflater cannot be used afterwards.
    public mutating func finish(into output: inout [UInt8]) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), flush: Z_FINISH, into: &output)
    }

    /// Compresses a whole buffer in one call, appending to `output`; reuses this stream after `deflateReset`.
    public mutating func compressWhole(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        let rc = deflateReset(stream.pointer)
        guard rc == Z_OK else { throw ZlibError(kind: .internalError, code: rc, message: stream.message) }
        try run(input, flush: Z_FINISH, into: &output)
    }

    private func run(_ input: UnsafeRawBufferPointer, flush: Int32, into output: inout [UInt8]) throws {
        let z = stream.pointer
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(input.count)
        while true {
            stream.resetOutput()
            let rc = deflate(z, flush)
            stream.drainOutput(into: &output)
            switch rc {
            case Z_STREAM_END:
                return
            case Z_OK, Z_BUF_ERROR:
                // Without Z_FINISH, zlib is done once it has taken all input and left output space unused.
                if flush == Z_NO_FLUSH && z.pointee.avail_in == 0 && z.pointee.avail_out > 0 { return }
            default:
                throw ZlibError(kind: .internalError, code: rc, message: stream.message)
            }
        }
    }
}

/// Streaming decompressor.
public struct Inflater {
    private let stream = ZStream(isDeflate: false)
    /// The end of the compressed stream was reached and its trailer verified.
    public private(set) var isFinished = false

    public init(format: ZlibFormat) throws {
        let rc = lifeboat_inflateInit2(stream.pointer, format.windowBits)
        guard rc == Z_OK else { throw ZlibError(kind: .internalError, code: rc, message: stream.message) }
        stream.live = true
    }

    /// Starts a new stream of the same format, reusing zlib's allocations.
    public mutating func reset() throws {
        let rc = inflateReset(stream.pointer)
        guard rc == Z_OK else { throw ZlibError(kind: .internalError, code: rc, message: stream.message) }
        isFinished = false
    }

    /// The engine of both `decompress` forms: inflates `input`, calling `body` with every filled part of the scratch.
    fileprivate mutating func decompressPieces(_ input: UnsafeRawBufferPointer, limit: Int,
                                               _ body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        guard !isFinished, input.count > 0 else { return 0 }
        let z = stream.pointer
        z.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self))
        z.pointee.avail_in = uInt(input.count)
        var produced = 0
        while true {
            stream.resetOutput()
            let rc = inflate(z, Z_NO_FLUSH)
            let count = stream.scratch.count - Int(z.pointee.avail_out)
            produced += count
            guard produced <= limit else { throw ZlibError(kind: .outputLimitExceeded, code: 0, message: "") }
            if count > 0 { try body(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: stream.scratch[0..<count]))) }
            switch rc {
            case Z_STREAM_END:
                isFinished = true
                return input.count - Int(z.pointee.avail_in)
            case Z_OK, Z_BUF_ERROR:
                // Needs more input once it has consumed everything without filling the output space.
                if z.pointee.avail_in == 0 && z.pointee.avail_out > 0 { return input.count }
                if rc == Z_BUF_ERROR { return input.count - Int(z.pointee.avail_in) }
            case Z_DATA_ERROR, Z_NEED_DICT:
                throw ZlibError(kind: .corruptData, code: rc, message: stream.message)
            default:
                throw ZlibError(kind: .internalError, code: rc, message: stream.message)
            }
        }
    }

    /// Decompresses from `input`, appending to `output`. Stops at the end of the compressed stream and returns
    /// how many input bytes were consumed (less than `input.count` only when the stream ended).
    @discardableResult
    public mutating func decompress(_ input: UnsafeRawBufferPointer, into output: inout [UInt8],
                                    limit: Int = Int.max) throws -> Int {
        try decompressPieces(input, limit: limit) { output.append(contentsOf: $0.assumingMemoryBound(to: UInt8.self)) }
    }
}

extension Inflater {
    /// Decompresses from `input`, handing each piece of output to `body` straight from zlib's 256 KiB scratch space
    /// (no copy, memory bounded by the scratch whatever `input.count` is). Stops at the end of the compressed stream
    /// and returns how many input bytes were consumed (less than `input.count` only when the stream ended).
    /// The pointer passed to `body` is valid only during the call.
    @discardableResult
    public mutating func decompress(_ input: UnsafeRawBufferPointer, limit: Int = Int.max,
                                    output body: (UnsafeRawBufferPointer) throws -> Void) throws -> Int {
        try decompressPieces(input, limit: limit, body)
    }
}

/// CRC-32 (the gzip polynomial) through zlib.
public enum CRC32 {
    public static func update(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return UInt32(crc32(uLong(crc), base.assumingMemoryBound(to: Bytef.self), uInt(bytes.count)))
    }
}
