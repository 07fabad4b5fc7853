// Schedules as configured: intervals on a grid, cron in a named zone, durations, jitter with a seeded random
// source, and the messages for what cannot be parsed.

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

@Suite("Schedule")
struct ScheduleTests {
    typealias S = ScheduleTestSupport

    struct IntervalCase: Sendable, CustomTestStringConvertible {
        let text: String
        let anchor: String?
        let after: String
        let expected: [String]
        var testDescription: String { "\(text) from \(anchor ?? "epoch") after \(after)" }
    }

    static let intervalCases: [IntervalCase] = [
        IntervalCase(text: "every 15m", anchor: nil, after: "2025-01-01T00:07:00Z",
                     expected: ["2025-01-01T00:15:00Z", "2025-01-01T00:30:00Z", "2025-01-01T00:45:00Z"]),
        IntervalCase(text: "every 15m", anchor: nil, after: "2025-01-01T00:15:00Z", expected: ["2025-01-01T00:30:00Z"]),
        IntervalCase(text: "every 15m", anchor: nil, after: "2025-01-01T00:14:59.900Z", expected: ["2025-01-01T00:15:00Z"]),
        IntervalCase(text: "every 1h30m", anchor: nil, after: "2025-01-01T00:10:00Z",
                     expected: ["2025-01-01T01:30:00Z", "2025-01-01T03:00:00Z", "2025-01-01T04:30:00Z"]),
        IntervalCase(text: "every 24h", anchor: nil, after: "2025-03-29T18:00:00Z",
                     expected: ["2025-03-30T00:00:00Z", "2025-03-31T00:00:00Z"]),  // real time, DST irrelevant
        IntervalCase(text: "every 1d", anchor: nil, after: "2025-03-29T18:00:00Z", expected: ["2025-03-30T00:00:00Z"]),
        IntervalCase(text: "EVERY 90S", anchor: nil, after: "2025-01-01T00:00:00Z",
                     expected: ["2025-01-01T00:01:30Z", "2025-01-01T00:03:00Z"]),
        // A custom anchor keeps runs on its grid, also before the anchor.
        IntervalCase(text: "every 15m", anchor: "2025-01-01T00:05:00Z", after: "2025-01-01T10:00:00Z",
                     expected: ["2025-01-01T10:05:00Z", "2025-01-01T10:20:00Z"]),
        IntervalCase(text: "every 15m", anchor: "2025-01-01T10:05:00Z", after: "2025-01-01T09:00:00Z",
                     expected: ["2025-01-01T09:05:00Z"]),
        IntervalCase(text: "every 7h", anchor: "2025-01-01T00:00:00Z", after: "2025-01-01T20:00:00Z",
                     expected: ["2025-01-01T21:00:00Z", "2025-01-02T04:00:00Z"]),
    ]

    @Test("intervals stay on their grid", arguments: intervalCases)
    func intervals(_ c: IntervalCase) throws {
        let schedule = try Schedule.parse(c.text, anchor: c.anchor.map { S.date($0) } ?? Schedule.defaultAnchor)
        var got: [Date] = []
        var cursor = S.date(c.after)
        for _ in c.expected {
            guard let next = schedule.nextFire(after: cursor) else { break }
            got.append(next)
            cursor = next
        }
        #expect(got == c.expected.map { S.date($0) })
    }

    @Test("cron schedules use their named zone, UTC by default")
    func cronZone() throws {
        let berlin = try Schedule.parse("0 3 * * *", timeZone: "Europe/Berlin")
        let utc = try Schedule.parse("0 3 * * *")
        let after = S.date("2025-07-01T00:00:00Z")
        #expect(berlin.nextFire(after: after) == S.date("2025-07-01T03:00:00+02:00"))
        #expect(utc.nextFire(after: after) == S.date("2025-07-01T03:00:00Z"))
        #expect(berlin.trigger == .cron(try CronExpression("0 3 * * *"), timeZone: S.zone("Europe/Berlin")))
        #expect(berlin.description == #"cron "0 3 * * *" in Europe/Berlin"#)
        let newYork = try Schedule.parse("30 2 * * *", timeZone: "America/New_York", jitter: "5m")
        #expect(newYork.nextFire(after: S.date("2025-03-08T12:00:00-05:00")) == S.date("2025-03-09T03:00:00-04:00"))
        #expect(newYork.description == #"cron "30 2 * * *" in America/New_York with up to 5m jitter"#)
    }

    @Test("durations", arguments: [
        ("15m", 900), ("1h30m", 5400), ("24h", 86_400), ("2d", 172_800), ("90s", 90), ("1d2h3m4s", 93_784),
        ("0s", 0), (" 5M ", 300),
    ])
    func durations(text: String, seconds: Int64) throws {
        let duration = try Schedule.parseDuration(text)
        #expect(duration == .seconds(seconds))
        #expect(try Schedule.parseDuration(Schedule.format(duration)) == duration)
    }

    @Test("formats durations", arguments: [(900, "15m"), (5400, "1h30m"), (86_400, "1d"), (93_784, "1d2h3m4s"), (0, "0s")])
    func formats(seconds: Int64, text: String) {
        #expect(Schedule.format(.seconds(seconds)) == text)
    }

    struct Rejection: Sendable, CustomTestStringConvertible {
        let text: String
        var timeZone: String? = nil
        var jitter: String? = nil
        let code: ScheduleError.Code
        let message: String
        var testDescription: String { "\(text) tz=\(timeZone ?? "-") jitter=\(jitter ?? "-")" }
    }

    static let form = #"write numbers each followed by a unit d, h, m or s, largest first, e.g. "15m", "1h30m" or "24h""#

    static let rejections: [Rejection] = [
        Rejection(text: "every 15", code: .invalidInterval,
                  message: #"invalid interval "every 15": "15" has no unit; "# + form),
        Rejection(text: "every 1h30", code: .invalidInterval,
                  message: #"invalid interval "every 1h30": "30" at the end of "1h30" has no unit; "# + form),
        Rejection(text: "every 15x", code: .invalidInterval,
                  message: #"invalid interval "every 15x": "15x" has the unknown unit "x"; "# + form),
        Rejection(text: "every 30m1h", code: .invalidInterval,
                  message: #"invalid interval "every 30m1h": "30m1h" repeats a unit or puts a smaller unit first; "# + form),
        Rejection(text: "every 0m", code: .invalidInterval,
                  message: #"invalid interval "every 0m": "0m" is zero; an interval must be at least 1s; "# + form),
        Rejection(text: "every h", code: .invalidInterval,
                  message: #"invalid interval "every h": "h" has a unit "h" without a number before it; "# + form),
        Rejection(text: "every", code: .invalidInterval,
                  message: #"invalid interval "every": write "every" and one duration without spaces, e.g. "every 15m" or "every 1h30m""#),
        Rejection(text: "every 1h 30m", code: .invalidInterval,
                  message: #"invalid interval "every 1h 30m": write "every" and one duration without spaces, e.g. "every 15m" or "every 1h30m""#),
        Rejection(text: "every 15m", jitter: "15m", code: .invalidJitter,
                  message: "jitter 15m must be shorter than the interval 15m, or runs would overlap and drift off their grid"),
        Rejection(text: "every 15m", jitter: "later", code: .invalidJitter,
                  message: #"invalid jitter: "later" has the unknown unit "l"; "# + form),
        Rejection(text: "@daily", timeZone: "Mars/Olympus", code: .unknownTimeZone,
                  message: #"unknown time zone "Mars/Olympus": use an IANA name such as "Europe/Berlin", "America/New_York" or "UTC""#),
        Rejection(text: "0 0 30 2 *", timeZone: "UTC", code: .cronNeverFires,
                  message: #"cron expression "0 0 30 2 *" can never fire: day-of-month 30 does not exist in Feb"#),
        Rejection(text: "daily", code: .invalidCronExpression,
                  message: #"invalid cron expression "daily": expected 5 fields (minute hour day-of-month month day-of-week) but found 1"#),
    ]

    @Test("rejects with messages that say what is accepted", arguments: rejections)
    func rejects(_ r: Rejection) {
        #expect {
            _ = try Schedule.parse(r.text, timeZone: r.timeZone, jitter: r.jitter)
        } throws: { error in
            guard let error = error as? ScheduleError else { return false }
            #expect(error.code == r.code)
            #expect(error.message == r.message)
            return true
        }
    }

    @Test("programmatic intervals and jitter are validated")
    func programmatic() {
        #expect(throws: ScheduleError.self) { try Schedule(every: .milliseconds(500)) }
        #expect(throws: ScheduleError.self) { try Schedule(every: .zero) }
        #expect(throws: ScheduleError.self) { try Schedule(every: .seconds(-60)) }
        #expect(throws: ScheduleError.self) { try Schedule(every: .seconds(60), maxJitter: .seconds(-1)) }
        #expect(throws: ScheduleError.self) { try Schedule(cron: CronExpression("@daily"), maxJitter: .milliseconds(1)) }
        #expect(throws: Never.self) { try Schedule(every: .seconds(60), maxJitter: .seconds(59)) }
    }

    @Test("jitter stays within bounds, is reproducible from a seed and actually varies", arguments: [1, 2, 42, 1234] as [UInt64])
    func jitterBounds(seed: UInt64) throws {
        let schedule = try Schedule.parse("every 1h", jitter: "5m")
        var random = SeededRandomNumberGenerator(seed: seed)
        var again = SeededRandomNumberGenerator(seed: seed)
        var cursor = S.date("2025-01-01T00:00:00Z")
        var offsets: [Duration] = []
        for _ in 0..<500 {
            let run = try #require(schedule.nextRun(after: cursor, using: &random))
            let replay = try #require(schedule.nextRun(after: cursor, using: &again))
            #expect(run == replay)
            #expect(run.jitter >= .zero && run.jitter <= .seconds(300))
            #expect(run.startAt == run.scheduled.addingTimeInterval(TimeInterval(run.jitter.components.seconds)))
            #expect(run.scheduled == cursor.addingTimeInterval(3600))
            offsets.append(run.jitter)
            // The next run is planned from the nominal time, so jitter never accumulates.
            cursor = run.scheduled
        }
        #expect(Set(offsets).count > 100, "jitter barely varies")
        #expect(offsets.contains { $0 < .seconds(60) } && offsets.contains { $0 > .seconds(240) })
    }

    @Test("different seeds give different jitter")
    func seedsDiffer() throws {
        let schedule = try Schedule.parse("@hourly", jitter: "1h")
        var a = SeededRandomNumberGenerator(seed: 1)
        var b = SeededRandomNumberGenerator(seed: 2)
        let first = (0..<20).map { _ in schedule.drawJitter(using: &a) }
        let second = (0..<20).map { _ in schedule.drawJitter(using: &b) }
        #expect(first != second)
    }

    @Test("no jitter draws nothing from the random source")
    func noJitter() throws {
        let schedule = try Schedule.parse("every 15m")
        var random = SeededRandomNumberGenerator(seed: 7)
        var untouched = SeededRandomNumberGenerator(seed: 7)
        let run = try #require(schedule.nextRun(after: S.date("2025-01-01T00:00:00Z"), using: &random))
        #expect(run.jitter == .zero)
        #expect(run.startAt == S.date("2025-01-01T00:15:00Z"))
        #expect(random.next() == untouched.next())
    }
}
