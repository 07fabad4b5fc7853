// End-to-end harness: real `vault-sim` and `lifeboat` processes on loopback ports chosen at run time.

import Foundation
import LifeboatArchive
import Testing
import VaultSim

/// The directory holding the built executables (`lifeboat`, `vault-sim`): next to the test bundle.
let productsDirectory: URL = {
    var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    // On Linux the runner is .build/<config>/<Package>PackageTests.xctest; on macOS a bundle inside that folder.
    if url.lastPathComponent.hasSuffix(".xctest") || url.path.contains(".xctest/") {
        while url.path.contains(".xctest") { url.deleteLastPathComponent() }
    }
    return url
}()

/// Tests/LifeboatTests.
let coreTestsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
/// The real Vault 1.14.3 snapshots (Tests/Fixtures/vault-1.14.3; provenance in its README).
let fixturesDirectory = coreTestsDirectory.appendingPathComponent("../Fixtures/vault-1.14.3").standardized

/// What a finished process said.
struct ProcessResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs `body` on a thread of its own and suspends until it returns. The test harness waits for processes (`waitpid`,
/// pipe reads, polling) this way: a blocking wait on Swift's cooperative pool (two threads on a 2-core machine) stalls
/// every other test, which under a sanitizer made timing-sensitive tests fail.
func onOwnThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

extension Process {
    /// Waits for the process to exit without blocking a cooperative thread.
    func exited() async {
        _ = try? await onOwnThread { [self] in waitUntilExit() }
    }
}

/// Runs an executable to completion, capturing its output.
func runProcess(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                removing removedVariables: [String] = []) async throws -> ProcessResult {
    try await onOwnThread {
        try runProcessBlocking(executable, arguments, environment: environment, removing: removedVariables)
    }
}

/// `runProcess` for code that already runs on a thread of its own (never call it from async code).
func runProcessBlocking(_ executable: URL, _ arguments: [String], environment: [String: String] = [:],
                        removing removedVariables: [String] = []) throws -> ProcessResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for name in removedVariables { env.removeValue(forKey: name) }
    env.merge(environment) { $1 }
    process.environment = env
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read both pipes concurrently with the process so a full pipe never blocks it.
    let stdoutData = PThreadLocked(Data()), stderrData = PThreadLocked(Data())
    let group = DispatchGroup()
    for (pipe, sink) in [(out, stdoutData), (err, stderrData)] {
        group.enter()
        Thread {
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            sink.withLock { $0 = data }
            group.leave()
        }.start()
    }
    process.waitUntilExit()
    group.wait()
    return ProcessResult(status: process.terminationStatus,
                         stdout: String(decoding: stdoutData.withLock { $0 }, as: UTF8.self),
                         stderr: String(decoding: stderrData.withLock { $0 }, as: UTF8.self))
}

/// The default launcher: one `vault-sim serve` process per cluster.
struct VaultSimLauncher: ClusterLauncher {
    var name: String { "vault-sim" }

    func launch(nodes: Int, shares: Int, threshold: Int) async throws -> any LaunchedCluster {
        try await VaultSimProcess.start(nodes: nodes, shares: shares, threshold: threshold)
    }
}

/// A `vault-sim serve` process with an initialized, unsealed three-node cluster (`secret/` mounted). Tests that
/// drive its control API (faults, seal, wipe, corrupt, lag, seed) start it directly; the rest go through
/// `ClusterLaunchers.selected`, which may be a real Vault instead.
final class VaultSimProcess: LaunchedCluster, @unchecked Sendable {
    typealias Node = LaunchedNode

    struct Ready: Decodable {
        var control_addr: String
        var nodes: [Node]
    }

    struct Keys: Decodable {
        var root_token: String
        var unseal_keys_b64: [String]
        /// Recovery keys of an auto-unseal cluster (then `unseal_keys_b64` is empty).
        var recovery_keys_b64: [String]?
    }

    let process: Process
    let directory: String
    let ready: Ready
    let keys: Keys
    /// The stopped simulator's ports (its nodes' and control addresses), held until this object goes: a test that
    /// stops a cluster expects its addresses to refuse connections, not to reach the next server handed the port.
    private var heldPorts: [LoopbackPortHold] = []

    var launcherName: String { "vault-sim" }
    var nodes: [Node] { ready.nodes }
    var rootToken: String { keys.root_token }
    var unsealKeys: [String] { keys.unseal_keys_b64 }
    var keysFile: String { directory + "/keys.json" }
    /// Every node lives in the one simulator process, so they share its log.
    func logPath(_ id: String) -> String { directory + "/vault-sim.log" }
    var resetCommand: String? {
        "VAULT_SIM_CONTROL=\(ready.control_addr) \(productsDirectory.appendingPathComponent("vault-sim").path) node wipe {node}"
    }

    /// - Parameters:
    ///   - arguments: more `vault-sim serve` arguments (e.g. `--transit-seal-address`).
    ///   - environment: added to the process's environment (e.g. the transit seal's VAULT_TOKEN).
    static func start(nodes: Int = 3, shares: Int = 1, threshold: Int = 1, electionDelayMilliseconds: Int = 200,
                      arguments: [String] = [], environment: [String: String] = [:]) async throws -> VaultSimProcess {
        let directory = NSTemporaryDirectory() + "lifeboat-e2e-sim-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = productsDirectory.appendingPathComponent("vault-sim")
        process.arguments = ["serve", "--nodes", "\(nodes)", "--data-dir", directory + "/data", "--ready-file", directory + "/ready.json",
                             "--init-shares", "\(shares)", "--init-threshold", "\(threshold)", "--keys-file", directory + "/keys.json",
                             "--election-delay-ms", "\(electionDelayMilliseconds)", "--restore-delay-ms", "100"] + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        _ = FileManager.default.createFile(atPath: directory + "/vault-sim.log", contents: nil)
        let log = FileHandle(forWritingAtPath: directory + "/vault-sim.log") ?? FileHandle.nullDevice
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let readyPath = directory + "/ready.json"
        let deadline = Date().addingTimeInterval(30)
        while !FileManager.default.fileExists(atPath: readyPath) {
            guard process.isRunning, Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw E2EError("vault-sim did not become ready (exit \(process.isRunning ? "none" : "\(process.terminationStatus)"))")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let ready = try JSONDecoder().decode(Ready.self, from: Data(contentsOf: URL(fileURLWithPath: readyPath)))
        let keys = try JSONDecoder().decode(Keys.self, from: Data(contentsOf: URL(fileURLWithPath: directory + "/keys.json")))
        return VaultSimProcess(process: process, directory: directory, ready: ready, keys: keys)
    }

    private init(process: Process, directory: String, ready: Ready, keys: Keys) {
        self.process = process
        self.directory = directory
        self.ready = ready
        self.keys = keys
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            // SIGKILL: child processes of the test runner may inherit a mask that blocks SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            let addresses = ready.nodes.map(\.api_addr) + [ready.control_addr]
            heldPorts = addresses.compactMap { Int($0.split(separator: ":").last ?? "") }.compactMap { try? LoopbackPortHold(port: $0) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// `vault-sim <arguments>` against this simulator's control API.
    @discardableResult
    func control(_ arguments: [String]) async throws -> ProcessResult {
        let result = try await runProcess(productsDirectory.appendingPathComponent("vault-sim"), arguments,
                                    environment: ["VAULT_SIM_CONTROL": ready.control_addr])
        guard result.status == 0 else { throw E2EError("vault-sim \(arguments.joined(separator: " ")) failed: \(result.stderr)") }
        return result
    }

    func isRunning(_ id: String) async -> Bool {
        struct Status: Decodable {
            struct Node: Decodable {
                var id: String
                var running: Bool
            }
            var nodes: [Node]
        }
        guard let output = try? await control(["status"]).stdout,
              let status = try? JSONDecoder().decode(Status.self, from: Data(output.utf8)) else { return false }
        return status.nodes.first { $0.id == id }?.running ?? false
    }

    /// The simulator's stop: the node's listener closes at once (there is no process of its own to signal).
    func stopNode(_ id: String) async throws { try await control(["node", "stop", id]) }
    func killNode(_ id: String) async throws { try await control(["node", "stop", id]) }
    func startNode(_ id: String) async throws { try await control(["node", "start", id]) }
}

struct E2EError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The variables `lifeboat(...)` clears, so the developer's environment never leaks in.
let clearedVaultVariables = ["VAULT_ADDR", "VAULT_TOKEN", "BAO_ADDR", "BAO_TOKEN", "LIFEBOAT_VAULT_ADDRS", "LIFEBOAT_REPO",
                             "VAULT_CACERT", "VAULT_SKIP_VERIFY", "VAULT_NAMESPACE"]

/// Runs the built `lifeboat` with Vault's variables cleared first, so the developer's environment never leaks in.
func lifeboat(_ arguments: [String], environment: [String: String] = [:]) async throws -> ProcessResult {
    try await runProcess(productsDirectory.appendingPathComponent("lifeboat"), arguments, environment: environment,
                         removing: clearedVaultVariables)
}

/// `lifeboat(...)` for code that already runs on a thread of its own (never call it from async code).
func lifeboatBlocking(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
    try runProcessBlocking(productsDirectory.appendingPathComponent("lifeboat"), arguments, environment: environment,
                           removing: clearedVaultVariables)
}

/// Starts `lifeboat <arguments>` in the background (the agent) with exactly `environment`, its standard output and
/// error written to `log`.
func startLifeboat(_ arguments: [String], environment: [String: String], log: String) throws -> Process {
    let process = Process()
    process.executableURL = productsDirectory.appendingPathComponent("lifeboat")
    process.arguments = arguments
    process.environment = environment
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    process.standardOutput = FileHandle(forWritingAtPath: log)
    process.standardError = FileHandle(forWritingAtPath: log)
    try process.run()
    return process
}

/// The port of an agent started with a listen address of port 0: the kernel picks it when the agent binds, and the
/// agent logs it ("telemetry listening", text or JSON). A port picked before the start and handed over could be given
/// to another server of the parallel suite first.
func telemetryPort(of agent: Process, log: String) async throws -> Int {
    let deadline = ContinuousClock.now + .seconds(60)
    while ContinuousClock.now < deadline {
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        if let line = text.split(separator: "\n").first(where: { $0.contains("telemetry listening") }),
           let match = line.firstMatch(of: /127\.0\.0\.1:([0-9]+)/), let port = Int(match.1), port > 0 {
            return port
        }
        guard agent.isRunning else { throw E2EError("the agent exited before it listened: \(text)") }
        try await Task.sleep(for: .milliseconds(100))
    }
    throw E2EError("the agent did not log its telemetry address within 60 s")
}

/// A temporary directory with a key file in it.
struct E2EWorkspace {
    let directory: String
    var keyFile: String { directory + "/backup.key" }
    var repository: String { directory + "/repo" }

    init() async throws {
        directory = NSTemporaryDirectory() + "lifeboat-e2e-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let result = try await lifeboat(["key", "generate", "--output", directory + "/backup.key"])
        guard result.status == 0 else { throw E2EError("key generate failed: \(result.stderr)") }
    }

    /// Every file under the repository, including hidden temporary ones.
    func repositoryFiles() -> [String] {
        (FileManager.default.enumerator(atPath: repository)?.allObjects as? [String] ?? []).sorted()
    }

    /// Waits (up to a minute) until a backup is being written: its pending `.lifeboat-tmp-*` file exists.
    func waitForPendingFile() async throws {
        let deadline = ContinuousClock.now + .seconds(180)
        while !repositoryFiles().contains(where: { ($0 as NSString).lastPathComponent.hasPrefix(".lifeboat-tmp-") }) {
            guard ContinuousClock.now < deadline else { throw E2EError("no backup started writing within three minutes") }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }
}

/// A port on 127.0.0.1 that refuses every connection for as long as `body` runs: a socket is bound to it but never
/// listens, so a connect gets ECONNREFUSED and no other server of the parallel suite can be handed the port (a port
/// that was merely closed can be, and then the "dead" address answers). vault-sim holds a stopped node's port the same way.
func withRefusingLoopbackPort<T>(_ body: (Int) async throws -> T) async throws -> T {
    let hold = try LoopbackPortHold()
    defer { withExtendedLifetime(hold) {} }  // the port is held until `body` is done, not only until its last use here
    return try await body(hold.port)
}
