// Shared setup for VaultSim tests: a simulator in a fresh temp directory with short election/restore delays,
// helpers to address nodes and to wait for conditions without fixed sleeps.

import Foundation
import Testing
@testable import VaultSim

/// A started simulator plus conveniences; call `stop()` at the end of each test.
final class SimHarness: @unchecked Sendable {
    let sim: VaultSimulator
    let directory: String
    let clock: ManualClock?

    static func start(nodes: Int = 3, clock: ManualClock? = nil, directory: String? = nil, devMode: Bool = true,
                      seal: VaultSimSeal = .shamir, restoreApplyDelay: Duration = .milliseconds(50)) async throws -> SimHarness {
        let dir = directory ?? NSTemporaryDirectory() + "vaultsim-test-" + UUID().uuidString
        var config = VaultSimulator.Configuration(dataDirectory: dir)
        config.nodeCount = nodes
        config.electionDelay = .milliseconds(30)
        config.restoreApplyDelay = restoreApplyDelay
        if let clock { config.clock = clock }
        config.devMode = devMode
        config.seal = seal
        config.autoUnsealRetry = .milliseconds(100)
        let sim = try await VaultSimulator.start(config)
        return SimHarness(sim: sim, directory: dir, clock: clock)
    }

    private init(sim: VaultSimulator, directory: String, clock: ManualClock?) {
        self.sim = sim
        self.directory = directory
        self.clock = clock
    }

    func url(_ node: String, _ path: String) -> String { sim.apiAddress(node)! + "/v1/" + path }

    func get(_ node: String, _ path: String, token: String? = nil, headers: [(String, String)] = []) throws -> TestResponse {
        try TestHTTP.send("GET", url(node, path), token: token, headers: headers)
    }

    func put(_ node: String, _ path: String, token: String? = nil, _ json: JSONValue? = nil, body: [UInt8] = []) throws -> TestResponse {
        try TestHTTP.send("PUT", url(node, path), token: token, body: body, json: json)
    }

    /// Polls until `condition` holds (checked every 10 ms, up to `timeout`).
    func waitUntil(_ what: String, timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + timeout
        while clock.now < deadline {
            if try condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("timed out waiting for \(what)")
        throw TestClientError(description: "timed out waiting for \(what)")
    }

    /// Synchronous teardown for `defer` blocks.
    func stopNow(removeData: Bool = true) {
        sim.shutdownBlocking()
        if removeData { try? FileManager.default.removeItem(atPath: directory) }
    }

    func stop(removeData: Bool = true) async {
        await sim.shutdown()
        if removeData { try? FileManager.default.removeItem(atPath: directory) }
    }

    var standbyID: String { sim.nodes.first { !$0.active && !$0.sealed && $0.running }!.id }
}

extension JSONValue {
    static func obj(_ pairs: KeyValuePairs<String, JSONValue>) -> JSONValue { .object(pairs.map { ($0.key, $0.value) }) }
}

extension JSONValue: ExpressibleByIntegerLiteral, ExpressibleByStringLiteral,
    ExpressibleByBooleanLiteral {
    public init(integerLiteral value: Int) { self = .int(Int64(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
