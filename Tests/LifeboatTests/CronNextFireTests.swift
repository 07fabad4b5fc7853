// Next-fire tables for cron expressions: month ends, Feb 29, steps and ranges, the day-of-month OR day-of-week
// rule, names, macros, and daylight-saving changes in Europe/Berlin, America/New_York and Australia/Lord_Howe,
// checked against hand-written tables and against a brute-force minute-by-minute oracle.

import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import Testing

@Suite("Cron next fire")
struct CronNextFireTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let expression: String
        let zone: String
        let after: String
        let expected: [String]
        init(_ expression: String, in zone: String = "UTC", after: String, _ expected: [String]) {
            self.expression = expression
            self.zone = zone
            self.after = after
            self.expected = expected
        }
        var testDescription: String { "\(expression) in \(zone) after \(after)" }
    }

    static func check(_ c: Case) throws {
        let expression = try CronExpression(c.expression)
        let zone = ScheduleTestSupport.zone(c.zone)
        let got = ScheduleTestSupport.fires(
            expression, in: zone, after: ScheduleTestSupport.date(c.after), count: c.expected.count)
        let want = c.expected.map { ScheduleTestSupport.date($0) }
        #expect(
            got == want,
            "got \(ScheduleTestSupport.render(got, in: zone)), want \(ScheduleTestSupport.render(want, in: zone))")
    }

    static let monthEndsCases: [Case] = [
        // The 31st only in months that have one.
        Case("0 0 31 * *", after: "2025-01-31T00:00:00Z", [
            "2025-03-31T00:00:00Z", "2025-05-31T00:00:00Z", "2025-07-31T00:00:00Z", "2025-08-31T00:00:00Z",
            "2025-10-31T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-31T00:00:00Z",
        ]),
        // The 30th skips February.
        Case("0 0 30 * *", after: "2025-01-30T00:00:00Z", ["2025-03-30T00:00:00Z", "2025-04-30T00:00:00Z"]),
        // Feb 29 only in leap years; 2100 is not one.
        Case("0 0 29 2 *", after: "2025-01-01T00:00:00Z", ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]),
        Case("0 0 29 2 *", after: "2024-02-29T00:00:00Z", ["2028-02-29T00:00:00Z"]),
        Case("0 0 29 2 *", after: "2096-03-01T00:00:00Z", ["2104-02-29T00:00:00Z"]),
        Case("0 12 28-31 2 *", after: "2024-02-27T00:00:00Z", [
            "2024-02-28T12:00:00Z", "2024-02-29T12:00:00Z", "2025-02-28T12:00:00Z", "2026-02-28T12:00:00Z",
        ]),
        // Year rollover.
        Case("59 23 31 12 *", after: "2025-12-31T23:59:00Z", ["2026-12-31T23:59:00Z"]),
        Case("0 0 1 1 *", after: "2025-12-31T23:59:59Z", ["2026-01-01T00:00:00Z"]),
    ]

    static let stepsAndRangesCases: [Case] = [
        Case("*/15 * * * *", after: "2025-01-01T00:07:00Z", [
            "2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z", "2025-01-01T00:45:00Z", "2025-01-01T01:00:00Z",
        ]),
        // Strictly after: a fractional second before the slot still gives the slot, the slot itself the next.
        Case("*/15 * * * *", after: "2025-01-01T00:14:59.500Z", ["2025-01-01T00:15:00Z"]),
        Case("*/15 * * * *", after: "2025-01-01T00:15:00Z", ["2025-01-01T00:30:00Z"]),
        Case("1-5/2 * * * *", after: "2025-01-01T00:00:00Z", [
            "2025-01-01T00:01:00Z", "2025-01-01T00:03:00Z", "2025-01-01T00:05:00Z", "2025-01-01T01:01:00Z",
        ]),
        Case("0 9-17/4 * * 1-5", after: "2025-01-03T12:00:00Z", [  // Friday noon
            "2025-01-03T13:00:00Z", "2025-01-03T17:00:00Z", "2025-01-06T09:00:00Z",
        ]),
        Case("30 4 1,15 * *", after: "2025-01-15T04:30:00Z", ["2025-02-01T04:30:00Z", "2025-02-15T04:30:00Z"]),
        Case("5,10-12,50-59/5 3 * * *", after: "2025-01-01T00:00:00Z", [
            "2025-01-01T03:05:00Z", "2025-01-01T03:10:00Z", "2025-01-01T03:11:00Z", "2025-01-01T03:12:00Z",
            "2025-01-01T03:50:00Z", "2025-01-01T03:55:00Z", "2025-01-02T03:05:00Z",
        ]),
        Case("0 0 */10 * *", after: "2025-01-01T00:00:00Z", [
            "2025-01-11T00:00:00Z", "2025-01-21T00:00:00Z", "2025-01-31T00:00:00Z", "2025-02-01T00:00:00Z",
        ]),
        Case("0 0 1 */4 *", after: "2025-01-01T00:00:00Z", ["2025-05-01T00:00:00Z", "2025-09-01T00:00:00Z", "2026-01-01T00:00:00Z"]),
        Case("* * * * *", after: "2025-01-01T23:59:30Z", ["2025-01-02T00:00:00Z", "2025-01-02T00:01:00Z"]),
    ]

    static let dayRulesCases: [Case] = [
        // Both restricted: the 1st OR any Monday (Vixie).
        Case("0 12 1 * MON", after: "2025-01-01T12:00:00Z", [
            "2025-01-06T12:00:00Z", "2025-01-13T12:00:00Z", "2025-01-20T12:00:00Z", "2025-01-27T12:00:00Z",
            "2025-02-01T12:00:00Z", "2025-02-03T12:00:00Z",
        ]),
        Case("0 0 13 * 5", after: "2025-06-01T00:00:00Z", [  // the 13th or a Friday
            "2025-06-06T00:00:00Z", "2025-06-13T00:00:00Z", "2025-06-20T00:00:00Z", "2025-06-27T00:00:00Z",
        ]),
        // Day-of-month starting with `*` means AND: odd days that are Mondays.
        Case("0 0 */2 * MON", after: "2025-01-01T00:00:00Z", [
            "2025-01-13T00:00:00Z", "2025-01-27T00:00:00Z", "2025-02-03T00:00:00Z", "2025-02-17T00:00:00Z",
        ]),
        // Day-of-week `*` with a day-of-month: just the day-of-month.
        Case("0 0 15 * *", after: "2025-01-01T00:00:00Z", ["2025-01-15T00:00:00Z", "2025-02-15T00:00:00Z"]),
        // 0, 7 and SUN are all Sunday; 5-7 is Friday to Sunday.
        Case("0 0 * * 0", after: "2025-01-01T00:00:00Z", ["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"]),
        Case("0 0 * * 7", after: "2025-01-01T00:00:00Z", ["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"]),
        Case("0 0 * * sun", after: "2025-01-01T00:00:00Z", ["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"]),
        Case("0 0 * * 5-7", after: "2025-01-01T00:00:00Z", [
            "2025-01-03T00:00:00Z", "2025-01-04T00:00:00Z", "2025-01-05T00:00:00Z", "2025-01-10T00:00:00Z",
        ]),
        // Names, in any case, also in ranges and lists.
        Case("0 6 * JAN,jul Sat", after: "2025-01-20T00:00:00Z", [
            "2025-01-25T06:00:00Z", "2025-07-05T06:00:00Z", "2025-07-12T06:00:00Z",
        ]),
        Case("0 8 * * MON-FRI", after: "2025-01-03T09:00:00Z", ["2025-01-06T08:00:00Z", "2025-01-07T08:00:00Z"]),
        Case("0 0 1 MAR-MAY *", after: "2025-01-01T00:00:00Z", [
            "2025-03-01T00:00:00Z", "2025-04-01T00:00:00Z", "2025-05-01T00:00:00Z", "2026-03-01T00:00:00Z",
        ]),
        // AND of a rare day and weekday: Feb 1 on a Monday, 2027 then 2038 (an 11-year gap).
        Case("0 0 */31 2 1", after: "2025-01-01T00:00:00Z", ["2027-02-01T00:00:00Z", "2038-02-01T00:00:00Z"]),
    ]

    static let macrosCases: [Case] = [
        Case("@hourly", after: "2025-01-01T00:00:00Z", ["2025-01-01T01:00:00Z", "2025-01-01T02:00:00Z"]),
        Case("@daily", after: "2025-01-01T00:00:00Z", ["2025-01-02T00:00:00Z"]),
        Case("@midnight", after: "2025-01-01T13:00:00Z", ["2025-01-02T00:00:00Z"]),
        Case("@weekly", after: "2025-01-01T00:00:00Z", ["2025-01-05T00:00:00Z", "2025-01-12T00:00:00Z"]),
        Case("@monthly", after: "2025-01-01T00:00:00Z", ["2025-02-01T00:00:00Z", "2025-03-01T00:00:00Z"]),
        Case("@yearly", after: "2025-01-01T00:00:00Z", ["2026-01-01T00:00:00Z"]),
        Case("@ANNUALLY", after: "2025-06-01T00:00:00Z", ["2026-01-01T00:00:00Z"]),
        Case("@daily", in: "Europe/Berlin", after: "2025-01-01T00:00:00+01:00", ["2025-01-02T00:00:00+01:00"]),
    ]

    // Europe/Berlin 2025: clocks go 02:00 CET -> 03:00 CEST on March 30, and 03:00 CEST -> 02:00 CET on Oct 26.
    // America/New_York 2025: 02:00 EST -> 03:00 EDT on March 9, and 02:00 EDT -> 01:00 EST on Nov 2.
    static let daylightSavingCases: [Case] = [
        // Spring forward: 02:30 does not exist; it fires once, at the end of the gap (03:00 CEST).
        Case("30 2 * * *", in: "Europe/Berlin", after: "2025-03-29T12:00:00+01:00", [
            "2025-03-30T03:00:00+02:00", "2025-03-31T02:30:00+02:00",
        ]),
        Case("30 2 * * *", in: "America/New_York", after: "2025-03-08T12:00:00-05:00", [
            "2025-03-09T03:00:00-04:00", "2025-03-10T02:30:00-04:00",
        ]),
        // Four matches inside the gap collapse into one run.
        Case("*/15 2 * * *", in: "Europe/Berlin", after: "2025-03-30T00:00:00+01:00", [
            "2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00",
        ]),
        // A time just after the gap is not disturbed, nor doubled by the gap rule.
        Case("0 3 * * *", in: "Europe/Berlin", after: "2025-03-29T12:00:00+01:00", [
            "2025-03-30T03:00:00+02:00", "2025-03-31T03:00:00+02:00",
        ]),
        Case("0 2,3 * * *", in: "Europe/Berlin", after: "2025-03-29T12:00:00+01:00", [
            "2025-03-30T03:00:00+02:00", "2025-03-31T02:00:00+02:00",
        ]),
        // Hourly across the gap: one real hour apart, nothing lost.
        Case("0 * * * *", in: "Europe/Berlin", after: "2025-03-30T00:30:00+01:00", [
            "2025-03-30T01:00:00+01:00", "2025-03-30T03:00:00+02:00", "2025-03-30T04:00:00+02:00",
        ]),
        // Fall back: a fixed time in the repeated hour fires on its first occurrence only.
        Case("30 1 * * *", in: "America/New_York", after: "2025-11-01T12:00:00-04:00", [
            "2025-11-02T01:30:00-04:00", "2025-11-03T01:30:00-05:00",
        ]),
        Case("30 2 * * *", in: "Europe/Berlin", after: "2025-10-25T12:00:00+02:00", [
            "2025-10-26T02:30:00+02:00", "2025-10-27T02:30:00+01:00",
        ]),
        // Asking from inside the second occurrence, or between the first run and the change, gives tomorrow.
        Case("30 1 * * *", in: "America/New_York", after: "2025-11-02T01:10:00-05:00", ["2025-11-03T01:30:00-05:00"]),
        Case("30 1 * * *", in: "America/New_York", after: "2025-11-02T01:45:00-04:00", ["2025-11-03T01:30:00-05:00"]),
        // The first time after the repeated hour is normal.
        Case("0 2 * * *", in: "America/New_York", after: "2025-11-02T00:00:00-04:00", [
            "2025-11-02T02:00:00-05:00", "2025-11-03T02:00:00-05:00",
        ]),
        // Wildcard minute or hour (Vixie): follows the real clock, so hourly stays hourly through the change.
        Case("0 * * * *", in: "America/New_York", after: "2025-11-02T00:30:00-04:00", [
            "2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00",
        ]),
        Case("*/20 1 * * *", in: "America/New_York", after: "2025-11-02T00:50:00-04:00", [
            "2025-11-02T01:00:00-04:00", "2025-11-02T01:20:00-04:00", "2025-11-02T01:40:00-04:00",
            "2025-11-02T01:00:00-05:00", "2025-11-02T01:20:00-05:00", "2025-11-02T01:40:00-05:00",
            "2025-11-03T01:00:00-05:00",
        ]),
        // Daily at midnight is not affected at all.
        Case("0 0 * * *", in: "Europe/Berlin", after: "2025-03-29T00:00:00+01:00", [
            "2025-03-30T00:00:00+01:00", "2025-03-31T00:00:00+02:00",
        ]),
        // Lord Howe Island moves its clocks by 30 minutes: 02:00 -> 02:30 on Oct 5, 02:00 -> 01:30 on Apr 6 2025.
        Case("15 2 * * *", in: "Australia/Lord_Howe", after: "2025-10-04T12:00:00+10:30", [
            "2025-10-05T02:30:00+11:00", "2025-10-06T02:15:00+11:00",
        ]),
        Case("45 1 * * *", in: "Australia/Lord_Howe", after: "2025-04-05T12:00:00+11:00", [
            "2025-04-06T01:45:00+11:00", "2025-04-07T01:45:00+10:30",
        ]),
        // Samoa skipped the whole of 2011-12-30 (UTC-10 -> UTC+14): that day's run happens once, at the end of the gap.
        Case("0 12 * * *", in: "Pacific/Apia", after: "2011-12-29T00:00:00-10:00", [
            "2011-12-29T12:00:00-10:00", "2011-12-31T00:00:00+14:00", "2011-12-31T12:00:00+14:00",
        ]),
    ]

    @Test("month ends and Feb 29", arguments: monthEndsCases)
    func monthEnds(_ c: Case) throws { try Self.check(c) }

    @Test("steps, ranges and lists", arguments: stepsAndRangesCases)
    func stepsAndRanges(_ c: Case) throws { try Self.check(c) }

    @Test("day-of-month OR day-of-week, names", arguments: dayRulesCases)
    func dayRules(_ c: Case) throws { try Self.check(c) }

    @Test("macros", arguments: macrosCases)
    func macros(_ c: Case) throws { try Self.check(c) }

    @Test("daylight-saving gaps and repeats", arguments: daylightSavingCases)
    func daylightSaving(_ c: Case) throws { try Self.check(c) }

    @Test("equivalent spellings give the same fires", arguments: [
        ["0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "@weekly"],
        ["0 0 1 1 *", "0 0 1 JAN *", "@yearly", "@annually"],
        ["0 * * * *", "@hourly", "0 0-23 * * *", "0 */1 * * *"],
        ["0 0 * * 1-5", "0 0 * * MON-FRI", "0 0 * * mon,tue,wed,thu,fri", "0 0 * * 1-5/1"],
        ["*/20 * * * *", "0,20,40 * * * *", "0-59/20 * * * *"],
    ])
    func equivalentSpellings(_ spellings: [String]) throws {
        let zone = ScheduleTestSupport.zone("Europe/Berlin")
        let start = ScheduleTestSupport.date("2025-03-01T00:00:00Z")
        let reference = ScheduleTestSupport.fires(try CronExpression(spellings[0]), in: zone, after: start, count: 50)
        #expect(reference.count == 50)
        for spelling in spellings.dropFirst() {
            let fires = ScheduleTestSupport.fires(try CronExpression(spelling), in: zone, after: start, count: 50)
            #expect(fires == reference, "\(spelling) differs from \(spellings[0])")
        }
    }

    /// Every fixed-time daily expression fires exactly once per calendar day for a whole year, DST or not.
    @Test("fixed daily times fire once a day through a year", arguments: [
        ("30 2 * * *", "Europe/Berlin"), ("30 1 * * *", "America/New_York"), ("30 2 * * *", "America/New_York"),
        ("0 3 * * *", "Europe/Berlin"), ("45 1 * * *", "Australia/Lord_Howe"), ("15 2 * * *", "Australia/Lord_Howe"),
    ])
    func oncePerDay(expression: String, zoneName: String) throws {
        let zone = ScheduleTestSupport.zone(zoneName)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let start = calendar.date(from: DateComponents(year: 2025, month: 1, day: 1))!
        let fires = ScheduleTestSupport.fires(try CronExpression(expression), in: zone, after: start, count: 365)
        let days = Set(fires.map { calendar.dateComponents([.year, .month, .day], from: $0) })
        #expect(fires.count == 365)
        #expect(days.count == 365, "some day fired twice or not at all")
        #expect(fires.last.map { calendar.component(.year, from: $0) } == 2025)
    }

    /// Hourly in a whole-hour zone fires at every real hour of the year: 8760 runs, none doubled, none lost.
    @Test("hourly fires every real hour through a year", arguments: ["Europe/Berlin", "America/New_York"])
    func hourlyEveryRealHour(zoneName: String) throws {
        let zone = ScheduleTestSupport.zone(zoneName)
        let start = ScheduleTestSupport.date("2025-01-01T00:00:00Z")
        let fires = ScheduleTestSupport.fires(try CronExpression("@hourly"), in: zone, after: start, count: 8760)
        #expect(fires.count == 8760)
        #expect(fires.last == ScheduleTestSupport.date("2026-01-01T00:00:00Z"))
        let gaps = Set(zip(fires, fires.dropFirst()).map { $1.timeIntervalSince($0) })
        #expect(gaps == [3600])
    }

    /// A brute-force oracle that walks every real minute (and every skipped wall-clock minute) and applies the
    /// documented rules directly; the field-skipping search must agree with it around each transition.
    @Test("agrees with a minute-by-minute oracle around transitions", arguments: [
        "30 2 * * *", "*/15 * * * *", "0 * * * *", "*/20 1 * * *", "45 1 * * *", "15,45 2 * * *", "0 0 * * *",
        "59 1 * * *", "0 2 * * *", "0 3 * * *", "* 2 * * *", "30 1-3 * * *", "10 0-4/2 * * SUN",
    ])
    func oracle(expression: String) throws {
        let cron = try CronExpression(expression)
        let windows: [(String, String, String)] = [
            ("Europe/Berlin", "2025-03-29T00:00:00Z", "2025-04-01T00:00:00Z"),
            ("Europe/Berlin", "2025-10-25T00:00:00Z", "2025-10-28T00:00:00Z"),
            ("America/New_York", "2025-03-08T00:00:00Z", "2025-03-11T00:00:00Z"),
            ("America/New_York", "2025-11-01T00:00:00Z", "2025-11-04T00:00:00Z"),
            ("Australia/Lord_Howe", "2025-04-04T00:00:00Z", "2025-04-07T00:00:00Z"),
            ("Australia/Lord_Howe", "2025-10-03T00:00:00Z", "2025-10-06T00:00:00Z"),
        ]
        for (zoneName, from, to) in windows {
            let zone = ScheduleTestSupport.zone(zoneName)
            let start = ScheduleTestSupport.date(from)
            let end = ScheduleTestSupport.date(to)
            let expected = Self.bruteForce(cron, zone: zone, from: start, to: end)
            var got: [Date] = []
            var cursor = start
            while let next = cron.nextFire(after: cursor, in: zone), next < end {
                got.append(next)
                cursor = next
            }
            #expect(
                got == expected,
                "\(zoneName): got \(ScheduleTestSupport.render(got, in: zone)), want \(ScheduleTestSupport.render(expected, in: zone))")
        }
    }

    /// Fires in (from, end) by the rules, computed the slow way.
    static func bruteForce(_ cron: CronExpression, zone: TimeZone, from: Date, to end: Date) -> [Date] {
        let utc = TimeZone.gmt
        func offset(_ t: Int) -> Int { zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))) }
        // A wall-clock minute matches if the same numerals match in UTC.
        func wallMatches(_ local: Int) -> Bool { cron.matches(Date(timeIntervalSince1970: TimeInterval(local)), in: utc) }
        var fires = Set<Int>()
        let first = Int(from.timeIntervalSince1970) + 60
        let last = Int(end.timeIntervalSince1970)
        for t in stride(from: first, to: last, by: 60) {
            let o = offset(t)
            let local = t + o
            // Wall-clock minutes skipped just before t (a gap ending at t) fire at t.
            let previous = offset(t - 60)
            if previous < o, stride(from: t + previous, to: t + o, by: 60).contains(where: wallMatches) {
                fires.insert(t)
            }
            guard wallMatches(local) else { continue }
            // Was this wall-clock minute already shown earlier, under a larger offset?
            let repeated = (1...180).contains { back in
                let earlier = t - back * 60
                return earlier + offset(earlier) == local
            }
            if !repeated || !cron.isFixedTime {
                fires.insert(t)
            }
        }
        return fires.sorted().map { Date(timeIntervalSince1970: TimeInterval($0)) }
    }

    @Test("stays fast for sparse expressions")
    func efficiency() throws {
        // 200 consecutive Feb 29ths in a DST zone: about 800 years of calendar. A minute scan would take
        // hundreds of millions of steps; the field-skipping search takes a few hundred per fire.
        let cron = try CronExpression("30 2 29 2 *")
        let zone = ScheduleTestSupport.zone("Europe/Berlin")
        let clock = ContinuousClock()
        var fires: [Date] = []
        let elapsed = clock.measure {
            fires = ScheduleTestSupport.fires(cron, in: zone, after: ScheduleTestSupport.date("2025-01-01T00:00:00Z"), count: 200)
        }
        #expect(fires.count == 200)
        #expect(elapsed < .seconds(20), "took \(elapsed)")
    }
}
