// A tiny scripted HTTP(S) server on loopback for Vault client tests that VaultSim cannot stage: a stream that
// stalls mid-body, redirects to chosen URLs, TLS with a test CA. Each request is answered by a closure.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import LifeboatArchive

/// How the scripted server answers one request.
enum VaultTestReply: Sendable {
    /// A complete response.
    case full(status: Int, headers: [(String, String)], body: [UInt8])
    /// Headers (chunked) and `body`, then nothing more: the connection stays open until the client leaves.
    case stallAfter(status: Int, body: [UInt8])
}

/// What the server saw.
struct VaultTestRequest: Sendable {
    var method: String
    var uri: String
    var headers: [(String, String)]
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
}

final class VaultTestServer: Sendable {
    let port: Int
    let scheme: String
    private let channel: any Channel
    private let group: MultiThreadedEventLoopGroup
    private let log = PThreadLocked<[VaultTestRequest]>([])

    var address: String { "\(scheme)://127.0.0.1:\(port)" }
    var requests: [VaultTestRequest] { log.withLock { $0 } }

    private init(port: Int, scheme: String, channel: any Channel, group: MultiThreadedEventLoopGroup) {
        self.port = port
        self.scheme = scheme
        self.channel = channel
        self.group = group
    }

    /// Starts a server; `tls` (certificate chain PEM file, key PEM file) makes it HTTPS.
    static func start(tls: (cert: String, key: String)? = nil,
                      handler: @escaping @Sendable (VaultTestRequest) -> VaultTestReply) async throws -> VaultTestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var sslContext: NIOSSLContext?
        if let tls {
            let config = TLSConfiguration.makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(tls.cert).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.key, format: .pem)))
            sslContext = try NIOSSLContext(configuration: config)
        }
        let box = VaultTestServerBox()
        let context = sslContext
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let context {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(VaultTestHandler(handler: handler, record: { box.server?.record($0) }))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = VaultTestServer(port: channel.localAddress!.port!, scheme: tls == nil ? "http" : "https", channel: channel, group: group)
        box.set(server)
        return server
    }

    func record(_ r: VaultTestRequest) { log.withLock { $0.append(r) } }

    func stop() async {
        try? await channel.close()
        try? await group.shutdownGracefully()
    }
}

/// Lets the channel initializer reach the server object created after binding.
final class VaultTestServerBox: Sendable {
    private let value = PThreadLocked<VaultTestServer?>(nil)
    var server: VaultTestServer? { value.withLock { $0 } }
    func set(_ s: VaultTestServer) { value.withLock { $0 = s } }
}

final class VaultTestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let handler: @Sendable (VaultTestRequest) -> VaultTestReply
    let record: @Sendable (VaultTestRequest) -> Void
    var head: HTTPRequestHead?

    init(handler: @escaping @Sendable (VaultTestRequest) -> VaultTestReply, record: @escaping @Sendable (VaultTestRequest) -> Void) {
        self.handler = handler
        self.record = record
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h): head = h
        case .body: break
        case .end:
            guard let h = head else { return }
            let req = VaultTestRequest(method: h.method.rawValue, uri: h.uri, headers: h.headers.map { ($0.name, $0.value) })
            record(req)
            switch handler(req) {
            case .full(let status, let headers, let body):
                var hh = HTTPHeaders(headers)
                hh.replaceOrAdd(name: "Content-Length", value: String(body.count))
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: hh))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .stallAfter(let status, let body):
                var hh = HTTPHeaders()
                hh.add(name: "Content-Type", value: "application/gzip")
                hh.add(name: "Transfer-Encoding", value: "chunked")
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: status), headers: hh))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
            }
            head = nil
        }
    }
}

/// Test certificates made with the openssl CLI in a temporary directory.
struct VaultTestPKI {
    let directory: String
    var caCert: String { directory + "/ca.pem" }
    var serverCert: String { directory + "/server.pem" }
    var serverKey: String { directory + "/server.key" }
    var otherCACert: String { directory + "/other-ca.pem" }

    /// A CA, a server certificate it signed for `names` (DNS SANs), and an unrelated second CA.
    static func make(names: [String], ipSAN: Bool) throws -> VaultTestPKI {
        let dir = NSTemporaryDirectory() + "lifeboat-vault-pki-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let san = (names.map { "DNS:\($0)" } + (ipSAN ? ["IP:127.0.0.1"] : [])).joined(separator: ",")
        try "subjectAltName=\(san)\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
            .write(toFile: dir + "/ext.cnf", atomically: true, encoding: .utf8)
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        try openssl(["req", "-x509"] + ec + ["-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Lifeboat Test CA",
                                            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: dir)
        try openssl(["req", "-x509"] + ec + ["-keyout", "other-ca.key", "-out", "other-ca.pem", "-days", "2", "-subj", "/CN=Some Other CA",
                                            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], in: dir)
        try openssl(["req"] + ec + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=\(names.first ?? "localhost")"], in: dir)
        try openssl(["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "server.pem",
                     "-days", "2", "-extfile", "ext.cnf"], in: dir)
        return VaultTestPKI(directory: dir)
    }

    private static func openssl(_ args: [String], in dir: String) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        p.arguments = args
        p.currentDirectoryURL = URL(fileURLWithPath: dir)
        p.standardOutput = FileHandle.nullDevice
        let err = Pipe()
        p.standardError = err
        try p.run()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            let msg = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            throw VaultTestFailure("openssl \(args.joined(separator: " ")) failed: \(msg)")
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

struct VaultTestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
