// Time for the Vault client: a clock (token TTLs, renewal times) and a sleeper (retry backoff), both injectable so
// tests move time by hand instead of waiting through real minutes.

import Foundation
import LifeboatArchive
import LifeboatSnapshot

/// The time source for token expiry and renewal decisions.
public protocol VaultClock: Sendable {
    /// The current time.
    func now() -> Date
}

/// The wall clock.
public struct SystemVaultClock: VaultClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that moves only when told; for tests.
public final class ManualVaultClock: VaultClock {
    private let current: PThreadLocked<Date>

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = PThreadLocked(start) }

    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

/// Waits between retries. Tests inject one that records the delays and returns at once.
public protocol VaultSleeper: Sendable {
    func sleep(for duration: Duration) async throws
}

/// Really sleeps (cancellable).
public struct TaskVaultSleeper: VaultSleeper {
    public init() {}
    public func sleep(for duration: Duration) async throws { try await Task.sleep(for: duration) }
}
