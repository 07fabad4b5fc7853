// The SwiftNIO HTTP/1.1 front end: one loopback listener per node (and one for the control API). Requests are
// parsed into `SimRequest` values (restore uploads are spooled to a file as they arrive), answered off the event
// loop, and written back with keep-alive; file bodies are streamed with chunked encoding and back-pressure.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

/// Answers one request; runs on a background thread.
typealias SimService = @Sendable (SimRequest) -> SimResponse

/// Bodies other than snapshot uploads are limited like Vault's default `max_request_size`.
let maxInMemoryBody = 32 * 1024 * 1024

final class SimHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: SimService
    private let spoolDirectory: String
    private let registry: ConnectionRegistry
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    /// The upload being spooled; its file is touched only on `files`.
    private var spool: SpoolFile?
    private var tooLarge = false
    /// File I/O of this connection (spooling uploads, reading streamed files), in order, never on the event loop.
    private let files = DispatchQueue(label: "vault-sim.connection-files")
    /// Upload bytes handed to `files` and not yet written; reading pauses above `spoolHighWater`.
    private var spoolBacklog = 0
    private var readingPaused = false
    private static let spoolHighWater = 16 << 20

    init(service: @escaping SimService, spoolDirectory: String, registry: ConnectionRegistry) {
        self.service = service
        self.spoolDirectory = spoolDirectory
        self.registry = registry
    }

    func channelActive(context: ChannelHandlerContext) {
        registry.add(context.channel)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(context.channel)
        if let spool {
            self.spool = nil
            files.async { spool.close(delete: true) }
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body = []
            tooLarge = false
            let path = h.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? h.uri
            let isUpload = (h.method == .POST || h.method == .PUT)
                && (path.hasSuffix("/sys/storage/raft/snapshot") || path.hasSuffix("/sys/storage/raft/snapshot-force"))
            if isUpload {
                let spool = SpoolFile(path: spoolDirectory + "/upload-\(UUID().uuidString)")
                self.spool = spool
                let directory = spoolDirectory
                files.async { spool.open(in: directory) }
            }
        case .body(let buf):
            if let spool {
                let count = buf.readableBytes
                spoolBacklog += count
                if spoolBacklog > Self.spoolHighWater && !readingPaused {
                    readingPaused = true
                    context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in }
                }
                let loop = context.eventLoop
                let boundSelf = NIOLoopBound(self, eventLoop: loop)
                let boundContext = NIOLoopBound(context, eventLoop: loop)
                // A copy: the channel's pooled receive buffer is reused by the loop once it looks uniquely owned.
                let bytes = [UInt8](buf.readableBytesView)
                files.async {
                    spool.write(bytes)
                    loop.execute { boundSelf.value.spooled(count, context: boundContext.value) }
                }
            } else if body.count + buf.readableBytes > maxInMemoryBody {
                tooLarge = true
                body = []
            } else if !tooLarge {
                body.append(contentsOf: buf.readableBytesView)
            }
        case .end:
            guard let h = head else { return }
            head = nil
            let parts = h.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
            let method = h.headers.first(name: ListMethodRewriter.marker) == "LIST" ? "LIST" : h.method.rawValue
            let spool = self.spool
            self.spool = nil
            let req = SimRequest(method: method, path: String(parts[0]),
                                 rawQuery: parts.count > 1 ? String(parts[1]) : nil,
                                 headers: h.headers.map { ($0.name, $0.value) }, body: body, bodyFile: nil)
            body = []
            let keepAlive = h.isKeepAlive
            let isHead = h.method == .HEAD
            let version = h.version
            let loop = context.eventLoop
            let boundSelf = NIOLoopBound(self, eventLoop: loop)
            let boundContext = NIOLoopBound(context, eventLoop: loop)
            if tooLarge {
                tooLarge = false
                respond(.errors(413, ["http: request body too large"]), keepAlive: false, isHead: isHead, version: version, context: context)
                return
            }
            let service = self.service
            // After the spooled writes (same serial queue), off the event loop.
            files.async {
                var spooled = req
                if let spool {
                    spool.close(delete: false)
                    spooled.bodyFile = spool.usablePath
                }
                let request = spooled
                DispatchQueue.global().async {
                    let response = service(request)
                    loop.execute {
                        boundSelf.value.respond(response, keepAlive: keepAlive, isHead: isHead, version: version, context: boundContext.value)
                    }
                }
            }
        }
    }

    /// `count` spooled bytes reached the file: resume reading once the backlog is small again.
    private func spooled(_ count: Int, context: ChannelHandlerContext) {
        spoolBacklog -= count
        if readingPaused && spoolBacklog < Self.spoolHighWater / 4 {
            readingPaused = false
            context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in }
            context.read()
        }
    }

    func respond(_ r: SimResponse, keepAlive: Bool, isHead: Bool, version: HTTPVersion, context: ChannelHandlerContext) {
        if r.resetImmediately {
            reset(context)
            return
        }
        if let delay = r.firstByteDelay {
            var delayed = r
            delayed.firstByteDelay = nil
            let later = delayed
            let boundSelf = NIOLoopBound(self, eventLoop: context.eventLoop)
            let boundContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.eventLoop.scheduleTask(in: TimeAmount(delay)) {
                boundSelf.value.respond(later, keepAlive: keepAlive, isHead: isHead, version: version, context: boundContext.value)
            }
            return
        }
        // Go's net/http panics on a status outside 100-999 and drops the connection; never let one reach NIO.
        guard (100...999).contains(r.status) else {
            reset(context)
            return
        }
        var headers = HTTPHeaders(r.headers)
        switch r.body {
        case .empty:
            if r.status != 204 && r.status != 304 { headers.replaceOrAdd(name: "Content-Length", value: "0") }
        case .bytes(let b):
            headers.replaceOrAdd(name: "Content-Length", value: String(b.count))
        case .file:
            break
        }
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        headers.replaceOrAdd(name: "Date", value: httpDate())
        let head = HTTPResponseHead(version: version, status: HTTPResponseStatus(statusCode: r.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        switch r.body {
        case .empty:
            finish(context, keepAlive: keepAlive)
        case .bytes(let b):
            if !isHead {
                var buf = context.channel.allocator.buffer(capacity: b.count)
                buf.writeBytes(b)
                context.write(wrapOutboundOut(.body(.byteBuffer(buf))), promise: nil)
            }
            finish(context, keepAlive: keepAlive)
        case .file(let path, let faults):
            if isHead { finish(context, keepAlive: keepAlive); return }
            streamFile(path: path, faults: faults, context: context, keepAlive: keepAlive)
        }
    }

    private func finish(_ context: ChannelHandlerContext, keepAlive: Bool) {
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
            if !keepAlive { channel.close(promise: nil) }
        }
    }

    /// Closes the connection with a TCP reset (SO_LINGER 0).
    private func reset(_ context: ChannelHandlerContext) {
        let channel = context.channel
        if let provider = channel as? SocketOptionProvider {
            provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in channel.close(promise: nil) }
        } else {
            channel.close(promise: nil)
        }
    }

    /// Streams a file body: every open and read happens on `files`, every write on the event loop.
    private func streamFile(path: String, faults: StreamFaults, context: ChannelHandlerContext, keepAlive: Bool) {
        let loop = context.eventLoop
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let allocator = context.channel.allocator
        let files = self.files
        files.async {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            var st = stat()
            let opened = fd >= 0 && fstat(fd, &st) == 0
            let size = Int64(st.st_size)
            loop.execute {
                guard opened else {
                    if fd >= 0 { close(fd) }
                    boundSelf.value.reset(boundContext.value)
                    return
                }
                let fileSize = size
                var limit = fileSize
                if let t = faults.truncateAfter { limit = min(limit, Int64(t)) }
                if let r = faults.resetAfter { limit = min(limit, Int64(r)) }
                var chunk = 1 << 20
                if let rate = faults.bytesPerSecond, rate > 0 { chunk = max(1, min(chunk, rate / 20)) }
                let state = StreamState(fd: fd, limit: limit, chunk: chunk, fileSize: fileSize)
                boundSelf.value.streamStep(state, faults: faults, allocator: allocator, context: boundContext.value, keepAlive: keepAlive)
            }
        }
    }

    /// Reads the next piece on `files`, writes it on the loop, and goes on when the write completed.
    private func streamStep(_ state: StreamState, faults: StreamFaults, allocator: ByteBufferAllocator,
                            context: ChannelHandlerContext, keepAlive: Bool) {
        if state.sent >= state.limit {
            let fd = state.fd
            files.async { close(fd) }
            if let r = faults.resetAfter, Int64(r) < state.fileSize {
                context.flush()
                reset(context)
            } else {
                finish(context, keepAlive: keepAlive)
            }
            return
        }
        let loop = context.eventLoop
        let boundSelf = NIOLoopBound(self, eventLoop: loop)
        let boundContext = NIOLoopBound(context, eventLoop: loop)
        let n = Int(min(Int64(state.chunk), state.limit - state.sent))
        let fd = state.fd, offset = state.sent
        let files = self.files
        files.async {
            var buf = allocator.buffer(capacity: n)
            let got = buf.writeWithUnsafeMutableBytes(minimumWritableBytes: n) { ptr in
                max(0, pread(fd, ptr.baseAddress!, n, off_t(offset)))
            }
            if got <= 0 { close(fd) }
            let piece = buf
            loop.execute {
                let context = boundContext.value
                let handler = boundSelf.value
                guard got > 0 else { handler.reset(context); return }
                state.sent += Int64(got)
                context.writeAndFlush(handler.wrapOutboundOut(.body(.byteBuffer(piece)))).whenComplete { result in
                    switch result {
                    case .failure:
                        files.async { close(fd) }
                    case .success:
                        let next: @Sendable () -> Void = {
                            boundSelf.value.streamStep(state, faults: faults, allocator: allocator, context: boundContext.value, keepAlive: keepAlive)
                        }
                        if let rate = faults.bytesPerSecond, rate > 0 {
                            let nanos = min(Double(got) / Double(rate) * 1e9, 60e9)
                            loop.scheduleTask(in: .nanoseconds(Int64(nanos))) { next() }
                        } else {
                            loop.execute { next() }
                        }
                    }
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func httpDate() -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return f.string(from: Date())
    }
}

/// Vault's `LIST` verb (hvac and curl -X LIST send it) is unknown to SwiftNIO's HTTP parser, which answers 400. A
/// request line that starts a read with `LIST ` is rewritten to `GET` plus a marker header before parsing, and the
/// handler restores the method. Sequential requests (what every client sends) each start a read; a LIST pipelined
/// behind another request in the same read is not recognised.
final class ListMethodRewriter: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    static let marker = "X-Vault-Sim-Method"

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buf = unwrapInboundIn(data)
        let view = buf.readableBytesView
        guard view.count > 5, view.starts(with: Array("LIST ".utf8)),
              let lf = view.firstIndex(of: 0x0a) else {
            context.fireChannelRead(data)
            return
        }
        var out = context.channel.allocator.buffer(capacity: view.count + 32)
        out.writeString("GET ")
        out.writeBytes(view[(view.startIndex + 5)...lf])
        out.writeString(ListMethodRewriter.marker + ": LIST\r\n")
        out.writeBytes(view[(lf + 1)...])
        context.fireChannelRead(wrapInboundOut(out))
    }
}

/// Progress of one streamed file body. `sent` is read and written on the connection's event loop only; the `let`s
/// are read from its file queue too.
final class StreamState: @unchecked Sendable {
    let fd: Int32
    let limit: Int64
    let chunk: Int
    let fileSize: Int64
    var sent: Int64 = 0
    init(fd: Int32, limit: Int64, chunk: Int, fileSize: Int64) {
        self.fd = fd
        self.limit = limit
        self.chunk = chunk
        self.fileSize = fileSize
    }
}

/// An upload spooled to a file. Touched only on its connection's file queue.
final class SpoolFile: @unchecked Sendable {
    let path: String
    private var fd: Int32 = -1
    private var offset: Int64 = 0
    private var failed = false

    init(path: String) { self.path = path }

    func open(in directory: String) {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        failed = fd < 0
    }

    func write(_ buffer: [UInt8]) {
        guard fd >= 0, !failed else { return }
        buffer.withUnsafeBytes { bytes in
            if (try? ValueStore.pwriteAll(fd, bytes, offset: offset)) != nil { offset += Int64(bytes.count) } else { failed = true }
        }
    }

    func close(delete: Bool) {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
        if delete { unlink(path) }
    }

    /// The spooled file for the request, or nil when it could not be created.
    var usablePath: String? { failed ? nil : path }
}

/// The open connections of one listener, so stopping a node drops them.
final class ConnectionRegistry: @unchecked Sendable {
    // Guarded by `lock`.
    private let lock = NSLock()
    private var channels: [ObjectIdentifier: Channel] = [:]

    func add(_ c: Channel) { lock.withLock { channels[ObjectIdentifier(c)] = c } }
    func remove(_ c: Channel) { lock.withLock { channels[ObjectIdentifier(c)] = nil } }
    func closeAll() {
        let all = lock.withLock { Array(channels.values) }
        for c in all { c.close(promise: nil) }
    }
}

/// One bound loopback listener.
final class HTTPListener: Sendable {
    let channel: Channel
    let registry: ConnectionRegistry
    let port: Int

    private init(channel: Channel, registry: ConnectionRegistry) {
        self.channel = channel
        self.registry = registry
        self.port = channel.localAddress?.port ?? 0
    }

    static func bind(group: EventLoopGroup, host: String, port: Int, spoolDirectory: String,
                     service: @escaping SimService) async throws -> HTTPListener {
        let (bootstrap, registry) = makeBootstrap(group: group, spoolDirectory: spoolDirectory, service: service)
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return HTTPListener(channel: channel, registry: registry)
    }

    /// Blocking variant for synchronous callers that are not on an event loop (node start).
    static func bindBlocking(group: EventLoopGroup, host: String, port: Int, spoolDirectory: String,
                             service: @escaping SimService) throws -> HTTPListener {
        let (bootstrap, registry) = makeBootstrap(group: group, spoolDirectory: spoolDirectory, service: service)
        let channel = try bootstrap.bind(host: host, port: port).wait()
        return HTTPListener(channel: channel, registry: registry)
    }

    private static func makeBootstrap(group: EventLoopGroup, spoolDirectory: String,
                                      service: @escaping SimService) -> (ServerBootstrap, ConnectionRegistry) {
        let registry = ConnectionRegistry()
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 256)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true,
                                                                                   withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(ListMethodRewriter(), position: .first)
                    try channel.pipeline.syncOperations.addHandler(
                        SimHTTPHandler(service: service, spoolDirectory: spoolDirectory, registry: registry))
                }
            }
        return (bootstrap, registry)
    }

    /// Blocking close for synchronous callers that are not on an event loop (node stop).
    func closeBlocking() {
        try? channel.close().wait()
        registry.closeAll()
    }

    func close() async {
        try? await channel.close().get()
        registry.closeAll()
    }
}
