// Retries as a decorator: `S3RetryingTransport` wraps any `S3Transport` and retries 5xx, 429, S3's throttling
// and timeout codes and transport failures with exponential backoff. The sleep and the jitter source are
// injected so tests never wait for real time.

import AsyncHTTPClient
import Logging
import NIOCore
import LifeboatArchive
import LifeboatRepository

/// How often and how patiently to retry.
public struct S3RetryPolicy: Sendable, Equatable {
    /// Attempts in total, the first included (1 disables retries).
    public var maxAttempts: Int
    /// Delay before the first retry; doubled for each further retry.
    public var baseDelay: Duration
    /// Upper bound of one delay.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 5, baseDelay: Duration = .milliseconds(200), maxDelay: Duration = .seconds(20)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
    }

    /// No retries.
    public static let none = S3RetryPolicy(maxAttempts: 1)

    /// The delay before retry number `retry` (1 = first retry): "equal jitter", i.e. half of
    /// `min(maxDelay, baseDelay * 2^(retry-1))` plus `unit` (in 0...1) times the other half.
    public func delay(beforeRetry retry: Int, unit: Double) -> Duration {
        let exponent = min(max(retry - 1, 0), 30)
        var ceiling = baseDelay * (1 << exponent)
        if ceiling > maxDelay { ceiling = maxDelay }
        let clamped = min(max(unit, 0), 1)
        return ceiling / 2 + (ceiling / 2) * clamped
    }
}

/// One retry, reported to `S3RetryingTransport.onRetry` (for logs, metrics and tests).
public struct S3RetryEvent: Sendable {
    public let operation: String
    public let key: String?
    /// The attempt that failed (1-based).
    public let attempt: Int
    public let delay: Duration
    public let error: S3Error
}

/// Retries requests of the wrapped transport according to a policy.
///
/// A request is retried when sending it throws a retryable `S3Error` (transport failures) or when the answer is
/// an error status that `S3Error.isRetryable` accepts (5xx, 429, SlowDown, RequestTimeout…). The body of a
/// retried request is a `ByteBuffer` and is sent again unchanged; the request is signed again by the inner
/// transport, with a fresh date. The last failing answer is returned as it came (its body re-wrapped), so the
/// caller maps it to an error as usual. Cancellation is never retried.
public struct S3RetryingTransport: S3Transport {
    public let base: any S3Transport
    public let policy: S3RetryPolicy
    private let sleep: @Sendable (Duration) async throws -> Void
    private let jitter: @Sendable () -> Double
    private let onRetry: (@Sendable (S3RetryEvent) -> Void)?
    private let logger: Logger?
    private let bucket: String

    /// - Parameters:
    ///   - sleep: waits between attempts (`Task.sleep` by default; tests pass a recorder).
    ///   - jitter: a value in 0...1 per retry (random by default).
    public init(base: any S3Transport, policy: S3RetryPolicy, bucket: String,
                sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                jitter: @escaping @Sendable () -> Double = { Double.random(in: 0...1) },
                logger: Logger? = nil, onRetry: (@Sendable (S3RetryEvent) -> Void)? = nil) {
        self.base = base
        self.policy = policy
        self.bucket = bucket
        self.sleep = sleep
        self.jitter = jitter
        self.logger = logger
        self.onRetry = onRetry
    }

    public func send(_ request: S3Request) async throws -> S3Response {
        var attempt = 1
        while true {
            try Task.checkCancellation()
            let failure: S3Error
            do {
                let response = try await base.send(request)
                // Success and plain client errors (404, 403, 412…) go back untouched; only statuses that may be
                // retryable are read here, because deciding needs S3's error code from the body.
                guard response.status >= 500 || response.status == 429 || response.status == 400 else { return response }
                let body = try await response.collect(limit: 1024 * 1024)
                let error = S3Error.fromResponse(status: response.status, body: body, operation: request.operation,
                                                 bucket: bucket, key: request.key)
                let replay = S3Response(status: response.status, headers: response.headers,
                                        body: .bytes(ByteBuffer(bytes: body)))
                guard error.isRetryable, attempt < policy.maxAttempts else { return replay }
                failure = error
            } catch let error as S3Error where error.isRetryable && attempt < policy.maxAttempts {
                failure = error
            }
            let delay = policy.delay(beforeRetry: attempt, unit: jitter())
            logger?.warning("S3 request failed, retrying", metadata: [
                "operation": "\(request.operation)", "key": "\(request.key ?? "-")", "attempt": "\(attempt)",
                "status": "\(failure.httpStatus.map(String.init) ?? "-")", "code": "\(failure.code ?? failure.kind.rawValue)",
                "delay": "\(delay)",
            ])
            onRetry?(S3RetryEvent(operation: request.operation, key: request.key, attempt: attempt, delay: delay, error: failure))
            try await sleep(delay)
            attempt += 1
        }
    }
}
