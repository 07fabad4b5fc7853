// A local cache of manifests keyed by the store's version tag (S3's ETag), so that `list` of a bucket with thousands
// of backups reads the listing pages and no manifest it has read before (restic caches its metadata the same way).
// The cache holds copies of bytes that are public in the bucket anyway; every cached manifest is decoded and checked
// like a fetched one. Anything wrong with the cache (missing, unwritable, a damaged entry) only means a fetch.

import Foundation
import LifeboatArchive

/// Manifest bytes by object name and version tag, in one private directory (0700, files 0600).
public struct ManifestCache: Sendable {
    /// The cache directory, one per destination.
    public let directory: String

    /// A cache in `directory`, created (0700) when missing; nil when it cannot be made or written (a read-only home,
    /// a Kubernetes pod without a writable volume): then every manifest is fetched, as without a cache.
    public init?(directory: String) {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            return nil
        }
        guard access(directory, W_OK) == 0 else { return nil }
        self.directory = directory
    }

    /// The directory for the store `storeIdentity` (e.g. endpoint, bucket and prefix) under `root`.
    public static func directory(root: String, storeIdentity: String) -> String {
        root + "/" + Hex.encode(SHA256Digest.hash(Array(storeIdentity.utf8))).prefix(24)
    }

    /// The entry's file name: the object name's last part (names are validated store names, `manifests/<id>.json`).
    private static func fileName(_ name: String) -> String? {
        guard let file = name.split(separator: "/").last, !file.hasPrefix("."), !file.isEmpty else { return nil }
        return String(file)
    }

    private func path(_ name: String) -> String? {
        Self.fileName(name).map { directory + "/" + $0 }
    }

    /// The cached bytes of `name` when they are of version `tag`.
    public func bytes(of name: String, tag: String) -> [UInt8]? {
        guard let path = path(name), let data = FileManager.default.contents(atPath: path) else { return nil }
        let bytes = [UInt8](data)
        guard let newline = bytes.firstIndex(of: 0x0a), String(decoding: bytes[..<newline], as: UTF8.self) == tag else { return nil }
        return Array(bytes[(newline + 1)...])
    }

    /// Remembers `bytes` as version `tag` of `name`: a temporary file renamed into place, without fsync (a cache: a
    /// torn entry after a crash fails the tag check or the manifest's own decoding, and is fetched again). A failure
    /// is ignored.
    public func store(_ bytes: [UInt8], of name: String, tag: String) {
        guard let path = path(name), !tag.contains("\n") else { return }
        let temporary = directory + "/" + AtomicFileWriter.temporaryPrefix + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { return }
        let written = (try? FileDescriptorIO.writeAll(fd, Array(tag.utf8) + [0x0a] + bytes, path: temporary)) != nil
        close(fd)
        if !written || rename(temporary, path) != 0 { unlink(temporary) }
    }

    /// Removes the entries of manifests no longer in the store.
    public func retain(only names: Set<String>) {
        let keep = Set(names.compactMap(Self.fileName))
        guard let files = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        for file in files where !keep.contains(file) && !file.hasPrefix(AtomicFileWriter.temporaryPrefix) {
            unlink(directory + "/" + file)
        }
    }
}
