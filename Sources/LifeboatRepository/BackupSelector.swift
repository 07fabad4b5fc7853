// Resolving what a user typed (`latest`, a full id) to a backup's manifest.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// `latest` asked of a repository without backups.
public struct NoBackupsError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public let store: String
    package init(store: String) { self.store = store }
    public var description: String { "there are no backups in \(store); run `lifeboat backup` first, or check --repo" }
    public var exitStatus: ExitStatus { .failure }
}

public enum BackupSelector {
    /// `latest` is the newest backup; anything else must be a backup id.
    public static func resolve(_ text: String, in repository: BackupRepository) async throws -> BackupManifest {
        if text == "latest" {
            guard let newest = try await repository.list().backups.last else {
                throw NoBackupsError(store: repository.store.displayName)
            }
            return newest
        }
        return try await repository.manifest(try BackupID(parsing: text))
    }
}
