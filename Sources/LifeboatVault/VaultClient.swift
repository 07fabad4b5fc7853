// VaultClient: the entry point for talking to a Vault (or OpenBao) cluster. Owns the transport (one HTTP client
// for the process) and the authentication; sends requests with X-Vault-Token, X-Vault-Request and
// X-Vault-Namespace; retries once after a 403 when re-authentication can help; decodes Vault's error envelope
// into `VaultError`. Typed endpoints are in VaultClient+API.swift, snapshots in VaultClient+Snapshot.swift.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import LifeboatArchive
import LifeboatSnapshot

/// The last leader address seen, tried first for requests that any node can answer.
final class LeaderHint: Sendable {
    private let value = PThreadLocked<String?>(nil)
    var address: String? { value.withLock { $0 } }
    func set(_ a: String?) { value.withLock { $0 = a } }
}

/// Sends raw requests to one node or to the first reachable one.
package struct VaultRequester: Sendable {
    let transport: VaultTransport
    let configuration: VaultClientConfiguration
    let hint: LeaderHint

    package func headers(token: VaultSecret?, json: Bool) -> HTTPHeaders {
        var h = HTTPHeaders()
        h.add(name: "X-Vault-Request", value: "true")
        if let token { h.add(name: "X-Vault-Token", value: token.exposedValue) }
        if let ns = configuration.namespace { h.add(name: "X-Vault-Namespace", value: ns) }
        if json { h.add(name: "Content-Type", value: "application/json") }
        return h
    }

    package static func url(_ address: String, _ path: String, query: [(String, String)] = []) -> String {
        var u = address + "/v1/" + path
        if !query.isEmpty {
            var comps = URLComponents()
            comps.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            u += "?" + (comps.percentEncodedQuery ?? "")
        }
        return u
    }

    /// The nodes to try, in order, when no node is named: the last known leader, then the configured ones.
    var candidates: [String] {
        var list: [String] = []
        if let l = hint.address { list.append(l) }
        for a in configuration.addresses where !list.contains(a) { list.append(a) }
        return list
    }

    /// Sends to `address`, or to the first candidate that can be reached.
    package func send(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil, token: VaultSecret?,
              at address: String?, timeout: Duration? = nil) async throws -> (VaultHTTPResponse, String) {
        let targets = address.map { [$0] } ?? candidates
        var lastError: (any Error)?
        for target in targets {
            do {
                let r = try await transport.send(method, url: Self.url(target, path, query: query),
                                                 headers: headers(token: token, json: body != nil), body: body,
                                                 timeout: timeout ?? configuration.timeouts.request, address: target, path: path)
                return (r, target)
            } catch let e as VaultError where e.kind == .unreachable && targets.count > 1 {
                lastError = e
                if hint.address == target { hint.set(nil) }
                continue
            }
        }
        if targets.count > 1, let e = lastError as? VaultError {
            throw VaultError(kind: .unreachable, message: "cannot reach any Vault node (\(targets.joined(separator: ", "))); last error: \(e.message)",
                             address: e.address, path: path)
        }
        throw lastError ?? VaultError.configuration("no Vault address configured")
    }
}

/// Logs in and renews through the requester (what `VaultAuth` needs for AppRole).
struct VaultLoginBackend: VaultAuthBackend {
    let requester: VaultRequester

    func appRoleLogin(mount: String, roleID: VaultSecret, secretID: VaultSecret?) async throws -> VaultAuthInfo {
        var body: [String: VaultJSON] = ["role_id": .string(roleID.exposedValue)]
        if let secretID { body["secret_id"] = .string(secretID.exposedValue) }
        let path = "auth/\(mount)/login"
        let (r, addr) = try await requester.send(.POST, path, body: try VaultClient.encode(body), token: nil, at: nil)
        guard r.status == 200 else { throw VaultError.fromResponse(status: r.status, body: r.body, method: "POST", path: path, address: addr) }
        let env = try VaultClient.decode(VaultEnvelope<VaultJSON>.self, r, path: path, address: addr)
        guard let auth = env.auth else { throw VaultError.unexpected("no auth block in the login answer", status: r.status, body: [], address: addr, path: path) }
        return auth
    }

    func renewSelf(token: VaultSecret) async throws -> VaultAuthInfo {
        let path = "auth/token/renew-self"
        let (r, addr) = try await requester.send(.POST, path, body: Array("{}".utf8), token: token, at: nil)
        guard r.status == 200 else { throw VaultError.fromResponse(status: r.status, body: r.body, method: "POST", path: path, address: addr) }
        let env = try VaultClient.decode(VaultEnvelope<VaultJSON>.self, r, path: path, address: addr)
        guard let auth = env.auth else { throw VaultError.unexpected("no auth block in the renewal answer", status: r.status, body: [], address: addr, path: path) }
        return auth
    }
}

/// A client for one Vault/OpenBao cluster. Create one per process and call `shutdown()` when done.
public final class VaultClient: Sendable {
    public let configuration: VaultClientConfiguration
    /// Token supply (AppRole login and renewal, token files).
    public let auth: VaultAuth
    public let transport: VaultTransport
    package let requester: VaultRequester
    let hint: LeaderHint
    let logger: Logger

    /// Creates the client (and its HTTP client). Throws a configuration error for unreadable TLS files.
    /// - Parameters:
    ///   - clock: drives token renewal decisions (inject a manual clock in tests).
    ///   - authBackend: replaces the login/renew calls (tests); by default they go to Vault.
    public init(configuration: VaultClientConfiguration, clock: any VaultClock = SystemVaultClock(),
                authBackend: (any VaultAuthBackend)? = nil, logger: Logger = Logger(label: "lifeboat.vault")) throws {
        self.configuration = configuration
        self.logger = logger
        transport = try VaultTransport(tls: configuration.tls, timeouts: configuration.timeouts, logger: logger)
        hint = LeaderHint()
        requester = VaultRequester(transport: transport, configuration: configuration, hint: hint)
        auth = VaultAuth(method: configuration.authentication, clock: clock,
                         backend: authBackend ?? VaultLoginBackend(requester: requester), logger: logger)
    }

    /// Closes the HTTP client(s). Call once, when the client is no longer used.
    public func shutdown() async throws { try await transport.shutdown() }

    /// The last leader address discovered (used first for forwarded requests).
    public var lastKnownLeader: String? { hint.address }

    func rememberLeader(_ address: String?) { hint.set(address) }

    // MARK: Requests

    /// Sends a request and checks its status.
    /// - Parameters:
    ///   - path: the API path without `/v1/` (e.g. `sys/leader`).
    ///   - address: a node address; nil sends to the last known leader or the first reachable configured node.
    ///   - authenticated: send the token (and retry once after a 403 when re-authentication can help).
    ///   - accept: statuses that are not errors (default 200 and 204).
    /// - Returns: the response and the node that answered.
    @discardableResult
    public func request(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], body: [UInt8]? = nil,
                        at address: String? = nil, authenticated: Bool = true, accept: Set<Int> = [200, 204],
                        timeout: Duration? = nil) async throws -> (response: VaultHTTPResponse, address: String) {
        var token: VaultSecret?
        if authenticated { token = try await requireToken() }
        var (r, addr) = try await requester.send(method, path, query: query, body: body, token: token, at: address, timeout: timeout)
        if r.status == 403, authenticated, let t = token, await auth.invalidate(t) {
            token = try await requireToken()
            (r, addr) = try await requester.send(method, path, query: query, body: body, token: token, at: address, timeout: timeout)
        }
        guard accept.contains(r.status) else {
            throw VaultError.fromResponse(status: r.status, body: r.body, method: method.rawValue, path: path, address: addr)
        }
        return (r, addr)
    }

    /// The current token, or an error saying how to configure one.
    func requireToken() async throws -> VaultSecret {
        guard let t = try await auth.token() else {
            throw VaultError(kind: .authentication, message: "no Vault token configured: set VAULT_TOKEN (BAO_TOKEN), AppRole credentials (VAULT_ROLE_ID and VAULT_SECRET_ID or their _FILE forms), LIFEBOAT_VAULT_AGENT_TOKEN_FILE, or run `vault login` to create ~/.vault-token")
        }
        return t
    }

    // MARK: JSON helpers

    package static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return Array(try e.encode(value))
    }

    package static func decode<T: Decodable>(_ type: T.Type, _ r: VaultHTTPResponse, path: String, address: String) throws -> T {
        do { return try JSONDecoder.vault.decode(T.self, from: Data(r.body)) } catch {
            throw VaultError.unexpected("cannot decode \(T.self): \(error)", status: r.status, body: r.body, address: address, path: path)
        }
    }

    /// Decodes the `data` of a standard envelope.
    package static func decodeData<T: Decodable>(_ type: T.Type, _ r: VaultHTTPResponse, path: String, address: String) throws -> T {
        guard let d = try decode(VaultEnvelope<T>.self, r, path: path, address: address).data else {
            throw VaultError.unexpected("no data in the answer", status: r.status, body: r.body, address: address, path: path)
        }
        return d
    }
}
