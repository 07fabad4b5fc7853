// Clocks: token TTLs and timestamps read an injectable clock so tests can expire tokens without sleeping.

import Foundation

/// The time source for token TTLs and reported timestamps.
public protocol SimClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: SimClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when told to; for tests.
public final class ManualClock: SimClock, @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var current: Date

    public init(start: Date = Date(timeIntervalSince1970: 1_800_000_000)) { current = start }

    public func now() -> Date { lock.withLock { current } }

    /// Moves the clock forward.
    public func advance(by seconds: TimeInterval) { lock.withLock { current += seconds } }
}

enum TimeFormat {
    /// RFC 3339 with nanoseconds, as Go's `time.RFC3339Nano` prints UTC times.
    static func rfc3339Nano(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let base = f.string(from: date)
        let frac = date.timeIntervalSince1970 - floor(date.timeIntervalSince1970)
        var digits = String(format: "%.9f", frac).dropFirst(2)
        while digits.hasSuffix("0") { digits = digits.dropLast() }
        return base + (digits.isEmpty ? "" : "." + digits) + "Z"
    }

    static let zeroTime = "0001-01-01T00:00:00Z"
}
