// The planner's inputs and outputs: RetentionCandidate (one stored backup as retention sees it),
// RetentionDecision (keep or remove) and RetentionReason (which rule kept it, with its bucket).

import Foundation

/// One stored backup as the retention planner sees it.
public struct RetentionCandidate: Hashable, Sendable, Codable, Identifiable {
    /// The backup's id; unique within one planning call.
    public var id: String
    /// When the backup was taken.
    public var time: Date
    /// The UTC offset, in seconds east of UTC, recorded with the backup (e.g. 3600 for +01:00). Hourly, daily,
    /// weekly, monthly and yearly buckets are computed in this offset, as restic does with a snapshot's own zone.
    public var utcOffsetSeconds: Int
    /// The backup's tags (e.g. `pre-upgrade`).
    public var tags: [String]
    /// True when the backup passed verification; the newest verified backup is never removed.
    public var verified: Bool
    /// Until when the store refuses to remove the backup (S3 Object Lock); nil when it is not locked. A backup still
    /// locked at `now` is kept ("locked until T") whatever the policy says, and removed by the first plan after.
    public var lockedUntil: Date?

    /// JSON keys (`prune --json`, docs/retention.md §5): snake_case like the rest of Lifeboat's JSON.
    enum CodingKeys: String, CodingKey {
        case id, time, tags, verified
        case utcOffsetSeconds = "utc_offset_seconds"
        case lockedUntil = "locked_until"
    }

    public init(id: String, time: Date, utcOffsetSeconds: Int = 0, tags: [String] = [], verified: Bool = false,
                lockedUntil: Date? = nil) {
        self.id = id
        self.time = time
        self.utcOffsetSeconds = utcOffsetSeconds
        self.tags = tags
        self.verified = verified
        self.lockedUntil = lockedUntil
    }
}

/// Which rule a ``RetentionReason`` comes from.
public enum RetentionRule: String, Hashable, Sendable, Codable, CaseIterable {
    case last, hourly, daily, weekly, monthly, yearly
    case within
    case withinHourly = "within-hourly"
    case withinDaily = "within-daily"
    case withinWeekly = "within-weekly"
    case withinMonthly = "within-monthly"
    case withinYearly = "within-yearly"
    case tags
    /// The safety rail: the newest verified backup is never removed.
    case newestVerified = "newest-verified"
    /// The store refuses to remove the backup yet (S3 Object Lock): kept until the lock expires.
    case locked
}

/// Why a backup is kept. `description` gives the operator-facing text, e.g. "daily 2026-11-27",
/// "oldest monthly 2014-08", "weekly 2026-W48 within 1m", "within 48h", "tag pre-upgrade",
/// "newest verified backup (safety rail)".
public struct RetentionReason: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The rule that kept the backup.
    public var rule: RetentionRule
    /// The bucket the backup stands for, for bucket rules: "2026-11-27 14h", "2026-11-27", "2026-W48", "2026-11",
    /// "2026" (computed in the backup's recorded UTC offset).
    public var bucket: String?
    /// The window of a keep-within rule.
    public var window: RetentionDuration?
    /// The tag list that matched, for keep-tags.
    public var tags: [String]?
    /// True when the backup is kept only because it is the oldest backup and the rule still had budget (restic's
    /// "oldest ..." reasons): it shares its bucket with a newer kept backup.
    public var isOldest: Bool
    /// For the `locked` rule: when the lock expires.
    public var until: Date?

    enum CodingKeys: String, CodingKey {
        case rule, bucket, window, tags, until
        case isOldest = "oldest"
    }

    public init(
        rule: RetentionRule,
        bucket: String? = nil,
        window: RetentionDuration? = nil,
        tags: [String]? = nil,
        isOldest: Bool = false,
        until: Date? = nil
    ) {
        self.rule = rule
        self.bucket = bucket
        self.window = window
        self.tags = tags
        self.isOldest = isOldest
        self.until = until
    }

    public var description: String {
        let oldest = isOldest ? "oldest " : ""
        switch rule {
        case .last:
            return oldest + "last"
        case .hourly, .daily, .weekly, .monthly, .yearly:
            return oldest + rule.rawValue + (bucket.map { " " + $0 } ?? "")
        case .within:
            return "within \(window?.description ?? "?")"
        case .withinHourly, .withinDaily, .withinWeekly, .withinMonthly, .withinYearly:
            let period = String(rule.rawValue.dropFirst("within-".count))
            return oldest + period + (bucket.map { " " + $0 } ?? "") + " within \(window?.description ?? "?")"
        case .tags:
            let list = tags ?? []
            return (list.count == 1 ? "tag " : "tags ") + list.joined(separator: ", ")
        case .newestVerified:
            return "newest verified backup (safety rail)"
        case .locked:
            guard let until else { return "locked" }
            return "locked until " + ISO8601DateFormatter().string(from: until)
        }
    }
}

/// The planner's verdict on one backup.
public struct RetentionDecision: Hashable, Sendable, Codable {
    /// Keep or remove.
    public enum Action: String, Hashable, Sendable, Codable {
        case keep, remove
    }

    /// The backup decided on.
    public var candidate: RetentionCandidate
    /// Keep or remove.
    public var action: Action
    /// Every rule that keeps the backup, in rule order (tags, within, last, hourly ... yearly, within-<period>,
    /// safety rail). Empty exactly when the action is `remove`.
    public var reasons: [RetentionReason]
    /// True when the backup's time is later than the planning `now` (clock skew). Such backups take part in the
    /// bucket rules like any other (restic does the same) but do not anchor keep-within windows.
    public var isFutureDated: Bool

    enum CodingKeys: String, CodingKey {
        case action, reasons
        case candidate = "backup"
        case isFutureDated = "future_dated"
    }

    public init(candidate: RetentionCandidate, action: Action, reasons: [RetentionReason], isFutureDated: Bool) {
        self.candidate = candidate
        self.action = action
        self.reasons = reasons
        self.isFutureDated = isFutureDated
    }

    /// Shorthand for `action == .keep`.
    public var isKept: Bool { action == .keep }
}
