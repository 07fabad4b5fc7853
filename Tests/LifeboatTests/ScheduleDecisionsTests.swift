// The daemon's pure decisions: one catch-up run after downtime, and ticks skipped (and counted) while a backup
// is still running.

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

@Suite("Schedule decisions")
struct ScheduleDecisionsTests {
    typealias S = ScheduleTestSupport

    struct MissedCase: Sendable, CustomTestStringConvertible {
        let name: String
        let schedule: String
        var timeZone: String? = nil
        let lastRun: String?
        let now: String
        let expected: String?
        var testDescription: String { name }
    }

    static let missedCases: [MissedCase] = [
        MissedCase(name: "down for four days: one catch-up, for the first missed slot", schedule: "0 3 * * *",
                   lastRun: "2025-01-01T03:00:00Z", now: "2025-01-05T12:00:00Z", expected: "2025-01-02T03:00:00Z"),
        MissedCase(name: "nothing due since the last run", schedule: "0 3 * * *",
                   lastRun: "2025-01-05T03:00:00Z", now: "2025-01-05T12:00:00Z", expected: nil),
        MissedCase(name: "a run that started late (jitter) is not missed again", schedule: "0 3 * * *",
                   lastRun: "2025-01-05T03:04:10Z", now: "2025-01-05T12:00:00Z", expected: nil),
        MissedCase(name: "the slot at exactly now counts as missed", schedule: "0 3 * * *",
                   lastRun: "2025-01-05T03:00:00Z", now: "2025-01-06T03:00:00Z", expected: "2025-01-06T03:00:00Z"),
        MissedCase(name: "no last run: nothing is missed", schedule: "0 3 * * *",
                   lastRun: nil, now: "2025-01-06T12:00:00Z", expected: nil),
        MissedCase(name: "last run in the future (clock set back)", schedule: "0 3 * * *",
                   lastRun: "2025-02-01T03:00:00Z", now: "2025-01-06T12:00:00Z", expected: nil),
        MissedCase(name: "interval: not yet due", schedule: "every 15m",
                   lastRun: "2025-01-01T10:00:00Z", now: "2025-01-01T10:14:59Z", expected: nil),
        MissedCase(name: "interval: due", schedule: "every 15m",
                   lastRun: "2025-01-01T10:00:00Z", now: "2025-01-01T13:07:00Z", expected: "2025-01-01T10:15:00Z"),
        MissedCase(name: "cron in a zone: the skipped spring-forward slot was missed", schedule: "30 2 * * *",
                   timeZone: "Europe/Berlin", lastRun: "2025-03-29T02:30:00+01:00", now: "2025-03-30T09:00:00+02:00",
                   expected: "2025-03-30T03:00:00+02:00"),
    ]

    @Test("missed run after downtime", arguments: missedCases)
    func missed(_ c: MissedCase) throws {
        let schedule = try Schedule.parse(c.schedule, timeZone: c.timeZone)
        let got = missedRun(lastRun: c.lastRun.map { S.date($0) }, schedule: schedule, now: S.date(c.now))
        #expect(got == c.expected.map { S.date($0) })
    }

    /// A daemon start after a week away: exactly one catch-up, then the regular schedule resumes from now.
    @Test("a week of downtime gives one catch-up run, not seven")
    func oneCatchUpNotOnePerSlot() throws {
        let schedule = try Schedule.parse("0 3 * * *", timeZone: "America/New_York")
        let lastRun = S.date("2025-03-01T03:00:00-05:00")
        let start = S.date("2025-03-08T12:00:00-05:00")
        var runs: [Date] = []
        if missedRun(lastRun: lastRun, schedule: schedule, now: start) != nil {
            runs.append(start)
        }
        // Once the catch-up has run, nothing else counts as missed at start-up.
        #expect(missedRun(lastRun: runs.last ?? lastRun, schedule: schedule, now: start) == nil)
        // Then the daemon simply follows the schedule.
        var cursor = start
        let end = S.date("2025-03-10T12:00:00-04:00")
        while let next = schedule.nextFire(after: cursor), next < end {
            runs.append(next)
            cursor = next
        }
        #expect(runs == [start, S.date("2025-03-09T03:00:00-04:00"), S.date("2025-03-10T03:00:00-04:00")])
    }

    @Test("tick decisions", arguments: [
        (false, 0, TickDecision.start, 0),
        (false, 5, TickDecision.start, 5),
        (true, 0, TickDecision.skipStillRunning(skippedTicks: 1), 1),
        (true, 5, TickDecision.skipStillRunning(skippedTicks: 6), 6),
    ])
    func tick(inFlight: Bool, skippedSoFar: Int, expected: TickDecision, total: Int) {
        let decision = TickDecision.decide(backupInFlight: inFlight, skippedSoFar: skippedSoFar)
        #expect(decision == expected)
        #expect(decision.skippedTotal(before: skippedSoFar) == total)
    }

    /// Ticks every 15 minutes against a backup that takes 40 minutes: one backup at a time, overlaps counted.
    @Test("a slow backup: overlapping ticks are skipped and counted")
    func slowBackup() throws {
        let schedule = try Schedule.parse("every 15m")
        let backupDuration: TimeInterval = 40 * 60
        var now = S.date("2025-01-01T00:00:00Z")
        var runningUntil: Date?
        var started: [Date] = []
        var skipped = 0
        for _ in 0..<8 {
            now = try #require(schedule.nextFire(after: now))
            if let until = runningUntil, until <= now { runningUntil = nil }
            let decision = TickDecision.decide(backupInFlight: runningUntil != nil, skippedSoFar: skipped)
            skipped = decision.skippedTotal(before: skipped)
            if decision == .start {
                started.append(now)
                runningUntil = now.addingTimeInterval(backupDuration)
            }
        }
        // Ticks at :15 :30 :45 1:00 1:15 1:30 1:45 2:00; starts at :15, 1:00, 1:45.
        #expect(started == ["2025-01-01T00:15:00Z", "2025-01-01T01:00:00Z", "2025-01-01T01:45:00Z"].map { S.date($0) })
        #expect(skipped == 5)
    }
}
