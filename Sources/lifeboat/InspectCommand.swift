// `lifeboat inspect`: verify a Vault snapshot file offline and report it like `vault operator raft snapshot inspect`.

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
import LifeboatSnapshot

struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Verify a Vault raft snapshot file completely and show its metadata and key statistics.",
        discussion: """
            Takes a .snap file, or a backup id (or `latest`) from the repository, which is decrypted with the key \
            and verified against its manifest first. Works offline. Every check a restore depends on is made first (gzip trailer, tar members and order, \
            SHA256SUMS, meta.json, state.bin framing, SHA256SUMS.sealed present); a failing check exits 65.

            Example:
              lifeboat inspect vault.snap --depth 2
              lifeboat inspect vault.snap --json
              lifeboat inspect latest --key-file /etc/lifeboat/backup.key
            """
    )

    @Argument(help: ArgumentHelp("A .snap file (as saved by `vault operator raft snapshot save`), a backup id, or `latest`.",
                                 valueName: "file|id"))
    var file: String

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Option(help: "Group keys by this many leading path segments (0: whole keys).")
    var depth = 2

    @Option(help: "Count only keys starting with this prefix.")
    var filter = ""

    @Flag(help: "Print Vault's JSON form instead of the table.")
    var json = false

    func validate() throws {
        guard depth >= 0 else { throw ValidationError("--depth must be 0 or greater") }
    }

    func run() async throws {
        let inspection: SnapshotInspection
        do {
            if FileManager.default.fileExists(atPath: file) {
                inspection = try SnapshotInspection.inspectFile(atPath: file, depth: depth, filter: filter)
            } else {
                let context = try repository.context(secrets: secrets)
                let keyRing = try context.keyRing()
                let options = SnapshotVerifier.Options(keyStatisticsDepth: depth, keyStatisticsFilter: filter)
                inspection = try await context.withDestinations(create: false) { destinations in
                    let (destination, manifest) = try await BackupLocator.manifest(file, in: destinations)
                    return SnapshotInspection(summary: try await BackupExporter.read(
                        manifest, from: destination.repository, keyRing: keyRing, verifierOptions: options))
                }
            }
        } catch {
            throw fail(error)
        }
        if json {
            print(inspection.renderJSON())
        } else {
            print(inspection.renderTable())
            let summary = inspection.summary
            print("")
            print(" Entries\t\(summary.entryCount)")
            print(" SHA-256\t\(summary.sha256Hex)")
            if let seal = summary.sealConfig {
                print(" Seal\t\(seal.type), \(seal.secretThreshold) of \(seal.secretShares) unseal keys")
            }
        }
    }
}
