// RetentionPlanner: the pure retention decision. Given backups, a policy and "now", it says which backups to keep
// and why, with restic's `forget` semantics (docs/retention.md) plus Lifeboat's safety rails. No I/O, no clock.

import Foundation

/// Decides which backups a ``RetentionPolicy`` keeps. Pure: the same inputs always give the same plan.
///
/// Semantics, as restic's `forget`:
/// - Backups are sorted newest first; equal times keep their input order (stable sort).
/// - Count rules (keep-last, keep-hourly ... keep-yearly) walk that order. Each rule remembers the bucket it kept last
///   (hourly YYYYMMDDHH, daily YYYYMMDD, weekly ISO-year*100+ISO-week, monthly YYYYMM, yearly YYYY, computed in each
///   backup's own recorded UTC offset; keep-last puts every backup in its own bucket). While the rule has budget, a
///   backup whose bucket differs from that one is kept and spends one; so each bucket keeps its newest backup.
///   The oldest backup is also kept by every rule that still has budget ("oldest ..." reason).
/// - keep-within D keeps every backup strictly newer than (anchor - D); keep-within-<period> D applies the bucket
///   rule inside that window without counting (and also keeps the oldest backup when it is inside the window).
///   The anchor is the newest backup taken before `now` (future-dated backups do not anchor the window); when no
///   backup is older than `now`, the anchor is `now`.
/// - keep-tags keeps every backup carrying all tags of one of the lists; an empty tag matches backups without tags
///   (``RetentionPolicy/carries(_:all:)``).
/// - Rules are ORed; a backup kept by several rules spends budget from each count rule that keeps it.
///
/// Safety rails on top: an empty policy is refused, rules that keep none of the backups are refused (before the next
/// rail, so that a misspelt keep-tag cannot hide behind it), the newest backup with `verified == true` is never
/// removed, and a backup whose `lockedUntil` is after `now` is kept (reason `locked`; the store would refuse to
/// remove it).
public enum RetentionPlanner {
    /// Plans retention for `backups`.
    /// - Parameters:
    ///   - backups: the backups of one destination, in any order; ids must be unique.
    ///   - policy: the policy; it is validated first.
    ///   - now: the planning instant (injected, never read from the clock); used to recognise future-dated backups.
    /// - Returns: one decision per backup, newest first (equal times in input order).
    /// - Throws: ``RetentionError`` for an invalid or empty policy, invalid backups, or a plan that keeps nothing.
    public static func plan(_ backups: [RetentionCandidate], policy: RetentionPolicy, now: Date) throws -> [RetentionDecision] {
        try policy.validate()
        try validate(backups)
        guard !backups.isEmpty else { return [] }

        let order = backups.indices.sorted { lhs, rhs in
            let lhsTime = backups[lhs].time
            let rhsTime = backups[rhs].time
            return lhsTime != rhsTime ? lhsTime > rhsTime : lhs < rhs
        }
        let sorted = order.map { backups[$0] }
        let locals = sorted.map { RetentionLocalTime($0.time, utcOffsetSeconds: $0.utcOffsetSeconds) }

        var counters = countRules(of: policy)
        var windows = windowRules(of: policy, backups: sorted, now: now)
        let within: (duration: RetentionDuration, cutoff: Date)? = policy.keepWithin.flatMap { duration in
            duration.isZero ? nil : (duration, cutoff(for: duration, backups: sorted, now: now))
        }

        var decisions: [RetentionDecision] = []
        decisions.reserveCapacity(sorted.count)
        let lastIndex = sorted.count - 1
        for (position, backup) in sorted.enumerated() {
            var reasons: [RetentionReason] = []
            let isOldest = position == lastIndex

            for list in policy.keepTags where RetentionPolicy.carries(backup.tags, all: list) {
                reasons.append(RetentionReason(rule: .tags, tags: list))
            }

            if let within, backup.time > within.cutoff {
                reasons.append(RetentionReason(rule: .within, window: within.duration))
            }

            for index in counters.indices where counters[index].hasBudget {
                let key = counters[index].period.map { locals[position].bucketKey($0) } ?? position
                guard key != counters[index].lastKey || isOldest else { continue }
                let sharesBucket = key == counters[index].lastKey
                counters[index].lastKey = key
                counters[index].spend()
                reasons.append(
                    RetentionReason(
                        rule: counters[index].rule,
                        bucket: counters[index].period.map { locals[position].bucketLabel($0) },
                        isOldest: sharesBucket
                    )
                )
            }

            for index in windows.indices where backup.time > windows[index].cutoff {
                let period = windows[index].period
                let key = locals[position].bucketKey(period)
                guard key != windows[index].lastKey || isOldest else { continue }
                let sharesBucket = key == windows[index].lastKey
                windows[index].lastKey = key
                reasons.append(
                    RetentionReason(
                        rule: windows[index].rule,
                        bucket: locals[position].bucketLabel(period),
                        window: windows[index].duration,
                        isOldest: sharesBucket
                    )
                )
            }

            decisions.append(
                RetentionDecision(
                    candidate: backup,
                    action: reasons.isEmpty ? .remove : .keep,
                    reasons: reasons,
                    isFutureDated: backup.time > now
                )
            )
        }

        // The typo rail comes before the verified rail: rules that keep nothing (a misspelt keep-tag) are refused
        // even when the newest verified backup would be kept by the rail below.
        guard decisions.contains(where: \.isKept) else {
            throw RetentionError.planRemovesEveryBackup(count: decisions.count)
        }
        if let newestVerified = decisions.firstIndex(where: { $0.candidate.verified }),
            decisions[newestVerified].action == .remove
        {
            decisions[newestVerified].action = .keep
            decisions[newestVerified].reasons = [RetentionReason(rule: .newestVerified)]
        }

        // The store's rail: a backup locked at `now` cannot be removed, so the plan keeps it and says until when. It
        // spends no budget, so the rest of the plan is what it would be without the lock.
        for index in decisions.indices where decisions[index].action == .remove {
            if let until = decisions[index].candidate.lockedUntil, until > now {
                decisions[index].action = .keep
                decisions[index].reasons = [RetentionReason(rule: .locked, until: until)]
            }
        }
        return decisions
    }

    // MARK: - Rule state

    /// A count rule walking the newest-first list.
    private struct CountRule {
        let rule: RetentionRule
        /// `nil` for keep-last, whose bucket is the backup's position.
        let period: RetentionPeriod?
        /// Remaining budget; `nil` when unlimited.
        var remaining: Int?
        var lastKey: Int?

        var hasBudget: Bool { remaining.map { $0 > 0 } ?? true }

        mutating func spend() {
            if let left = remaining { remaining = left - 1 }
        }
    }

    /// A keep-within-<period> rule: a bucket rule without a count, limited to a window.
    private struct WindowRule {
        let rule: RetentionRule
        let period: RetentionPeriod
        let duration: RetentionDuration
        let cutoff: Date
        var lastKey: Int?
    }

    private static func countRules(of policy: RetentionPolicy) -> [CountRule] {
        let rules: [(RetentionRule, RetentionPeriod?, RetentionCount?)] = [
            (.last, nil, policy.keepLast),
            (.hourly, .hourly, policy.keepHourly),
            (.daily, .daily, policy.keepDaily),
            (.weekly, .weekly, policy.keepWeekly),
            (.monthly, .monthly, policy.keepMonthly),
            (.yearly, .yearly, policy.keepYearly),
        ]
        return rules.compactMap { rule, period, count in
            switch count {
            case .unlimited?: return CountRule(rule: rule, period: period, remaining: nil)
            case .limited(let n)? where n > 0: return CountRule(rule: rule, period: period, remaining: n)
            default: return nil
            }
        }
    }

    private static func windowRules(of policy: RetentionPolicy, backups: [RetentionCandidate], now: Date) -> [WindowRule] {
        let rules: [(RetentionRule, RetentionPeriod, RetentionDuration?)] = [
            (.withinHourly, .hourly, policy.keepWithinHourly),
            (.withinDaily, .daily, policy.keepWithinDaily),
            (.withinWeekly, .weekly, policy.keepWithinWeekly),
            (.withinMonthly, .monthly, policy.keepWithinMonthly),
            (.withinYearly, .yearly, policy.keepWithinYearly),
        ]
        return rules.compactMap { rule, period, duration in
            guard let duration, !duration.isZero else { return nil }
            return WindowRule(
                rule: rule, period: period, duration: duration,
                cutoff: cutoff(for: duration, backups: backups, now: now)
            )
        }
    }

    /// The start (exclusive) of a keep-within window: the anchor minus `duration`, computed in the anchor's offset.
    private static func cutoff(for duration: RetentionDuration, backups: [RetentionCandidate], now: Date) -> Date {
        // `backups` is sorted newest first: the anchor is the first one taken before `now`.
        guard let anchor = backups.first(where: { $0.time < now }) else {
            return RetentionCalendar.subtract(duration, from: now, utcOffsetSeconds: 0)
        }
        return RetentionCalendar.subtract(duration, from: anchor.time, utcOffsetSeconds: anchor.utcOffsetSeconds)
    }

    // MARK: - Input checks

    private static func validate(_ backups: [RetentionCandidate]) throws {
        var ids = Set<String>()
        ids.reserveCapacity(backups.count)
        for backup in backups {
            guard ids.insert(backup.id).inserted else {
                throw RetentionError.duplicateBackupID(backup.id)
            }
            guard abs(backup.utcOffsetSeconds) <= 18 * 3_600 else {
                throw RetentionError.invalidUTCOffset(backupID: backup.id, seconds: backup.utcOffsetSeconds)
            }
            let seconds = backup.time.timeIntervalSince1970
            guard seconds.isFinite, abs(seconds) < 3.2e12 else {
                throw RetentionError.invalidBackupTime(backupID: backup.id)
            }
        }
    }
}
