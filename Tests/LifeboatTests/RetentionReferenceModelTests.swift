// Randomized cross-check of the planner against a deliberately naive reference model that computes buckets with
// Foundation's Calendar (ISO weeks via firstWeekday = Monday, minimumDaysInFirstWeek = 4) instead of the planner's
// integer calendar math. Seeded, so every failure reproduces. Includes a 10,000-backup plan.

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

/// restic's algorithm written the obvious way, with Calendar-based bucket keys. Durations use days and hours only
/// (Foundation clamps month ends where Go overflows them; the golden tables cover that case).
private struct ReferenceModel {
    private var calendars: [Int: Calendar] = [:]

    private mutating func calendar(_ offset: Int) -> Calendar {
        if let calendar = calendars[offset] { return calendar }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: offset)!
        calendar.firstWeekday = 2
        calendar.minimumDaysInFirstWeek = 4
        calendars[offset] = calendar
        return calendar
    }

    private mutating func key(_ period: RetentionRule, _ backup: RetentionCandidate) -> Int {
        let c = calendar(backup.utcOffsetSeconds).dateComponents(
            [.year, .month, .day, .hour, .yearForWeekOfYear, .weekOfYear], from: backup.time
        )
        switch period {
        case .hourly, .withinHourly: return c.year! * 1_000_000 + c.month! * 10_000 + c.day! * 100 + c.hour!
        case .daily, .withinDaily: return c.year! * 10_000 + c.month! * 100 + c.day!
        case .weekly, .withinWeekly: return c.yearForWeekOfYear! * 100 + c.weekOfYear!
        case .monthly, .withinMonthly: return c.year! * 100 + c.month!
        default: return c.year!
        }
    }

    /// Kept ids with "rule" / "oldest rule" strings, in planner order.
    mutating func plan(_ backups: [RetentionCandidate], _ policy: RetentionPolicy, now: Date) -> [(String, [String])] {
        let sorted = backups.enumerated().sorted {
            $0.element.time != $1.element.time ? $0.element.time > $1.element.time : $0.offset < $1.offset
        }.map(\.element)
        let anchor = sorted.first { $0.time < now }?.time ?? now
        func cutoff(_ d: RetentionDuration?) -> Date? {
            guard let d, !d.isZero else { return nil }
            return anchor.addingTimeInterval(-Double(d.days * 86_400 + d.hours * 3_600))
        }
        var counts: [(RetentionRule, Int?, Int?)] = []  // rule, remaining (nil = unlimited), last key
        for (rule, count) in [
            (RetentionRule.last, policy.keepLast), (.hourly, policy.keepHourly), (.daily, policy.keepDaily),
            (.weekly, policy.keepWeekly), (.monthly, policy.keepMonthly), (.yearly, policy.keepYearly),
        ] {
            if case .limited(let n)? = count, n > 0 { counts.append((rule, n, nil)) }
            if case .unlimited? = count { counts.append((rule, nil, nil)) }
        }
        var windows: [(RetentionRule, Date, Int?)] = []
        for (rule, duration) in [
            (RetentionRule.withinHourly, policy.keepWithinHourly), (.withinDaily, policy.keepWithinDaily),
            (.withinWeekly, policy.keepWithinWeekly), (.withinMonthly, policy.keepWithinMonthly),
            (.withinYearly, policy.keepWithinYearly),
        ] {
            if let start = cutoff(duration) { windows.append((rule, start, nil)) }
        }
        let withinStart = cutoff(policy.keepWithin)

        var result: [(String, [String])] = []
        var kept: [Bool] = []
        for (position, backup) in sorted.enumerated() {
            let last = position == sorted.count - 1
            var reasons: [String] = []
            for list in policy.keepTags where list.allSatisfy(backup.tags.contains) {
                reasons.append("tags")
            }
            if let withinStart, backup.time > withinStart { reasons.append("within") }
            for i in counts.indices where counts[i].1.map({ $0 > 0 }) ?? true {
                let k = counts[i].0 == .last ? position : key(counts[i].0, backup)
                if k != counts[i].2 || last {
                    reasons.append((k == counts[i].2 ? "oldest " : "") + counts[i].0.rawValue)
                    counts[i].2 = k
                    counts[i].1 = counts[i].1.map { $0 - 1 }
                }
            }
            for i in windows.indices where backup.time > windows[i].1 {
                let k = key(windows[i].0, backup)
                if k != windows[i].2 || last {
                    reasons.append((k == windows[i].2 ? "oldest " : "") + windows[i].0.rawValue)
                    windows[i].2 = k
                }
            }
            result.append((backup.id, reasons))
            kept.append(!reasons.isEmpty)
        }
        // The typo rail: rules that keep nothing are refused before the verified rail (an empty result).
        guard kept.contains(true) else { return [] }
        if let newest = sorted.firstIndex(where: \.verified), !kept[newest] {
            result[newest].1 = [RetentionRule.newestVerified.rawValue]
        }
        return result.filter { !$0.1.isEmpty }
    }
}

private func randomBackups(count: Int, seed: UInt64, spacing: ClosedRange<Int>) -> [RetentionCandidate] {
    var rng = RetentionSeededGenerator(seed: seed)
    let offsets = [-8 * 3_600, -12_600, 0, 0, 3_600, 7_200, 19_800, 45_900, 14 * 3_600]
    var time = 1_420_070_400  // 2015-01-01T00:00:00Z
    var backups: [RetentionCandidate] = []
    for index in 0..<count {
        // Occasionally repeat a timestamp to exercise equal times.
        if Int.random(in: 0..<20, using: &rng) != 0 { time += Int.random(in: spacing, using: &rng) }
        backups.append(
            RetentionCandidate(
                id: "r\(index)",
                time: Date(timeIntervalSince1970: TimeInterval(time)),
                utcOffsetSeconds: offsets.randomElement(using: &rng)!,
                tags: Int.random(in: 0..<15, using: &rng) == 0 ? ["pre-upgrade"] : [],
                verified: Int.random(in: 0..<4, using: &rng) == 0
            )
        )
    }
    backups.shuffle(using: &rng)
    return backups
}

private func randomPolicy(seed: UInt64) -> RetentionPolicy {
    var rng = RetentionSeededGenerator(seed: seed ^ 0xA5A5)
    func count() -> RetentionCount? {
        switch Int.random(in: 0..<6, using: &rng) {
        case 0, 1: return nil
        case 2: return .unlimited
        default: return .limited(Int.random(in: 0...12, using: &rng))
        }
    }
    func window() -> RetentionDuration? {
        Int.random(in: 0..<3, using: &rng) == 0
            ? RetentionDuration(days: Int.random(in: 0...90, using: &rng), hours: Int.random(in: 0...30, using: &rng))
            : nil
    }
    var policy = RetentionPolicy(
        keepLast: count(), keepHourly: count(), keepDaily: count(), keepWeekly: count(), keepMonthly: count(),
        keepYearly: count(), keepWithin: window(), keepWithinHourly: window(), keepWithinDaily: window(),
        keepWithinWeekly: window(), keepWithinMonthly: window(), keepWithinYearly: window()
    )
    if Int.random(in: 0..<4, using: &rng) == 0 { policy.keepTags = [["pre-upgrade"]] }
    if policy.isEmpty { policy.keepLast = 1 }
    return policy
}

@Suite("Retention: reference model")
struct RetentionReferenceModelTests {
    private func comparePlans(_ backups: [RetentionCandidate], _ policy: RetentionPolicy, now: Date) throws {
        var model = ReferenceModel()
        let expected = model.plan(backups, policy, now: now)
        let plan: [RetentionDecision]
        do {
            plan = try RetentionPlanner.plan(backups, policy: policy, now: now)
        } catch RetentionError.planRemovesEveryBackup {
            #expect(expected.isEmpty, "planner refused a plan the model keeps something in, policy \(policy)")
            return
        }
        let actual = plan.filter(\.isKept).map { decision in
            (decision.candidate.id, decision.reasons.map { ($0.isOldest ? "oldest " : "") + $0.rule.rawValue })
        }
        // Report the first difference only: the lists can hold thousands of entries.
        #expect(actual.count == expected.count, "kept counts differ for policy \(policy)")
        if let index = zip(actual, expected).enumerated().first(where: { $0.element.0 != $0.element.1 })?.offset {
            Issue.record(
                "kept backup #\(index) differs: planner \(actual[index]), model \(expected[index]); policy \(policy)"
            )
        }
        #expect(plan.count == backups.count)
    }

    @Test("random backups and policies match the Calendar-based model", arguments: 0..<40)
    func randomTable(_ seed: Int) throws {
        let backups = randomBackups(count: 300, seed: UInt64(seed), spacing: 60...90_000)
        let policy = randomPolicy(seed: UInt64(seed))
        // now sometimes falls inside the range, so some backups are future-dated.
        let times = backups.map(\.time).sorted()
        let now = seed % 3 == 0 ? times[times.count * 9 / 10] : times.last!.addingTimeInterval(60)
        try comparePlans(backups, policy, now: now)
    }

    @Test("10,000 backups plan like the model")
    func tenThousand() throws {
        let backups = randomBackups(count: 10_000, seed: 2026, spacing: 600...7_200)
        let policy = RetentionPolicy(
            keepLast: 24, keepHourly: 72, keepDaily: 30, keepWeekly: 12, keepMonthly: .unlimited, keepYearly: 5,
            keepWithin: RetentionDuration(days: 2), keepWithinHourly: RetentionDuration(days: 7),
            keepWithinDaily: RetentionDuration(days: 90), keepTags: [["pre-upgrade"]]
        )
        let now = backups.map(\.time).max()!.addingTimeInterval(3_600)
        try comparePlans(backups, policy, now: now)
    }

    @Test("unlimited keep-last keeps all 10,000 backups")
    func unlimitedKeepsAll() throws {
        let backups = randomBackups(count: 10_000, seed: 7, spacing: 1...600)
        let plan = try RetentionPlanner.plan(backups, policy: RetentionPolicy(keepLast: .unlimited), now: .distantFuture)
        #expect(plan.count == 10_000)
        #expect(plan.allSatisfy { $0.reasons.map(\.rule) == [.last] })
    }
}
