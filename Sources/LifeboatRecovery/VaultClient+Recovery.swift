// The Vault calls a restore makes, each addressed to one named node and, where a token is needed, with an explicit
// token (the temporary root token of the fresh cluster, or the original cluster's token): seal status, health,
// init, unseal, raft join, leader, raft configuration, autopilot, KV v2 reads, snapshot upload (streamed from the
// staging file) and a verified snapshot download (the drill's key count). Built on VaultClient's transport.

import AsyncHTTPClient
import Foundation
import LifeboatArchive
import LifeboatSnapshot
import NIOCore
import NIOHTTP1
import LifeboatBase
import LifeboatVault
import LifeboatRepository

/// Node-addressed Vault operations used by ``RestoreExecutor`` and ``DrillRunner``.
public protocol RecoveryVaultAPI: Sendable {
    /// `GET sys/health` with every status accepted: (HTTP status, body) — 501 uninitialized, 503 sealed, 200 active...
    func health(at address: String) async throws -> (status: Int, health: VaultHealth)
    func sealStatus(at address: String) async throws -> VaultSealStatus
    /// `PUT sys/init`; the returned key and token exist only in memory. `autoUnseal` asks for recovery shares (a node
    /// configured with an auto-unseal seal refuses secret shares, and unseals itself after init).
    func initialize(at address: String, shares: Int, threshold: Int, autoUnseal: Bool) async throws -> TemporaryCredentials
    func unseal(at address: String, key: UnsealKey) async throws -> VaultSealStatus
    /// Clears a partial unseal (`{"reset": true}`); harmless on an unsealed node.
    func resetUnseal(at address: String) async throws
    /// `PUT sys/storage/raft/join`; returns `joined`.
    func join(at address: String, leaderAPIAddress: String) async throws -> Bool
    func leader(at address: String) async throws -> VaultLeaderStatus
    func raftConfiguration(at address: String, token: VaultSecret) async throws -> VaultRaftConfiguration
    func autopilotState(at address: String, token: VaultSecret) async throws -> VaultAutopilotState
    /// `GET <mount>/data/<path>`; nil when the secret does not exist (404).
    func readKV(at address: String, mount: String, path: String, token: VaultSecret) async throws -> VaultKVSecret?
    /// POSTs the file to `sys/storage/raft/snapshot` (or `-force`) on `address`; returns when Vault answered 204.
    func uploadSnapshot(at address: String, file: String, size: Int64, force: Bool, token: VaultSecret, timeout: Duration) async throws
    /// Downloads a snapshot from `address` and verifies it completely (nothing is stored).
    func snapshotSummary(at address: String, token: VaultSecret, timeout: Duration) async throws -> SnapshotSummary
    /// `GET auth/token/lookup-self` status with `token` (200 valid, 403 rejected).
    func tokenStatus(at address: String, token: VaultSecret) async throws -> Int
    /// `POST sys/capabilities-self`: `token`'s capabilities on each path (nil when this client cannot ask).
    func capabilitiesSelf(at address: String, token: VaultSecret, paths: [String]) async throws -> [String: [String]]?
    /// `POST sys/storage/raft/remove-peer` on the active node: drops `serverID` from the raft configuration.
    func removePeer(at address: String, serverID: String, token: VaultSecret) async throws
}

extension RecoveryVaultAPI {
    /// Clients that cannot remove peers say so (test doubles); ``VaultRecoveryClient`` can.
    public func removePeer(at address: String, serverID: String, token: VaultSecret) async throws {
        throw VaultError(kind: .unexpectedResponse, message: "this Vault client cannot remove raft peers", address: address, path: "sys/storage/raft/remove-peer")
    }
}

/// The temporary 1-of-1 credentials of a freshly initialized node. Memory only: never logged, never journaled.
public struct TemporaryCredentials: Sendable {
    /// The temporary unseal key; nil for an auto-unseal node (it unseals itself; its recovery key is not kept).
    public let key: UnsealKey?
    public let rootToken: VaultSecret
}

/// ``RecoveryVaultAPI`` over a ``VaultClient``'s transport (same TLS settings, namespace and timeouts).
public struct VaultRecoveryClient: RecoveryVaultAPI {
    public let client: VaultClient

    public init(client: VaultClient) { self.client = client }

    private var requester: VaultRequester { client.requester }

    private func send(_ method: HTTPMethod, _ address: String, _ path: String, body: [UInt8]? = nil, token: VaultSecret? = nil,
                      accept: Set<Int>) async throws -> VaultHTTPResponse {
        let (r, _) = try await requester.send(method, path, body: body, token: token, at: address)
        guard accept.contains(r.status) else {
            throw VaultError.fromResponse(status: r.status, body: r.body, method: method.rawValue, path: path, address: address)
        }
        return r
    }

    public func health(at address: String) async throws -> (status: Int, health: VaultHealth) {
        let r = try await send(.GET, address, "sys/health", accept: Set(100...599))
        return (r.status, try VaultClient.decode(VaultHealth.self, r, path: "sys/health", address: address))
    }

    public func sealStatus(at address: String) async throws -> VaultSealStatus {
        let r = try await send(.GET, address, "sys/seal-status", accept: [200])
        return try VaultClient.decode(VaultSealStatus.self, r, path: "sys/seal-status", address: address)
    }

    public func initialize(at address: String, shares: Int, threshold: Int, autoUnseal: Bool) async throws -> TemporaryCredentials {
        let prefix = autoUnseal ? "recovery" : "secret"
        let body = Array("{\"\(prefix)_shares\":\(shares),\"\(prefix)_threshold\":\(threshold)}".utf8)
        let r = try await send(.PUT, address, "sys/init", body: body, accept: [200])
        var bodyBytes = r.body
        defer { wipe(&bodyBytes) }
        let answer = try VaultClient.decode(VaultInitResponse.self, r, path: "sys/init", address: address)
        if autoUnseal { return TemporaryCredentials(key: nil, rootToken: answer.rootToken) }
        guard let first = answer.keysBase64.first ?? answer.keys.first else {
            throw VaultError.unexpected("no unseal key in the init answer", status: r.status, body: [], address: address, path: "sys/init")
        }
        return TemporaryCredentials(key: try UnsealKey(first.exposedValue), rootToken: answer.rootToken)
    }

    public func unseal(at address: String, key: UnsealKey) async throws -> VaultSealStatus {
        var body = key.withText { Array("{\"key\":\"\($0)\"}".utf8) }
        defer { wipe(&body) }
        let r = try await send(.PUT, address, "sys/unseal", body: body, accept: [200])
        return try VaultClient.decode(VaultSealStatus.self, r, path: "sys/unseal", address: address)
    }

    public func resetUnseal(at address: String) async throws {
        // 400 "vault is unsealed" is fine: nothing to reset.
        _ = try await send(.PUT, address, "sys/unseal", body: Array("{\"reset\":true}".utf8), accept: [200, 400])
    }

    public func join(at address: String, leaderAPIAddress: String) async throws -> Bool {
        let body = try VaultClient.encode(["leader_api_addr": leaderAPIAddress])
        let r = try await send(.PUT, address, "sys/storage/raft/join", body: body, accept: [200])
        struct Joined: Decodable { var joined: Bool }
        return try VaultClient.decode(Joined.self, r, path: "sys/storage/raft/join", address: address).joined
    }

    public func leader(at address: String) async throws -> VaultLeaderStatus {
        let r = try await send(.GET, address, "sys/leader", accept: [200])
        return try VaultClient.decode(VaultLeaderStatus.self, r, path: "sys/leader", address: address)
    }

    public func raftConfiguration(at address: String, token: VaultSecret) async throws -> VaultRaftConfiguration {
        let path = "sys/storage/raft/configuration"
        let r = try await send(.GET, address, path, token: token, accept: [200])
        struct Wrapper: Decodable { var config: VaultRaftConfiguration }
        return try VaultClient.decodeData(Wrapper.self, r, path: path, address: address).config
    }

    public func autopilotState(at address: String, token: VaultSecret) async throws -> VaultAutopilotState {
        let path = "sys/storage/raft/autopilot/state"
        let r = try await send(.GET, address, path, token: token, accept: [200])
        return try VaultClient.decodeData(VaultAutopilotState.self, r, path: path, address: address)
    }

    public func readKV(at address: String, mount: String, path: String, token: VaultSecret) async throws -> VaultKVSecret? {
        let full = mount + "/data/" + path
        let r = try await send(.GET, address, full, token: token, accept: [200, 404])
        if r.status == 404 { return nil }
        return try VaultClient.decodeData(VaultKVSecret.self, r, path: full, address: address)
    }

    public func removePeer(at address: String, serverID: String, token: VaultSecret) async throws {
        _ = try await send(.POST, address, "sys/storage/raft/remove-peer", body: try VaultClient.encode(["server_id": serverID]),
                           token: token, accept: [200, 204])
    }

    public func tokenStatus(at address: String, token: VaultSecret) async throws -> Int {
        try await send(.GET, address, "auth/token/lookup-self", token: token, accept: Set(100...599)).status
    }

    public func uploadSnapshot(at address: String, file: String, size: Int64, force: Bool, token: VaultSecret, timeout: Duration) async throws {
        let path = force ? "sys/storage/raft/snapshot-force" : "sys/storage/raft/snapshot"
        var target = address
        // One redirect is followed (a standby answers 307 with the active node's address); the file is re-sent.
        for _ in 0..<2 {
            let (status, body, location) = try await postFile(at: target, path: path, file: file, size: size, token: token, timeout: timeout)
            if status == 204 || status == 200 { return }
            if status == 307, let location, let next = Self.origin(of: location), next != target {
                if location.lowercased().hasPrefix("http:") && target.lowercased().hasPrefix("https:") {
                    throw VaultError(kind: .redirect, message: "\(target) redirected the snapshot upload to \(location), from https to http: refusing the protocol downgrade; point Lifeboat at the active node", address: target, path: path)
                }
                target = next
                continue
            }
            throw VaultError.fromResponse(status: status, body: body, method: "POST", path: path, address: target)
        }
        throw VaultError(kind: .redirect, message: "the snapshot upload was redirected more than once (the leader is moving); run again", address: target, path: path)
    }

    /// `scheme://host:port` of a URL.
    static func origin(of url: String) -> String? {
        guard let c = URLComponents(string: url), let scheme = c.scheme, let host = c.host else { return nil }
        return "\(scheme)://\(host)" + (c.port.map { ":\($0)" } ?? "")
    }

    private func postFile(at address: String, path: String, file: String, size: Int64, token: VaultSecret,
                          timeout: Duration) async throws -> (Int, [UInt8], String?) {
        var request = HTTPClientRequest(url: VaultRequester.url(address, path))
        request.method = .POST
        request.headers = requester.headers(token: token, json: false)
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        request.body = .stream(FileByteBuffers(path: file), length: .known(size))
        let transport = client.transport
        let started = ContinuousClock.now
        let req = request
        return try await withVaultTimeout(timeout, onTimeout: {
            VaultError(kind: .timeout, message: "the snapshot upload to \(address) did not finish within \(timeout); raise the restore timeout, and check Vault's listener http_read_timeout (30 s by default), which cuts long uploads", address: address, path: path)
        }) {
            do {
                let response = try await transport.start(req, headTimeout: timeout, address: address, path: path)
                var collected: [UInt8] = []
                for try await chunk in response.body where collected.count < 64 * 1024 {
                    collected.append(contentsOf: chunk.readableBytesView)
                }
                return (Int(response.status.code), collected, response.headers.first(name: "Location"))
            } catch let e as VaultError where e.kind == .connectionLost || e.kind == .unexpectedResponse {
                let elapsed = ContinuousClock.now - started
                throw VaultError(kind: .uploadInterrupted, message: "the snapshot upload to \(address) was cut after \(elapsed) (\(e.message)); if that is about 30 s, Vault's listener http_read_timeout stopped it: raise http_read_timeout in the listener stanza (e.g. \"10m\") and run again", address: address, path: path)
            }
        }
    }

    public func snapshotSummary(at address: String, token: VaultSecret, timeout: Duration) async throws -> SnapshotSummary {
        let path = "sys/storage/raft/snapshot"
        var request = HTTPClientRequest(url: VaultRequester.url(address, path))
        request.method = .GET
        request.headers = requester.headers(token: token, json: false)
        let transport = client.transport
        let req = request
        return try await withVaultTimeout(timeout, onTimeout: {
            VaultError(kind: .timeout, message: "the snapshot download from \(address) did not finish within \(timeout)", address: address, path: path)
        }) {
            let response = try await transport.start(req, headTimeout: timeout, address: address, path: path)
            guard response.status.code == 200 else {
                var body: [UInt8] = []
                for try await chunk in response.body where body.count < 64 * 1024 { body.append(contentsOf: chunk.readableBytesView) }
                throw VaultError.fromResponse(status: Int(response.status.code), body: body, method: "GET", path: path, address: address)
            }
            var verifier = try SnapshotVerifier()
            do {
                for try await chunk in response.body {
                    try chunk.withUnsafeReadableBytes { try verifier.consume($0) }
                }
            } catch let e as SnapshotError {
                throw e
            } catch {
                throw VaultError.fromTransport(error, address: address, path: path, trust: client.configuration.tls.trustDescription)
            }
            return try verifier.finish()
        }
    }
}

/// A file as an async sequence of 1 MiB ByteBuffers (the upload body); reads happen as the client asks.
struct FileByteBuffers: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let path: String

    func makeAsyncIterator() -> Iterator { Iterator(path: path) }

    final class Iterator: AsyncIteratorProtocol {
        private let path: String
        private var fd: Int32 = -1
        private var done = false
        private var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)

        init(path: String) { self.path = path }

        deinit { if fd >= 0 { close(fd) } }

        func next() async throws -> ByteBuffer? {
            if done { return nil }
            if fd < 0 {
                fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw FileIOError(path: path, operation: "open", code: errno) }
            }
            // One buffer, reused: once the channel has written the previous chunk this iterator holds the only
            // reference and `clear()` keeps its storage; while the chunk is still in flight, `clear()` gets fresh
            // storage. A new 1 MiB allocation per chunk instead made the upload's peak RSS vary by 20 MiB
            // between runs (docs/performance.md).
            buffer.clear()
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { raw in
                try FileDescriptorIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<(1 << 20)]), path: path)
            }
            if n == 0 {
                done = true
                close(fd)
                fd = -1
                return nil
            }
            return buffer
        }
    }
}
