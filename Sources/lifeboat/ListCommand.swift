// `lifeboat list`: the backups in the repository, oldest first.

import ArgumentParser
import Foundation
import LifeboatCore

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the backups in the repository.",
        discussion: """
            Example:
              lifeboat list --repo /var/lib/lifeboat/repository
              lifeboat list --json | jq '.backups[-1].id'
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "Print JSON (manifests and repository problems).")
    var json = false

    func run() async throws {
        do {
            let listing = try await repository.open(create: false).list()
            if json {
                try printJSON(ListingJSON(backups: listing.backups, problems: listing.problems.map(\.description)))
                return
            }
            if listing.backups.isEmpty {
                print("no backups in \(repository.path)")
            } else {
                print(BackupTable.render(listing.backups))
            }
            for problem in listing.problems {
                printStatus("warning: \(problem)")
            }
        } catch {
            throw fail(error)
        }
    }

    struct ListingJSON: Encodable {
        var backups: [BackupManifest]
        var problems: [String]
    }
}

/// Human tables of manifests.
enum BackupTable {
    static func render(_ manifests: [BackupManifest]) -> String {
        var rows = [["ID", "CREATED", "INDEX", "TERM", "ENTRIES", "SIZE", "STORED", "VERIFIED", "TAGS"]]
        for m in manifests {
            let verified = m.lastVerification.map { "\($0.result.rawValue) \($0.verifiedAt.description.prefix(16))" } ?? "-"
            rows.append([m.id.rawValue, m.createdAt.description, "\(m.raft.index)", "\(m.raft.term)", "\(m.entryCount)",
                         byteSize(m.originalSize), byteSize(m.storedSize), verified, m.tags.joined(separator: ",")])
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.map { row in
            zip(row, widths).map { $0.0.padding(toLength: $0.1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }

    static func byteSize(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024 && unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }
}

/// Pretty, stable JSON on stdout.
func printJSON(_ value: some Encodable) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}
