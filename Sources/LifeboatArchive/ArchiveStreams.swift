// Whole-stream encryption and decryption between file descriptors, files and sinks: the engine behind
// `lifeboat encrypt` and `lifeboat decrypt`.

import Foundation

/// Where decrypted or encrypted bytes go.
public enum StreamDestination {
    /// A file published atomically (temporary name, fsync, rename) only after the whole stream succeeded.
    case file(path: String)
    /// An already open descriptor (stdout): bytes are written as they are produced.
    case descriptor(Int32)
}

/// Sizes and counts of one encryption or decryption run.
public struct ArchiveStreamResult: Sendable, Equatable {
    public var plaintextBytes: UInt64
    public var archiveBytes: UInt64
    public var keyID: String
}

public enum ArchiveStreams {
    static let readSize = 1024 * 1024

    /// Encrypts everything readable from `input` into `destination`.
    public static func encrypt(input: Int32, inputPath: String, destination: StreamDestination, secret: EncryptionSecret,
                               chunkSize: Int = ArchiveHeader.defaultChunkSize, compression: Bool = true) throws -> ArchiveStreamResult {
        var writer = try ArchiveWriter(secret: secret, chunkSize: chunkSize, compression: compression)
        let sink = try Sink(destination)
        var out: [UInt8] = []
        try pump(input: input, path: inputPath) { chunk in
            try writer.write(chunk, into: &out)
            try sink.write(&out)
        }
        try writer.finish(into: &out)
        try sink.write(&out)
        try sink.commit()
        return ArchiveStreamResult(plaintextBytes: writer.plaintextBytes, archiveBytes: writer.archiveBytes,
                                   keyID: Hex.encode(writer.header.keyID))
    }

    /// Decrypts an archive from `input` into `destination`. A file destination appears only when the final
    /// chunk authenticated; on any error nothing is left at its path.
    public static func decrypt(input: Int32, inputPath: String, destination: StreamDestination, keyRing: KeyRing) throws -> ArchiveStreamResult {
        var reader = ArchiveReader(keyRing: keyRing)
        let sink = try Sink(destination)
        var out: [UInt8] = []
        var archiveBytes: UInt64 = 0
        try pump(input: input, path: inputPath) { chunk in
            archiveBytes += UInt64(chunk.count)
            try reader.consume(chunk, into: &out)
            try sink.write(&out)
        }
        try reader.finish()
        try sink.commit()
        return ArchiveStreamResult(plaintextBytes: reader.plaintextBytes, archiveBytes: archiveBytes,
                                   keyID: reader.header.map { Hex.encode($0.keyID) } ?? "")
    }

    /// Reads `input` to its end in 1 MiB pieces.
    static func pump(input: Int32, path: String, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileDescriptorIO.read(input, into: buffer, path: path)
            if n == 0 { return }
            try body(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
    }

    /// The output side: a temporary file committed at the end, or a descriptor written as bytes come.
    private final class Sink {
        private let file: AtomicFileWriter?
        private let descriptor: Int32

        init(_ destination: StreamDestination) throws {
            switch destination {
            case .file(let path):
                file = try AtomicFileWriter(path: path, mode: 0o600)
                descriptor = -1
            case .descriptor(let fd):
                file = nil
                descriptor = fd
            }
        }

        func write(_ bytes: inout [UInt8]) throws {
            guard !bytes.isEmpty else { return }
            if let file { try file.write(bytes) } else { try FileDescriptorIO.writeAll(descriptor, bytes, path: "standard output") }
            bytes.removeAll(keepingCapacity: true)
        }

        func commit() throws {
            try file?.commit()
        }
    }
}
