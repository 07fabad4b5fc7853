// Plumbing for streaming a snapshot with a stall timeout: the HTTP body is pulled by a child task (the pump)
// and handed chunk by chunk to the caller's consumer through a one-slot `ChunkHandoff` (so back-pressure reaches
// the socket); a watchdog child cuts the stream when the pump has waited on the network for longer than the stall
// timeout, or when the whole transfer exceeds its deadline. Time spent in the consumer (disk, verification)
// never counts as a stall.

import Foundation
import NIOCore
import LifeboatArchive
import LifeboatSnapshot

/// A single-producer, single-consumer hand-over of one buffer at a time.
final class ChunkHandoff: Sendable {
    private enum State {
        case idle
        case consumerWaiting(CheckedContinuation<ByteBuffer?, any Error>)
        case producerWaiting(ByteBuffer, CheckedContinuation<Void, any Error>)
        case finished((any Error)?)
    }

    private let state = PThreadLocked<State>(.idle)

    /// Hands `buffer` over; returns once the consumer has taken it. Throws when the handoff was finished.
    func send(_ buffer: ByteBuffer) async throws {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (producer: CheckedContinuation<Void, any Error>) in
                enum Action { case none, deliver(CheckedContinuation<ByteBuffer?, any Error>), fail(any Error) }
                let action = state.withLock { s -> Action in
                    switch s {
                    case .idle:
                        s = .producerWaiting(buffer, producer)
                        return .none
                    case .consumerWaiting(let consumer):
                        s = .idle
                        return .deliver(consumer)
                    case .producerWaiting:
                        return .fail(CancellationError())
                    case .finished(let e):
                        return .fail(e ?? CancellationError())
                    }
                }
                switch action {
                case .none: break
                case .deliver(let consumer):
                    consumer.resume(returning: buffer)
                    producer.resume()
                case .fail(let e): producer.resume(throwing: e)
                }
            }
        } onCancel: {
            self.finish(CancellationError())
        }
    }

    /// The next buffer, nil at the end; throws the error the handoff was finished with.
    func receive() async throws -> ByteBuffer? {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (consumer: CheckedContinuation<ByteBuffer?, any Error>) in
                enum Action { case none, take(ByteBuffer, CheckedContinuation<Void, any Error>), end((any Error)?), fail(any Error) }
                let action = state.withLock { s -> Action in
                    switch s {
                    case .idle:
                        s = .consumerWaiting(consumer)
                        return .none
                    case .producerWaiting(let buffer, let producer):
                        s = .idle
                        return .take(buffer, producer)
                    case .consumerWaiting:
                        return .fail(CancellationError())
                    case .finished(let e):
                        return .end(e)
                    }
                }
                switch action {
                case .none: break
                case .take(let buffer, let producer):
                    consumer.resume(returning: buffer)
                    producer.resume()
                case .end(let e?): consumer.resume(throwing: e)
                case .end(nil): consumer.resume(returning: nil)
                case .fail(let e): consumer.resume(throwing: e)
                }
            }
        } onCancel: {
            self.finish(CancellationError())
        }
    }

    /// Ends the stream: normally (nil) or with an error. The first call wins; a pending buffer is dropped.
    func finish(_ error: (any Error)?) {
        enum Action { case none, consumer(CheckedContinuation<ByteBuffer?, any Error>), producer(CheckedContinuation<Void, any Error>) }
        let action = state.withLock { s -> Action in
            switch s {
            case .finished: return .none
            case .idle:
                s = .finished(error)
                return .none
            case .consumerWaiting(let c):
                s = .finished(error)
                return .consumer(c)
            case .producerWaiting(_, let p):
                s = .finished(error)
                return .producer(p)
            }
        }
        switch action {
        case .none: break
        case .consumer(let c):
            if let error { c.resume(throwing: error) } else { c.resume(returning: nil) }
        case .producer(let p): p.resume(throwing: error ?? CancellationError())
        }
    }

    var isFinished: Bool {
        state.withLock { if case .finished = $0 { return true } else { return false } }
    }
}

/// What the pump is doing, for the watchdog.
final class StreamActivity: Sendable {
    private struct Value {
        var waitingSince: ContinuousClock.Instant?
        var bytes: Int64 = 0
    }
    private let value = PThreadLocked(Value())

    func startWaiting() { value.withLock { $0.waitingSince = .now } }
    func received(_ n: Int) { value.withLock { $0.waitingSince = nil; $0.bytes += Int64(n) } }
    func stoppedWaiting() { value.withLock { $0.waitingSince = nil } }
    var bytes: Int64 { value.withLock { $0.bytes } }
    var waitingSince: ContinuousClock.Instant? { value.withLock { $0.waitingSince } }
}
