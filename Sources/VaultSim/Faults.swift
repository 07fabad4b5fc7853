// Fault injection: the misbehaviours tests ask the simulator for (slow, broken or failing responses).

import Foundation

/// A fault a test can inject into a running simulator.
public enum VaultSimFault: Sendable, Equatable {
    /// The next snapshot download stops after `afterBytes` bytes, still with status 200 and a clean end of the
    /// chunked body: a broken gzip stream without `SHA256SUMS.sealed`, as Vault sends when it fails mid-stream.
    case truncateNextSnapshot(afterBytes: Int)
    /// The next `count` responses on `path` (e.g. `sys/storage/raft/snapshot`) wait `delay` before the first byte.
    case delayFirstByte(path: String, delay: Duration, count: Int)
    /// Streamed responses (snapshot downloads) are sent at no more than `bytesPerSecond` until cleared (nil).
    case throttle(bytesPerSecond: Int?)
    /// The next `count` requests on `path` (any node) fail with `status` and `{"errors":[message]}`.
    case failRequests(path: String, status: Int, count: Int, message: String)
    /// The next snapshot download's connection is reset after `afterBytes` bytes of body.
    case resetNextSnapshot(afterBytes: Int)
    /// Clears every pending fault.
    case clearAll
}

/// Pending faults (guarded by the core lock).
struct FaultState {
    var truncateNextSnapshot: Int?
    var resetNextSnapshot: Int?
    var throttle: Int?
    var delays: [String: (Duration, Int)] = [:]
    var failures: [String: (status: Int, count: Int, message: String)] = [:]

    mutating func apply(_ fault: VaultSimFault) {
        switch fault {
        case .truncateNextSnapshot(let n): truncateNextSnapshot = n
        case .resetNextSnapshot(let n): resetNextSnapshot = n
        case .throttle(let r): throttle = r
        case .delayFirstByte(let path, let d, let c): delays[normalize(path)] = (d, c)
        case .failRequests(let path, let status, let count, let message): failures[normalize(path)] = (status, count, message)
        case .clearAll: self = FaultState()
        }
    }

    func normalize(_ path: String) -> String {
        var p = path
        if p.hasPrefix("/") { p.removeFirst() }
        if p.hasPrefix("v1/") { p.removeFirst(3) }
        return p
    }

    /// Consumes a pending failure for `path`.
    mutating func takeFailure(_ path: String) -> SimResponse? {
        guard var f = failures[path], f.count > 0 else { return nil }
        f.count -= 1
        failures[path] = f.count > 0 ? f : nil
        return .errors(f.status, [f.message])
    }

    mutating func takeDelay(_ path: String) -> Duration? {
        guard var d = delays[path], d.1 > 0 else { return nil }
        d.1 -= 1
        delays[path] = d.1 > 0 ? d : nil
        return d.0
    }

    /// Consumes the one-shot stream faults for a snapshot download.
    mutating func takeSnapshotFaults() -> StreamFaults {
        defer { truncateNextSnapshot = nil; resetNextSnapshot = nil }
        return StreamFaults(truncateAfter: truncateNextSnapshot, resetAfter: resetNextSnapshot, bytesPerSecond: throttle)
    }
}
