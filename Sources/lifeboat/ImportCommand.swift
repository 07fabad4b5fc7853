// `lifeboat import FILE.snap`: verify an existing snapshot file and store it as a backup.

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Verify a Vault snapshot file and store it in the repository as a backup.",
        discussion: """
            The file is verified completely (as `lifeboat inspect` does) while it is encrypted; a file that fails a \
            check is not stored. A snapshot file does not say which cluster it came from (Vault encrypts that): \
            give --cluster NAME, else the cluster is taken from the destinations' records when the snapshot's raft \
            servers (id and address) belong to exactly one known cluster, else the backup has no cluster and forms \
            a retention series of its own.

            Example:
              lifeboat import vault.snap --key-file /etc/lifeboat/backup.key --tag pre-upgrade
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions
    @OptionGroup(title: "Archive options") var archive: ArchiveOptions
    @OptionGroup var noCompression: NoCompressionOption

    @Argument(help: ArgumentHelp("The .snap file, as saved by `vault operator raft snapshot save`.", valueName: "file"))
    var file: String

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag to attach (repeatable).", valueName: "tag"))
    var tags: [String] = []

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() async throws {
        do {
            let context = try repository.context(secrets: secrets, overrides: ConfigurationOverrides(tags: tags),
                                                  flags: [archive, noCompression], clusterFilter: true)
            // Without `clusters:`, --cluster names the snapshot's cluster; in a fleet it chose the configured cluster.
            let cluster = context.loaded.cluster == nil ? repository.cluster : nil
            let secret = try context.encryptionSecret()
            let backup = context.configuration.backup
            let report = try await context.withDestinations(create: true) { destinations in
                try await ConfiguredBackup.run(
                    source: FileSnapshotSource(path: file), destinations: destinations, secret: secret,
                    options: BackupOptions(tags: backup.tags, compression: backup.compression, chunkSize: backup.chunkSize, attempts: 1,
                                           cluster: cluster.map { BackupManifest.Cluster(name: $0) }),
                    applyRetention: false, operation: "import")
            }
            let manifest = report.manifest
            if json {
                print(String(decoding: try manifest.encoded(), as: UTF8.self))
            } else {
                print("imported \(file) as backup \(manifest.id): index \(manifest.raft.index), \(manifest.entryCount) entries, \(manifest.originalSize) bytes -> \(manifest.storedSize) stored")
            }
            for destination in report.destinations {
                for warning in destination.warnings { printStatus("lifeboat: warning: \(warning)") }
            }
            if report.isPartial { throw PartialBackupError(report: report) }
        } catch {
            throw fail(error)
        }
    }
}
