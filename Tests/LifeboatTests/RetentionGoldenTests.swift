// Lifeboat's own golden retention tables: ISO week 1 in January next to a monthly rule, DST changes (buckets in
// each backup's recorded offset), Feb 29 and Go-style month arithmetic for keep-within, equal timestamps,
// future-dated backups, fewer backups than the limits, unlimited counts, the newest-verified safety rail, and
// planner input checks. Each row states the full expected plan.

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

private typealias T = RetentionTestSupport

/// One golden row: backups (in input order), a policy, "now", and the expected plan summary.
struct RetentionGoldenRow: CustomTestStringConvertible, Sendable {
    var name: String
    var backups: [RetentionCandidate]
    var policy: RetentionPolicy
    var now: Date
    var expected: [String]

    var testDescription: String { name }
}

private let farFuture = T.date("2099-01-01T00:00:00Z")

private let goldenRows: [RetentionGoldenRow] = [
    RetentionGoldenRow(
        name: "ISO week 1 starts in December next to a monthly rule",
        backups: [
            T.backup("dec27", "2024-12-27T10:00:00Z"),
            T.backup("dec30", "2024-12-30T10:00:00Z"),
            T.backup("dec31", "2024-12-31T10:00:00Z"),
            T.backup("jan02", "2025-01-02T10:00:00Z"),
            T.backup("jan06", "2025-01-06T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepWeekly: 3, keepMonthly: 2),
        now: farFuture,
        expected: [
            "jan06: weekly 2025-W02, monthly 2025-01",
            "jan02: weekly 2025-W01",
            "dec31: monthly 2024-12",
            "dec30: remove",
            "dec27: weekly 2024-W52",
        ]
    ),
    RetentionGoldenRow(
        name: "ISO week 53 belongs to the previous year",
        backups: [
            T.backup("jan04", "2021-01-04T10:00:00Z"),
            T.backup("jan03", "2021-01-03T10:00:00Z"),
            T.backup("dec28", "2020-12-28T10:00:00Z"),
            T.backup("dec27", "2020-12-27T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepWeekly: .unlimited, keepYearly: .unlimited),
        now: farFuture,
        expected: [
            "jan04: weekly 2021-W01, yearly 2021",
            "jan03: weekly 2020-W53",
            "dec28: yearly 2020",
            "dec27: weekly 2020-W52, oldest yearly 2020",
        ]
    ),
    RetentionGoldenRow(
        name: "spring DST: daily buckets follow the recorded +01:00/+02:00 offsets, not UTC",
        backups: [
            // 2026-03-29 01:00 UTC Europe switches from +01:00 to +02:00.
            T.backup("mar29-0030", "2026-03-29T00:30:00+01:00"),  // 2026-03-28T23:30Z
            T.backup("mar29-2330", "2026-03-29T23:30:00+02:00"),  // 2026-03-29T21:30Z
            T.backup("mar30-0030", "2026-03-30T00:30:00+02:00"),  // 2026-03-29T22:30Z
        ],
        policy: RetentionPolicy(keepDaily: 2),
        now: farFuture,
        expected: [
            "mar30-0030: daily 2026-03-30",
            "mar29-2330: daily 2026-03-29",
            "mar29-0030: remove",
        ]
    ),
    RetentionGoldenRow(
        name: "autumn DST: the repeated 02h wall-clock hour is one hourly bucket",
        backups: [
            // 2026-10-25 01:00 UTC Europe switches from +02:00 back to +01:00; 02:00-03:00 local happens twice.
            T.backup("first-0130", "2026-10-25T01:30:00+02:00"),  // 2026-10-24T23:30Z
            T.backup("first-0230", "2026-10-25T02:30:00+02:00"),  // 2026-10-25T00:30Z
            T.backup("second-0230", "2026-10-25T02:30:00+01:00"),  // 2026-10-25T01:30Z
            T.backup("second-0330", "2026-10-25T03:30:00+01:00"),  // 2026-10-25T02:30Z
        ],
        policy: RetentionPolicy(keepHourly: 10),
        now: farFuture,
        expected: [
            "second-0330: hourly 2026-10-25 03h",
            "second-0230: hourly 2026-10-25 02h",
            "first-0230: remove",
            "first-0130: hourly 2026-10-25 01h",
        ]
    ),
    RetentionGoldenRow(
        name: "keep-within across DST counts calendar days in the newest backup's offset",
        backups: [
            T.backup("anchor", "2026-03-30T12:00:00+02:00"),  // 10:00Z
            T.backup("inside", "2026-03-29T12:30:00+02:00"),  // 2026-03-29T10:30Z
            T.backup("edge", "2026-03-29T11:00:00+01:00"),  // 2026-03-29T10:00Z: exactly the cutoff, excluded
            T.backup("outside", "2026-03-29T10:30:00+01:00"),  // 2026-03-29T09:30Z
        ],
        policy: RetentionPolicy(keepWithin: RetentionDuration(days: 1)),
        now: farFuture,
        expected: [
            "anchor: within 1d",
            "inside: within 1d",
            "edge: remove",
            "outside: remove",
        ]
    ),
    RetentionGoldenRow(
        name: "a backup just after midnight +01:00 on Mar 1 is March, not Feb 29",
        backups: [
            T.backup("feb28", "2024-02-28T12:00:00+01:00"),
            T.backup("feb29", "2024-02-29T12:00:00+01:00"),
            T.backup("mar01", "2024-03-01T00:30:00+01:00"),  // 2024-02-29T23:30Z
        ],
        policy: RetentionPolicy(keepDaily: .unlimited, keepMonthly: 1),
        now: farFuture,
        expected: [
            "mar01: daily 2024-03-01, monthly 2024-03",
            "feb29: daily 2024-02-29",
            "feb28: daily 2024-02-28",
        ]
    ),
    RetentionGoldenRow(
        name: "Feb 29 minus one year is Mar 1 (Go AddDate normalisation), not Feb 28",
        backups: [
            T.backup("leap", "2024-02-29T12:00:00Z"),
            T.backup("after", "2023-03-01T13:00:00Z"),
            T.backup("cutoff", "2023-03-01T12:00:00Z"),
            T.backup("feb28", "2023-02-28T23:00:00Z"),
        ],
        policy: RetentionPolicy(keepWithin: RetentionDuration(years: 1)),
        now: farFuture,
        expected: ["leap: within 1y", "after: within 1y", "cutoff: remove", "feb28: remove"]
    ),
    RetentionGoldenRow(
        name: "Mar 31 minus one month overflows to Mar 2 in a leap year",
        backups: [
            T.backup("mar31", "2024-03-31T12:00:00Z"),
            T.backup("mar02-late", "2024-03-02T13:00:00Z"),
            T.backup("mar02-early", "2024-03-02T11:00:00Z"),
            T.backup("feb29", "2024-02-29T12:00:00Z"),
        ],
        policy: RetentionPolicy(keepWithin: RetentionDuration(months: 1)),
        now: farFuture,
        expected: ["mar31: within 1m", "mar02-late: within 1m", "mar02-early: remove", "feb29: remove"]
    ),
    RetentionGoldenRow(
        name: "equal timestamps keep their input order; keep-last takes the first ones",
        backups: [
            T.backup("c", "2026-11-27T10:00:00Z"),
            T.backup("a", "2026-11-27T10:00:00Z"),
            T.backup("older", "2026-11-26T10:00:00Z"),
            T.backup("b", "2026-11-27T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepLast: 2),
        now: farFuture,
        expected: ["c: last", "a: last", "b: remove", "older: remove"]
    ),
    RetentionGoldenRow(
        name: "equal timestamps in one day: the first is the daily, the last is the oldest",
        backups: [
            T.backup("c", "2026-11-27T10:00:00Z"),
            T.backup("a", "2026-11-27T10:00:00Z"),
            T.backup("b", "2026-11-27T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepDaily: 2),
        now: farFuture,
        expected: ["c: daily 2026-11-27", "a: remove", "b: oldest daily 2026-11-27"]
    ),
    RetentionGoldenRow(
        name: "a future-dated backup takes keep-last but does not anchor keep-within",
        backups: [
            T.backup("old2", "2026-11-25T10:00:00Z"),
            T.backup("old1", "2026-11-26T10:00:00Z"),  // exactly newest-real minus 1d: excluded
            T.backup("real", "2026-11-27T10:00:00Z"),
            T.backup("skewed", "2026-11-28T12:00:00Z"),  // later than now
        ],
        policy: RetentionPolicy(keepLast: 1, keepWithin: RetentionDuration(days: 1)),
        now: T.date("2026-11-27T12:00:00Z"),
        expected: ["skewed: within 1d, last", "real: within 1d", "old1: remove", "old2: remove"]
    ),
    RetentionGoldenRow(
        name: "when every backup is future-dated the keep-within window is anchored at now",
        backups: [
            T.backup("f1", "2026-12-01T00:00:00Z"),
            T.backup("f2", "2026-12-05T00:00:00Z"),
        ],
        policy: RetentionPolicy(keepWithin: RetentionDuration(hours: 1)),
        now: T.date("2026-11-27T12:00:00Z"),
        expected: ["f2: within 1h", "f1: within 1h"]
    ),
    RetentionGoldenRow(
        name: "fewer backups than the limits: the oldest is kept by every rule with budget left",
        backups: [
            T.backup("A", "2026-11-27T10:00:00Z"),
            T.backup("B", "2026-11-27T08:00:00Z"),
            T.backup("C", "2026-11-26T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepDaily: 7, keepWeekly: 4, keepMonthly: 12),
        now: farFuture,
        expected: [
            "A: daily 2026-11-27, weekly 2026-W48, monthly 2026-11",
            "B: remove",
            "C: daily 2026-11-26, oldest weekly 2026-W48, oldest monthly 2026-11",
        ]
    ),
    RetentionGoldenRow(
        name: "a spent rule does not keep the oldest",
        backups: [
            T.backup("A", "2026-11-27T10:00:00Z"),
            T.backup("B", "2026-11-27T08:00:00Z"),
            T.backup("C", "2026-11-26T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepDaily: 1),
        now: farFuture,
        expected: ["A: daily 2026-11-27", "B: remove", "C: remove"]
    ),
    RetentionGoldenRow(
        name: "unlimited hourly keeps every hour's newest plus the oldest",
        backups: [
            T.backup("1005", "2026-11-27T10:05:00Z"),
            T.backup("1045", "2026-11-27T10:45:00Z"),
            T.backup("1110", "2026-11-27T11:10:00Z"),
            T.backup("1200", "2026-11-27T12:00:00Z"),
            T.backup("1230", "2026-11-27T12:30:00Z"),
        ],
        policy: RetentionPolicy(keepHourly: .unlimited),
        now: farFuture,
        expected: [
            "1230: hourly 2026-11-27 12h",
            "1200: remove",
            "1110: hourly 2026-11-27 11h",
            "1045: hourly 2026-11-27 10h",
            "1005: oldest hourly 2026-11-27 10h",
        ]
    ),
    RetentionGoldenRow(
        name: "keep-within-daily keeps one per day inside the window, uncounted",
        backups: [
            T.backup("d3-late", "2026-11-27T20:00:00Z"),
            T.backup("d3-early", "2026-11-27T08:00:00Z"),
            T.backup("d2", "2026-11-26T09:00:00Z"),
            T.backup("d1", "2026-11-25T21:00:00Z"),  // after 2026-11-25T20:00Z: inside 2d
            T.backup("d0", "2026-11-24T22:00:00Z"),
        ],
        policy: RetentionPolicy(keepWithinDaily: RetentionDuration(days: 2)),
        now: farFuture,
        expected: [
            "d3-late: daily 2026-11-27 within 2d",
            "d3-early: remove",
            "d2: daily 2026-11-26 within 2d",
            "d1: daily 2026-11-25 within 2d",
            "d0: remove",
        ]
    ),
    RetentionGoldenRow(
        name: "the newest verified backup is kept by the safety rail",
        backups: [
            T.backup("A", "2026-11-27T10:00:00Z"),
            T.backup("B", "2026-11-26T10:00:00Z", verified: true),
            T.backup("C", "2026-11-25T10:00:00Z", verified: true),
            T.backup("D", "2026-11-24T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepLast: 1),
        now: farFuture,
        expected: ["A: last", "B: newest verified backup (safety rail)", "C: remove", "D: remove"]
    ),
    RetentionGoldenRow(
        name: "the safety rail adds nothing when a rule already keeps the newest verified backup",
        backups: [
            T.backup("A", "2026-11-27T10:00:00Z"),
            T.backup("B", "2026-11-26T10:00:00Z", verified: true),
            T.backup("C", "2026-11-25T10:00:00Z", verified: true),
        ],
        policy: RetentionPolicy(keepLast: 2),
        now: farFuture,
        expected: ["A: last", "B: last", "C: remove"]
    ),
    RetentionGoldenRow(
        name: "keep-tags pins a pre-upgrade backup; tag lists need every tag",
        backups: [
            T.backup("new", "2026-11-27T10:00:00Z"),
            T.backup("pinned", "2026-10-01T10:00:00Z", tags: ["pre-upgrade", "vault-1.18"]),
            T.backup("half", "2026-09-01T10:00:00Z", tags: ["vault-1.18"]),
            T.backup("old", "2026-08-01T10:00:00Z"),
        ],
        policy: RetentionPolicy(keepLast: 1, keepTags: [["pre-upgrade"], ["vault-1.18", "manual"]]),
        now: farFuture,
        expected: ["new: last", "pinned: tag pre-upgrade", "half: remove", "old: remove"]
    ),
]

@Suite("Retention: golden tables")
struct RetentionGoldenTests {
    @Test("golden plan", arguments: goldenRows)
    func golden(_ row: RetentionGoldenRow) throws {
        let plan = try RetentionPlanner.plan(row.backups, policy: row.policy, now: row.now)
        #expect(T.summary(plan) == row.expected)
        // Whatever the input order, the plan is the same (except among equal timestamps, which keep input order).
        let times = row.backups.map(\.time)
        if Set(times).count == times.count {
            let reversed = try RetentionPlanner.plan(row.backups.reversed(), policy: row.policy, now: row.now)
            #expect(reversed == plan)
        }
    }

    @Test(
        "ISO week labels",
        arguments: [
            ("2024-12-30T12:00:00Z", "2025-W01"), ("2021-01-03T12:00:00Z", "2020-W53"),
            ("2026-01-01T12:00:00Z", "2026-W01"), ("2027-01-01T12:00:00Z", "2026-W53"),
            ("2015-12-31T12:00:00Z", "2015-W53"), ("2016-01-03T12:00:00Z", "2015-W53"),
            ("2008-12-29T12:00:00Z", "2009-W01"), ("2026-11-27T12:00:00Z", "2026-W48"),
            ("2010-01-03T12:00:00Z", "2009-W53"), ("2024-12-29T23:30:00-01:00", "2024-W52"),
            ("2024-12-30T00:30:00+01:00", "2025-W01"), ("1969-12-31T12:00:00Z", "1970-W01"),
        ]
    )
    func isoWeekLabel(_ timestamp: String, _ label: String) throws {
        let plan = try RetentionPlanner.plan(
            [T.backup("x", timestamp)], policy: RetentionPolicy(keepWeekly: 1), now: farFuture
        )
        #expect(plan.first?.reasons.map(\.description) == ["weekly \(label)"])
    }

    @Test("only the newest verified backup is protected")
    func onlyNewestVerifiedIsProtected() throws {
        let backups = (0..<10).map { day in
            T.backup("d\(day)", "2026-11-\(10 + day)T10:00:00Z", verified: day % 3 == 0 && day != 9)
        }
        let plan = try RetentionPlanner.plan(backups, policy: RetentionPolicy(keepLast: 2), now: farFuture)
        #expect(T.keptIDs(plan) == ["d9", "d8", "d6"])
        #expect(plan.first { $0.candidate.id == "d6" }?.reasons.map(\.rule) == [.newestVerified])
    }

    @Test("future-dated backups are flagged")
    func futureDatedFlag() throws {
        let now = T.date("2026-11-27T12:00:00Z")
        let plan = try RetentionPlanner.plan(
            [T.backup("past", "2026-11-27T11:59:59Z"), T.backup("future", "2026-11-27T12:00:01Z")],
            policy: RetentionPolicy(keepLast: .unlimited), now: now
        )
        #expect(plan.map(\.candidate.id) == ["future", "past"])
        #expect(plan.map(\.isFutureDated) == [true, false])
    }

    @Test("fewer backups than every limit keeps them all")
    func fewerThanLimits() throws {
        let backups = (1...5).map { T.backup("m\($0)", "2026-0\($0)-15T10:00:00Z") }
        let policy = RetentionPolicy(
            keepLast: 10, keepHourly: 10, keepDaily: 10, keepWeekly: 10, keepMonthly: 10, keepYearly: 10
        )
        let plan = try RetentionPlanner.plan(backups, policy: policy, now: farFuture)
        #expect(plan.allSatisfy { $0.isKept })
        #expect(plan.last?.reasons.map(\.description) == [
            "last", "hourly 2026-01-15 10h", "daily 2026-01-15", "weekly 2026-W03", "monthly 2026-01",
            "oldest yearly 2026",
        ])
    }

    @Test("no backups: an empty plan")
    func noBackups() throws {
        #expect(try RetentionPlanner.plan([], policy: RetentionPolicy(keepLast: 1), now: farFuture).isEmpty)
    }

    @Test("rules that keep nothing are refused, also when a verified backup would be kept by the rail (the typo rail comes first)")
    func removesEverything() throws {
        var backups = [T.backup("a", "2026-11-27T10:00:00Z"), T.backup("b", "2026-11-26T10:00:00Z", tags: ["pre-upgrade"])]
        let typo = RetentionPolicy(keepTags: [["pre-upgarde"]])
        #expect(throws: RetentionError.planRemovesEveryBackup(count: 2)) {
            try RetentionPlanner.plan(backups, policy: typo, now: farFuture)
        }
        backups[0].verified = true
        let refused = #expect(throws: RetentionError.self) { try RetentionPlanner.plan(backups, policy: typo, now: farFuture) }
        #expect(refused == .planRemovesEveryBackup(count: 2))
        #expect(refused?.exitStatus == .usage)
        // Spelt right, the rule keeps b and the rail still keeps the newest verified backup.
        let plan = try RetentionPlanner.plan(backups, policy: RetentionPolicy(keepTags: [["pre-upgrade"]]), now: farFuture)
        #expect(T.summary(plan) == ["a: newest verified backup (safety rail)", "b: tag pre-upgrade"])
    }

    @Test("tags follow restic: \"\" keeps untagged backups, parts are trimmed, \"a,\" matches nothing")
    func resticTagRules() throws {
        #expect(RetentionPolicy.tagList(parsing: " a , b ") == ["a", "b"])
        #expect(RetentionPolicy.tagList(parsing: "") == [""])
        #expect(RetentionPolicy.tagList(parsing: "a,") == ["a", ""])
        let backups = [
            T.backup("untagged", "2026-11-27T10:00:00Z"),
            T.backup("a", "2026-11-26T10:00:00Z", tags: ["a"]),
            T.backup("ab", "2026-11-25T10:00:00Z", tags: ["a", "b"]),
        ]
        func kept(_ flag: String) throws -> [String] {
            let policy = RetentionPolicy(keepTags: [RetentionPolicy.tagList(parsing: flag)])
            return try RetentionPlanner.plan(backups, policy: policy, now: farFuture).filter(\.isKept).map(\.candidate.id)
        }
        #expect(try kept("") == ["untagged"])
        #expect(try kept(" a , b ") == ["ab"])
        #expect(try kept("a") == ["a", "ab"])
        #expect(throws: RetentionError.planRemovesEveryBackup(count: 3)) { try kept("a,") }
        // restic walks the list in order: an empty tag first matches an untagged backup.
        #expect(RetentionPolicy.carries([], all: ["", "a"]))
        #expect(!RetentionPolicy.carries([], all: ["a", ""]))
    }

    @Test("invalid planner inputs are refused with the backup named")
    func invalidInputs() throws {
        let policy = RetentionPolicy(keepLast: 1)
        #expect(throws: RetentionError.duplicateBackupID("a")) {
            try RetentionPlanner.plan(
                [T.backup("a", "2026-11-27T10:00:00Z"), T.backup("a", "2026-11-26T10:00:00Z")],
                policy: policy, now: farFuture
            )
        }
        let badOffset = RetentionCandidate(id: "z", time: farFuture, utcOffsetSeconds: 19 * 3_600)
        #expect(throws: RetentionError.invalidUTCOffset(backupID: "z", seconds: 19 * 3_600)) {
            try RetentionPlanner.plan([badOffset], policy: policy, now: farFuture)
        }
        let badTime = RetentionCandidate(id: "n", time: Date(timeIntervalSince1970: .infinity))
        #expect(throws: RetentionError.invalidBackupTime(backupID: "n")) {
            try RetentionPlanner.plan([badTime], policy: policy, now: farFuture)
        }
        #expect(throws: RetentionError.emptyPolicy) {
            try RetentionPlanner.plan([T.backup("a", "2026-11-27T10:00:00Z")], policy: RetentionPolicy(), now: farFuture)
        }
    }
}
