// A parsed five-field cron expression: which minutes, hours, days and months it selects, and the Vixie-cron flags
// that decide the day rule and the daylight-saving behaviour. Parsing is in CronExpression+Parsing.swift, the
// next-fire search in CronExpression+NextFire.swift.

import Foundation
import LifeboatBase

/// A standard five-field cron expression (`minute hour day-of-month month day-of-week`), or one of the macros
/// `@hourly @daily @midnight @weekly @monthly @yearly @annually`.
///
/// Accepted syntax, as in Vixie/ISC cron:
/// - `*`, numbers, lists (`1,15,30`), ranges (`1-5`), steps over `*` or a range (`*/15`, `1-5/2`);
/// - month names `JAN`-`DEC` and weekday names `SUN`-`SAT` (any case), also in ranges (`MON-FRI`);
/// - day-of-week 0 and 7 both mean Sunday.
///
/// Day rule (Vixie): when both day-of-month and day-of-week are restricted (neither field starts with `*`),
/// a day matches if *either* matches: `0 0 1 * MON` fires on the 1st and on every Monday. If either field starts
/// with `*` (including `*/2`), both must match.
///
/// Expressions that can never fire, such as `0 0 30 2 *`, are rejected when parsed.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The text as the operator wrote it (trimmed).
    public let expression: String

    // One bit per allowed value: minute 0-59, hour 0-23, day-of-month 1-31, month 1-12, day-of-week 0-6.
    let minuteBits: UInt64
    let hourBits: UInt64
    let dayOfMonthBits: UInt64
    let monthBits: UInt64
    let dayOfWeekBits: UInt64

    // Vixie's *_STAR flags: the field's text starts with `*`.
    let minuteStar: Bool
    let hourStar: Bool
    let dayOfMonthStar: Bool
    let dayOfWeekStar: Bool

    public var description: String { expression }

    /// Whether this is a "fixed-time" job in Vixie's sense: neither the minute nor the hour field starts with `*`.
    ///
    /// The distinction matters only when a daylight-saving change repeats an hour: a fixed-time expression
    /// (`30 1 * * *`) fires on the first occurrence of the repeated wall-clock time only, while a wildcard one
    /// (`0 * * * *`, `*/15 * * * *`) keeps following the real clock and fires in both occurrences, so an hourly
    /// job does not get a two-hour gap.
    public var isFixedTime: Bool { !minuteStar && !hourStar }

    /// Whether the wall-clock `minute` (year, month 1-12, day, hour, minute) is selected by this expression.
    func matches(_ m: LocalMinute) -> Bool {
        minuteBits.cronContains(m.minute) && hourBits.cronContains(m.hour) && monthBits.cronContains(m.month)
            && dayMatches(year: m.year, month: m.month, day: m.day)
    }

    /// The Vixie day rule for a calendar day.
    func dayMatches(year: Int, month: Int, day: Int) -> Bool {
        let weekday = CivilTime.weekday(days: CivilTime.days(year: year, month: month, day: day))
        let domMatch = dayOfMonthBits.cronContains(day)
        let dowMatch = dayOfWeekBits.cronContains(weekday)
        if dayOfMonthStar || dayOfWeekStar {
            return domMatch && dowMatch
        }
        return domMatch || dowMatch
    }

    /// Whether the wall-clock minute containing `date` in `timeZone` is selected by this expression.
    public func matches(_ date: Date, in timeZone: TimeZone) -> Bool {
        let instant = Int64(date.timeIntervalSince1970.rounded(.down))
        let local = instant + Int64(timeZone.secondsFromGMT(for: date))
        return matches(LocalMinute(localSeconds: local))
    }
}

extension UInt64 {
    /// Whether bit `value` is set (a cron field's set of allowed values).
    @inline(__always)
    func cronContains(_ value: Int) -> Bool {
        self & (1 << UInt64(value)) != 0
    }

    /// The smallest value `>= from` whose bit is set, or nil.
    @inline(__always)
    func cronNext(atLeast from: Int) -> Int? {
        guard from < 64 else { return nil }
        let masked = self & (~UInt64(0) << UInt64(from))
        return masked == 0 ? nil : masked.trailingZeroBitCount
    }
}
