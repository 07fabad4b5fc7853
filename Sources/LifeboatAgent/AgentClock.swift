// Time for the agent daemon: a clock that tells the time and sleeps until a wall-clock instant. The real one
// re-reads the wall clock in slices (so a suspended laptop or a stepped clock does not oversleep); the manual one
// moves only when a test says so, which lets a test cover days of schedule in milliseconds.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// The agent's source of time. Schedules are wall-clock (cron in a time zone), so the clock speaks `Date`.
public protocol AgentClock: Sendable {
    /// The current time.
    func now() -> Date
    /// Suspends until `now() >= deadline`. Returns at once if the deadline has passed.
    ///
    /// - Throws: `CancellationError` if the calling task is cancelled first.
    func sleep(until deadline: Date) async throws
}

/// The wall clock. Sleeps in slices of at most `maximumSlice` and re-reads the time after each, so that a clock
/// step (NTP, suspend and resume) delays a run by at most one slice.
public struct SystemAgentClock: AgentClock {
    /// The longest single sleep before the wall clock is read again.
    public var maximumSlice: Duration

    public init(maximumSlice: Duration = .seconds(30)) {
        self.maximumSlice = maximumSlice
    }

    public func now() -> Date { Date() }

    public func sleep(until deadline: Date) async throws {
        let slice = maximumSlice.secondsValue
        while true {
            try Task.checkCancellation()
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return }
            let step = min(remaining, max(slice, 0.001))
            try await Task.sleep(for: .milliseconds(Int64((step * 1000).rounded(.up))))
        }
    }
}

/// A clock that moves only when told; for tests. Sleepers are resumed, in deadline order, when `advance` passes
/// their deadline.
public final class ManualAgentClock: AgentClock {
    private struct Sleeper {
        var deadline: Date
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Date
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state: PThreadLocked<State>

    /// A clock showing `start`.
    public init(start: Date) {
        state = PThreadLocked(State(now: start))
    }

    public func now() -> Date { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline anyone is sleeping until, if anyone is.
    public var earliestDeadline: Date? { state.withLock { $0.sleepers.values.map(\.deadline).min() } }

    public func sleep(until deadline: Date) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                enum Immediate { case due, cancelled }
                let immediate = state.withLock { state -> Immediate? in
                    // Checked under the lock: cancellation sets the flag before running `onCancel`, which takes
                    // the same lock, so a sleeper is either seen cancelled here or found by `onCancel`.
                    if Task.isCancelled { return .cancelled }
                    if state.now >= deadline { return .due }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                switch immediate {
                case .due: continuation.resume()
                case .cancelled: continuation.resume(throwing: CancellationError())
                case nil: break
                }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Sets the clock to `date` (never backwards) and wakes every sleeper whose deadline is at or before it.
    public func advance(to date: Date) {
        let due = state.withLock { state -> [Sleeper] in
            if date > state.now { state.now = date }
            let now = state.now
            let ready = state.sleepers.filter { $0.value.deadline <= now }
            for key in ready.keys { state.sleepers.removeValue(forKey: key) }
            return ready.values.sorted { $0.deadline < $1.deadline }
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        advance(to: now().addingTimeInterval(seconds))
    }
}
