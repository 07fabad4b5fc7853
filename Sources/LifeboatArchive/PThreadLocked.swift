// PThreadLocked: the package's one lock around shared mutable state.
//
// Synchronization.Mutex locks with raw futex system calls on Linux, which ThreadSanitizer does not intercept: it
// sees no ordering between two critical sections and reports every access in them as a race (it did, for
// TemporaryFiles and for a test's counters). A pthread mutex (NSLock) is what ThreadSanitizer understands, so shared
// state in Lifeboat, vault-sim's helpers and the tests sits behind this type, never behind Mutex.

import Foundation

/// A value behind a pthread mutex (NSLock).
package final class PThreadLocked<Value>: @unchecked Sendable {
    // Invariant: `value` is only touched with `lock` held.
    private let lock = NSLock()
    private var value: Value

    package init(_ value: Value) { self.value = value }

    package func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
