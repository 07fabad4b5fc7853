// The next-fire search for cron expressions: a field-skipping search over wall-clock minutes, walked across the
// time zone's offset segments so that daylight-saving gaps and repeats are handled the way Vixie/ISC cron does.

import Foundation
import LifeboatBase

extension CronExpression {
    /// How far ahead the search looks before answering nil. The rarest possible expression fires at least once
    /// every 11 years (a fixed day-of-month and weekday in one month), and Feb 29 at least once every 8.
    static let searchHorizonYears = 30

    /// The first instant strictly after `date` at which this expression fires on the wall clock of `timeZone`.
    ///
    /// Daylight saving:
    /// - A wall-clock time skipped when the clocks go forward still fires, once, at the first instant after the
    ///   gap (`30 2 * * *` fires at 03:00 on the spring-forward day in Europe/Berlin). Several matches inside one
    ///   gap collapse into that single run.
    /// - A wall-clock time repeated when the clocks go back fires once, on its first occurrence, for fixed-time
    ///   expressions (see `isFixedTime`). Expressions whose minute or hour field starts with `*` follow the real
    ///   clock and also fire during the repeated hour, as in Vixie cron.
    ///
    /// The search skips whole months, days and hours that cannot match, so it costs a few hundred steps at most.
    /// Returns nil only if nothing matches within `searchHorizonYears` (impossible expressions are already
    /// rejected by the parser).
    public func nextFire(after date: Date, in timeZone: TimeZone) -> Date? {
        let after = Int64(date.timeIntervalSince1970.rounded(.down))
        guard let fire = nextFireSeconds(after: after, zone: ZoneClock(timeZone: timeZone)) else { return nil }
        return Date(timeIntervalSince1970: TimeInterval(fire))
    }

    /// The next fire in whole seconds since the epoch, strictly after `after`.
    func nextFireSeconds(after: Int64, zone: ZoneClock) -> Int64? {
        let lastYear = LocalMinute(localSeconds: after + zone.offset(at: after)).year + Self.searchHorizonYears
        // Walk the zone's constant-offset segments. `cursor` is the latest instant already ruled out; the
        // current segment contains cursor + 1 and ends at `segmentEnd` (exclusive), if the zone changes again.
        var cursor = after
        while true {
            let offset = zone.offset(at: cursor + 1)
            let segmentEnd = zone.transition(after: cursor + 1)
            var start = Self.ceilToMinute(cursor + 1 + offset)
            if isFixedTime, let segmentStart = zone.lastTransition(atOrBefore: cursor + 1) {
                let previousOffset = zone.offset(at: segmentStart - 1)
                if previousOffset > offset {
                    // The clocks went back at segmentStart: wall-clock times before segmentStart + previousOffset
                    // were already shown once, and fixed-time expressions fired then.
                    start = max(start, segmentStart + previousOffset)
                }
            }
            guard let match = nextLocalMinute(atOrAfter: LocalMinute(localSeconds: start), throughYear: lastYear)
            else { return nil }
            let local = match.localSeconds
            guard let end = segmentEnd else { return local - offset }
            if local < end + offset {
                return local - offset
            }
            let nextOffset = zone.offset(at: end)
            if nextOffset > offset && local < end + nextOffset {
                // The match lies in the wall-clock gap [end + offset, end + nextOffset) that the clocks jump
                // over: it fires at the first instant after the gap, which is the transition itself.
                return end
            }
            cursor = end - 1
        }
    }

    /// The first wall-clock minute at or after `start` that the expression selects, skipping by fields.
    func nextLocalMinute(atOrAfter start: LocalMinute, throughYear lastYear: Int) -> LocalMinute? {
        // Every field of a parsed expression selects at least one value.
        let firstMinute = minuteBits.cronNext(atLeast: 0) ?? 0
        let firstHour = hourBits.cronNext(atLeast: 0) ?? 0
        let firstMonth = monthBits.cronNext(atLeast: 1) ?? 1
        // With the AND rule and every weekday allowed, the day is decided by day-of-month alone: jump to it.
        let dayOfMonthDecides = (dayOfMonthStar || dayOfWeekStar) && dayOfWeekBits & 0x7F == 0x7F
        var c = start
        func startOfDay(_ c: inout LocalMinute) {
            c.hour = firstHour
            c.minute = firstMinute
        }
        while c.year <= lastYear {
            guard monthBits.cronContains(c.month) else {
                if let month = monthBits.cronNext(atLeast: c.month + 1), month <= 12 {
                    c.month = month
                } else {
                    c.year += 1
                    c.month = firstMonth
                }
                c.day = 1
                startOfDay(&c)
                continue
            }
            if c.day > CivilTime.daysInMonth(year: c.year, month: c.month) {
                c.month += 1
                if c.month > 12 {
                    c.month = 1
                    c.year += 1
                }
                c.day = 1
                startOfDay(&c)
                continue
            }
            guard dayMatches(year: c.year, month: c.month, day: c.day) else {
                if dayOfMonthDecides {
                    c.day = dayOfMonthBits.cronNext(atLeast: c.day + 1) ?? 32
                } else {
                    c.day += 1
                }
                startOfDay(&c)
                continue
            }
            guard hourBits.cronContains(c.hour) else {
                if let hour = hourBits.cronNext(atLeast: c.hour + 1), hour < 24 {
                    c.hour = hour
                    c.minute = firstMinute
                } else {
                    c.day += 1
                    startOfDay(&c)
                }
                continue
            }
            guard minuteBits.cronContains(c.minute) else {
                if let minute = minuteBits.cronNext(atLeast: c.minute + 1), minute < 60 {
                    c.minute = minute
                } else {
                    c.hour += 1
                    c.minute = firstMinute
                    if c.hour >= 24 {
                        c.day += 1
                        startOfDay(&c)
                    }
                }
                continue
            }
            return c
        }
        return nil
    }

    static func ceilToMinute(_ seconds: Int64) -> Int64 {
        CivilTime.floorDiv(seconds + 59, 60) * 60
    }
}

/// A time zone seen as whole-second offsets and the instants where they change.
struct ZoneClock {
    let timeZone: TimeZone

    /// Seconds to add to UTC to get the wall clock at `instant`.
    func offset(at instant: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant))))
    }

    /// The first instant strictly after `instant` at which the zone's offset (or its rules) change.
    func transition(after instant: Int64) -> Int64? {
        guard let next = timeZone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(instant)))
        else { return nil }
        let seconds = Int64(next.timeIntervalSince1970.rounded(.up))
        return seconds > instant ? seconds : instant + 1
    }

    /// The latest transition at or before `instant`, looking back two days (longer than any repeated hour).
    func lastTransition(atOrBefore instant: Int64) -> Int64? {
        var found: Int64?
        var probe = instant - 2 * CivilTime.secondsPerDay
        while let next = transition(after: probe), next <= instant {
            found = next
            probe = next
        }
        return found
    }
}
