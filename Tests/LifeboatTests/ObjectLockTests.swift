// Object Lock without a server: the planner's `locked` rail (a table), the manifest's `object_lock` record, and the
// destination's `object_lock` configuration (parsed, validated, rendered, passed to the S3 store).

import Foundation
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention

@Suite("Object Lock: retention rail, manifest, configuration")
struct ObjectLockTests {
    static let now = Date(timeIntervalSince1970: 1_796_000_000)

    /// Five hourly backups, newest last; keep-last 2 removes b1, b2 and b3 unless a lock holds them.
    static func backups(lockedUntil: [String: Date]) -> [RetentionCandidate] {
        (1...5).map { n in
            RetentionCandidate(id: "b\(n)", time: now.addingTimeInterval(Double(n - 6) * 3600), lockedUntil: lockedUntil["b\(n)"])
        }
    }

    @Test("a backup locked at `now` is kept with its expiry; an expired or absent lock changes nothing", arguments: [
        // (locks, expected kept ids, expected locked reasons)
        ([:], ["b5", "b4"], [String]()),
        (["b1": now.addingTimeInterval(60)], ["b5", "b4", "b1"], ["b1"]),
        (["b1": now.addingTimeInterval(-60), "b2": now], ["b5", "b4"], []),  // expired, and expiring exactly now
        (["b2": now.addingTimeInterval(86_400), "b3": now.addingTimeInterval(1), "b5": now.addingTimeInterval(99)],
         ["b5", "b4", "b3", "b2"], ["b3", "b2"]),  // b5 is kept by keep-last, not by its lock
    ] as [([String: Date], [String], [String])])
    func lockedRail(_ locks: [String: Date], _ kept: [String], _ lockedReasons: [String]) throws {
        let plan = try RetentionPlanner.plan(Self.backups(lockedUntil: locks), policy: RetentionPolicy(keepLast: .limited(2)), now: Self.now)
        #expect(plan.filter(\.isKept).map(\.candidate.id) == kept)
        let locked = plan.filter { $0.reasons.contains { $0.rule == .locked } }
        #expect(locked.map(\.candidate.id) == lockedReasons)
        for decision in locked {
            #expect(decision.reasons == [RetentionReason(rule: .locked, until: locks[decision.candidate.id])])
        }
        // The lock spends no budget: the other decisions are those of the plan without locks.
        let unlocked = try RetentionPlanner.plan(Self.backups(lockedUntil: [:]), policy: RetentionPolicy(keepLast: .limited(2)), now: Self.now)
        for (a, b) in zip(plan, unlocked) where !a.reasons.contains(where: { $0.rule == .locked }) {
            #expect(a.candidate.id == b.candidate.id && a.action == b.action && a.reasons == b.reasons)
        }
    }

    @Test func lockedReasonText() {
        let reason = RetentionReason(rule: .locked, until: Date(timeIntervalSince1970: 1_796_000_000))
        #expect(reason.description == "locked until 2026-11-30T00:53:20Z")
    }

    @Test("the manifest records the lock as object_lock {mode, retain_until} and reads it back")
    func manifestRecord() throws {
        var manifest = ManifestSamples.manifest()
        let plain = String(decoding: try manifest.encoded(), as: UTF8.self)
        #expect(!plain.contains("object_lock"), "manifests without a lock are unchanged")
        manifest.objectLock = StoreObjectLock(mode: .compliance, retainUntil: Date(timeIntervalSince1970: 1_796_000_000))
        let bytes = try manifest.encoded()
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"object_lock\" : {\n    \"mode\" : \"compliance\",\n    \"retain_until\" : \"2026-11-30T00:53:20+00:00\""))
        let decoded = try BackupManifest.decode(bytes, object: BackupRepository.manifestObjectName(for: manifest.id))
        #expect(decoded.objectLock == manifest.objectLock)
        #expect(decoded.retentionCandidate.lockedUntil == manifest.objectLock?.retainUntil)
        #expect(try JSONDecoder().decode(BackupManifest.self, from: Data(bytes)) == decoded)
        // An unknown mode is refused with the field's path.
        let bad = Array(text.replacingOccurrences(of: "\"compliance\"", with: "\"legal-hold\"").utf8)
        #expect(throws: ManifestError.self) { try BackupManifest.decode(bad, object: "manifests/x.json") }
    }

    static let yaml = """
        version: 1
        destinations:
          - name: offsite
            type: s3
            bucket: vault-backups
            endpoint: http://127.0.0.1:9000
            path_style: true
            object_lock: {mode: compliance, days: 35}
        """

    @Test("object_lock is parsed, rendered and reaches the S3 store configuration")
    func configuration() throws {
        let loaded = try #require(ConfigTestSupport.load(Self.yaml))
        guard case .s3(let s3) = loaded.configuration.destinations.first?.storage else {
            Issue.record("not an s3 destination")
            return
        }
        #expect(s3.objectLock == .init(mode: .compliance, days: 35))
        let store = try s3.storeConfiguration(environment: ["AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"])
        #expect(store.objectLock == S3ObjectLockSetting(mode: .compliance, days: 35))
        #expect(store.objectLock?.lock(writtenAt: Self.now).retainUntil == Self.now.addingTimeInterval(35 * 86_400))
        let rendered = ConfigurationRenderer.render(loaded, status: { _ in nil })
        #expect(rendered.contains("object_lock:\n      mode: compliance\n      days: 35"))
    }

    @Test("the longest keep of a policy, for aligning object_lock.days", arguments: [
        (RetentionPolicy(keepDaily: .limited(30)), 30),
        (RetentionPolicy(keepHourly: .limited(48), keepDaily: .limited(7), keepWeekly: .limited(5)), 35),
        (RetentionPolicy(keepHourly: .limited(25)), 2),
        (RetentionPolicy(keepMonthly: .limited(12), keepYearly: .limited(2)), 732),
        (RetentionPolicy(keepWithin: RetentionDuration(days: 3, hours: 1)), 4),
        (RetentionPolicy(keepDaily: .limited(7), keepWithinMonthly: RetentionDuration(years: 1)), 366),
        (RetentionPolicy(keepYearly: .limited(Int.max)), 36_500),
    ] as [(RetentionPolicy, Int)])
    func longestKeep(_ policy: RetentionPolicy, _ days: Int) {
        #expect(policy.longestKeepDays == days)
    }

    @Test("no time bound, no longest keep", arguments: [
        RetentionPolicy(keepLast: .limited(10)), RetentionPolicy(keepTags: [["pre-upgrade"]]),
        RetentionPolicy(keepDaily: .limited(7), keepMonthly: .unlimited),
    ])
    func unboundedKeep(_ policy: RetentionPolicy) {
        #expect(policy.longestKeepDays == nil)
    }

    @Test("object_lock without days takes the retention's longest keep, and says so when rendered")
    func daysFromRetention() throws {
        let yaml = Self.yaml.replacingOccurrences(of: "object_lock: {mode: compliance, days: 35}",
                                                  with: "object_lock: {mode: governance}\n    retention: {keep_daily: 7, keep_weekly: 5}")
        let loaded = try #require(ConfigTestSupport.load(yaml))
        guard case .s3(let s3) = loaded.configuration.destinations.first?.storage else {
            Issue.record("not an s3 destination")
            return
        }
        #expect(s3.objectLock == .init(mode: .governance, days: 35, daysFromRetention: true))
        #expect(ConfigurationRenderer.render(loaded, status: { _ in nil }).contains("from retention (its longest keep)"))
    }

    @Test("object_lock errors name the key and the fix", arguments: [
        ("object_lock: {mode: compliance}", "does not bound how long a backup is kept"),
        ("object_lock: {mode: compliance}\n    retention: {keep_last: 3}", "give days explicitly"),
        ("object_lock: {days: 3}", "missing key `mode`"),
        ("object_lock: {mode: legal, days: 3}", "mode"),
        ("object_lock: {mode: governance, days: 0}", "between 1 and 36500"),
        ("object_lock: {mode: governance, days: 3, years: 1}", "years"),
    ])
    func configurationErrors(_ line: String, _ expected: String) {
        let yaml = Self.yaml.replacingOccurrences(of: "object_lock: {mode: compliance, days: 35}", with: line)
        let errors = ConfigTestSupport.errors(yaml)
        #expect(errors.contains { $0.description.contains(expected) }, "\(errors)")
    }
}
