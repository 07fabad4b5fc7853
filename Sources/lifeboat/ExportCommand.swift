// `lifeboat export ID --output FILE.snap`: the byte-exact snapshot Vault sent, ready for
// `vault operator raft snapshot restore`.

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

struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a backup's original Vault snapshot to a file, verified byte for byte.",
        discussion: """
            Every chunk is authenticated, the snapshot inside is verified, and its SHA-256 must equal the one in the \
            manifest; the file appears only then (mode 0600, never overwriting).

            Example:
              lifeboat export latest --key-file /etc/lifeboat/backup.key --output vault.snap
              vault operator raft snapshot restore vault.snap
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Argument(help: ArgumentHelp("A backup id, or `latest`.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("The .snap file to write.", valueName: "path"))
    var output: String

    func run() async throws {
        do {
            let context = try repository.context(secrets: secrets)
            let keyRing = try context.keyRing()
            let (manifest, summary) = try await context.withDestinations(create: false) { destinations in
                let (destination, manifest) = try await BackupLocator.manifest(id, in: destinations)
                let progress = TransferProgress.forTerminal(label: "export", total: manifest.storedSize)
                defer { progress?.finish() }
                let store = progress.map { ProgressStore(destination.repository.store, progress: $0) } ?? destination.repository.store
                return (manifest, try await BackupExporter.export(manifest, from: BackupRepository(store: store), keyRing: keyRing, to: output))
            }
            printStatus("exported backup \(manifest.id) to \(output): \(summary.byteCount) bytes, SHA-256 \(summary.sha256Hex) (matches the manifest)")
        } catch {
            throw fail(error)
        }
    }
}
