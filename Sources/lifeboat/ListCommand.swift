// `lifeboat list`: the backups in the repository, oldest first.

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

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the backups in the repository.",
        discussion: """
            Example:
              lifeboat list --repo /var/lib/lifeboat/repository
              lifeboat list --json | jq '.backups[-1].id'
              lifeboat list --cluster vault-prod
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @Flag(help: "Print JSON (manifests with the destinations holding each, and repository problems).")
    var json = false

    func run() async throws {
        do {
            let context = try repository.context(clusterFilter: true)
            // A fleet's --cluster chose the cluster (its destinations); otherwise it filters by recorded identity.
            let cluster = context.loaded.cluster == nil ? repository.cluster : nil
            var (entries, problems, names, unreadable) = try await context.withDestinations(create: false) { destinations in
                var listings: [(String, BackupListing)] = []
                var unreadable: [DestinationFailure] = []
                for destination in destinations {
                    do {
                        let lock = try await destination.readLock(operation: "list")
                        do {
                            listings.append((destination.name, try await destination.repository.list()))
                            await lock?.release()
                        } catch {
                            await lock?.release()
                            throw error
                        }
                    } catch {
                        // One unreachable destination must not hide the backups on the others.
                        if destinations.count == 1 { throw error }
                        unreadable.append(DestinationFailure(destination: destination.name, error: error))
                    }
                }
                let problems = listings.flatMap { name, listing in
                    listing.problems.map { destinations.count == 1 ? $0.description : "\(name): \($0)" }
                }
                return (ListedBackup.merge(listings), problems, context.describe(destinations), unreadable)
            }
            if let cluster { entries = entries.filter { $0.manifest.belongs(toCluster: cluster) } }
            if json {
                try printJSON(ListingJSON(backups: entries, problems: problems + unreadable.map { "\($0.destination): cannot be listed: \($0.error)" }))
                if !unreadable.isEmpty { throw DestinationsUnreadableError(failures: unreadable) }
                return
            }
            if entries.isEmpty {
                print("no backups\(cluster.map { " of cluster \($0)" } ?? "") in \(names)")
            } else {
                print(BackupTable.render(entries, showDestinations: context.configuration.destinations.count > 1))
            }
            for problem in problems {
                printStatus("warning: \(problem)")
            }
            if !unreadable.isEmpty { throw DestinationsUnreadableError(failures: unreadable) }
        } catch {
            throw fail(error)
        }
    }

    struct ListingJSON: Encodable {
        var backups: [ListedBackup]
        var problems: [String]
    }
}

/// Some destinations could not be read; what the others hold was shown. Exit 74.
struct DestinationsUnreadableError: Error, CustomStringConvertible, ExitCodeProviding {
    var failures: [DestinationFailure]
    var description: String {
        "could not read " + failures.map { "\($0.destination) (\($0.error))" }.joined(separator: "; ")
            + "; the other destinations were read; check the destination's address, credentials and network"
    }
    var exitStatus: ExitStatus { .ioError }
}

/// A manifest's JSON with one more key, so that `jq .id` works on it as on a manifest.
struct ManifestWith<Extra: Encodable>: Encodable {
    var manifest: BackupManifest
    var key: String
    var extra: Extra

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        try manifest.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(extra, forKey: Key(stringValue: key))
    }
}

/// One backup as listed across destinations: its manifest (the copy verified most recently) and where it is.
struct ListedBackup: Encodable {
    var manifest: BackupManifest
    var destinations: [String]

    /// The manifest's fields plus `destinations`.
    func encode(to encoder: any Encoder) throws {
        try ManifestWith(manifest: manifest, key: "destinations", extra: destinations).encode(to: encoder)
    }

    /// The backups of every destination, one entry per id, oldest first.
    static func merge(_ listings: [(String, BackupListing)]) -> [ListedBackup] {
        var byID: [BackupID: ListedBackup] = [:]
        for (name, listing) in listings {
            for manifest in listing.backups {
                guard var entry = byID[manifest.id] else {
                    byID[manifest.id] = ListedBackup(manifest: manifest, destinations: [name])
                    continue
                }
                entry.destinations.append(name)
                let known = entry.manifest.lastVerification?.verifiedAt.date ?? .distantPast
                if let newer = manifest.lastVerification, newer.verifiedAt.date > known { entry.manifest = manifest }
                byID[manifest.id] = entry
            }
        }
        return byID.values.sorted { ($0.manifest.createdAt.date, $0.manifest.id.rawValue) < ($1.manifest.createdAt.date, $1.manifest.id.rawValue) }
    }
}

/// Human tables of manifests.
enum BackupTable {
    static func render(_ entries: [ListedBackup], showDestinations: Bool) -> String {
        var rows = [["ID", "CREATED", "CLUSTER", "INDEX", "TERM", "ENTRIES", "SIZE", "STORED", "VERIFIED", "TAGS"] + (showDestinations ? ["DESTINATIONS"] : [])]
        for entry in entries {
            let m = entry.manifest
            let verified = m.lastVerification.map { "\($0.result.rawValue) \($0.verifiedAt.description.prefix(16))" } ?? "-"
            rows.append([m.id.rawValue, m.createdAt.description, m.clusterSeries ?? "-", "\(m.raft.index)", "\(m.raft.term)", "\(m.entryCount)",
                         TransferProgress.size(m.originalSize), TransferProgress.size(m.storedSize), verified, m.tags.joined(separator: ",")]
                        + (showDestinations ? [entry.destinations.joined(separator: ",")] : []))
        }
        let widths = (0..<rows[0].count).map { column in rows.map { $0[column].count }.max() ?? 0 }
        // Plain padding (Foundation's padding/trimming cost a quarter of `list`'s time at 10,000 backups).
        return rows.map { row in
            var line = ""
            for (cell, width) in zip(row, widths) {
                line += cell
                line += String(repeating: " ", count: width - cell.count + 2)
            }
            while line.last == " " { line.removeLast() }
            return line
        }.joined(separator: "\n")
    }
}

/// Pretty, stable JSON on stdout.
func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try OutputJSON.encode(value), as: UTF8.self), terminator: "")
}

extension BackupManifest {
    /// True when `cluster` names this backup's cluster (its name or id), or is `unknown` and the backup has none.
    func belongs(toCluster cluster: String) -> Bool {
        if clusterSeries == nil { return cluster == "unknown" }
        return self.cluster.name == cluster || self.cluster.id == cluster
    }
}
