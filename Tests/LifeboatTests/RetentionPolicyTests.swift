// RetentionDuration parsing (restic's y/m/d/h syntax and its error messages) and RetentionPolicy validation and
// JSON form (snake_case keys, "unlimited" counts, unknown keys refused).

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

@Suite("Retention: durations and policies")
struct RetentionPolicyTests {
    @Test(
        "valid durations",
        arguments: [
            ("1y2m3d3h", RetentionDuration(years: 1, months: 2, days: 3, hours: 3), "1y2m3d3h"),
            ("7d", RetentionDuration(days: 7), "7d"),
            ("48h", RetentionDuration(hours: 48), "48h"),
            (" 13d23h\n", RetentionDuration(days: 13, hours: 23), "13d23h"),
            ("3h1d", RetentionDuration(days: 1, hours: 3), "1d3h"),
            ("9999y", RetentionDuration(years: 9999), "9999y"),
            ("0d", RetentionDuration(), "0h"),
            ("1000000h", RetentionDuration(hours: 1_000_000), "1000000h"),
        ]
    )
    func validDuration(_ text: String, _ expected: RetentionDuration, _ canonical: String) throws {
        let parsed = try RetentionDuration(parsing: text)
        #expect(parsed == expected)
        #expect(parsed.description == canonical)
        #expect(RetentionDuration(canonical) == expected)
    }

    @Test(
        "invalid durations say what is wrong and how to write one",
        arguments: [
            ("", "it is empty"),
            ("   ", "it is empty"),
            ("5", "the number 5 at the end has no unit"),
            ("d", "expected a number at position 1, found \"d\""),
            ("1dd", "expected a number at position 3, found \"d\""),
            ("2w", "unknown unit \"w\" after the number 2"),
            ("30s", "unknown unit \"s\""),
            ("1D", "unknown unit \"D\""),
            ("1d2d", "the unit \"d\" appears more than once"),
            ("-1d", "negative values are not allowed"),
            ("1.5d", "unknown unit \".\""),
            ("1 d", "unknown unit \" \""),
            ("99999999d", "larger than 1000000"),
            ("1d²", "expected a number at position 3, found \"²\""),
        ]
    )
    func invalidDuration(_ text: String, _ problem: String) {
        let error = #expect(throws: RetentionError.self) {
            _ = try RetentionDuration(parsing: text)
        }
        guard case .invalidDuration(let input, let actual)? = error else {
            Issue.record("expected invalidDuration, got \(String(describing: error))")
            return
        }
        #expect(input == text)
        #expect(actual.contains(problem), "problem was: \(actual)")
        let message = error?.description ?? ""
        #expect(message.contains("\"\(text)\"") && message.contains("1y2m3d3h"), "message was: \(message)")
        #expect(RetentionDuration(text) == nil)
    }

    @Test("a duration decodes from a JSON string and reports parse errors")
    func durationJSON() throws {
        let decoded = try JSONDecoder().decode([RetentionDuration].self, from: Data(#"["2m2h"]"#.utf8))
        #expect(decoded == [RetentionDuration(months: 2, hours: 2)])
        #expect(String(decoding: try JSONEncoder().encode(decoded), as: UTF8.self) == #"["2m2h"]"#)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([RetentionDuration].self, from: Data(#"["2 weeks"]"#.utf8))
        }
    }

    @Test(
        "policies that keep nothing are refused",
        arguments: [
            RetentionPolicy(),
            RetentionPolicy(keepLast: 0, keepDaily: 0),
            RetentionPolicy(keepWithin: RetentionDuration(), keepWithinDaily: RetentionDuration()),
        ]
    )
    func emptyPolicies(_ policy: RetentionPolicy) {
        #expect(policy.isEmpty)
        #expect(throws: RetentionError.emptyPolicy) { try policy.validate() }
        #expect(RetentionError.emptyPolicy.description.contains("keep-last"))
    }

    @Test("invalid policies name the rule to fix")
    func invalidPolicies() {
        #expect(throws: RetentionError.negativeCount(rule: "keep-daily", value: -2)) {
            try RetentionPolicy(keepDaily: .limited(-2)).validate()
        }
        #expect(throws: RetentionError.emptyTagList(index: 1)) {
            try RetentionPolicy(keepTags: [["pre-upgrade"], []]).validate()
        }
        // An empty tag is restic's "untagged" and valid; only an empty list is refused.
        #expect(throws: Never.self) { try RetentionPolicy(keepTags: [[""]]).validate() }
        let huge = RetentionDuration(days: 2_000_000)
        #expect(throws: RetentionError.durationOutOfRange(rule: "keep-within-weekly", duration: huge)) {
            try RetentionPolicy(keepWithinWeekly: huge).validate()
        }
        #expect(throws: RetentionError.durationOutOfRange(rule: "keep-within", duration: RetentionDuration(hours: -1))) {
            try RetentionPolicy(keepWithin: RetentionDuration(hours: -1)).validate()
        }
    }

    @Test("valid policies pass validation", arguments: [
        RetentionPolicy(keepLast: 1),
        RetentionPolicy(keepHourly: .unlimited),
        RetentionPolicy(keepWithinYearly: RetentionDuration(years: 5)),
        RetentionPolicy(keepTags: [["pre-upgrade"]]),
        RetentionPolicy(keepLast: 0, keepWithin: RetentionDuration(hours: 48)),
    ])
    func validPolicies(_ policy: RetentionPolicy) throws {
        #expect(!policy.isEmpty)
        try policy.validate()
    }

    @Test("policy JSON: snake_case keys, unlimited and -1 counts, durations as strings")
    func policyJSON() throws {
        let json = #"""
            {"keep_last": 3, "keep_daily": -1, "keep_monthly": "unlimited", "keep_within": "2d",
             "keep_within_weekly": "1y2m", "keep_tags": [["pre-upgrade"], ["a", "b"]]}
            """#
        let policy = try JSONDecoder().decode(RetentionPolicy.self, from: Data(json.utf8))
        #expect(
            policy
                == RetentionPolicy(
                    keepLast: 3, keepDaily: .unlimited, keepMonthly: .unlimited, keepWithin: RetentionDuration(days: 2),
                    keepWithinWeekly: RetentionDuration(years: 1, months: 2), keepTags: [["pre-upgrade"], ["a", "b"]]
                )
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let encoded = String(decoding: try encoder.encode(policy), as: UTF8.self)
        #expect(
            encoded
                == #"{"keep_daily":"unlimited","keep_last":3,"keep_monthly":"unlimited","keep_tags":[["pre-upgrade"],["a","b"]],"keep_within":"2d","keep_within_weekly":"1y2m"}"#
        )
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: Data(encoded.utf8)) == policy)
        #expect(try JSONDecoder().decode(RetentionPolicy.self, from: Data("{}".utf8)).isEmpty)
    }

    @Test(
        "policy JSON errors are refused",
        arguments: [
            (#"{"keep_dayly": 7}"#, "keep_dayly"),
            (#"{"keep_daily": -3}"#, "invalid retention count -3"),
            (#"{"keep_daily": "all"}"#, "invalid retention count \"all\""),
            (#"{"keep_within": "2w"}"#, "unknown unit \"w\""),
        ]
    )
    func policyJSONErrors(_ json: String, _ fragment: String) {
        let error = #expect(throws: DecodingError.self) {
            _ = try JSONDecoder().decode(RetentionPolicy.self, from: Data(json.utf8))
        }
        guard case .dataCorrupted(let context)? = error else {
            Issue.record("expected dataCorrupted, got \(String(describing: error))")
            return
        }
        #expect(context.debugDescription.contains(fragment), "message was: \(context.debugDescription)")
    }

    @Test("policy summary reads like restic's")
    func policySummary() {
        let policy = RetentionPolicy(
            keepDaily: 7, keepWeekly: 4, keepMonthly: .unlimited, keepWithin: RetentionDuration(hours: 48),
            keepWithinHourly: RetentionDuration(days: 1), keepTags: [["pre-upgrade"]]
        )
        #expect(
            policy.description
                == "keep 7 daily, 4 weekly, all monthly backups, hourly backups within 1d and all backups tagged "
                + "[pre-upgrade] and all backups within 48h of the newest"
        )
        #expect(RetentionPolicy().description == "keep nothing (refused)")
    }
}
