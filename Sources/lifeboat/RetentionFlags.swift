// The --keep-* flags of `prune` and `agent`: one option group, so both commands take the same rules and values as a
// destination's `retention` in the configuration (docs/retention.md §2).

import ArgumentParser
import LifeboatRetention

/// restic's `forget` rules as flags. Counts take a whole number, `-1` or `unlimited`; durations restic's `1y2m3d3h`.
struct RetentionFlags: ParsableArguments {
    @Option(name: .customLong("keep-last"), parsing: .unconditional, help: ArgumentHelp("Keep the newest N backups (N, -1 or `unlimited`).", valueName: "n"))
    var keepLast: String?
    @Option(name: .customLong("keep-hourly"), parsing: .unconditional, help: ArgumentHelp("Keep the newest backup of each of the last N hours.", valueName: "n"))
    var keepHourly: String?
    @Option(name: .customLong("keep-daily"), parsing: .unconditional, help: ArgumentHelp("... of each of the last N days.", valueName: "n"))
    var keepDaily: String?
    @Option(name: .customLong("keep-weekly"), parsing: .unconditional, help: ArgumentHelp("... of each of the last N ISO weeks.", valueName: "n"))
    var keepWeekly: String?
    @Option(name: .customLong("keep-monthly"), parsing: .unconditional, help: ArgumentHelp("... of each of the last N months.", valueName: "n"))
    var keepMonthly: String?
    @Option(name: .customLong("keep-yearly"), parsing: .unconditional, help: ArgumentHelp("... of each of the last N years.", valueName: "n"))
    var keepYearly: String?
    @Option(name: .customLong("keep-within"), help: ArgumentHelp("Keep every backup newer than the newest minus this, e.g. 7d, 1y2m.", valueName: "duration"))
    var keepWithin: String?
    @Option(name: .customLong("keep-within-hourly"), help: ArgumentHelp("Inside that window, the newest backup of each hour.", valueName: "duration"))
    var keepWithinHourly: String?
    @Option(name: .customLong("keep-within-daily"), help: ArgumentHelp("... of each day.", valueName: "duration"))
    var keepWithinDaily: String?
    @Option(name: .customLong("keep-within-weekly"), help: ArgumentHelp("... of each ISO week.", valueName: "duration"))
    var keepWithinWeekly: String?
    @Option(name: .customLong("keep-within-monthly"), help: ArgumentHelp("... of each month.", valueName: "duration"))
    var keepWithinMonthly: String?
    @Option(name: .customLong("keep-within-yearly"), help: ArgumentHelp("... of each year.", valueName: "duration"))
    var keepWithinYearly: String?
    @Option(name: .customLong("keep-tag"), help: ArgumentHelp(
        "Keep backups carrying all of these comma-separated tags (repeatable; as restic: parts are trimmed, \"\" matches backups without tags).",
        valueName: "tags"))
    var keepTags: [String] = []

    /// The policy these flags give; nil when none was given (the configured policy applies).
    /// - Throws: a usage error naming the flag with a bad value, or the policy's own validation error.
    func policy() throws -> RetentionPolicy? {
        func count(_ text: String?, _ flag: String) throws -> RetentionCount? {
            guard let text else { return nil }
            guard let count = RetentionCount(parsing: text) else {
                throw UsageError(description: "--\(flag) takes a number of 0 or more, -1 or `unlimited`, not \"\(text)\"")
            }
            return count
        }
        func duration(_ text: String?, _ flag: String) throws -> RetentionDuration? {
            guard let text else { return nil }
            do { return try RetentionDuration(parsing: text) } catch { throw UsageError(description: "--\(flag): \(error)") }
        }
        let policy = RetentionPolicy(
            keepLast: try count(keepLast, "keep-last"), keepHourly: try count(keepHourly, "keep-hourly"),
            keepDaily: try count(keepDaily, "keep-daily"), keepWeekly: try count(keepWeekly, "keep-weekly"),
            keepMonthly: try count(keepMonthly, "keep-monthly"), keepYearly: try count(keepYearly, "keep-yearly"),
            keepWithin: try duration(keepWithin, "keep-within"),
            keepWithinHourly: try duration(keepWithinHourly, "keep-within-hourly"),
            keepWithinDaily: try duration(keepWithinDaily, "keep-within-daily"),
            keepWithinWeekly: try duration(keepWithinWeekly, "keep-within-weekly"),
            keepWithinMonthly: try duration(keepWithinMonthly, "keep-within-monthly"),
            keepWithinYearly: try duration(keepWithinYearly, "keep-within-yearly"),
            keepTags: keepTags.map(RetentionPolicy.tagList(parsing:)))
        let given: [String?] = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly, keepWithin,
                                keepWithinHourly, keepWithinDaily, keepWithinWeekly, keepWithinMonthly, keepWithinYearly]
        guard given.contains(where: { $0 != nil }) || !keepTags.isEmpty else { return nil }
        try policy.validate()
        return policy
    }
}
