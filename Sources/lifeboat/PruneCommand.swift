// `lifeboat prune`: retention with restic's `forget` rules, every decision shown with its reason.

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

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove backups that the retention policy no longer keeps (restic `forget` semantics).",
        discussion: """
            Each destination's `retention` from the configuration applies, or the --keep-* flags when given (they \
            replace it for this run). Counts are numbers or `unlimited`; durations combine y, m, d, h (e.g. 1y2m3d3h). A policy that keeps \
            nothing is refused, and the newest verified backup is never removed. Leftovers of interrupted runs \
            older than an hour are cleaned up too. The policy applies to each cluster's backups on its own \
            (--group-by cluster, the default; a destination's `group_by` sets it in the configuration); \
            --group-by none treats every backup of a destination as one series.

            Example:
              lifeboat prune --keep-hourly 24 --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @OptionGroup(title: "Retention rules (replace each destination's `retention` for this run)") var rules: RetentionFlags

    @Option(name: .customLong("group-by"), help: ArgumentHelp(
        "Apply the policy to each cluster's series (`cluster`) or to all backups of a destination as one (`none`); default: the destination's `group_by`, else cluster.",
        valueName: "cluster|none"))
    var groupBy: String?

    @Flag(name: .customLong("dry-run"), help: "Show the decisions; remove nothing.")
    var dryRun = false

    @Flag(help: "Print the decisions as JSON.")
    var json = false

    struct DestinationResult: Encodable {
        var destination: String
        var groupBy: RetentionGrouping
        var groups: [RetentionGroupResult]

        enum CodingKeys: String, CodingKey {
            case destination, groups
            case groupBy = "group_by"
        }
    }

    func grouping() throws -> RetentionGrouping? {
        guard let groupBy else { return nil }
        guard let grouping = RetentionGrouping(parsing: groupBy) else {
            throw UsageError(description: "--group-by takes `cluster` or `none`, not \"\(groupBy)\"")
        }
        return grouping
    }

    func run() async throws {
        do {
            let flags = try rules.policy()
            let groupingFlag = try grouping()
            let context = try repository.context()
            let results = try await context.withDestinations(create: false) { destinations in
                var results: [DestinationResult] = []
                for destination in destinations {
                    guard let policy = flags ?? destination.retention else {
                        throw UsageError(description: "no retention policy for destination \(destination.name): give --keep-last, --keep-daily, ... "
                            + "or set `retention` for it in the configuration (a policy that keeps nothing is refused)")
                    }
                    try policy.validate()
                    // Removing needs every other run off the destination; a dry run only reads.
                    let lock: (any DestinationLock)?
                    if dryRun {
                        lock = try await destination.readLock(operation: "prune --dry-run")
                    } else {
                        lock = try await destination.lock(.exclusive, operation: "prune")
                    }
                    do {
                        let grouping = groupingFlag ?? destination.configuration.groupBy
                        let run = try await RetentionRun.apply(policy, to: destination.repository, grouping: grouping, now: Date(), dryRun: dryRun)
                        if !dryRun { _ = try await destination.repository.cleanupLeftovers(olderThan: Date().addingTimeInterval(-3600)) }
                        results.append(DestinationResult(destination: destination.name, groupBy: grouping, groups: run.groups))
                        await lock?.release()
                    } catch {
                        await lock?.release()
                        throw error
                    }
                }
                return results
            }
            if json {
                try printJSON(results)
                return
            }
            for result in results {
                if results.count > 1 { print("\(result.destination):") }
                var indent = results.count > 1 ? "  " : ""
                // One heading per series when the destination holds more than one (or the one has a name).
                let headings = result.groupBy == .cluster && (result.groups.count > 1 || result.groups.first?.series != nil)
                for group in result.groups {
                    if headings {
                        print(indent + "cluster \(group.series ?? "unknown (no cluster recorded)"):")
                        indent += "  "
                    }
                    for decision in group.decisions {
                        let reasons = decision.isKept ? decision.reasons.map(\.description).joined(separator: ", ") : ""
                        print(indent + "\(decision.isKept ? "keep  " : (dryRun ? "would remove" : "remove")) \(decision.candidate.id)  \(reasons)")
                    }
                    if headings {
                        let removing = group.decisions.filter { !$0.isKept }.count
                        print(indent + (dryRun ? "\(removing) of \(group.decisions.count) would be removed" : "removed \(removing) of \(group.decisions.count)"))
                        indent.removeLast(2)
                    }
                }
                let decisions = result.groups.flatMap(\.decisions)
                let removing = decisions.filter { !$0.isKept }.count
                print(indent + (dryRun ? "\(removing) of \(decisions.count) backups would be removed (dry run)"
                                       : "removed \(removing) of \(decisions.count) backups"))
            }
        } catch {
            throw fail(error)
        }
    }
}
