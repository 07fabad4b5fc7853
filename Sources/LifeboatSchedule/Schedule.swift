// When a job runs: a cron expression in a named time zone or a fixed interval on a grid, plus optional jitter.
// Parsing from configuration text and the pure next-fire function live here; the daemon only asks questions.

import Foundation
import LifeboatBase

/// When a job (backup, verification, drill) runs.
///
/// Either a cron expression evaluated on the wall clock of a named time zone (UTC unless configured), or a plain
/// interval (`every 15m`, `every 1h30m`) on a grid anchored at a reference instant, so that runs stay at
/// `anchor + k * interval` whatever time the daemon started. Intervals count real elapsed time and ignore
/// daylight saving. An optional jitter delays each run by a random amount up to `maxJitter`; the random source
/// is injected so that tests are deterministic.
public struct Schedule: Sendable, Equatable, CustomStringConvertible {
    /// What decides the nominal run times.
    public enum Trigger: Sendable, Equatable {
        /// A cron expression on the wall clock of `timeZone`.
        case cron(CronExpression, timeZone: TimeZone)
        /// Every `interval` (whole seconds, at least one) on the grid `anchor + k * interval`.
        case interval(Duration, anchor: Date)
    }

    /// The default grid anchor for intervals: the Unix epoch, so `every 1h` runs on the hour (UTC) and
    /// `every 15m` at :00, :15, :30 and :45.
    public static let defaultAnchor = Date(timeIntervalSince1970: 0)

    /// The time zone cron expressions use when none is configured.
    public static let defaultTimeZone = TimeZone.gmt

    /// The nominal run times.
    public let trigger: Trigger
    /// The largest delay added to a run (whole seconds; zero means no jitter).
    public let maxJitter: Duration

    /// A cron schedule.
    ///
    /// - Throws: `ScheduleError` `.invalidJitter` if `maxJitter` is negative or not a whole number of seconds.
    public init(cron: CronExpression, timeZone: TimeZone = Schedule.defaultTimeZone, maxJitter: Duration = .zero)
        throws(ScheduleError)
    {
        try Self.checkJitter(maxJitter, input: cron.expression)
        trigger = .cron(cron, timeZone: timeZone)
        self.maxJitter = maxJitter
    }

    /// An interval schedule on the grid `anchor + k * interval`.
    ///
    /// - Throws: `ScheduleError` `.invalidInterval` unless `interval` is a whole number of seconds and at least
    ///   one second; `.invalidJitter` if `maxJitter` is negative, fractional or not shorter than the interval.
    public init(every interval: Duration, anchor: Date = Schedule.defaultAnchor, maxJitter: Duration = .zero)
        throws(ScheduleError)
    {
        let text = "every \(Self.format(interval))"
        let (seconds, attoseconds) = interval.components
        guard attoseconds == 0, seconds >= 1 else {
            throw ScheduleError(
                code: .invalidInterval, input: text, value: "\(interval)",
                message: "invalid interval \(interval): it must be a whole number of seconds and at least 1s, "
                    + "e.g. \"every 15m\"")
        }
        try Self.checkJitter(maxJitter, input: text)
        guard maxJitter < interval else {
            throw ScheduleError(
                code: .invalidJitter, input: text, value: Self.format(maxJitter),
                message: "jitter \(Self.format(maxJitter)) must be shorter than the interval "
                    + "\(Self.format(interval)), or runs would overlap and drift off their grid")
        }
        trigger = .interval(interval, anchor: anchor)
        self.maxJitter = maxJitter
    }

    /// Parses a schedule as written in the configuration.
    ///
    /// - Parameters:
    ///   - text: `every <duration>` (`every 15m`, `every 1h30m`, `every 24h`) or a cron expression / macro.
    ///   - timeZone: IANA time zone name for cron expressions (`Europe/Berlin`); nil means UTC. Ignored by intervals.
    ///   - jitter: the largest random delay (`30s`, `5m`), or nil for none.
    ///   - anchor: the grid anchor for intervals.
    /// - Throws: `ScheduleError` saying which part is wrong and what is accepted.
    public static func parse(
        _ text: String, timeZone: String? = nil, jitter: String? = nil, anchor: Date = Schedule.defaultAnchor
    ) throws(ScheduleError) -> Schedule {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let maxJitter = try jitter.map { (j: String) throws(ScheduleError) -> Duration in
            try parseDuration(j, purpose: "jitter", code: .invalidJitter)
        } ?? .zero
        let words = trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if let first = words.first, first.lowercased() == "every" {
            guard words.count == 2 else {
                throw ScheduleError(
                    code: .invalidInterval, input: trimmed,
                    message: "invalid interval \"\(trimmed)\": write \"every\" and one duration without spaces, "
                        + "e.g. \"every 15m\" or \"every 1h30m\"")
            }
            let interval = try parseDuration(String(words[1]), purpose: "interval \"\(trimmed)\"", code: .invalidInterval)
            return try Schedule(every: interval, anchor: anchor, maxJitter: maxJitter)
        }
        let zone = try timeZone.map { (name: String) throws(ScheduleError) -> TimeZone in try Self.timeZone(named: name) }
        return try Schedule(cron: CronExpression(trimmed), timeZone: zone ?? defaultTimeZone, maxJitter: maxJitter)
    }

    /// The time zone with IANA identifier `name` (`Europe/Berlin`, `America/New_York`, `UTC`).
    ///
    /// - Throws: `ScheduleError` `.unknownTimeZone`.
    public static func timeZone(named name: String) throws(ScheduleError) -> TimeZone {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, let zone = TimeZone(identifier: trimmed) else {
            throw ScheduleError(
                code: .unknownTimeZone, input: name, value: name,
                message: "unknown time zone \"\(name)\": use an IANA name such as \"Europe/Berlin\", "
                    + "\"America/New_York\" or \"UTC\"")
        }
        return zone
    }

    /// The first nominal run strictly after `date` (no jitter), or nil if a cron expression never fires again
    /// within its search horizon.
    public func nextFire(after date: Date) -> Date? {
        switch trigger {
        case .cron(let expression, let timeZone):
            return expression.nextFire(after: date, in: timeZone)
        case .interval(let interval, let anchor):
            let step = interval.components.seconds
            let anchorSeconds = Int64(anchor.timeIntervalSince1970.rounded(.down))
            let after = Int64(date.timeIntervalSince1970.rounded(.down))
            let k = CivilTime.floorDiv(after - anchorSeconds, step) + 1
            return Date(timeIntervalSince1970: TimeInterval(anchorSeconds + k * step))
        }
    }

    /// The next run after `date` with its jitter drawn from `random`: a whole number of seconds, uniform in
    /// `0...maxJitter`. With no jitter, `random` is not used.
    public func nextRun<R: RandomNumberGenerator>(after date: Date, using random: inout R) -> PlannedRun? {
        guard let nominal = nextFire(after: date) else { return nil }
        return PlannedRun(scheduled: nominal, jitter: drawJitter(using: &random))
    }

    /// A jitter offset uniform in `0...maxJitter`, in whole seconds.
    public func drawJitter<R: RandomNumberGenerator>(using random: inout R) -> Duration {
        let limit = maxJitter.components.seconds
        guard limit > 0 else { return .zero }
        return .seconds(Int64.random(in: 0...limit, using: &random))
    }

    public var description: String {
        var text: String
        switch trigger {
        case .cron(let expression, let timeZone):
            text = "cron \"\(expression)\" in \(timeZone.identifier)"
        case .interval(let interval, let anchor):
            text = "every \(Self.format(interval))"
            if anchor != Self.defaultAnchor {
                text += " from \(anchor.formatted(.iso8601))"
            }
        }
        if maxJitter > .zero {
            text += " with up to \(Self.format(maxJitter)) jitter"
        }
        return text
    }

    private static func checkJitter(_ jitter: Duration, input: String) throws(ScheduleError) {
        guard jitter >= .zero, jitter.components.attoseconds == 0 else {
            throw ScheduleError(
                code: .invalidJitter, input: input, value: "\(jitter)",
                message: "invalid jitter \(jitter): it must be zero or a positive whole number of seconds, e.g. \"5m\"")
        }
    }
}

/// One planned run: the nominal time from the schedule and the random delay added to it.
public struct PlannedRun: Sendable, Equatable {
    /// The nominal time (what `Schedule.nextFire(after:)` returned). Compute the following run from this, not
    /// from `startAt`, so that jitter never accumulates.
    public let scheduled: Date
    /// The delay drawn for this run, `0...maxJitter`.
    public let jitter: Duration

    public init(scheduled: Date, jitter: Duration) {
        self.scheduled = scheduled
        self.jitter = jitter
    }

    /// When the run should actually start.
    public var startAt: Date {
        scheduled.addingTimeInterval(TimeInterval(jitter.components.seconds))
    }
}
