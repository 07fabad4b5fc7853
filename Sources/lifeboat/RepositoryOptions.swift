// The --repo option shared by every command that reads or writes the backup repository.

import ArgumentParser
import Foundation
import LifeboatCore

struct RepositoryOptions: ParsableArguments {
    @Option(name: .customLong("repo"), help: ArgumentHelp(
        "Local repository directory (default: $LIFEBOAT_REPO, else /var/lib/lifeboat/repository as root, ~/.local/share/lifeboat/repository otherwise).",
        valueName: "path"))
    var repository: String?

    var path: String {
        repository ?? RepositoryLocation.defaultPath(environment: ProcessInfo.processInfo.environment, isRoot: getuid() == 0)
    }

    /// Opens the repository; `create` makes the directory (0700) when it does not exist yet.
    func open(create: Bool) throws -> BackupRepository {
        BackupRepository(store: try LocalStore(directory: path, createIfMissing: create))
    }
}
