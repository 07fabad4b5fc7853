// Pure decisions the scheduling daemon takes on each start and tick: whether a run was missed during downtime,
// and whether a tick may start a backup. Plain functions over values, tested with tables.

import Foundation
import LifeboatBase

/// The run to catch up at start-up after downtime, or nil.
///
/// A run was missed when the first scheduled time after the last run is at or before `now`. However many slots
/// passed while the agent was down, the answer is one run: the caller takes a single catch-up backup now and
/// then continues with `schedule.nextFire(after: now)`. The returned date is the first slot that was missed
/// (for logs and metrics).
///
/// With no recorded last run (a fresh installation) nothing counts as missed, like a systemd timer with
/// `Persistent=true` and no stamp file: the schedule simply starts. A `lastRun` in the future (the clock was set
/// back) is not a missed run either.
public func missedRun(lastRun: Date?, schedule: Schedule, now: Date) -> Date? {
    guard let lastRun, lastRun <= now else { return nil }
    guard let due = schedule.nextFire(after: lastRun), due <= now else { return nil }
    return due
}

/// What a scheduler tick does, given whether a backup is still in flight: one backup at a time.
public enum TickDecision: Sendable, Equatable {
    /// Start the backup.
    case start
    /// A backup is still running: skip this tick. `skippedTicks` is the running total of ticks skipped for this
    /// reason, including this one (for the overlap counter metric and the log line).
    case skipStillRunning(skippedTicks: Int)

    /// Decides a tick. `skippedSoFar` is the total of earlier skipped ticks; it is never reset by a started
    /// backup, so it can be exported as a monotonic counter.
    public static func decide(backupInFlight: Bool, skippedSoFar: Int) -> TickDecision {
        backupInFlight ? .skipStillRunning(skippedTicks: skippedSoFar + 1) : .start
    }

    /// The total of skipped ticks after this decision, given the total before it.
    public func skippedTotal(before skippedSoFar: Int) -> Int {
        switch self {
        case .start: skippedSoFar
        case .skipStillRunning(let total): total
        }
    }
}
