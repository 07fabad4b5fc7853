// `lifeboat export ID --output FILE.snap`: the byte-exact snapshot Vault sent, ready for
// `vault operator raft snapshot restore`.

import ArgumentParser
import Foundation
import LifeboatArchive
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
            manifest; the file appears only then (mode 0600). An existing file is never overwritten unless --force \
            is given; then it is replaced in one step (rename), only after the new file verified.

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

    @Flag(help: "Replace --output if it exists (atomically, once the new file has verified).")
    var force = false

    func run() async throws {
        do {
            if !force, FileManager.default.fileExists(atPath: output) { throw OutputExistsError(path: output) }
            let context = try repository.context(secrets: secrets)
            let keyRing = try context.keyRing()
            let (manifest, summary) = try await context.withDestinations(create: false) { destinations in
                let (destination, manifest) = try await BackupLocator.manifest(id, in: destinations)
                let progress = TransferProgress.forTerminal(label: "export", total: manifest.storedSize)
                defer { progress?.finish() }
                let store = progress.map { ProgressStore(destination.repository.store, progress: $0) } ?? destination.repository.store
                do {
                    return (manifest, try await BackupExporter.export(manifest, from: BackupRepository(store: store), keyRing: keyRing,
                                                                      to: output, replace: force))
                } catch let error as FileIOError where error.code == EEXIST && error.path == output {
                    throw OutputExistsError(path: output)  // created meanwhile by someone else
                }
            }
            printStatus("exported backup \(manifest.id) to \(output): \(summary.byteCount) bytes, SHA-256 \(summary.sha256Hex) (matches the manifest)")
        } catch {
            throw fail(error)
        }
    }
}

/// `--output` names an existing file and `--force` was not given.
struct OutputExistsError: Error, ExitCodeProviding, CustomStringConvertible {
    let path: String
    var exitStatus: ExitStatus { .ioError }
    var description: String {
        "\(path) already exists and was left as it is: choose another --output, or add --force to replace it"
    }
}
