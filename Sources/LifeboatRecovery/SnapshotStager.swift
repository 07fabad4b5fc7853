// SnapshotStager: the heart of the preflight. Streams a backup's archive through the decryptor (every chunk
// authenticated) and the snapshot verifier (gzip, tar, SHA256SUMS, meta, state.bin framing, seal config) into a
// 0600 staging file that is complete or absent; cross-checks the manifest; re-verifies a staged file on resume.

import Foundation
import LifeboatArchive
import LifeboatSnapshot
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// A verified Vault snapshot waiting on local disk to be uploaded.
public struct StagedSnapshot: Sendable {
    /// The staging file (mode 0600).
    public var path: String
    /// What the verifier established (index, entry count, seal config, SHA-256 of the .snap bytes).
    public var summary: SnapshotSummary

    public var sha256Hex: String { summary.sha256Hex }
    public var byteCount: Int64 { summary.byteCount }
}

/// Decrypts and verifies backups into staging files.
public enum SnapshotStager {
    /// Plaintext and ciphertext move in pieces of this size.
    static let readSize = 1 << 20

    /// Streams `source` into `directory/<name>`: decrypts with `keyRing` (every chunk authenticated, truncation and
    /// reordering detected), verifies the snapshot completely, and publishes the file only when both succeeded.
    ///
    /// - Throws: ``RecoveryError`` ``RecoveryError/Code/backupInvalid`` naming the failed check (nothing is left on
    ///   disk), or ``RecoveryError/Code/staging`` when the directory cannot be written.
    public static func stage(_ source: RestoreSource, keyRing: KeyRing, directory: String, name: String) async throws -> StagedSnapshot {
        try makePrivateDirectory(directory)
        let path = directory + "/" + name
        let writer: AtomicFileWriter
        do { writer = try AtomicFileWriter(path: path, mode: 0o600) } catch {
            throw RecoveryError(.staging, "cannot create the staging file in \(directory): \(error)")
        }
        var reader = ArchiveReader(keyRing: keyRing)
        // Verification runs on a second thread beside decryption and the staging writes.
        let verifier: PipelinedSnapshotVerifier
        do { verifier = try PipelinedSnapshotVerifier() } catch {
            writer.abort()
            throw RecoveryError(.staging, "cannot start the snapshot verifier: \(error)")
        }
        let input: any StoreObjectReader
        do { input = try await source.open() } catch {
            writer.abort()
            throw RecoveryError(.backupInvalid, "cannot read backup \(source.id) from \(source.origin): \(error)")
        }
        var plain: [UInt8] = []
        plain.reserveCapacity(readSize + 64 * 1024)
        var archiveOffset: Int64 = 0
        do {
            while let chunk = try await input.read(maxCount: readSize) {
                try Task.checkCancellation()
                archiveOffset += Int64(chunk.count)
                try reader.consume(chunk, into: &plain)
                if !plain.isEmpty {
                    try await verifier.consume(contentsOf: plain)
                    try writer.write(plain)
                    plain.removeAll(keepingCapacity: true)
                }
            }
            await input.close()
            try reader.finish()
            let summary = try await verifier.finish()
            try check(summary, against: source)
            try writer.commit()
            // Plaintext on disk: an interrupted run removes it until a restore journal adopts it (RestoreExecutor).
            TemporaryFiles.track(path)
            return StagedSnapshot(path: path, summary: summary)
        } catch {
            await input.close()
            writer.abort()
            throw classify(error, source: source)
        }
    }

    /// Re-verifies a staged file (on `--resume`) and checks its SHA-256 against the journal's.
    public static func revalidate(path: String, expectedSHA256: String) throws -> StagedSnapshot {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RecoveryError(.journal, "the staged snapshot \(path) recorded in the journal is gone (\(String(cString: strerror(errno)))); start the restore again without --resume")
        }
        defer { close(fd) }
        let verifier = try PipelinedSnapshotVerifier()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: readSize, alignment: 16)
        defer { buffer.deallocate() }
        do {
            while true {
                let n = try FileDescriptorIO.read(fd, into: buffer, path: path)
                if n == 0 { break }
                try verifier.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            let summary = try verifier.finish()
            guard summary.sha256Hex == expectedSHA256 else {
                throw RecoveryError(.journal, "the staged snapshot \(path) changed since the journal was written (sha256 \(summary.sha256Hex.prefix(16))... instead of \(expectedSHA256.prefix(16))...); start the restore again without --resume")
            }
            return StagedSnapshot(path: path, summary: summary)
        } catch let e as RecoveryError {
            throw e
        } catch {
            throw RecoveryError(.journal, "the staged snapshot \(path) no longer verifies (\(error)); start the restore again without --resume")
        }
    }

    /// Checks the manifest's promises against the decrypted snapshot.
    static func check(_ summary: SnapshotSummary, against source: RestoreSource) throws {
        if let sha = source.expectedSHA256, !sha.isEmpty, sha.lowercased() != summary.sha256Hex {
            throw RecoveryError(.backupInvalid, "backup \(source.id): the decrypted snapshot's sha256 \(summary.sha256Hex.prefix(16))... differs from the manifest's \(sha.prefix(16))...; the data object does not belong to this manifest: use another backup")
        }
        if let count = source.expectedEntryCount, count != summary.entryCount {
            throw RecoveryError(.backupInvalid, "backup \(source.id): the snapshot holds \(summary.entryCount) keys, the manifest recorded \(count); use another backup")
        }
        if let index = source.expectedIndex, index != summary.meta.index {
            throw RecoveryError(.backupInvalid, "backup \(source.id): the snapshot's raft index is \(summary.meta.index), the manifest recorded \(index); use another backup")
        }
        guard summary.sealConfig != nil else {
            throw RecoveryError(.backupInvalid, "backup \(source.id): the snapshot has no readable core/seal-config, so the unseal threshold after a restore is unknown; it is not a complete Vault snapshot: use another backup")
        }
    }

    static func classify(_ error: any Error, source: RestoreSource) -> RecoveryError {
        switch error {
        case let e as RecoveryError: return e
        case let e as ArchiveError:
            return RecoveryError(.backupInvalid, "backup \(source.id) failed decryption: \(e); nothing was changed on the cluster")
        case let e as SnapshotError:
            return RecoveryError(.backupInvalid, "backup \(source.id) decrypted but the snapshot inside is invalid (\(e)); nothing was changed on the cluster: use another backup")
        case let e as FileIOError:
            return RecoveryError(.staging, "writing the staging file failed: \(e)")
        case is CancellationError:
            return RecoveryError(.cancelled, "the preflight was interrupted; nothing was changed on the cluster")
        default:
            return RecoveryError(.backupInvalid, "cannot read backup \(source.id) from \(source.origin): \(error); nothing was changed on the cluster")
        }
    }

    /// Creates `path` (and parents) with mode 0700, or checks that an existing one is not open to others.
    static func makePrivateDirectory(_ path: String) throws {
        var info = stat()
        if stat(path, &info) == 0 {
            guard info.st_mode & S_IFMT == S_IFDIR else { throw RecoveryError(.staging, "\(path) is not a directory") }
            if info.st_mode & 0o077 != 0 { chmod(path, 0o700) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw RecoveryError(.staging, "cannot create the directory \(path): \(error)")
        }
    }
}
