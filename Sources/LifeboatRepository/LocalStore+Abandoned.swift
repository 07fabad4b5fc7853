// The temporary files of killed runs in a local repository, removed at once: each pending object's file carries its
// writer's flock (TemporaryFiles), so a file whose lock is free belongs to a dead run, whatever its age, and a file
// whose lock is held belongs to a live one and is never touched.

import Foundation
import LifeboatArchive

extension LocalStore {
    /// Removes every pending object's temporary file whose writer is gone (its flock is free).
    ///
    /// - Returns: the files removed (relative to the repository) and their total size in bytes.
    public func removeAbandonedPendingObjects() throws -> (names: [String], bytes: Int64) {
        var candidates: [String] = []
        try walk(relativeDirectory: "", operation: "cleanup", missingIsEmpty: true, includeTemporary: true) { relativeName, _ in
            if (relativeName as NSString).lastPathComponent.hasPrefix(AtomicFileWriter.temporaryPrefix) {
                candidates.append(relativeName)
            }
        } descend: { _ in true }
        var removed: [String] = []
        var bytes: Int64 = 0
        var directories: Set<String> = []
        for name in candidates.sorted() {
            guard let size = TemporaryFiles.removeIfAbandoned(directory + "/" + name) else { continue }
            removed.append(name)
            bytes += size
            directories.insert(((directory + "/" + name) as NSString).deletingLastPathComponent)
        }
        for directory in directories { try? FileDescriptorIO.syncDirectory(directory) }
        return (removed, bytes)
    }
}
