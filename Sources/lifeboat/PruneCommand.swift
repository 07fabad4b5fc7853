// `lifeboat prune`: retention with restic's `forget` rules, every decision shown with its reason.

import ArgumentParser
import Foundation
import LifeboatCore

struct PruneCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Remove backups that the retention policy no longer keeps (restic `forget` semantics).",
        discussion: """
            Counts are numbers or `unlimited`; durations combine y, m, d, h (e.g. 1y2m3d3h). A policy that keeps \
            nothing is refused, and the newest verified backup is never removed. Leftovers of interrupted runs \
            older than an hour are cleaned up too.

            Example:
              lifeboat prune --keep-hourly 24 --keep-daily 7 --keep-weekly 5 --keep-monthly 12 --dry-run
            """
    )

    @OptionGroup var repository: RepositoryOptions

    @Option(name: .customLong("keep-last")) var keepLast: String?
    @Option(name: .customLong("keep-hourly")) var keepHourly: String?
    @Option(name: .customLong("keep-daily")) var keepDaily: String?
    @Option(name: .customLong("keep-weekly")) var keepWeekly: String?
    @Option(name: .customLong("keep-monthly")) var keepMonthly: String?
    @Option(name: .customLong("keep-yearly")) var keepYearly: String?
    @Option(name: .customLong("keep-within"), help: "Keep everything newer than this before the newest backup.") var keepWithin: String?
    @Option(name: .customLong("keep-tag"), help: ArgumentHelp("Keep backups carrying all of these comma-separated tags (repeatable).", valueName: "tags"))
    var keepTags: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Show the decisions; remove nothing.")
    var dryRun = false

    @Flag(help: "Print the decisions as JSON.")
    var json = false

    func policy() throws -> RetentionPolicy {
        func count(_ text: String?, _ flag: String) throws -> RetentionCount? {
            guard let text else { return nil }
            if text == "unlimited" { return .unlimited }
            guard let n = Int(text), n >= 0 else { throw UsageError(description: "--\(flag) takes a number of 0 or more, or `unlimited`") }
            return .limited(n)
        }
        let policy = RetentionPolicy(
            keepLast: try count(keepLast, "keep-last"), keepHourly: try count(keepHourly, "keep-hourly"),
            keepDaily: try count(keepDaily, "keep-daily"), keepWeekly: try count(keepWeekly, "keep-weekly"),
            keepMonthly: try count(keepMonthly, "keep-monthly"), keepYearly: try count(keepYearly, "keep-yearly"),
            keepWithin: try keepWithin.map { try RetentionDuration(parsing: $0) },
            keepTags: keepTags.map { $0.split(separator: ",").map(String.init) })
        try policy.validate()
        return policy
    }

    func run() async throws {
        do {
            let policy = try policy()
            let repo = try repository.open(create: false)
            let lock = dryRun ? nil : try RepositoryLock.acquire(directory: repository.path, operation: "prune")
            defer { lock?.release() }
            let listing = try await repo.list()
            // Newest first, so that backups with equal times keep their creation order.
            let decisions = try RetentionPlanner.plan(listing.backups.reversed().map(\.retentionCandidate), policy: policy, now: Date())
            var removed: [String] = []
            if !dryRun {
                for decision in decisions where !decision.isKept {
                    try await repo.delete(try BackupID(parsing: decision.candidate.id))
                    removed.append(decision.candidate.id)
                }
                _ = try await repo.cleanupLeftovers(olderThan: Date().addingTimeInterval(-3600))
            }
            if json {
                try printJSON(decisions)
            } else {
                for decision in decisions {
                    let reasons = decision.isKept ? decision.reasons.map(\.description).joined(separator: ", ") : ""
                    print("\(decision.isKept ? "keep  " : (dryRun ? "would remove" : "remove")) \(decision.candidate.id)  \(reasons)")
                }
                let removing = decisions.filter { !$0.isKept }.count
                print(dryRun ? "\(removing) of \(decisions.count) backups would be removed (dry run)" : "removed \(removed.count) of \(decisions.count) backups")
            }
        } catch {
            throw fail(error)
        }
    }
}
