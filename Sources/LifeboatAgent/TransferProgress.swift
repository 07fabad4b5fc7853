// Progress of a long transfer on a terminal: bytes, rate, elapsed time and, when the size is known, the percentage
// and an estimate of the time left. The line is redrawn in place at most a few times a second. The CLI creates
// one only when stderr is a terminal and no machine-readable output was asked for, so cron, pipes and --json see
// nothing of it. The clock and the output are injected so the rendering is tested without a terminal.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// A progress line for one transfer.
public final class TransferProgress: Sendable {
    private struct State {
        var bytes: Int64 = 0
        var lastDraw: Double = -.infinity
        var finished = false
    }

    public let label: String
    public let total: Int64?
    private let clock: @Sendable () -> Double
    private let write: @Sendable (String) -> Void
    private let interval: Double
    private let started: Double
    private let state = PThreadLocked(State())

    /// - Parameters:
    ///   - total: the size when known (enables the percentage and the estimate).
    ///   - clock: monotonic seconds.
    ///   - write: receives each redraw (a carriage return, the line, and an erase to the end of the line).
    ///   - interval: the least time between two redraws.
    public init(label: String, total: Int64?, clock: @escaping @Sendable () -> Double = TransferProgress.monotonicSeconds,
                interval: Double = 0.2, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.total = total.flatMap { $0 > 0 ? $0 : nil }
        self.clock = clock
        self.write = write
        self.interval = interval
        started = clock()
    }

    /// A progress line on stderr when `enabled`, stderr is a terminal and TERM is not `dumb`; nil otherwise.
    public static func forTerminal(label: String, total: Int64?, enabled: Bool = true,
                                   environment: [String: String] = ProcessInfo.processInfo.environment) -> TransferProgress? {
        guard enabled, isatty(STDERR_FILENO) == 1, environment["TERM"] != "dumb" else { return nil }
        return TransferProgress(label: label, total: total) { text in
            FileHandle.standardError.write(Data(text.utf8))
        }
    }

    /// Records that `bytes` bytes are done in all (not an increment); redraws if the last redraw is old enough.
    public func update(_ bytes: Int64) {
        let now = clock()
        let line: String? = state.withLock { state in
            state.bytes = bytes
            guard !state.finished, now - state.lastDraw >= interval else { return nil }
            state.lastDraw = now
            return Self.render(label: label, bytes: bytes, total: total, elapsed: now - started)
        }
        if let line { write("\r" + line + "\u{1B}[K") }
    }

    /// Draws the final state and ends the line. Further updates are ignored.
    public func finish() {
        let now = clock()
        let line: String? = state.withLock { state in
            guard !state.finished else { return nil }
            state.finished = true
            return Self.render(label: label, bytes: state.bytes, total: total, elapsed: now - started)
        }
        if let line { write("\r" + line + "\u{1B}[K\n") }
    }

    /// One progress line, e.g. `backup  512.0 MiB of 1.0 GiB (50%)  171.2 MB/s  0:03 elapsed  0:03 left`.
    public static func render(label: String, bytes: Int64, total: Int64?, elapsed: Double) -> String {
        var parts = [label, total.map { "\(size(bytes)) of \(size($0)) (\(min(100, bytes * 100 / $0))%)" } ?? size(bytes)]
        let rate = elapsed > 0 ? Double(bytes) / elapsed : 0
        parts.append(rate > 0 ? String(format: "%.1f MB/s", rate / 1_000_000) : "- MB/s")
        parts.append("\(clock(elapsed)) elapsed")
        if let total, rate > 0, bytes < total {
            parts.append("\(clock(Double(total - bytes) / rate)) left")
        }
        return parts.joined(separator: "  ")
    }

    /// `1.5 GiB`, `12.0 MiB`, `512 B`: the sizes of progress lines and of `lifeboat list`.
    public static func size(_ bytes: Int64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var value = Double(bytes)
        var unit = 0
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
    }

    /// `m:ss`, or `h:mm:ss` from an hour on.
    static func clock(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        let (h, m, s) = (total / 3600, total / 60 % 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }

    /// Seconds on the monotonic clock.
    public static let monotonicSeconds: @Sendable () -> Double = {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}

/// A store reader that reports the bytes read so far to a progress line.
public final class ProgressReader: StoreObjectReader {
    private let base: any StoreObjectReader
    private let progress: TransferProgress
    private let count = PThreadLocked<Int64>(0)

    public init(_ base: any StoreObjectReader, progress: TransferProgress) {
        self.base = base
        self.progress = progress
    }

    public func read(maxCount: Int) async throws -> [UInt8]? {
        let bytes = try await base.read(maxCount: maxCount)
        if let bytes {
            progress.update(count.withLock { $0 += Int64(bytes.count); return $0 })
        }
        return bytes
    }

    public func close() async { await base.close() }
}

/// A store whose readers report progress: `verify` and `export` read through it.
public struct ProgressStore: BackupStore {
    private let base: any BackupStore
    private let progress: TransferProgress

    public init(_ base: any BackupStore, progress: TransferProgress) {
        self.base = base
        self.progress = progress
    }

    public var displayName: String { base.displayName }
    public func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject {
        try await base.createPendingObject(named: name, mode: mode)
    }
    public func openForReading(_ name: String) async throws -> any StoreObjectReader {
        ProgressReader(try await base.openForReading(name), progress: progress)
    }
    public func stat(_ name: String) async throws -> StoreObjectInfo { try await base.stat(name) }
    public func list(prefix: String) async throws -> [StoreObjectInfo] { try await base.list(prefix: prefix) }
    public func delete(_ name: String) async throws { try await base.delete(name) }
    public func get(_ name: String, limit: Int) async throws -> [UInt8] { try await base.get(name, limit: limit) }
    public func cleanupOrphans(olderThan cutoff: Date) async throws -> [String] { try await base.cleanupOrphans(olderThan: cutoff) }
}
