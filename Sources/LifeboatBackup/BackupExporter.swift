// Reading a stored backup back: decrypt every chunk, re-verify the Vault snapshot inside, and check the SHA-256
// recorded in the manifest. Used by `export` (to a .snap file), `verify`, and restore's preflight. Decryption runs on
// the caller's thread, snapshot verification on a second one (PipelinedSnapshotVerifier).

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// A stored backup whose bytes do not match what its manifest promises.
public enum BackupIntegrityError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    case checksumMismatch(id: BackupID, expected: String, actual: String)
    case sizeMismatch(id: BackupID, expected: Int64, actual: Int64)

    public var description: String {
        switch self {
        case .checksumMismatch(let id, let expected, let actual):
            return "backup \(id) is damaged: its snapshot's SHA-256 is \(actual), the manifest recorded \(expected); use another copy"
        case .sizeMismatch(let id, let expected, let actual):
            return "backup \(id) is damaged: its snapshot has \(actual) bytes, the manifest recorded \(expected); use another copy"
        }
    }

    public var exitStatus: ExitStatus { .dataError }
}

public enum BackupExporter {
    /// Streams the backup's decrypted snapshot to `sink` while authenticating every chunk, verifying the snapshot
    /// and checking the manifest's size and SHA-256. The sink sees bytes before the end is verified: callers that
    /// write a file publish it only when this returns.
    @discardableResult
    public static func read(_ manifest: BackupManifest, from repository: BackupRepository, keyRing: KeyRing,
                            verifierOptions: SnapshotVerifier.Options = .init(),
                            sink: ([UInt8]) async throws -> Void = { _ in }) async throws -> SnapshotSummary {
        var reader = ArchiveReader(keyRing: keyRing)
        let verifier = try PipelinedSnapshotVerifier(options: verifierOptions)
        var plaintext: [UInt8] = []
        for try await chunk in repository.dataChunks(of: manifest) {
            plaintext.removeAll(keepingCapacity: true)
            try reader.consume(chunk, into: &plaintext)
            try await verifier.consume(contentsOf: plaintext)
            if !plaintext.isEmpty { try await sink(plaintext) }
        }
        try reader.finish()
        let summary = try await verifier.finish()
        guard summary.byteCount == manifest.originalSize else {
            throw BackupIntegrityError.sizeMismatch(id: manifest.id, expected: manifest.originalSize, actual: summary.byteCount)
        }
        guard summary.sha256Hex == manifest.originalSHA256 else {
            throw BackupIntegrityError.checksumMismatch(id: manifest.id, expected: manifest.originalSHA256, actual: summary.sha256Hex)
        }
        return summary
    }

    /// Checks what can be checked of a backup without its key (docs/format.md §5.1): the archive's header and stanzas,
    /// the framing of every record, that it is complete and that nothing follows; also the stored size. Decrypts
    /// nothing. Returns the number of chunk records.
    @discardableResult
    public static func checkStructure(_ manifest: BackupManifest, from repository: BackupRepository) async throws -> UInt64 {
        var reader = ArchiveReader(checkingStructureOnly: ())
        var none: [UInt8] = []
        var stored: Int64 = 0
        for try await chunk in repository.dataChunks(of: manifest) {
            try reader.consume(chunk, into: &none)
            stored += Int64(chunk.count)
        }
        try reader.finish()
        guard stored == manifest.storedSize else {
            throw BackupIntegrityError.sizeMismatch(id: manifest.id, expected: manifest.storedSize, actual: stored)
        }
        return reader.chunkCount
    }

    /// Writes the byte-exact snapshot Vault sent to `path` (0600), published only after everything verified.
    /// - Parameter replace: replace an existing file at `path` (atomically, by rename); otherwise an existing file
    ///   is never touched and the export fails with `FileIOError` `EEXIST`.
    @discardableResult
    public static func export(_ manifest: BackupManifest, from repository: BackupRepository, keyRing: KeyRing,
                              to path: String, replace: Bool = false) async throws -> SnapshotSummary {
        let file = try AtomicFileWriter(path: path, mode: 0o600)
        do {
            let summary = try await read(manifest, from: repository, keyRing: keyRing) { try file.write($0) }
            try file.commit(exclusive: !replace)
            return summary
        } catch {
            file.abort()
            throw error
        }
    }
}
