// The agent's HTTP listener (SwiftNIO, HTTP/1.1): /metrics in the Prometheus text format, /healthz for
// liveness and backup freshness, /status as JSON. Routing is a pure function of the request and the agent's
// status; the NIO handler only parses, calls it and writes the answer. Loopback by default.

import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// One HTTP answer.
public struct TelemetryResponse: Sendable, Equatable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
}

/// Maps requests to answers from the metrics and the status board.
public struct TelemetryRoutes: Sendable {
    /// The content type of the Prometheus text exposition format.
    public static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"

    public let metrics: AgentMetrics
    /// The status of a single-cluster agent, or of each fleet cluster by name.
    private let boards: Boards
    public let clock: any AgentClock

    private enum Boards: Sendable {
        case single(AgentStatusBoard)
        case fleet([(name: String, board: AgentStatusBoard)])
    }

    public init(metrics: AgentMetrics, status: AgentStatusBoard, clock: any AgentClock) {
        self.metrics = metrics
        boards = .single(status)
        self.clock = clock
    }

    /// The routes of a fleet agent: `metrics` renders the shared registry; /healthz and /status cover every cluster.
    public init(metrics: AgentMetrics, clusters: [(name: String, status: AgentStatusBoard)], clock: any AgentClock) {
        self.metrics = metrics
        boards = .fleet(clusters.map { ($0.name, $0.status) })
        self.clock = clock
    }

    private func health(now: Date) -> HealthVerdict {
        switch boards {
        case .single(let board): board.current.health(now: now)
        case .fleet(let clusters): AgentStatus.fleetHealth(clusters.map { ($0.name, $0.board.current) }, now: now)
        }
    }

    private func statusJSON(now: Date) -> [UInt8] {
        switch boards {
        case .single(let board): board.current.statusJSON(now: now)
        case .fleet(let clusters): AgentStatus.fleetStatusJSON(clusters.map { ($0.name, $0.board.current) }, now: now)
        }
    }

    /// The answer to `method path` (query strings are ignored).
    public func respond(method: String, uri: String) -> TelemetryResponse {
        let path = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? uri
        guard method == "GET" || method == "HEAD" else {
            return TelemetryResponse(status: 405, contentType: "text/plain; charset=utf-8", body: Array("use GET\n".utf8))
        }
        switch path {
        case "/metrics":
            return TelemetryResponse(status: 200, contentType: Self.prometheusContentType, body: metrics.exposition())
        case "/healthz", "/health":
            let verdict = health(now: clock.now())
            return TelemetryResponse(
                status: verdict.healthy ? 200 : 503, contentType: "text/plain; charset=utf-8",
                body: Array(((verdict.healthy ? "ok: " : "unhealthy: ") + verdict.reason + "\n").utf8))
        case "/status":
            return TelemetryResponse(
                status: 200, contentType: "application/json", body: statusJSON(now: clock.now()))
        case "/":
            return TelemetryResponse(
                status: 200, contentType: "text/plain; charset=utf-8",
                body: Array("lifeboat agent \(LifeboatVersion.current): /metrics /healthz /status\n".utf8))
        default:
            return TelemetryResponse(status: 404, contentType: "text/plain; charset=utf-8", body: Array("not found\n".utf8))
        }
    }
}

/// The listener cannot start.
public struct TelemetryServerError: Error, Sendable, CustomStringConvertible, ExitCodeProviding {
    public var message: String
    public var description: String { message }
    public var exitStatus: ExitStatus { .configuration }
}

/// The HTTP listener as a ServiceLifecycle service. `bind` opens the socket (so a busy port fails before the
/// scheduler starts); `run()` serves until graceful shutdown or cancellation, then closes the socket.
public final class TelemetryServer: Service, Sendable {
    private let channel: any Channel
    /// The address actually bound (the real port when 0 was asked for).
    public let address: ListenAddress

    private init(channel: any Channel, address: ListenAddress) {
        self.channel = channel
        self.address = address
    }

    /// Opens the listener on `address` (port 0 picks a free port; see `address`).
    ///
    /// - Throws: `TelemetryServerError` saying which address failed and why.
    public static func bind(
        address: ListenAddress, routes: TelemetryRoutes,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger
    ) async throws -> TelemetryServer {
        let bootstrap = ServerBootstrap(group: eventLoopGroup)
            .serverChannelOption(ChannelOptions.backlog, value: 64)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(TelemetryHTTPHandler(routes: routes))
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        let channel: any Channel
        do {
            channel = try await bootstrap.bind(host: address.host, port: address.port).get()
        } catch {
            throw TelemetryServerError(
                message: "cannot listen on \(address) for /metrics, /healthz and /status: \(error); "
                    + "choose another address with the agent's listen setting")
        }
        let port = channel.localAddress?.port ?? address.port
        let bound = ListenAddress(host: address.host, port: port)
        logger.info("telemetry listening", metadata: ["address": "\(bound)"])
        return TelemetryServer(channel: channel, address: bound)
    }

    public func run() async throws {
        // Returns on graceful shutdown; throws CancellationError on cancellation. Either way: close.
        try? await gracefulShutdown()
        try? await channel.close()
    }

    /// Closes the listener now (for use outside a ServiceGroup).
    public func close() async {
        try? await channel.close()
    }
}

/// Reads one request at a time and writes the route's answer. Lives on its channel's event loop only.
private final class TelemetryHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: TelemetryRoutes
    private var head: HTTPRequestHead?

    init(routes: TelemetryRoutes) {
        self.routes = routes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let answer = routes.respond(method: head.method.rawValue, uri: head.uri)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: answer.contentType)
            headers.add(name: "Content-Length", value: "\(answer.body.count)")
            headers.add(name: "Cache-Control", value: "no-store")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            let status = HTTPResponseStatus(statusCode: answer.status)
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))),
                          promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: answer.body)))),
                              promise: nil)
            }
            let done = context.writeAndFlushPromise()
            if !keepAlive {
                let channel = context.channel
                done.futureResult.whenComplete { _ in channel.close(promise: nil) }
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        }
    }
}

private extension ChannelHandlerContext {
    func writeAndFlushPromise() -> EventLoopPromise<Void> { eventLoop.makePromise() }
}
