// The restic conformance table (Tests/Fixtures/retention/restic-forget-cases.json, from restic's own policy
// tests): for every policy the planner must keep exactly restic's backups, in order, with the same rules and the
// same "oldest" markers. Case 0 (the empty policy) must be refused instead of keeping everything.

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

/// The fixture file, decoded.
struct ResticForgetFixture: Decodable {
    struct Backup: Decodable {
        var time: String
        var tags: [String]?
    }
    struct Case: Decodable {
        var policy: RetentionPolicy
        var keep: [String]
        var reasons: [[String]]
    }
    var backups: [Backup]
    var cases: [Case]

    static func load() throws -> ResticForgetFixture {
        let data = try Data(contentsOf: RetentionTestSupport.resticFixtureURL)
        return try JSONDecoder().decode(ResticForgetFixture.self, from: data)
    }

    /// The fixture's backups as candidates ("b0", "b1", ... in file order, UTC).
    func candidates() -> [RetentionCandidate] {
        backups.enumerated().map { index, backup in
            RetentionCandidate(
                id: "b\(index)", time: RetentionTestSupport.date(backup.time), utcOffsetSeconds: 0,
                tags: backup.tags ?? []
            )
        }
    }

    /// "Expected results assume now is after every backup time."
    static let now = RetentionTestSupport.date("2030-01-01T00:00:00Z")
}

/// A reason reduced to what restic's wording and ours share: rule, "oldest" marker, window, tags.
struct ComparableReason: Hashable, CustomStringConvertible {
    var rule: RetentionRule
    var isOldest: Bool
    var window: String?
    var tags: [String]?

    var description: String {
        (isOldest ? "oldest " : "") + rule.rawValue + (window.map { " " + $0 } ?? "")
            + (tags.map { " \($0)" } ?? "")
    }

    init(_ reason: RetentionReason) {
        rule = reason.rule
        isOldest = reason.isOldest
        window = reason.window?.description
        tags = reason.tags
    }

    /// Parses restic's wording: "daily snapshot", "oldest yearly snapshot", "within 1m", "weekly within 1y2m3d3h",
    /// "oldest yearly within 9999y", "has tags [foo, bar]", "last snapshot".
    init(restic text: String) throws {
        var words = text.split(separator: " ").map(String.init)
        isOldest = words.first == "oldest"
        if isOldest { words.removeFirst() }
        window = nil
        tags = nil
        if words.first == "has", words.count >= 3 {
            rule = .tags
            let list = words.dropFirst(2).joined(separator: " ").trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            tags = list.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            return
        }
        if words.count == 2, words[0] == "within" {
            rule = .within
            window = words[1]
            return
        }
        let periods: [String: (count: RetentionRule, within: RetentionRule)] = [
            "hourly": (.hourly, .withinHourly), "daily": (.daily, .withinDaily), "weekly": (.weekly, .withinWeekly),
            "monthly": (.monthly, .withinMonthly), "yearly": (.yearly, .withinYearly),
        ]
        if words.count == 2, words[1] == "snapshot" {
            if words[0] == "last" {
                rule = .last
                return
            }
            if let period = periods[words[0]] {
                rule = period.count
                return
            }
        }
        if words.count == 3, words[1] == "within", let period = periods[words[0]] {
            rule = period.within
            window = words[2]
            return
        }
        struct UnknownResticReason: Error { var text: String }
        throw UnknownResticReason(text: text)
    }
}

@Suite("Retention: restic forget conformance table")
struct RetentionResticConformanceTests {
    @Test("the fixture holds 103 backups and 40 policies")
    func fixtureShape() throws {
        let fixture = try ResticForgetFixture.load()
        #expect(fixture.backups.count == 103)
        #expect(fixture.cases.count == 40)
    }

    @Test("case 0, the empty policy, is refused rather than keeping everything")
    func emptyPolicyIsRefused() throws {
        let fixture = try ResticForgetFixture.load()
        let policy = fixture.cases[0].policy
        #expect(policy.isEmpty)
        #expect(throws: RetentionError.emptyPolicy) {
            try RetentionPlanner.plan(fixture.candidates(), policy: policy, now: ResticForgetFixture.now)
        }
    }

    @Test("restic's kept set, order, rules and oldest markers", arguments: 1..<40)
    func resticCase(_ index: Int) throws {
        let fixture = try ResticForgetFixture.load()
        let testCase = fixture.cases[index]
        let plan = try RetentionPlanner.plan(fixture.candidates(), policy: testCase.policy, now: ResticForgetFixture.now)

        // Every backup gets exactly one decision, newest first.
        #expect(plan.count == fixture.backups.count)
        #expect(zip(plan, plan.dropFirst()).allSatisfy { $0.candidate.time >= $1.candidate.time })

        let kept = plan.filter(\.isKept)
        let keptTimes = kept.map(\.candidate.time)
        let expectedTimes = testCase.keep.map(RetentionTestSupport.date)
        #expect(keptTimes == expectedTimes, "policy \(testCase.policy)")
        try #require(kept.count == testCase.reasons.count)

        for (decision, resticReasons) in zip(kept, testCase.reasons) {
            let ours = decision.reasons.map(ComparableReason.init)
            let theirs = try resticReasons.map(ComparableReason.init(restic:))
            #expect(ours == theirs, "backup \(decision.candidate.id) at \(decision.candidate.time)")
            #expect(
                ours.filter(\.isOldest) == theirs.filter(\.isOldest),
                "oldest markers of \(decision.candidate.id)"
            )
        }
        // Removed backups carry no reason; nothing is future-dated here.
        #expect(plan.filter { !$0.isKept }.allSatisfy { $0.reasons.isEmpty })
        #expect(plan.allSatisfy { !$0.isFutureDated })
    }

    @Test("the fixture's policies survive a JSON round trip", arguments: 0..<40)
    func policyRoundTrip(_ index: Int) throws {
        let policy = try ResticForgetFixture.load().cases[index].policy
        let encoded = try JSONEncoder().encode(policy)
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: encoded) == policy)
    }
}
