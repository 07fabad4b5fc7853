// Snapshot download and upload against the active node (docs/vault-behaviour.md §1.4, §6): GET/POST
// sys/storage/raft/snapshot[-force], following 307s by hand (token carried, at most a few hops, never https to
// http), streaming the download into the caller's consumer with back-pressure, a first-byte timeout, an overall
// timeout and a stall timeout; streaming the upload from a file; and `withLeaderRetry`, which re-discovers the
// leader with bounded exponential backoff when the leader changes during an operation.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import LifeboatSnapshot

/// The result of a snapshot download.
public struct VaultSnapshotDownload: Sendable, Equatable {
    /// The node that served the snapshot (after redirects).
    public var address: String
    /// Bytes delivered to the consumer.
    public var bytes: Int64
    /// Redirects followed.
    public var redirects: Int
}

/// Bounded exponential backoff between attempts.
public struct VaultBackoff: Sendable, Equatable {
    public var initial: Duration
    public var maximum: Duration
    public var multiplier: Int

    public init(initial: Duration = .seconds(1), maximum: Duration = .seconds(30), multiplier: Int = 2) {
        self.initial = initial
        self.maximum = maximum
        self.multiplier = max(1, multiplier)
    }

    /// The wait after failed attempt `attempt` (1-based): initial, initial*m, initial*m², ... capped at `maximum`.
    public func delay(afterAttempt attempt: Int) -> Duration {
        var d = initial
        var n = 1
        while n < attempt && d < maximum {
            d = d * multiplier
            n += 1
        }
        return min(d, maximum)
    }
}

extension VaultClient {
    /// Redirects followed at most for one snapshot request.
    public static let maxSnapshotRedirects = 3

    /// Streams a snapshot (`GET sys/storage/raft/snapshot`) from the leader into `consumer`, chunk by chunk.
    /// The consumer is called sequentially; the next chunk is read from the network only when it returns
    /// (back-pressure). The stream is cut with a `.stalled` error when no byte arrives for the stall timeout,
    /// and with `.timeout` after the overall timeout. An empty body is a `.connectionLost` error (retried).
    /// - Parameters:
    ///   - leader: the active node's address; nil discovers it with `LeaderLocator`.
    ///   - timeouts: overrides the configured snapshot timeouts for this call.
    @discardableResult
    public func streamSnapshot(from leader: String? = nil, timeouts: VaultClientConfiguration.Timeouts? = nil,
                               isolation: isolated (any Actor)? = #isolation,
                               to consumer: (ByteBuffer) async throws -> Void) async throws -> VaultSnapshotDownload {
        let t = timeouts ?? configuration.timeouts
        let start = ContinuousClock.now
        let deadline = start + t.snapshotTotal
        let target: String
        if let leader { target = leader } else { target = try await LeaderLocator(client: self).locate().address }
        let path = "sys/storage/raft/snapshot"
        let headTimeout = min(t.snapshotFirstByte, t.snapshotTotal)
        let (response, servedBy, hops) = try await snapshotExchange(.GET, path: path, leader: target, headTimeout: headTimeout, body: nil)

        guard response.status == .ok else {
            let body = await Self.collectSmall(response.body)
            throw VaultError.fromResponse(status: Int(response.status.code), body: body, method: "GET", path: path, address: servedBy)
        }

        let handoff = ChunkHandoff()
        let activity = StreamActivity()
        let stall = t.snapshotStall
        let total = t.snapshotTotal
        let body = response.body
        let tick = max(min(stall / 4, .seconds(1)), .milliseconds(10))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    var iterator = body.makeAsyncIterator()
                    while true {
                        activity.startWaiting()
                        guard let chunk = try await iterator.next() else { break }
                        activity.received(chunk.readableBytes)
                        if chunk.readableBytes > 0 { try await handoff.send(chunk) }
                    }
                    activity.stoppedWaiting()
                    handoff.finish(nil)
                } catch {
                    activity.stoppedWaiting()
                    handoff.finish(VaultError.fromTransport(error, address: servedBy, path: path, trust: self.configuration.tls.trustDescription))
                }
            }
            group.addTask {
                while !handoff.isFinished {
                    try await Task.sleep(for: tick)
                    let now = ContinuousClock.now
                    if let w = activity.waitingSince, now - w >= stall {
                        let seconds = Self.seconds(stall)
                        handoff.finish(VaultError(kind: .stalled,
                                                  message: "snapshot stream stalled: no data for \(seconds) s from \(servedBy) after \(activity.bytes) bytes (the leader may have failed or the network dropped); the stream was cut",
                                                  address: servedBy, path: path))
                        return
                    }
                    if now >= deadline {
                        handoff.finish(VaultError(kind: .timeout,
                                                  message: "snapshot download from \(servedBy) exceeded its overall timeout of \(Self.seconds(total)) s after \(activity.bytes) bytes; raise the snapshot timeout for a database this large",
                                                  address: servedBy, path: path))
                        return
                    }
                }
            }
            while let chunk = try await handoff.receive() {
                try await consumer(chunk)
            }
            group.cancelAll()
        }
        let bytes = activity.bytes
        guard bytes > 0 else {
            // Vault ends the stream this way when the leader steps down before writing: retried (suggestsLeaderChange).
            throw VaultError(kind: .connectionLost,
                             message: "Vault at \(servedBy) ended the snapshot stream without sending a byte (the leader was probably stepping down); if it keeps happening, check the leader's logs",
                             statusCode: 200, address: servedBy, path: path)
        }
        return VaultSnapshotDownload(address: servedBy, bytes: bytes, redirects: hops)
    }

    /// Sends a snapshot request, following up to `maxSnapshotRedirects` redirects (token carried; never from
    /// https to http) and retrying once after a 403 when re-authentication can help. Returns the final response
    /// (its body not yet read), the node that answered, and the number of redirects followed.
    func snapshotExchange(_ method: HTTPMethod, path: String, leader: String, headTimeout: Duration,
                          body: (@Sendable () -> HTTPClientRequest.Body)?) async throws -> (HTTPClientResponse, String, Int) {
        var url = VaultRequester.url(leader, path)
        var address = leader
        var token = try await requireToken()
        var reauthenticated = false
        var hops = 0
        while true {
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers = requester.headers(token: token, json: false)
            if let body {
                request.headers.add(name: "Content-Type", value: "application/octet-stream")
                request.body = body()
            }
            let response = try await transport.start(request, headTimeout: headTimeout, address: address, path: path)
            let status = Int(response.status.code)
            if [301, 302, 303, 307, 308].contains(status) {
                _ = await Self.collectSmall(response.body)
                guard let location = response.headers.first(name: "Location"), !location.isEmpty else {
                    throw VaultError(kind: .redirect, message: "\(address) answered \(status) to \(path) without a Location header", statusCode: status, address: address, path: path)
                }
                guard let next = URL(string: location, relativeTo: URL(string: url))?.absoluteURL,
                      let scheme = next.scheme?.lowercased(), scheme == "http" || scheme == "https", let host = next.host else {
                    throw VaultError(kind: .redirect, message: "\(address) redirected \(path) to an invalid location \"\(location)\"", statusCode: status, address: address, path: path)
                }
                if url.lowercased().hasPrefix("https://") && scheme == "http" {
                    throw VaultError(kind: .redirect,
                                     message: "refusing to follow the redirect from \(address) to \(location): it goes from https to http and would send the token and the snapshot in clear; set the active node's api_addr to an https URL, or point VAULT_ADDR at the leader",
                                     statusCode: status, address: address, path: path)
                }
                hops += 1
                guard hops <= Self.maxSnapshotRedirects else {
                    throw VaultError(kind: .noLeader,
                                     message: "more than \(Self.maxSnapshotRedirects) redirects for \(path) (last to \(location)): leadership is probably moving; run again",
                                     statusCode: status, address: address, path: path)
                }
                url = next.absoluteString
                address = "\(scheme)://\(host)" + (next.port.map { ":\($0)" } ?? "")
                logger.info("following the redirect to the active node", metadata: ["location": "\(address)", "path": "\(path)"])
                rememberLeader(address)
                continue
            }
            if status == 403, !reauthenticated, await auth.invalidate(token) {
                _ = await Self.collectSmall(response.body)
                reauthenticated = true
                token = try await requireToken()
                continue
            }
            return (response, address, hops)
        }
    }

    /// Re-discovers the leader and retries `operation` when it fails in a way a leader change explains
    /// (`VaultError.suggestsLeaderChange`: lost connection or empty stream, stall, no active node, sealed, 500/502/503/504),
    /// waiting `backoff` between attempts. The
    /// operation receives the leader to use and must start from scratch each time (e.g. a new temporary file).
    /// - Parameters:
    ///   - maxAttempts: attempts in total (at least 1).
    ///   - shouldRetry: decides for errors that are not `VaultError` (e.g. a truncated snapshot found by the
    ///     verifier); `VaultError`s are retried when `suggestsLeaderChange` is true.
    ///   - onRetry: told about each failed attempt before the wait (for logs).
    public func withLeaderRetry<T>(maxAttempts: Int = 4, backoff: VaultBackoff = VaultBackoff(),
                                   sleeper: any VaultSleeper = TaskVaultSleeper(),
                                   shouldRetry: (any Error) -> Bool = { _ in false },
                                   onRetry: (_ attempt: Int, _ error: any Error, _ delay: Duration) -> Void = { _, _, _ in },
                                   isolation: isolated (any Actor)? = #isolation,
                                   _ operation: (VaultLeader) async throws -> T) async throws -> T {
        let attempts = max(1, maxAttempts)
        var attempt = 1
        while true {
            do {
                let leader = try await LeaderLocator(client: self).locate()
                return try await operation(leader)
            } catch {
                let retryable: Bool
                if let e = error as? VaultError { retryable = e.suggestsLeaderChange } else { retryable = !(error is CancellationError) && shouldRetry(error) }
                guard retryable, attempt < attempts else {
                    if attempt > 1, var e = error as? VaultError {
                        e.message += " (gave up after \(attempt) attempts)"
                        throw e
                    }
                    throw error
                }
                let delay = backoff.delay(afterAttempt: attempt)
                logger.warning("attempt \(attempt) of \(attempts) failed; re-discovering the leader", metadata: ["error": "\(error)", "wait": "\(delay)"])
                onRetry(attempt, error, delay)
                rememberLeader(nil)
                try await sleeper.sleep(for: delay)
                attempt += 1
            }
        }
    }

    /// Reads a short response body (error envelopes, redirects), at most 64 KiB, ignoring failures.
    static func collectSmall(_ body: HTTPClientResponse.Body) async -> [UInt8] {
        var out: [UInt8] = []
        do {
            for try await chunk in body {
                if out.count < 65536 { out.append(contentsOf: chunk.readableBytesView.prefix(65536 - out.count)) }
            }
        } catch {}
        return out
    }

    static func seconds(_ d: Duration) -> String {
        let (s, atto) = d.components
        if atto == 0 { return String(s) }
        return String(format: "%.1f", Double(s) + Double(atto) / 1e18)
    }
}
