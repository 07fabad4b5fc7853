// `lifeboat import FILE.snap`: verify an existing snapshot file and store it as a backup.

import ArgumentParser
import Foundation
import LifeboatCore

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a Vault snapshot file and store it in the repository as a backup.",
        discussion: """
            The file is verified completely (as `lifeboat inspect` does) while it is encrypted; a file that fails a \
            check is not stored.

            Example:
              lifeboat import vault.snap --key-file /etc/lifeboat/backup.key --tag pre-upgrade
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Argument(help: ArgumentHelp("The .snap file, as saved by `vault operator raft snapshot save`.", valueName: "file"))
    var file: String

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag to attach (repeatable).", valueName: "tag"))
    var tags: [String] = []

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() async throws {
        do {
            let secret = try secrets.encryptionSecret()
            let repo = try repository.open(create: true)
            let lock = try RepositoryLock.acquire(directory: repository.path, operation: "import")
            defer { lock.release() }
            let manifest = try await BackupRunner.run(source: FileSnapshotSource(path: file), repository: repo, secret: secret,
                                                      options: BackupOptions(tags: tags, attempts: 1))
            if json {
                print(String(decoding: try manifest.encoded(), as: UTF8.self))
            } else {
                print("imported \(file) as backup \(manifest.id): index \(manifest.raft.index), \(manifest.entryCount) entries, \(manifest.originalSize) bytes -> \(manifest.storedSize) stored")
            }
        } catch {
            throw fail(error)
        }
    }
}
