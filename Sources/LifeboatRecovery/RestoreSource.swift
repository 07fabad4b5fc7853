// RestoreSource: the backup a restore or drill reads, independent of where it is stored: a repository object
// described by its manifest (the normal case), or a bare encrypted archive file (`lifeboat restore --file`, tests).
// The archive is always read as a stream; the manifest's facts are cross-checked against what the preflight finds.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// A Lifeboat archive to restore, with what its manifest (if any) promises about the snapshot inside.
public struct RestoreSource: Sendable {
    /// The backup id (or the file name for a bare file).
    public var id: String
    /// Where it is, for messages: `local directory /var/lib/lifeboat`, a file path.
    public var origin: String
    /// When the backup was taken (nil when unknown).
    public var createdAt: Date?
    /// What the manifest recorded; each is checked against the decrypted snapshot when set.
    public var expectedSHA256: String?
    public var expectedEntryCount: Int?
    public var expectedIndex: UInt64?
    /// The identity of the cluster the backup was taken from, as its manifest recorded it (nil for a bare file or an
    /// older manifest): compared with the target's in preflight.
    public var cluster: BackupManifest.Cluster = BackupManifest.Cluster()
    /// The node it was taken from (raft node id or address) and its Vault version, for the plan.
    public var takenFrom: String?
    public var vaultVersion: String?
    /// Opens the encrypted archive for streaming reads.
    public var open: @Sendable () async throws -> any StoreObjectReader

    public init(id: String, origin: String, createdAt: Date? = nil, expectedSHA256: String? = nil, expectedEntryCount: Int? = nil,
                expectedIndex: UInt64? = nil, open: @escaping @Sendable () async throws -> any StoreObjectReader) {
        self.id = id
        self.origin = origin
        self.createdAt = createdAt
        self.expectedSHA256 = expectedSHA256
        self.expectedEntryCount = expectedEntryCount
        self.expectedIndex = expectedIndex
        self.open = open
    }

    /// A backup in a repository store, described by its manifest: the data object is streamed from `store`.
    public static func backup(_ manifest: BackupManifest, in store: any BackupStore) -> RestoreSource {
        let object = manifest.dataObject
        var source = RestoreSource(id: manifest.id.rawValue, origin: store.displayName, createdAt: manifest.createdAt.date,
                                   expectedSHA256: manifest.originalSHA256, expectedEntryCount: manifest.entryCount,
                                   expectedIndex: manifest.raft.index, open: { try await store.openForReading(object) })
        source.cluster = manifest.cluster
        source.takenFrom = manifest.leader.nodeID ?? manifest.leader.address
        source.vaultVersion = manifest.vaultVersion
        return source
    }

    /// Resolves `selector` (a backup id, or `latest`) in `repository`. `latest` is the newest backup whose last
    /// verification did not find it damaged; a backup whose data object is missing is never chosen.
    public static func resolve(_ selector: String, in repository: BackupRepository) async throws -> RestoreSource {
        if selector == "latest" {
            let listing = try await repository.list()
            let missing = Set(listing.problems.filter { $0.kind == .dataMissing }.compactMap(\.id))
            let usable = listing.backups.filter { !missing.contains($0.id) && $0.lastVerification?.result != .damaged }
            guard let newest = usable.last else {
                throw RecoveryError(.backupInvalid, "no usable backup in \(repository.store.displayName)" + (listing.backups.isEmpty ? "" : " (\(listing.backups.count) listed, all damaged or missing their data)") + "; run `lifeboat list` to see what is there")
            }
            return .backup(newest, in: repository.store)
        }
        let id = try BackupID(parsing: selector)
        return .backup(try await repository.manifest(id), in: repository.store)
    }

    /// A bare Lifeboat archive file (no manifest: nothing to cross-check but the archive's own authentication).
    public static func file(_ path: String, createdAt: Date? = nil) -> RestoreSource {
        RestoreSource(id: URL(fileURLWithPath: path).lastPathComponent, origin: path, createdAt: createdAt,
                      open: { try ArchiveFileReader(path: path) })
    }
}

/// Streams a local file (an archive given by path).
final class ArchiveFileReader: StoreObjectReader, @unchecked Sendable {
    // The descriptor is used by one reading task at a time (the preflight's loop); `lock` guards close against reads.
    private let lock = NSLock()
    private var fd: Int32
    private let path: String

    init(path: String) throws {
        self.path = path
        fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw RecoveryError(.backupInvalid, "cannot open the archive \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { if fd >= 0 { Glibc.close(fd) } }

    func read(maxCount: Int) async throws -> [UInt8]? {
        try lock.withLock {
            guard fd >= 0 else { return nil }
            var buffer = [UInt8](repeating: 0, count: maxCount)
            let n = try buffer.withUnsafeMutableBytes { try FileDescriptorIO.read(fd, into: $0, path: path) }
            if n == 0 { return nil }
            buffer.removeLast(maxCount - n)
            return buffer
        }
    }

    func close() async {
        lock.withLock {
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}
