// Test helpers for the telemetry tests: a small parser for the Prometheus text exposition format (so /metrics is
// checked as a scraper would read it), a minimal HTTP/1.1 client over a raw socket, and a webhook receiver on
// loopback built on SwiftNIO.

import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import LifeboatArchive
import Testing

/// One sample line of the exposition format.
struct PrometheusSample: Equatable {
    var name: String
    var labels: [String: String]
    var value: Double
}

struct PrometheusParseError: Error, CustomStringConvertible {
    var line: String
    var problem: String
    var description: String { "\(problem): \(line)" }
}

/// The parsed exposition: samples plus the TYPE of each metric family.
struct PrometheusText {
    var samples: [PrometheusSample] = []
    var types: [String: String] = [:]
    var help: [String: String] = [:]

    /// Parses the text format (version 0.0.4): `# HELP`, `# TYPE`, and `name{label="value",...} value` lines.
    /// Throws on anything malformed, and on samples whose family has no TYPE line.
    static func parse(_ bytes: [UInt8]) throws -> PrometheusText {
        var result = PrometheusText()
        for raw in String(decoding: bytes, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true) {
            let line = String(raw)
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                guard parts.count == 2 else { throw PrometheusParseError(line: line, problem: "bad TYPE") }
                result.types[String(parts[0])] = String(parts[1])
                continue
            }
            if line.hasPrefix("# HELP ") {
                let rest = line.dropFirst(7)
                guard let space = rest.firstIndex(of: " ") else { throw PrometheusParseError(line: line, problem: "bad HELP") }
                result.help[String(rest[..<space])] = String(rest[rest.index(after: space)...])
                continue
            }
            if line.hasPrefix("#") { continue }
            result.samples.append(try parseSample(line))
        }
        for sample in result.samples {
            let family = [sample.name, sample.name.replacingSuffix("_bucket"), sample.name.replacingSuffix("_sum"),
                          sample.name.replacingSuffix("_count")]
            guard family.contains(where: { result.types[$0] != nil }) else {
                throw PrometheusParseError(line: sample.name, problem: "sample without a TYPE line")
            }
        }
        return result
    }

    private static func parseSample(_ line: String) throws -> PrometheusSample {
        let scalars = Array(line.unicodeScalars)
        var index = 0
        var name = ""
        while index < scalars.count, scalars[index] != "{", scalars[index] != " " {
            name.unicodeScalars.append(scalars[index])
            index += 1
        }
        guard !name.isEmpty, name.unicodeScalars.allSatisfy({ $0 == "_" || $0 == ":" || $0.properties.isAlphabetic || ("0"..."9").contains($0) })
        else { throw PrometheusParseError(line: line, problem: "bad metric name") }
        var labels: [String: String] = [:]
        if index < scalars.count, scalars[index] == "{" {
            index += 1
            while index < scalars.count, scalars[index] != "}" {
                var key = ""
                while index < scalars.count, scalars[index] != "=" {
                    key.unicodeScalars.append(scalars[index])
                    index += 1
                }
                guard index + 1 < scalars.count, scalars[index + 1] == "\"" else {
                    throw PrometheusParseError(line: line, problem: "label value not quoted")
                }
                index += 2
                var value = ""
                while index < scalars.count, scalars[index] != "\"" {
                    if scalars[index] == "\\", index + 1 < scalars.count {
                        index += 1
                        switch scalars[index] {
                        case "n": value.append("\n")
                        case "\\": value.append("\\")
                        case "\"": value.append("\"")
                        default: throw PrometheusParseError(line: line, problem: "bad escape")
                        }
                    } else {
                        value.unicodeScalars.append(scalars[index])
                    }
                    index += 1
                }
                guard index < scalars.count else { throw PrometheusParseError(line: line, problem: "unterminated label value") }
                index += 1
                labels[key.trimmingCharacters(in: .whitespaces)] = value
                if index < scalars.count, scalars[index] == "," { index += 1 }
            }
            guard index < scalars.count else { throw PrometheusParseError(line: line, problem: "unterminated labels") }
            index += 1
        }
        let rest = String(String.UnicodeScalarView(scalars[index...])).trimmingCharacters(in: .whitespaces)
        let fields = rest.split(separator: " ")
        guard (1...2).contains(fields.count) else { throw PrometheusParseError(line: line, problem: "bad value") }
        let text = String(fields[0])
        let value: Double?
        switch text {
        case "+Inf": value = .infinity
        case "-Inf": value = -.infinity
        case "NaN": value = .nan
        default: value = Double(text)
        }
        guard let value else { throw PrometheusParseError(line: line, problem: "value is not a number") }
        return PrometheusSample(name: name, labels: labels, value: value)
    }

    /// The value of the sample with exactly these labels.
    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { $0.name == name && $0.labels == labels }?.value
    }

    /// The sum over all samples of a metric.
    func total(_ name: String) -> Double {
        samples.filter { $0.name == name }.map(\.value).reduce(0, +)
    }

    /// Every label set of a metric.
    func labelSets(_ name: String) -> [[String: String]] {
        samples.filter { $0.name == name }.map(\.labels)
    }
}

extension String {
    fileprivate func replacingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}

/// A minimal HTTP/1.1 exchange over a plain socket: one request, `Connection: close`, the whole answer.
struct RawHTTPResponse {
    var status: Int
    var headers: [String: String]
    var body: [UInt8]
}

func rawHTTPGet(host: String = "127.0.0.1", port: Int, path: String) async throws -> RawHTTPResponse {
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        try await outbound.write(ByteBuffer(string: "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"))
        var bytes: [UInt8] = []
        for try await chunk in inbound {
            bytes += Array(chunk.readableBytesView)
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let split = (0...(max(bytes.count - 4, 0))).first(where: { Array(bytes[$0..<min($0 + 4, bytes.count)]) == separator })
        else { throw PrometheusParseError(line: String(decoding: bytes, as: UTF8.self), problem: "no HTTP header end") }
        let head = String(decoding: bytes[..<split], as: UTF8.self).components(separatedBy: "\r\n")
        let statusLine = head[0].split(separator: " ")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return RawHTTPResponse(status: Int(statusLine[1]) ?? 0, headers: headers, body: Array(bytes[(split + 4)...]))
    }
}

/// A webhook receiver on 127.0.0.1 (port chosen at run time) that records each POST body and answers with the
/// scripted statuses (then 200).
final class WebhookReceiver: Sendable {
    private let bodies = PThreadLocked<[[UInt8]]>([])
    private let statuses: PThreadLocked<[Int]>
    private let channel: any Channel
    let port: Int

    private init(channel: any Channel, statuses: [Int]) {
        self.channel = channel
        self.port = channel.localAddress!.port!
        self.statuses = PThreadLocked(statuses)
    }

    var received: [[UInt8]] { bodies.withLock { $0 } }
    var receivedJSON: [[String: Any]] {
        received.compactMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
    }

    static func start(statuses: [Int] = []) async throws -> WebhookReceiver {
        let box = ReceiverBox(statuses: statuses)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(ReceiverHandler(box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let receiver = WebhookReceiver(channel: channel, statuses: statuses)
        box.sink = receiver
        return receiver
    }

    fileprivate func record(_ body: [UInt8]) -> Int {
        bodies.withLock { $0.append(body) }
        return statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
    }

    func close() async {
        try? await channel.close()
    }
}

/// Links the NIO handlers to the receiver created after the bind. Written once before any connection arrives.
private final class ReceiverBox: @unchecked Sendable {
    var sink: WebhookReceiver?
    init(statuses: [Int]) {}
}

private final class ReceiverHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    private let box: ReceiverBox
    private var body: [UInt8] = []

    init(box: ReceiverBox) { self.box = box }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            body = []
        case .body(let buffer):
            body += Array(buffer.readableBytesView)
        case .end:
            let status = box.sink?.record(body) ?? 500
            var headers = HTTPHeaders()
            headers.add(name: "Content-Length", value: "0")
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .init(statusCode: status), headers: headers))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }
}
