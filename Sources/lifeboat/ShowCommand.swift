// `lifeboat show ID`: one backup's manifest.

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

struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one backup's manifest.",
        discussion: """
            Example:
              lifeboat show latest
              lifeboat show 20261128T231500Z-7f3a --json
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @Argument(help: ArgumentHelp("A backup id, or `latest`.", valueName: "id"))
    var id: String

    @Flag(help: "Print the manifest as JSON.")
    var json = false

    func run() async throws {
        do {
            let context = try repository.context()
            let (destination, manifest) = try await context.withDestinations(create: false) { destinations in
                let found = try await BackupLocator.manifest(id, in: destinations)
                return (found.destination.name, found.manifest)
            }
            if json {
                print(String(decoding: try manifest.encoded(), as: UTF8.self))
                return
            }
            print("""
                ID:             \(manifest.id)
                Created:        \(manifest.createdAt)
                Cluster:        \(manifest.cluster.name ?? "-") (\(manifest.cluster.id ?? "-"))
                Leader:         \(manifest.leader.nodeID ?? "-") \(manifest.leader.address ?? "")
                Vault version:  \(manifest.vaultVersion ?? "-")
                Raft:           index \(manifest.raft.index), term \(manifest.raft.term), configuration index \(manifest.raft.configurationIndex)
                Servers:        \(manifest.raft.servers.map { "\($0.id) (\($0.suffrage))" }.joined(separator: ", "))
                Entries:        \(manifest.entryCount)
                Snapshot:       \(manifest.originalSize) bytes, SHA-256 \(manifest.originalSHA256)
                Stored:         \(manifest.storedSize) bytes (ratio \(manifest.compressionRatio)) in \(manifest.dataObject)
                Key id:         \(manifest.archiveKeyID) (format v\(manifest.archiveFormatVersion))\(manifest.archiveRecipients.isEmpty ? "" : "\n" + "Recipients:     " + manifest.archiveRecipients.joined(separator: ", ") + " (any one's identity decrypts)")
                Duration:       \(String(format: "%.2f", manifest.durationSeconds)) s
                Tags:           \(manifest.tags.isEmpty ? "-" : manifest.tags.joined(separator: ", "))
                Last verified:  \(manifest.lastVerification.map { "\($0.verifiedAt) \($0.result.rawValue)" } ?? "never")
                Lifeboat:       \(manifest.lifeboatVersion)
                Destination:    \(destination)
                """)
        } catch {
            throw fail(error)
        }
    }
}
