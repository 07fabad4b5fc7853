// A condition variable that threads can block on and tasks can suspend on: the worker threads of the pipelined
// verifier and the local store's write-behind change their state under the lock and `broadcast()`; a thread waits
// with `wait()`, a task with `wait(until:)`, which never blocks the cooperative pool.

import Foundation

/// NSCondition plus suspended tasks. Every state it guards is read and written with the lock held.
public final class AsyncCondition: @unchecked Sendable {
    // Invariant: `waiters` is touched only with `condition` locked.
    private let condition = NSCondition()
    private var waiters: [CheckedContinuation<Bool, Never>] = []

    public init() {}

    public func lock() { condition.lock() }
    public func unlock() { condition.unlock() }

    /// Blocks the calling thread until the next `broadcast()` (lock held, as with NSCondition).
    public func wait() { condition.wait() }

    /// Wakes every blocked thread and every suspended task (lock held); each re-checks what it waits for.
    public func broadcast() {
        condition.broadcast()
        for waiter in waiters { waiter.resume(returning: false) }
        waiters.removeAll()
    }

    /// Suspends until `ready` holds; `ready` is evaluated with the lock held after every `broadcast()`.
    public func wait(until ready: () -> Bool) async {
        while true {
            let satisfied: Bool = await withCheckedContinuation { (c: CheckedContinuation<Bool, Never>) in
                condition.lock()
                defer { condition.unlock() }
                if ready() {
                    c.resume(returning: true)
                } else {
                    waiters.append(c)
                }
            }
            if satisfied { return }
        }
    }
}
