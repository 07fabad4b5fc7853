// Proleptic Gregorian calendar arithmetic on plain integers for the retention planner: civil dates from day
// numbers and back, ISO 8601 weeks, bucket keys and labels, and Go-style AddDate for keep-within cutoffs.
// Integer math (no Foundation Calendar) keeps planning fast and independent of the machine's time zone.

import Foundation
import LifeboatBase

/// Calendar fields of an instant in a fixed UTC offset.
struct RetentionLocalTime: Sendable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var isoYear: Int
    var isoWeek: Int

    /// The fields of `date` shifted by `utcOffsetSeconds`.
    init(_ date: Date, utcOffsetSeconds: Int) {
        let local = Int((date.timeIntervalSince1970).rounded(.down)) + utcOffsetSeconds
        let dayNumber = RetentionCalendar.floorDiv(local, 86_400)
        let secondOfDay = local - dayNumber * 86_400
        (year, month, day) = RetentionCalendar.civil(fromDayNumber: dayNumber)
        hour = secondOfDay / 3_600
        (isoYear, isoWeek) = RetentionCalendar.isoWeek(ofDayNumber: dayNumber)
    }

    /// restic's bucket key for a period: YYYYMMDDHH, YYYYMMDD, ISO-year*100+week, YYYYMM, YYYY.
    func bucketKey(_ period: RetentionPeriod) -> Int {
        switch period {
        case .hourly: return year * 1_000_000 + month * 10_000 + day * 100 + hour
        case .daily: return year * 10_000 + month * 100 + day
        case .weekly: return isoYear * 100 + isoWeek
        case .monthly: return year * 100 + month
        case .yearly: return year
        }
    }

    /// The bucket as operators read it: "2026-11-27 14h", "2026-11-27", "2026-W48", "2026-11", "2026".
    func bucketLabel(_ period: RetentionPeriod) -> String {
        switch period {
        case .hourly: return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2)) \(pad(hour, 2))h"
        case .daily: return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
        case .weekly: return "\(pad(isoYear, 4))-W\(pad(isoWeek, 2))"
        case .monthly: return "\(pad(year, 4))-\(pad(month, 2))"
        case .yearly: return pad(year, 4)
        }
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(abs(value))
        let padded = String(repeating: "0", count: max(0, width - digits.count)) + digits
        return value < 0 ? "-" + padded : padded
    }
}

/// The calendar periods of bucket rules.
enum RetentionPeriod: Int, CaseIterable, Sendable {
    case hourly, daily, weekly, monthly, yearly
}

enum RetentionCalendar {
    static func floorDiv(_ a: Int, _ b: Int) -> Int {
        let quotient = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? quotient - 1 : quotient
    }

    /// Days since 1970-01-01 of a civil date; month and day may be out of range and are normalised like Go's
    /// `time.Date` (month first, then day overflow).
    static func dayNumber(year: Int, month: Int, day: Int) -> Int {
        let monthIndex = month - 1
        let normalisedYear = year + floorDiv(monthIndex, 12)
        let normalisedMonth = monthIndex - floorDiv(monthIndex, 12) * 12 + 1
        return firstOfMonthDayNumber(year: normalisedYear, month: normalisedMonth) + (day - 1)
    }

    /// Days since 1970-01-01 of the first day of a valid month.
    private static func firstOfMonthDayNumber(year: Int, month: Int) -> Int {
        Int(CivilTime.days(year: year, month: month, day: 1))
    }

    /// The civil date of a day number.
    static func civil(fromDayNumber dayNumber: Int) -> (year: Int, month: Int, day: Int) {
        CivilTime.date(days: Int64(dayNumber))
    }

    /// ISO 8601 week-numbering year and week of a day number: the week belongs to the year of its Thursday.
    static func isoWeek(ofDayNumber dayNumber: Int) -> (year: Int, week: Int) {
        // 1970-01-01 was a Thursday; weekday 0 = Monday.
        let weekday = dayNumber - floorDiv(dayNumber + 3, 7) * 7 + 3
        let thursday = dayNumber - weekday + 3
        let isoYear = civil(fromDayNumber: thursday).year
        let firstDay = Self.dayNumber(year: isoYear, month: 1, day: 1)
        return (isoYear, (thursday - firstDay) / 7 + 1)
    }

    /// `anchor` minus `duration`, computed like restic: Go's `AddDate(-y, -m, -d)` in the anchor's own UTC offset,
    /// then minus the hours as elapsed time.
    static func subtract(_ duration: RetentionDuration, from anchor: Date, utcOffsetSeconds: Int) -> Date {
        let local = Int((anchor.timeIntervalSince1970).rounded(.down)) + utcOffsetSeconds
        let anchorDay = floorDiv(local, 86_400)
        let (year, month, day) = civil(fromDayNumber: anchorDay)
        let shiftedDay = dayNumber(
            year: year - duration.years, month: month - duration.months, day: day - duration.days
        )
        let seconds = (shiftedDay - anchorDay) * 86_400 - duration.hours * 3_600
        return anchor.addingTimeInterval(TimeInterval(seconds))
    }
}
