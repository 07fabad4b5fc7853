// The end-to-end harness's one way to get a Vault cluster: a `ClusterLauncher` starts N nodes, initialized,
// unsealed and joined, with `secret/` (KV version 2) mounted, and hands back a `LaunchedCluster`. Two launchers:
// vault-sim (the default; VaultSimLauncher in EndToEndSupport.swift) and real `vault`/`bao` server processes on
// loopback (VaultServerLauncher) when LIFEBOAT_TEST_VAULT_BIN names the binary. `ClusterLaunchers.selected` is the one
// place that reads the variable. Tests that need the simulator's control API (faults, seal, wipe, corrupt, lag,
// seed) call `VaultSimProcess.start` directly and stay on vault-sim whatever the variable says.

import Foundation
import LifeboatArchive
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// One node of a launched cluster (field names as in vault-sim's ready JSON, which decodes into it).
struct LaunchedNode: Decodable, Equatable, Sendable {
    var id: String
    /// `http://127.0.0.1:PORT`
    var api_addr: String
    /// `https://127.0.0.1:PORT`
    var cluster_addr: String
}

/// A running cluster, whichever launcher started it.
protocol LaunchedCluster: AnyObject, Sendable {
    /// Which launcher started it (for messages).
    var launcherName: String { get }
    var nodes: [LaunchedNode] { get }
    var rootToken: String { get }
    /// The unseal keys, base64 (`unseal_keys_b64`).
    var unsealKeys: [String] { get }
    /// The init output in `vault operator init -format=json` shape, mode 0600 (for `--unseal-keys-file`).
    var keysFile: String { get }
    /// Where `id`'s output goes.
    func logPath(_ id: String) -> String
    /// Whether `id` is serving (its process, or the simulator's node, is up).
    func isRunning(_ id: String) async -> Bool
    /// Stops `id` gracefully (SIGTERM, then SIGKILL after a grace period, for a real server).
    func stopNode(_ id: String) async throws
    /// Stops `id` at once (SIGKILL for a real server).
    func killNode(_ id: String) async throws
    /// Starts a stopped or killed `id` again with its data and waits for its listener.
    func startNode(_ id: String) async throws
    /// A `--reset-command` template that wipes `{node}` (nil where the launcher cannot offer one to a hook).
    var resetCommand: String? { get }
    /// Stops every node and removes what the launcher created.
    func stop()
}

extension LaunchedCluster {
    func address(_ id: String) throws -> String {
        guard let node = nodes.first(where: { $0.id == id }) else { throw E2EError("\(launcherName) has no node \(id)") }
        return node.api_addr
    }

    /// The active node's id: the one whose sys/health answers 200 (the same question for every launcher).
    func activeNode() async throws -> String? {
        for node in nodes where (try? await VaultHTTP.call("GET", node.api_addr + "/v1/sys/health", timeout: 2).status) == 200 {
            return node.id
        }
        return nil
    }
}

/// Starts clusters.
protocol ClusterLauncher: Sendable {
    var name: String { get }
    /// `nodes` nodes, initialized with `shares` keys (threshold `threshold`), unsealed, joined, `secret/` mounted.
    func launch(nodes: Int, shares: Int, threshold: Int) async throws -> any LaunchedCluster
}

extension ClusterLauncher {
    /// ``launch(nodes:shares:threshold:)`` with the defaults the tests use: three nodes, one key.
    func start(nodes: Int = 3, shares: Int = 1, threshold: Int = 1) async throws -> any LaunchedCluster {
        try await launch(nodes: nodes, shares: shares, threshold: threshold)
    }
}

enum ClusterLaunchers {
    /// The variable naming a `vault` or `bao` binary; unset or empty means vault-sim.
    static let binaryVariable = "LIFEBOAT_TEST_VAULT_BIN"

    /// The launcher for tests that need only what a real Vault offers: the one place the environment decides.
    static let selected: any ClusterLauncher = select(ProcessInfo.processInfo.environment)

    static func select(_ environment: [String: String]) -> any ClusterLauncher {
        if let binary = environment[binaryVariable], !binary.isEmpty { return VaultServerLauncher(binary: binary) }
        return VaultSimLauncher()
    }
}

/// HTTP calls to a Vault node for the harness: `call` for async tests, `callBlocking` for code on a thread of its
/// own (the real-Vault launcher's process management).
enum VaultHTTP {
    struct Response: Sendable {
        var status: Int
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
    }

    /// One request; throws when nothing answered (refused, reset, timed out).
    static func call(_ method: String, _ url: String, token: String? = nil, body: [String: Any]? = nil,
                     timeout: TimeInterval = 10) async throws -> Response {
        let request = try makeRequest(method, url, token: token, body: body, timeout: timeout)
        return try await onOwnThread { try perform(request) }
    }

    /// `call` for code that already runs on a thread of its own (never call it from async code).
    static func callBlocking(_ method: String, _ url: String, token: String? = nil, body: [String: Any]? = nil,
                             timeout: TimeInterval = 10) throws -> Response {
        try perform(makeRequest(method, url, token: token, body: body, timeout: timeout))
    }

    private static func makeRequest(_ method: String, _ url: String, token: String?, body: [String: Any]?,
                                    timeout: TimeInterval) throws -> URLRequest {
        guard let target = URL(string: url) else { throw E2EError("not a URL: \(url)") }
        var request = URLRequest(url: target, timeoutInterval: timeout)
        request.httpMethod = method
        if let token { request.setValue(token, forHTTPHeaderField: "X-Vault-Token") }
        if let body { request.httpBody = try JSONSerialization.data(withJSONObject: body) }
        return request
    }

    private static func perform(_ request: URLRequest) throws -> Response {
        let what = "\(request.httpMethod ?? "GET") \(request.url?.absoluteString ?? "")"
        let outcome = PThreadLocked<Result<Response, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: request) { data, response, error in
            outcome.withLock {
                if let error {
                    $0 = .failure(E2EError("\(what): \(error.localizedDescription)"))
                } else {
                    $0 = .success(Response(status: (response as? HTTPURLResponse)?.statusCode ?? 0, body: data ?? Data()))
                }
            }
            done.signal()
        }.resume()
        done.wait()
        guard let result = outcome.withLock({ $0 }) else { throw E2EError("\(what): no answer") }
        return try result.get()
    }
}

/// Checks `condition` every `interval` until it holds or `timeout` passed; returns whether it held.
func waitUntil(every interval: Duration = .milliseconds(50), for timeout: Duration,
               until condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: interval)
    }
}

/// `waitUntil` for code that already runs on a thread of its own (never call it from async code).
func waitUntilBlocking(every interval: Duration = .milliseconds(50), for timeout: Duration, until condition: () throws -> Bool) rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try condition() { return true }
        guard ContinuousClock.now < deadline else { return false }
        Thread.sleep(forTimeInterval: Double(interval.components.attoseconds) / 1e18 + Double(interval.components.seconds))
    }
}
