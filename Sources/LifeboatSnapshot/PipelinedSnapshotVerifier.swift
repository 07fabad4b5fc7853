// The snapshot verifier on a thread of its own: verification (gzip inflate and CRC, state.bin's SHA-256, tar and
// state.bin checks) runs on a second core beside encryption or decryption, while the SHA-256 of the raw bytes is
// computed on the caller's thread as they are queued (balancing the two threads). A bounded queue of recycled
// buffers keeps memory constant; the verdict is the sequential verifier's, because the worker runs that verifier on
// the same bytes in the same order.

import Foundation
import LifeboatArchive

/// A ``SnapshotVerifier`` on a background thread behind a bounded queue.
///
/// `consume` copies the bytes into a batch buffer and hands every full batch (`batchSize` bytes) to the worker,
/// blocking while `depth` batches are waiting or being verified; `finish` hands over the last batch and waits for
/// the verdict. Memory is about `(depth + 1) × batchSize`.
///
/// Errors: the worker runs ``SnapshotVerifier`` itself, so a damaged snapshot fails with the same ``SnapshotError``
/// (same check, same message) as the sequential verifier. It surfaces later, though: from the next `consume` after
/// the worker found it (so the caller stops early) or from `finish`.
///
/// Use one instance from one thread at a time, like ``SnapshotVerifier``. Dropping it without `finish` stops the
/// worker thread.
public final class PipelinedSnapshotVerifier {
    /// Bytes handed to the worker at once.
    public static let defaultBatchSize = 1 << 20
    /// Batches in flight (queued or being verified) before `consume` waits.
    public static let defaultDepth = 3

    private let channel: Channel
    private let batchSize: Int
    private var filling: [UInt8] = []
    private var verdict: Result<SnapshotSummary, any Error>?
    /// SHA-256 of the raw input, on the caller's thread (the worker's verifier skips it).
    private var rawHasher = SHA256Digest()

    /// Raw bytes fed so far.
    public private(set) var bytesConsumed: Int64 = 0

    /// Starts the worker thread.
    ///
    /// - Parameters:
    ///   - batchSize: bytes per hand-over; small pieces from the caller are gathered into batches of this size.
    ///   - depth: batches in flight before `consume` blocks (at least 1).
    public init(options: SnapshotVerifier.Options = .init(), batchSize: Int = defaultBatchSize,
                depth: Int = defaultDepth) throws {
        precondition(batchSize > 0 && depth > 0, "batch size and depth must be positive")
        let verifier = VerifierBox(try SnapshotVerifier(options: options, entryHandler: nil, hashesRawInput: false))
        self.batchSize = batchSize
        channel = Channel(depth: depth)
        filling.reserveCapacity(batchSize)
        let thread = Thread { [channel] in channel.work(verifier) }
        thread.name = "lifeboat-verifier"
        thread.start()
    }

    deinit {
        channel.cancel()
    }

    /// Feeds the next piece of the raw snapshot. Throws the verifier's error once the worker found one.
    public func consume(_ bytes: UnsafeRawBufferPointer) throws {
        if let verdict {
            if case .failure(let error) = verdict { throw error }
            guard bytes.isEmpty else {
                let error = SnapshotError(.trailingData, "bytes were fed after finish(); the snapshot was already complete")
                self.verdict = .failure(error)
                throw error
            }
            return
        }
        guard bytes.count > 0 else { return }
        try channel.throwIfFailed()
        rawHasher.update(bytes: bytes)
        var offset = 0
        while offset < bytes.count {
            let take = min(batchSize - filling.count, bytes.count - offset)
            filling.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + take]).assumingMemoryBound(to: UInt8.self))
            offset += take
            if filling.count == batchSize {
                filling = try channel.handOver(filling, capacity: batchSize)
            }
        }
        bytesConsumed += Int64(bytes.count)
    }

    /// Feeds the next piece of the raw snapshot.
    public func consume(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try consume($0) }
    }

    /// `consume` for async callers: suspends (never blocks the thread) while `depth` batches are in flight.
    public func consume<Bytes: Collection<UInt8>>(contentsOf bytes: Bytes) async throws {
        if let verdict {
            if case .failure(let error) = verdict { throw error }
            guard bytes.isEmpty else {
                let error = SnapshotError(.trailingData, "bytes were fed after finish(); the snapshot was already complete")
                self.verdict = .failure(error)
                throw error
            }
            return
        }
        guard !bytes.isEmpty else { return }
        try channel.throwIfFailed()
        var index = bytes.startIndex
        while index != bytes.endIndex {
            let end = bytes.index(index, offsetBy: batchSize - filling.count, limitedBy: bytes.endIndex) ?? bytes.endIndex
            let piece = bytes[index..<end]
            let hashed: Void? = piece.withContiguousStorageIfAvailable { rawHasher.update(bytes: UnsafeRawBufferPointer($0)) }
            if hashed == nil { Array(piece).withUnsafeBytes { rawHasher.update(bytes: $0) } }
            filling.append(contentsOf: piece)
            index = end
            if filling.count == batchSize {
                filling = try await channel.handOverSuspending(filling, capacity: batchSize)
            }
        }
        bytesConsumed += Int64(bytes.count)
    }

    /// `finish` for async callers: suspends (never blocks the thread) until the worker's verdict.
    public func finish() async throws -> SnapshotSummary {
        if let verdict { return try verdict.get() }
        var result = await channel.finishSuspending(last: filling)
        filling = []
        if case .success(var summary) = result {
            summary.sha256 = rawHasher.finalize()
            result = .success(summary)
        }
        verdict = result
        return try result.get()
    }

    /// Ends the input, waits for the worker and returns the summary, or throws the failed check. Calling it again
    /// returns (or throws) the same.
    public func finish() throws -> SnapshotSummary {
        if let verdict { return try verdict.get() }
        var result = channel.finish(last: filling)
        filling = []
        if case .success(var summary) = result {
            summary.sha256 = rawHasher.finalize()
            result = .success(summary)
        }
        verdict = result
        return try result.get()
    }
}

/// Hands the verifier to the worker thread, which then owns it alone.
private final class VerifierBox: @unchecked Sendable {
    // Invariant: `verifier` is touched only by the worker thread once it started.
    var verifier: SnapshotVerifier
    init(_ verifier: SnapshotVerifier) { self.verifier = verifier }
}

/// The queue between the caller and the worker.
private final class Channel: @unchecked Sendable {
    // Invariant: every `var` below is read and written only with `condition` locked.
    private let condition = AsyncCondition()
    private let depth: Int
    /// Batches waiting for the worker, oldest first.
    private var queued: [[UInt8]] = []
    /// Emptied batches for reuse.
    private var spare: [[UInt8]] = []
    /// Batches queued or being verified.
    private var inFlight = 0
    /// The caller called finish.
    private var ended = false
    /// The caller went away without finishing.
    private var cancelled = false
    private var failure: (any Error)?
    private var summary: SnapshotSummary?
    /// The worker has exited.
    private var done = false

    init(depth: Int) {
        self.depth = depth
    }

    func throwIfFailed() throws {
        condition.lock()
        defer { condition.unlock() }
        if let failure { throw failure }
    }

    /// Wakes the blocked caller and every suspended one (lock held).
    private func notify() { condition.broadcast() }

    /// Suspends until `ready` holds (checked with the lock held after every change the worker makes).
    private func wait(until ready: () -> Bool) async {
        await condition.wait(until: ready)
    }

    /// `handOver` without blocking: suspends while `depth` batches are in flight.
    func handOverSuspending(_ batch: [UInt8], capacity: Int) async throws -> [UInt8] {
        await wait { inFlight < depth || failure != nil || done }
        return try handOver(batch, capacity: capacity)
    }

    /// `finish` without blocking: suspends for room and for the verdict.
    func finishSuspending(last: [UInt8]) async -> Result<SnapshotSummary, any Error> {
        await wait { inFlight < depth || failure != nil || done }
        end(last: last)
        await wait { done }
        return verdict()
    }

    /// Queues the last batch if there is room and nothing failed, and declares the end.
    private func end(last: [UInt8]) {
        condition.lock()
        defer { condition.unlock() }
        if failure == nil && !last.isEmpty && !done && inFlight < depth {
            queued.append(last)
            inFlight += 1
        }
        ended = true
        notify()
    }

    private func verdict() -> Result<SnapshotSummary, any Error> {
        condition.lock()
        defer { condition.unlock() }
        if let failure { return .failure(failure) }
        guard let summary else { return .failure(CancellationError()) }
        return .success(summary)
    }

    /// Queues a full batch (waiting for room) and returns an empty buffer to fill next.
    func handOver(_ batch: [UInt8], capacity: Int) throws -> [UInt8] {
        condition.lock()
        defer { condition.unlock() }
        while inFlight >= depth && failure == nil && !done { condition.wait() }
        if let failure { throw failure }
        queued.append(batch)
        inFlight += 1
        notify()
        if let reused = spare.popLast() { return reused }
        var fresh: [UInt8] = []
        fresh.reserveCapacity(capacity)
        return fresh
    }

    /// Queues the last (possibly partial) batch, declares the end and waits for the verdict.
    func finish(last: [UInt8]) -> Result<SnapshotSummary, any Error> {
        condition.lock()
        defer { condition.unlock() }
        if failure == nil && !last.isEmpty {
            while inFlight >= depth && failure == nil && !done { condition.wait() }
            if failure == nil {
                queued.append(last)
                inFlight += 1
            }
        }
        ended = true
        notify()
        while !done { condition.wait() }
        if let failure { return .failure(failure) }
        guard let summary else { return .failure(CancellationError()) }
        return .success(summary)
    }

    func cancel() {
        condition.lock()
        cancelled = true
        notify()
        condition.unlock()
    }

    /// The worker thread's loop: verify batches in order until the end, a failure, or cancellation.
    func work(_ box: VerifierBox) {
        while true {
            condition.lock()
            while queued.isEmpty && !ended && !cancelled { condition.wait() }
            if cancelled || (queued.isEmpty && ended) {
                condition.unlock()
                break
            }
            var batch = queued.removeFirst()
            condition.unlock()

            var error: (any Error)?
            do {
                try batch.withUnsafeBytes { try box.verifier.consume($0) }
            } catch let thrown {
                error = thrown
            }
            batch.removeAll(keepingCapacity: true)

            condition.lock()
            spare.append(batch)
            inFlight -= 1
            if let error {
                failure = error
                done = true
                notify()
                condition.unlock()
                return
            }
            notify()
            condition.unlock()
        }
        // Ended (or cancelled): the final checks run only for a caller that is waiting for them.
        condition.lock()
        let wanted = !cancelled
        condition.unlock()
        var verdict: Result<SnapshotSummary, any Error> = .failure(CancellationError())
        if wanted { verdict = Result { try box.verifier.finish() } }
        condition.lock()
        switch verdict {
        case .success(let value): summary = value
        case .failure(let error): failure = error
        }
        done = true
        notify()
        condition.unlock()
    }
}
