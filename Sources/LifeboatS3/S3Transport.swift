// The seam between S3 operations and the network: an `S3Request` (operation, key, query, headers, replayable
// body) goes in, an `S3Response` with a streamed body comes out. `S3HTTPTransport` addresses, signs (SigV4) and
// sends it with AsyncHTTPClient; decorators such as `S3RetryingTransport` wrap any transport.

import AsyncHTTPClient
import Foundation
import LifeboatArchive
import NIOCore
import NIOHTTP1
import NIOSSL
import LifeboatRepository

/// One S3 API call before addressing and signing.
public struct S3Request: Sendable {
    /// The S3 API operation name, for errors and logs (`PutObject`, `UploadPart`…).
    public var operation: String
    public var method: HTTPMethod
    /// The full object key (prefix included), or nil for a bucket-level request.
    public var key: String?
    /// Query parameters, not encoded.
    public var query: [(String, String)]
    /// Extra headers (signed). `host`, `x-amz-date`, `x-amz-content-sha256` and `authorization` are added.
    public var headers: [(String, String)]
    /// The body. A `ByteBuffer` so that retries can send it again without copying.
    public var body: ByteBuffer?
    /// Sign the body's SHA-256 (default) or send `UNSIGNED-PAYLOAD`.
    public var signPayload: Bool

    public init(operation: String, method: HTTPMethod, key: String? = nil, query: [(String, String)] = [],
                headers: [(String, String)] = [], body: ByteBuffer? = nil, signPayload: Bool = true) {
        self.operation = operation
        self.method = method
        self.key = key
        self.query = query
        self.headers = headers
        self.body = body
        self.signPayload = signPayload
    }
}

/// A response whose body has not been read yet.
public struct S3Response: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: HTTPClientResponse.Body

    public init(status: Int, headers: HTTPHeaders, body: HTTPClientResponse.Body) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Reads the whole body (at most `limit` bytes: larger bodies are a protocol error here).
    public func collect(limit: Int = 16 * 1024 * 1024) async throws -> [UInt8] {
        var out: [UInt8] = []
        do {
            for try await chunk in body {
                guard out.count + chunk.readableBytes <= limit else {
                    throw S3Error(kind: .invalidResponse, detail: "response body larger than \(limit) bytes")
                }
                out.append(contentsOf: chunk.readableBytesView)
            }
        } catch let error as S3Error {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw S3Error(kind: .transport, detail: "reading the response body failed: \(error)")
        }
        return out
    }
}

/// Sends S3 requests. Implementations: `S3HTTPTransport` (the network) and decorators (`S3RetryingTransport`).
/// Failures without an HTTP answer are thrown as `S3Error` of kind `.transport`; HTTP error statuses are returned
/// as responses for the caller to map.
public protocol S3Transport: Sendable {
    func send(_ request: S3Request) async throws -> S3Response
}

/// Addresses, signs and sends requests over HTTP(S) with AsyncHTTPClient.
public final class S3HTTPTransport: S3Transport {
    private let client: HTTPClient
    private let endpoint: S3Configuration.Endpoint
    private let bucket: String
    private let addressing: S3AddressingStyle
    private let signer: SigV4Signer
    private let timeout: TimeAmount
    private let now: @Sendable () -> Int64

    /// Creates the transport and its HTTP client. Call `shutdown()` when done.
    /// - Parameter now: seconds since 1970 (UTC) for request signing; injectable for tests.
    public init(configuration: S3Configuration, credentials: S3Credentials,
                now: @escaping @Sendable () -> Int64 = { Int64(Date().timeIntervalSince1970) }) throws {
        endpoint = try configuration.validate()
        bucket = configuration.bucket
        addressing = configuration.addressing
        signer = SigV4Signer(credentials: credentials, region: configuration.region)
        timeout = .seconds(configuration.requestTimeoutSeconds)
        self.now = now
        var tls: TLSConfiguration?
        if let caFile = configuration.caFile {
            var t = TLSConfiguration.makeClientConfiguration()
            do {
                t.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw S3Error.configuration("CA file \(caFile) holds no readable PEM certificate: \(error)")
            }
            tls = t
        }
        var config = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                              timeout: .init(connect: .seconds(15), read: .seconds(120)))
        config.decompression = .disabled
        // A refused connection fails at once: S3RetryingTransport retries with its own backoff (about 3 s in all),
        // instead of the pool retrying silently until the 15 s connect timeout on every attempt.
        config.connectionPool.retryConnectionEstablishment = false
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
    }

    /// Shuts the HTTP client down; in-flight requests fail.
    public func shutdown() async throws {
        try await client.shutdown()
    }

    /// The URL, Host header value and encoded path of a request (addressing style applied).
    func address(key: String?, query: [(String, String)]) -> (url: String, host: String, encodedPath: String) {
        let defaultPort = endpoint.scheme == "https" ? 443 : 80
        var host = addressing == .virtualHosted ? "\(bucket).\(endpoint.host)" : endpoint.host
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }  // IPv6 literal
        if let port = endpoint.port, port != defaultPort { host += ":\(port)" }
        var path = endpoint.basePath
        if addressing == .pathStyle { path += "/" + SigV4Signer.uriEncode(bucket, encodeSlash: true) }
        if let key {
            path += "/" + SigV4Signer.encodePath(key)
        } else if addressing == .virtualHosted || path.isEmpty {
            path += "/"
        }
        let queryString = SigV4Signer.canonicalQuery(query)
        let url = "\(endpoint.scheme)://\(host)\(path)" + (queryString.isEmpty ? "" : "?" + queryString)
        return (url, host, path)
    }

    public func send(_ request: S3Request) async throws -> S3Response {
        let (url, host, encodedPath) = address(key: request.key, query: request.query)
        let payloadHash: String
        if !request.signPayload {
            payloadHash = SigV4Signer.unsignedPayload
        } else if let body = request.body, body.readableBytes > 0 {
            payloadHash = body.withUnsafeReadableBytes { Hex.encode(SHA256Digest.hash(bytes: $0)) }
        } else {
            payloadHash = SigV4Signer.emptyPayloadHash
        }
        var headers = request.headers
        headers.append(("host", host))
        headers.append(("x-amz-content-sha256", payloadHash))
        let signature = signer.sign(
            SigV4Signer.Request(method: request.method.rawValue, encodedPath: encodedPath, query: request.query,
                                headers: headers, payloadHash: payloadHash),
            at: SigV4Timestamp(secondsSince1970: now()))

        var http = HTTPClientRequest(url: url)
        http.method = request.method
        for (name, value) in headers + signature.addedHeaders { http.headers.add(name: name, value: value) }
        if let body = request.body {
            http.body = .bytes(body)
        } else if request.method == .PUT || request.method == .POST {
            http.headers.replaceOrAdd(name: "content-length", value: "0")
        }
        do {
            let response = try await client.execute(http, timeout: timeout)
            return S3Response(status: Int(response.status.code), headers: response.headers, body: response.body)
        } catch is CancellationError {
            throw CancellationError()
        } catch let error as HTTPClientError where error == .cancelled {
            throw CancellationError()
        } catch {
            throw S3HTTPTransport.transportError(error, request: request, bucket: bucket)
        }
    }

    static func transportError(_ error: any Error, request: S3Request, bucket: String) -> S3Error {
        let tls = error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
        return S3Error(kind: tls ? .configuration : .transport, operation: request.operation, bucket: bucket,
                       key: request.key,
                       detail: (tls ? "TLS failed (check caFile and the endpoint's certificate): " : "no answer: ")
                           + String(describing: error))
    }
}
