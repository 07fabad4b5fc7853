// RetentionPolicy: which backups to keep, with restic's `forget` options (keep-last, keep-hourly ... keep-yearly,
// keep-within, keep-within-<period>, keep-tags), its validation and its JSON form (restic-style snake_case keys).

/// How many buckets a count rule keeps: a number (0 disables the rule, as in restic) or no limit.

public enum RetentionCount: Hashable, Sendable, Codable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Keep at most this many buckets. 0 disables the rule.
    case limited(Int)
    /// Keep every bucket (restic's `-1` / `unlimited`).
    case unlimited

    public init(integerLiteral value: Int) {
        self = value == -1 ? .unlimited : .limited(value)
    }

    /// Reads a count as written on a command line or in a configuration: a whole number of 0 or more, `-1`
    /// (restic's "unlimited") or `unlimited`; nil for anything else.
    public init?(parsing text: String) {
        if text == "unlimited" { self = .unlimited; return }
        guard let value = Int(text), value >= -1 else { return nil }
        self = RetentionCount(integerLiteral: value)
    }

    /// True when the rule keeps anything at all (`unlimited` or a positive count).
    public var isActive: Bool {
        switch self {
        case .unlimited: return true
        case .limited(let count): return count > 0
        }
    }

    public var description: String {
        switch self {
        case .unlimited: return "unlimited"
        case .limited(let count): return String(count)
        }
    }

    /// Decodes a JSON integer (`-1` means unlimited, as on restic's command line) or the string `"unlimited"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let text = try? container.decode(String.self) {
            guard text == "unlimited" else {
                throw DecodingError.dataCorruptedError(
                    in: container,
                    debugDescription: "invalid retention count \"\(text)\": use a whole number or \"unlimited\""
                )
            }
            self = .unlimited
            return
        }
        let value = try container.decode(Int.self)
        guard value >= -1 else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "invalid retention count \(value): use 0 or more, or \"unlimited\""
            )
        }
        self = RetentionCount(integerLiteral: value)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .unlimited: try container.encode("unlimited")
        case .limited(let count): try container.encode(count)
        }
    }
}

/// A retention policy with restic's `forget` semantics (see docs/retention.md and ``RetentionPlanner``).
///
/// Rules are ORed: a backup is kept when any rule keeps it. `nil`, a count of 0 and a zero duration all mean "rule
/// not set". A policy with no rule set is refused by ``validate()`` (restic would keep everything; Lifeboat asks the
/// operator to say so explicitly, e.g. with `keepLast: .unlimited`).
///
/// JSON form: restic-style snake_case keys (`keep_last`, `keep_within_daily`, `keep_tags`, ...), counts as integers or
/// `"unlimited"`, durations as strings such as `"1y2m3d3h"`. Unknown keys are refused so that a typo does not
/// silently disable a rule.
public struct RetentionPolicy: Hashable, Sendable, Codable, CustomStringConvertible {
    /// Keep the newest N backups.
    public var keepLast: RetentionCount?
    /// Keep the newest backup of each of the last N hours that have backups.
    public var keepHourly: RetentionCount?
    /// Keep the newest backup of each of the last N days that have backups.
    public var keepDaily: RetentionCount?
    /// Keep the newest backup of each of the last N ISO weeks that have backups.
    public var keepWeekly: RetentionCount?
    /// Keep the newest backup of each of the last N months that have backups.
    public var keepMonthly: RetentionCount?
    /// Keep the newest backup of each of the last N years that have backups.
    public var keepYearly: RetentionCount?
    /// Keep every backup newer than (newest backup's time - duration).
    public var keepWithin: RetentionDuration?
    /// Inside (newest backup's time - duration), keep the newest backup of each hour.
    public var keepWithinHourly: RetentionDuration?
    /// Inside (newest backup's time - duration), keep the newest backup of each day.
    public var keepWithinDaily: RetentionDuration?
    /// Inside (newest backup's time - duration), keep the newest backup of each ISO week.
    public var keepWithinWeekly: RetentionDuration?
    /// Inside (newest backup's time - duration), keep the newest backup of each month.
    public var keepWithinMonthly: RetentionDuration?
    /// Inside (newest backup's time - duration), keep the newest backup of each year.
    public var keepWithinYearly: RetentionDuration?
    /// Keep every backup that carries all tags of at least one of these lists.
    public var keepTags: [[String]]

    /// Creates a policy; every rule defaults to "not set".
    public init(
        keepLast: RetentionCount? = nil,
        keepHourly: RetentionCount? = nil,
        keepDaily: RetentionCount? = nil,
        keepWeekly: RetentionCount? = nil,
        keepMonthly: RetentionCount? = nil,
        keepYearly: RetentionCount? = nil,
        keepWithin: RetentionDuration? = nil,
        keepWithinHourly: RetentionDuration? = nil,
        keepWithinDaily: RetentionDuration? = nil,
        keepWithinWeekly: RetentionDuration? = nil,
        keepWithinMonthly: RetentionDuration? = nil,
        keepWithinYearly: RetentionDuration? = nil,
        keepTags: [[String]] = []
    ) {
        self.keepLast = keepLast
        self.keepHourly = keepHourly
        self.keepDaily = keepDaily
        self.keepWeekly = keepWeekly
        self.keepMonthly = keepMonthly
        self.keepYearly = keepYearly
        self.keepWithin = keepWithin
        self.keepWithinHourly = keepWithinHourly
        self.keepWithinDaily = keepWithinDaily
        self.keepWithinWeekly = keepWithinWeekly
        self.keepWithinMonthly = keepWithinMonthly
        self.keepWithinYearly = keepWithinYearly
        self.keepTags = keepTags
    }

    /// How many days the policy's time rules keep a backup at most, for aligning an Object Lock with it: keep-within
    /// and keep-within-<period> windows (a year counted as 366 days, a month as 31, hours rounded up to days) and the
    /// bucket counts (keep-hourly N: N/24 days rounded up, daily N: N, weekly N: 7N, monthly N: 31N, yearly N: 366N),
    /// the longest of them, at most 36500. Nil when no time rule bounds it: only keep-last or keep-tags, or an
    /// `unlimited` bucket count (such backups are kept for as long as newer ones do not push them out).
    public var longestKeepDays: Int? {
        func days(_ d: RetentionDuration) -> Int {
            let total = d.years.multipliedReportingOverflow(by: 366).partialValue
                &+ d.months.multipliedReportingOverflow(by: 31).partialValue &+ d.days &+ (d.hours + 23) / 24
            return min(max(total, 0), 36_500)
        }
        var longest: Int?
        func take(_ value: Int) { longest = max(longest ?? 0, min(max(value, 0), 36_500)) }
        let counts: [(RetentionCount?, Int, Int)] = [  // count, multiplier, divisor
            (keepHourly, 1, 24), (keepDaily, 1, 1), (keepWeekly, 7, 1), (keepMonthly, 31, 1), (keepYearly, 366, 1),
        ]
        for (count, multiplier, divisor) in counts {
            switch count {
            case .unlimited?: return nil
            case .limited(let n)? where n > 0:
                let (product, overflow) = n.multipliedReportingOverflow(by: multiplier)
                take(overflow ? 36_500 : (product + divisor - 1) / divisor)
            default: break
            }
        }
        for duration in [keepWithin, keepWithinHourly, keepWithinDaily, keepWithinWeekly, keepWithinMonthly, keepWithinYearly] {
            if let duration, !duration.isZero { take(days(duration)) }
        }
        return longest
    }

    /// True when no rule is set: such a policy would keep nothing and is refused by ``validate()``.
    public var isEmpty: Bool {
        let counts = [keepLast, keepHourly, keepDaily, keepWeekly, keepMonthly, keepYearly]
        let durations = [keepWithin, keepWithinHourly, keepWithinDaily, keepWithinWeekly, keepWithinMonthly, keepWithinYearly]
        return keepTags.isEmpty
            && counts.allSatisfy { !($0?.isActive ?? false) }
            && durations.allSatisfy { $0?.isZero ?? true }
    }

    /// Splits one `--keep-tag` value (or a configuration `keep_tags` string) into a tag list as restic does: at each
    /// comma, each part trimmed of white space, empty parts kept (`""` is the list `[""]`, which matches backups
    /// without tags; `"a,"` is `["a", ""]`).
    public static func tagList(parsing text: String) -> [String] {
        text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// True when a backup carrying `tags` satisfies the tag list `list`, with restic's rule (`Snapshot.HasTags`):
    /// the list is walked in order; an empty tag matches a backup without tags (and ends the walk); every other tag
    /// must be carried.
    public static func carries(_ tags: [String], all list: [String]) -> Bool {
        for tag in list {
            if tag.isEmpty && tags.isEmpty { return true }
            if !tags.contains(tag) { return false }
        }
        return true
    }

    /// Checks the policy: counts are not negative, durations are in range, tag lists are not empty, and at least one
    /// rule is set.
    /// - Throws: ``RetentionError`` naming the rule to fix.
    public func validate() throws {
        let counts: [(String, RetentionCount?)] = [
            ("keep-last", keepLast), ("keep-hourly", keepHourly), ("keep-daily", keepDaily),
            ("keep-weekly", keepWeekly), ("keep-monthly", keepMonthly), ("keep-yearly", keepYearly),
        ]
        for (rule, count) in counts {
            if case .limited(let value)? = count, value < 0 {
                throw RetentionError.negativeCount(rule: rule, value: value)
            }
        }
        let durations: [(String, RetentionDuration?)] = [
            ("keep-within", keepWithin), ("keep-within-hourly", keepWithinHourly),
            ("keep-within-daily", keepWithinDaily), ("keep-within-weekly", keepWithinWeekly),
            ("keep-within-monthly", keepWithinMonthly), ("keep-within-yearly", keepWithinYearly),
        ]
        for (rule, duration) in durations {
            if let duration, !duration.componentsInRange {
                throw RetentionError.durationOutOfRange(rule: rule, duration: duration)
            }
        }
        for (index, tags) in keepTags.enumerated() where tags.isEmpty {
            throw RetentionError.emptyTagList(index: index)
        }
        if isEmpty {
            throw RetentionError.emptyPolicy
        }
    }

    /// A one-line summary in restic's style, e.g. "keep 7 daily, 4 weekly snapshots and all within 2d of the newest".
    public var description: String {
        var parts: [String] = []
        let counts: [(RetentionCount?, String)] = [
            (keepLast, "last"), (keepHourly, "hourly"), (keepDaily, "daily"),
            (keepWeekly, "weekly"), (keepMonthly, "monthly"), (keepYearly, "yearly"),
        ]
        for case (let count?, let name) in counts where count.isActive {
            parts.append(count == .unlimited ? "all \(name)" : "\(count) \(name)")
        }
        var text = parts.isEmpty ? "" : parts.joined(separator: ", ") + " backups"
        let windows: [(RetentionDuration?, String)] = [
            (keepWithinHourly, "hourly"), (keepWithinDaily, "daily"), (keepWithinWeekly, "weekly"),
            (keepWithinMonthly, "monthly"), (keepWithinYearly, "yearly"),
        ]
        for case (let window?, let name) in windows where !window.isZero {
            text += (text.isEmpty ? "" : ", ") + "\(name) backups within \(window)"
        }
        if !keepTags.isEmpty {
            let lists = keepTags.map { "[" + $0.joined(separator: ", ") + "]" }.joined(separator: " or ")
            text += (text.isEmpty ? "" : " and ") + "all backups tagged \(lists)"
        }
        if let keepWithin, !keepWithin.isZero {
            text += (text.isEmpty ? "" : " and ") + "all backups within \(keepWithin) of the newest"
        }
        return text.isEmpty ? "keep nothing (refused)" : "keep " + text
    }

    // MARK: Codable

    /// The JSON keys of a policy.
    package static let knownKeys = CodingKeys.allCases.map(\.rawValue)

    enum CodingKeys: String, CodingKey, CaseIterable {
        case keepLast = "keep_last"
        case keepHourly = "keep_hourly"
        case keepDaily = "keep_daily"
        case keepWeekly = "keep_weekly"
        case keepMonthly = "keep_monthly"
        case keepYearly = "keep_yearly"
        case keepWithin = "keep_within"
        case keepWithinHourly = "keep_within_hourly"
        case keepWithinDaily = "keep_within_daily"
        case keepWithinWeekly = "keep_within_weekly"
        case keepWithinMonthly = "keep_within_monthly"
        case keepWithinYearly = "keep_within_yearly"
        case keepTags = "keep_tags"
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Decodes the snake_case form; refuses unknown keys. Does not call ``validate()``: callers validate (the
    /// planner does) so that an empty policy is reported with its own message.
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.container(keyedBy: AnyKey.self)
        for key in raw.allKeys where CodingKeys(rawValue: key.stringValue) == nil {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: raw, debugDescription: RetentionError.unknownPolicyKey(key.stringValue).description
            )
        }
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            keepLast: try container.decodeIfPresent(RetentionCount.self, forKey: .keepLast),
            keepHourly: try container.decodeIfPresent(RetentionCount.self, forKey: .keepHourly),
            keepDaily: try container.decodeIfPresent(RetentionCount.self, forKey: .keepDaily),
            keepWeekly: try container.decodeIfPresent(RetentionCount.self, forKey: .keepWeekly),
            keepMonthly: try container.decodeIfPresent(RetentionCount.self, forKey: .keepMonthly),
            keepYearly: try container.decodeIfPresent(RetentionCount.self, forKey: .keepYearly),
            keepWithin: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithin),
            keepWithinHourly: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithinHourly),
            keepWithinDaily: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithinDaily),
            keepWithinWeekly: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithinWeekly),
            keepWithinMonthly: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithinMonthly),
            keepWithinYearly: try container.decodeIfPresent(RetentionDuration.self, forKey: .keepWithinYearly),
            keepTags: try container.decodeIfPresent([[String]].self, forKey: .keepTags) ?? []
        )
    }

    /// Encodes the snake_case form, leaving out rules that are not set.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(keepLast, forKey: .keepLast)
        try container.encodeIfPresent(keepHourly, forKey: .keepHourly)
        try container.encodeIfPresent(keepDaily, forKey: .keepDaily)
        try container.encodeIfPresent(keepWeekly, forKey: .keepWeekly)
        try container.encodeIfPresent(keepMonthly, forKey: .keepMonthly)
        try container.encodeIfPresent(keepYearly, forKey: .keepYearly)
        try container.encodeIfPresent(keepWithin, forKey: .keepWithin)
        try container.encodeIfPresent(keepWithinHourly, forKey: .keepWithinHourly)
        try container.encodeIfPresent(keepWithinDaily, forKey: .keepWithinDaily)
        try container.encodeIfPresent(keepWithinWeekly, forKey: .keepWithinWeekly)
        try container.encodeIfPresent(keepWithinMonthly, forKey: .keepWithinMonthly)
        try container.encodeIfPresent(keepWithinYearly, forKey: .keepWithinYearly)
        if !keepTags.isEmpty {
            try container.encode(keepTags, forKey: .keepTags)
        }
    }
}
