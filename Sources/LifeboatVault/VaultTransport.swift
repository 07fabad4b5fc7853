// VaultTransport: the one AsyncHTTPClient of the process for talking to Vault (plus, only when
// VAULT_TLS_SERVER_NAME is set, one client per node host: see below), built from the TLS settings; sends
// buffered requests with a timeout covering the whole exchange, starts streaming ones, and maps transport
// failures to `VaultError`. Redirects are never followed here (the snapshot code follows 307s itself).
//
// TLS server name: AsyncHTTPClient verifies the certificate against the URL's host and offers no per-request
// SNI/verification name. With a server name S, a request to https://H:P is sent to https://S:P through a client
// whose DNS override maps S to H; as the override is per client, there is one such client per distinct H,
// created on first use and shut down with the transport.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import LifeboatArchive
import LifeboatSnapshot

/// A buffered HTTP response from Vault.
public struct VaultHTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
}

/// Owns the HTTP client(s) and their TLS configuration. Call `shutdown()` once, at the end.
public final class VaultTransport: Sendable {
    let tls: VaultClientConfiguration.TLS
    let timeouts: VaultClientConfiguration.Timeouts
    let logger: Logger
    private let tlsConfiguration: TLSConfiguration
    private let mainClient: HTTPClient
    private let serverNameClients = PThreadLocked<[String: HTTPClient]>([:])
    private let isShutDown = PThreadLocked(false)

    /// Responses bodies of ordinary requests larger than this are refused (Vault's own request limit is 32 MiB).
    static let maxBufferedBody = 32 << 20

    /// Builds the TLS configuration and the HTTP client. Logs a warning when verification is disabled.
    public init(tls: VaultClientConfiguration.TLS, timeouts: VaultClientConfiguration.Timeouts, logger: Logger) throws {
        self.tls = tls
        self.timeouts = timeouts
        self.logger = logger
        tlsConfiguration = try VaultTLS.makeConfiguration(tls)
        if tls.skipVerify {
            logger.warning("TLS certificate verification is DISABLED (VAULT_SKIP_VERIFY): anyone on the network path can impersonate Vault and read the token and the snapshot; set VAULT_CACERT instead")
        }
        mainClient = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                                configuration: Self.clientConfiguration(tlsConfiguration, timeouts: timeouts, dnsOverride: [:]))
    }

    static func clientConfiguration(_ tls: TLSConfiguration, timeouts: VaultClientConfiguration.Timeouts,
                                    dnsOverride: [String: String]) -> HTTPClient.Configuration {
        var c = HTTPClient.Configuration(tlsConfiguration: tls, redirectConfiguration: .disallow,
                                         timeout: .init(connect: TimeAmount(timeouts.connect), read: nil))
        // Fail fast on refused connections: leader discovery moves on to the next node, and retries are
        // decided by `withLeaderRetry`, not hidden in the pool.
        c.connectionPool.retryConnectionEstablishment = false
        c.dnsOverride = dnsOverride
        return c
    }

    /// Shuts the client(s) down; idempotent.
    public func shutdown() async throws {
        let first = isShutDown.withLock { done -> Bool in
            defer { done = true }
            return !done
        }
        guard first else { return }
        let extra = serverNameClients.withLock { clients -> [HTTPClient] in
            defer { clients.removeAll() }
            return Array(clients.values)
        }
        var failure: (any Error)?
        for c in extra + [mainClient] {
            do { try await c.shutdown() } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// The client and the URL to use for `url` (rewritten when a TLS server name is set).
    func route(_ url: String) -> (HTTPClient, String) {
        guard let name = tls.serverName, !tls.skipVerify, var comps = URLComponents(string: url),
              comps.scheme?.lowercased() == "https", let host = comps.host, host.lowercased() != name.lowercased() else {
            return (mainClient, url)
        }
        let client = serverNameClients.withLock { clients -> HTTPClient in
            if let c = clients[host] { return c }
            let c = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                               configuration: Self.clientConfiguration(tlsConfiguration, timeouts: timeouts, dnsOverride: [name: host]))
            clients[host] = c
            return c
        }
        comps.host = name
        return (client, comps.string ?? url)
    }

    /// Sends a request and collects the whole response; `timeout` covers connecting, sending and receiving.
    /// - Parameters:
    ///   - address: the node (for error messages); `path`: the API path (for error messages).
    public func send(_ method: HTTPMethod, url: String, headers: HTTPHeaders, body: [UInt8]?, timeout: Duration,
                     address: String, path: String) async throws -> VaultHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        if let body { request.body = .bytes(body) }
        let trust = tls.trustDescription
        let (client, finalURL) = route(url)
        request.url = finalURL
        let req = request
        return try await withVaultTimeout(timeout, onTimeout: {
            VaultError(kind: .timeout, message: "request to Vault at \(address) (\(method.rawValue) \(path)) timed out after \(timeout)", address: address, path: path)
        }) {
            do {
                let response = try await client.execute(req, deadline: .now() + TimeAmount(timeout))
                var collected: [UInt8] = []
                for try await chunk in response.body {
                    guard collected.count + chunk.readableBytes <= Self.maxBufferedBody else {
                        throw VaultError(kind: .unexpectedResponse, message: "Vault at \(address) sent more than \(Self.maxBufferedBody) bytes for \(path)", address: address, path: path)
                    }
                    collected.append(contentsOf: chunk.readableBytesView)
                }
                return VaultHTTPResponse(status: Int(response.status.code), headers: response.headers, body: collected)
            } catch {
                throw VaultError.fromTransport(error, address: address, path: path, trust: trust)
            }
        }
    }

    /// Starts a request whose body the caller streams; `headTimeout` covers until the response headers arrive.
    package func start(_ request: HTTPClientRequest, headTimeout: Duration, address: String, path: String) async throws -> HTTPClientResponse {
        var request = request
        let (client, finalURL) = route(request.url)
        request.url = finalURL
        do {
            return try await client.execute(request, deadline: .now() + TimeAmount(headTimeout))
        } catch let e as HTTPClientError where e == .deadlineExceeded {
            throw VaultError(kind: .timeout, message: "Vault at \(address) sent no response to \(path) within \(headTimeout)", address: address, path: path)
        } catch {
            throw VaultError.fromTransport(error, address: address, path: path, trust: tls.trustDescription)
        }
    }
}

/// Runs `operation`, failing with `onTimeout()` if it takes longer than `timeout` (the operation is cancelled).
package func withVaultTimeout<T: Sendable>(_ timeout: Duration, onTimeout: @escaping @Sendable () -> any Error,
                                   _ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw onTimeout() }
        return value
    }
}

/// Building NIOSSL's TLS configuration from Vault's TLS settings.
enum VaultTLS {
    static func makeConfiguration(_ tls: VaultClientConfiguration.TLS) throws -> TLSConfiguration {
        var c = TLSConfiguration.makeClientConfiguration()
        c.minimumTLSVersion = .tlsv12
        if tls.skipVerify {
            c.certificateVerification = .none
        } else if let file = tls.caCertFile {
            let certs: [NIOSSLCertificate]
            do { certs = try NIOSSLCertificate.fromPEMFile(file) } catch {
                throw VaultError.configuration("cannot load the CA certificate file \(file) (VAULT_CACERT): \(fileProblem(file, error)); it must be a PEM file of CA certificates")
            }
            guard !certs.isEmpty else { throw VaultError.configuration("the CA certificate file \(file) (VAULT_CACERT) holds no PEM certificate") }
            c.trustRoots = .certificates(certs)
        } else if let dir = tls.caPath {
            c.trustRoots = .certificates(try loadCADirectory(dir))
        }
        if let certFile = tls.clientCertFile, let keyFile = tls.clientKeyFile {
            do {
                c.certificateChain = try NIOSSLCertificate.fromPEMFile(certFile).map { .certificate($0) }
            } catch {
                throw VaultError.configuration("cannot load the client certificate \(certFile) (VAULT_CLIENT_CERT): \(fileProblem(certFile, error))")
            }
            do {
                c.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
            } catch {
                throw VaultError.configuration("cannot load the client key \(keyFile) (VAULT_CLIENT_KEY): \(fileProblem(keyFile, error)); it must be an unencrypted PEM key")
            }
        }
        return c
    }

    /// Every PEM file in `dir` (like Vault's VAULT_CAPATH: all regular files, each must parse).
    static func loadCADirectory(_ dir: String) throws -> [NIOSSLCertificate] {
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: dir).sorted() } catch {
            throw VaultError.configuration("cannot read the CA directory \(dir) (VAULT_CAPATH): \(VaultClientConfiguration.fileErrorReason(error))")
        }
        var certs: [NIOSSLCertificate] = []
        for name in names where !name.hasPrefix(".") {
            let path = dir + "/" + name
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else { continue }
            do { certs += try NIOSSLCertificate.fromPEMFile(path) } catch {
                throw VaultError.configuration("cannot load CA certificate \(path) from VAULT_CAPATH: \(fileProblem(path, error)); the directory must hold only PEM certificates")
            }
        }
        guard !certs.isEmpty else { throw VaultError.configuration("the CA directory \(dir) (VAULT_CAPATH) holds no PEM certificate") }
        return certs
    }

    static func fileProblem(_ path: String, _ error: any Error) -> String {
        if !FileManager.default.fileExists(atPath: path) { return "no such file" }
        if !FileManager.default.isReadableFile(atPath: path) { return "permission denied" }
        return "not valid PEM (\(error))"
    }
}
