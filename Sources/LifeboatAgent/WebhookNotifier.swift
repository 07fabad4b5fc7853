// Webhook notifications: what to say (a pure decision from the job's failure streak), how to say it (Lifeboat's
// JSON or a Slack-compatible {"text": ...}), and delivery with a timeout, bounded retries and exponential backoff.
// Delivery never throws: a webhook that cannot be reached is logged and counted, and the backup stays a success.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// One webhook endpoint.
public struct WebhookConfiguration: Sendable, Equatable {
    /// The body format.
    public enum Format: String, Sendable, Equatable, CaseIterable {
        /// Lifeboat's JSON document (`event`, `job`, `groups`, `reason`, `message`, `timestamp`, `host`, `version`).
        case json
        /// `{"text": "..."}`, accepted by Slack, Mattermost, Rocket.Chat and Teams-compatible relays.
        case slack
    }

    /// The endpoint. It may embed a secret (Slack webhook URLs do): logs show only scheme and host.
    public var url: String
    public var format: Format
    /// The events this webhook receives (the configuration's `on:` list); failures and recoveries by default.
    public var events: Set<AgentNotification.Event>
    /// Whether plain successes are sent too.
    public var notifyOnSuccess: Bool { events.contains(.success) }
    /// Limit for one delivery attempt.
    public var timeout: Duration
    /// Attempts in total, at least 1.
    public var maxAttempts: Int
    /// The wait before the second attempt; doubled before each further one.
    public var initialBackoff: Duration

    /// - Parameters:
    ///   - notifyOnSuccess: adds `.success` to the default events; ignored when `events` is given.
    ///   - events: exactly which events to send.
    public init(
        url: String, format: Format = .json, notifyOnSuccess: Bool = false, events: Set<AgentNotification.Event>? = nil,
        timeout: Duration = .seconds(10), maxAttempts: Int = 3, initialBackoff: Duration = .seconds(1)
    ) {
        self.url = url
        self.format = format
        self.events = events ?? (notifyOnSuccess ? [.failure, .recovery, .success] : [.failure, .recovery])
        self.timeout = timeout
        self.maxAttempts = maxAttempts
        self.initialBackoff = initialBackoff
    }

    /// Scheme and host only, safe to log.
    public var redactedURL: String {
        guard let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host
        else { return "<invalid url>" }
        let port = components.port.map { ":\($0)" } ?? ""
        return "\(scheme)://\(host)\(port)/…"
    }

    func validate() throws(AgentConfigurationError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty
        else {
            throw AgentConfigurationError(
                message: "webhook URL \(redactedURL) is not usable: write an absolute http:// or https:// URL")
        }
        guard maxAttempts >= 1, maxAttempts <= 10 else {
            throw AgentConfigurationError(message: "webhook \(redactedURL): attempts must be between 1 and 10")
        }
        guard timeout > .zero, initialBackoff >= .zero else {
            throw AgentConfigurationError(message: "webhook \(redactedURL): timeout must be positive and backoff not negative")
        }
    }
}

/// A message about a job.
public struct AgentNotification: Sendable, Equatable {
    public enum Event: String, Sendable, Hashable, CaseIterable {
        /// The job failed after succeeding (or for the first time).
        case failure
        /// The job succeeded after one or more failures.
        case recovery
        /// The job succeeded (only with `notifyOnSuccess`).
        case success
    }

    public var event: Event
    /// `backup`, `verify` or `drill`.
    public var job: String
    /// The backup schedules the run covered (empty for verify and drill).
    public var groups: [String]
    public var reason: AgentFailureReason?
    public var message: String
    public var timestamp: Date
    public var host: String
    /// The fleet cluster the job belongs to; nil for a single-cluster agent (then the payload has no `cluster`).
    public var cluster: String?

    public init(
        event: Event, job: String, groups: [String], reason: AgentFailureReason?, message: String, timestamp: Date,
        host: String, cluster: String? = nil
    ) {
        self.cluster = cluster
        self.event = event
        self.job = job
        self.groups = groups
        self.reason = reason
        self.message = message
        self.timestamp = timestamp
        self.host = host
    }

    /// Decides which notification, if any, a finished run deserves.
    ///
    /// - Parameters:
    ///   - succeeded: whether the run succeeded.
    ///   - previousFailures: for each group (or the single job), the consecutive failures before this run.
    ///   - notifyOnSuccess: whether plain successes are wanted.
    /// - Returns: `.failure` when a group that was fine starts failing (repeated failures stay quiet, so a
    ///   failure streak sends one message), `.recovery` when a failing group succeeds, `.success` otherwise if
    ///   wanted, nil for silence.
    public static func decide(succeeded: Bool, previousFailures: [Int], notifyOnSuccess: Bool) -> Event? {
        if succeeded {
            if previousFailures.contains(where: { $0 > 0 }) { return .recovery }
            return notifyOnSuccess ? .success : nil
        }
        return previousFailures.contains(0) || previousFailures.isEmpty ? .failure : nil
    }

    /// One human line, used as the Slack text and in logs.
    public var text: String {
        let subject = (cluster.map { "cluster \($0): " } ?? "") + (groups.isEmpty ? job : "\(job) (\(groups.joined(separator: ", ")))")
        switch event {
        case .failure:
            return "Lifeboat on \(host): \(subject) FAILED [\(reason?.rawValue ?? "other")]: \(message)"
        case .recovery:
            return "Lifeboat on \(host): \(subject) recovered: \(message)"
        case .success:
            return "Lifeboat on \(host): \(subject) succeeded: \(message)"
        }
    }

    /// The request body for `format`.
    public func payload(format: WebhookConfiguration.Format) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let data: Data?
        switch format {
        case .slack:
            data = try? encoder.encode(["text": text])
        case .json:
            data = try? encoder.encode(
                JSONPayload(
                    event: event.rawValue, cluster: cluster, job: job, groups: groups, reason: reason?.rawValue,
                    message: message, timestamp: timestamp, host: host, version: LifeboatVersion.current))
        }
        return Array(data ?? Data())
    }

    private struct JSONPayload: Encodable {
        var event: String
        var cluster: String?
        var job: String
        var groups: [String]
        var reason: String?
        var message: String
        var timestamp: Date
        var host: String
        var version: String
    }
}

/// Sends one HTTP POST; the seam between the retry logic and the network.
public protocol WebhookTransport: Sendable {
    /// Posts `body` as `application/json` and returns the HTTP status. Throws on connection errors and timeouts.
    func post(url: String, body: [UInt8], timeout: Duration) async throws -> Int
}

/// The real transport: AsyncHTTPClient.
public struct HTTPClientWebhookTransport: WebhookTransport {
    private let client: HTTPClient

    /// Uses `client` (by default the process-wide shared client).
    public init(client: HTTPClient = .shared) {
        self.client = client
    }

    public func post(url: String, body: [UInt8], timeout: Duration) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "User-Agent", value: "lifeboat/\(LifeboatVersion.current)")
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: TimeAmount(timeout))
        // Drain (and bound) the body so the connection can be reused.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}

/// Delivers notifications to every configured webhook with retries. Never throws.
public struct WebhookNotifier: Sendable {
    public let webhooks: [WebhookConfiguration]
    private let transport: any WebhookTransport
    private let sleep: @Sendable (Duration) async throws -> Void
    private let logger: Logger
    private let onFailure: @Sendable () -> Void

    /// - Parameters:
    ///   - transport: the HTTP seam (tests pass a fake or use a loopback receiver with the real one).
    ///   - sleep: waits between attempts (tests inject an instant one).
    ///   - onFailure: called once per notification that could not be delivered (the metric counter).
    public init(
        webhooks: [WebhookConfiguration], transport: any WebhookTransport = HTTPClientWebhookTransport(),
        sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        logger: Logger, onFailure: @escaping @Sendable () -> Void = {}
    ) {
        self.webhooks = webhooks
        self.transport = transport
        self.sleep = sleep
        self.logger = logger
        self.onFailure = onFailure
    }

    /// Sends `notification` to each webhook that wants it, one after the other.
    public func deliver(_ notification: AgentNotification) async {
        for webhook in webhooks where webhook.events.contains(notification.event) {
            if await deliver(notification, to: webhook) == false {
                onFailure()
            }
        }
    }

    /// Delivers to one webhook; returns whether it was accepted (HTTP 2xx).
    @discardableResult
    public func deliver(_ notification: AgentNotification, to webhook: WebhookConfiguration) async -> Bool {
        let body = notification.payload(format: webhook.format)
        var backoff = webhook.initialBackoff
        var lastProblem = ""
        for attempt in 1...max(webhook.maxAttempts, 1) {
            if attempt > 1 {
                do {
                    try await sleep(backoff)
                } catch {
                    lastProblem = "cancelled"
                    break
                }
                backoff = backoff * 2
            }
            do {
                let status = try await transport.post(url: webhook.url, body: body, timeout: webhook.timeout)
                if (200..<300).contains(status) {
                    logger.debug("webhook delivered", metadata: [
                        "webhook": "\(webhook.redactedURL)", "event": "\(notification.event.rawValue)", "attempt": "\(attempt)",
                    ])
                    return true
                }
                lastProblem = "HTTP \(status)"
                // A client error other than rate limiting will not go away by retrying.
                if (400..<500).contains(status) && status != 408 && status != 429 { break }
            } catch {
                lastProblem = Self.describe(error)
                if Task.isCancelled { break }
            }
        }
        logger.warning("webhook notification not delivered; the job result is unaffected", metadata: [
            "webhook": "\(webhook.redactedURL)", "event": "\(notification.event.rawValue)", "problem": "\(lastProblem)",
        ])
        return false
    }

    private static func describe(_ error: any Error) -> String {
        // AsyncHTTPClient errors can quote the URL; keep only the error's type and kind.
        if let client = error as? HTTPClientError { return "HTTP client error: \(client.shortDescription)" }
        return String(describing: type(of: error))
    }
}
