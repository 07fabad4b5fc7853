// The heart of a backup: every snapshot byte goes to the archive writer and to the snapshot verifier at once, so
// the stored object and the proof that it restores come from one pass over the stream, in constant memory. The
// verifier runs on a second thread (PipelinedSnapshotVerifier) while this one deflates and encrypts.

import LifeboatArchive
import NIOCore
import LifeboatSnapshot
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// Encrypts a Vault snapshot stream into a Lifeboat archive while verifying it completely.
///
/// `finish` returns the verifier's summary only when every check passed; the caller commits the archive object
/// only then. Any error means the archive bytes produced so far must be discarded. A failed check may surface a few
/// MiB after the bytes that caused it (the verifier works a bounded queue behind the writer), at the latest from
/// `finish`.
public struct SnapshotArchiver {
    private var writer: ArchiveWriter
    private let verifier: PipelinedSnapshotVerifier

    public var header: ArchiveHeader { writer.header }
    public var snapshotBytes: UInt64 { writer.plaintextBytes }
    public var archiveBytes: UInt64 { writer.archiveBytes }

    public init(secret: EncryptionSecret, chunkSize: Int = ArchiveHeader.defaultChunkSize, compression: Bool = true,
                verifierOptions: SnapshotVerifier.Options = .init()) throws {
        writer = try ArchiveWriter(secret: secret, chunkSize: chunkSize, compression: compression)
        verifier = try PipelinedSnapshotVerifier(options: verifierOptions)
    }

    /// Verifies and encrypts the next piece of the snapshot, appending archive bytes to `archive`.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer, into archive: inout [UInt8]) throws {
        try verifier.consume(bytes)
        try writer.write(bytes, into: &archive)
    }

    /// `consume` for async callers: waits for the verifier thread by suspending, never by blocking the thread.
    public mutating func consume(_ buffer: ByteBuffer, into archive: inout [UInt8]) async throws {
        try await verifier.consume(contentsOf: buffer.readableBytesView)
        try buffer.withUnsafeReadableBytes { try writer.write($0, into: &archive) }
    }

    /// `finish` for async callers.
    public mutating func finish(into archive: inout [UInt8]) async throws -> SnapshotSummary {
        let summary = try await verifier.finish()
        try writer.finish(into: &archive)
        return summary
    }

    /// Ends the stream: throws the failed check if the snapshot is incomplete or damaged, otherwise appends the
    /// final chunk to `archive` and returns what the verifier established.
    public mutating func finish(into archive: inout [UInt8]) throws -> SnapshotSummary {
        let summary = try verifier.finish()
        try writer.finish(into: &archive)
        return summary
    }
}
