// vault-sim: runs a simulated Vault Raft cluster on loopback (`serve`) and drives a running one through its
// control API (`status`, `stop`, `start`, `wipe`, `seal`, `leader`, `fault`, `seed`). Thin: the logic is in VaultSim.

import ArgumentParser
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import VaultSim
import LifeboatBase

@main
struct VaultSimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vault-sim",
        abstract: "A Vault Raft cluster simulator for testing Lifeboat (see docs/vault-sim.md).",
        subcommands: [Serve.self, Status.self, NodeAction.self, Leader.self, Fault.self, Seed.self])
}

/// Parses "1GiB", "512MiB", "10MB", "4096".
func parseSize(_ text: String) -> Int? {
    let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30), ("KB", 1000), ("MB", 1_000_000),
                                  ("GB", 1_000_000_000), ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
    for (suffix, mult) in units where text.hasSuffix(suffix) {
        guard let number = Double(text.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)) else { return nil }
        let value = number * Double(mult)
        return value.isFinite && value >= 0 && value < Double(Int.max / 2) ? Int(value) : nil
    }
    return Int(text)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start N simulated nodes and serve until interrupted.")

    @Option(help: "Number of nodes.") var nodes = 3
    @Option(help: "Directory for node and cluster state (kept across restarts).") var dataDir: String
    @Option(help: "First node's port; 0 lets the OS choose.") var basePort = 0
    @Option(help: "Control API port; 0 lets the OS choose.") var controlPort = 0
    @Option(help: "Write the ready JSON line to this file too.") var readyFile: String?
    @Option(help: "Initialize the cluster with this many key shares (when not yet initialized).") var initShares: Int?
    @Option(help: "Key threshold for --init-shares.") var initThreshold: Int?
    @Option(help: "Where the unseal keys and root token go (mode 0600, `vault operator init -format=json` shape). If the cluster is already initialized and this file exists, its keys unseal the nodes.") var keysFile: String?
    @Option(help: "Seed this much data after start (e.g. 1GiB).") var seedBytes: String?
    @Option(help: "Election delay in milliseconds.") var electionDelayMs = 1000
    @Option(help: "Delay between a restore's 204 and its apply, in milliseconds.") var restoreDelayMs = 500
    @Flag(inversion: .prefixedNo, help: "With --init-shares: mount secret/ (KV version 2) after init, as `vault server -dev` does. Clusters initialized by a client through sys/init never get secret/.")
    var devMounts = true
    @Option(help: "Auto-unseal through this Vault (or vault-sim) node's transit engine, e.g. http://127.0.0.1:8200 (Vault's seal \"transit\" address). The token comes from $VAULT_TOKEN, never from the command line.")
    var transitSealAddress: String?
    @Option(help: "The transit key that seals this cluster (seal \"transit\" key_name).") var transitSealKeyName = "autounseal"
    @Option(help: "The transit mount on the seal cluster (seal \"transit\" mount_path).") var transitSealMountPath = "transit/"

    func validate() throws {
        if (initShares == nil) != (initThreshold == nil) { throw ValidationError("--init-shares and --init-threshold go together") }
        if initShares != nil && keysFile == nil { throw ValidationError("--init-shares needs --keys-file: the keys are never printed") }
        if let s = seedBytes, parseSize(s) == nil { throw ValidationError("--seed-bytes must look like 1GiB, 512MiB or 1000000") }
        if transitSealAddress != nil && (ProcessInfo.processInfo.environment["VAULT_TOKEN"] ?? "").isEmpty {
            throw ValidationError("--transit-seal-address needs the seal's token in $VAULT_TOKEN")
        }
    }

    func run() async throws {
        StopRequest.shared.install()
        var config = VaultSimulator.Configuration(dataDirectory: dataDir)
        config.nodeCount = nodes
        config.basePort = basePort
        config.controlPort = controlPort
        config.electionDelay = .milliseconds(electionDelayMs)
        config.restoreApplyDelay = .milliseconds(restoreDelayMs)
        config.devMode = devMounts
        if let address = transitSealAddress {
            config.seal = .transit(address: address, token: ProcessInfo.processInfo.environment["VAULT_TOKEN"] ?? "",
                                   mountPath: transitSealMountPath, keyName: transitSealKeyName)
        }
        let sim = try await VaultSimulator.start(config)
        var initialized = false
        let alreadyInitialized = try await isInitialized(sim)
        if let shares = initShares, let threshold = initThreshold, let keysFile, !alreadyInitialized {
            let result = try await sim.initializeCluster(shares: shares, threshold: threshold)
            try writeSecret(result.operatorInitJSON(), to: keysFile)
            initialized = true
        } else if let keysFile, FileManager.default.fileExists(atPath: keysFile), alreadyInitialized {
            let data = try Data(contentsOf: URL(fileURLWithPath: keysFile))
            if let json = try JSONSerialization.jsonObject(with: data) as? [String: Any], let keys = json["unseal_keys_b64"] as? [String] {
                for node in sim.nodes { try? sim.unseal(node.id, keys: keys) }
                _ = try? await sim.waitForActive()
            }
        }
        if let s = seedBytes, let bytes = parseSize(s) {
            _ = try await sim.waitForActive()
            try sim.seed(bytes: bytes)
        }
        let ready: [String: Any] = [
            "nodes": sim.nodes.map { ["id": $0.id, "api_addr": $0.apiAddress, "cluster_addr": $0.clusterAddress] },
            "control_addr": sim.controlAddress ?? "",
            "initialized_now": initialized,
        ]
        let line = try JSONSerialization.data(withJSONObject: ready, options: [.sortedKeys, .withoutEscapingSlashes])
        FileHandle.standardOutput.write(line + Data([0x0a]))
        if let readyFile {
            let tmp = readyFile + ".tmp"
            try (line + Data([0x0a])).write(to: URL(fileURLWithPath: tmp))
            _ = rename(tmp, readyFile)
        }
        await waitForTermination()
        await sim.shutdown()
    }

    func isInitialized(_ sim: VaultSimulator) async throws -> Bool {
        guard let addr = sim.apiAddress(sim.nodes[0].id) else { return false }
        let (data, _) = try await request("GET", addr + "/v1/sys/init")
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["initialized"] as? Bool ?? false
    }

    func writeSecret(_ bytes: [UInt8], to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ValidationError("cannot create \(path)") }
        defer { close(fd) }
        fchmod(fd, 0o600)
        let written = bytes.withUnsafeBytes { raw in raw.baseAddress.map { write(fd, $0, raw.count) } ?? 0 }
        guard written == bytes.count else { throw ValidationError("cannot write \(path)") }
    }

    func waitForTermination() async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            StopRequest.shared.onStop { cont.resume() }
        }
    }
}

/// SIGINT, SIGTERM and SIGHUP stop the simulator cleanly. They arrive through Lifeboat's one signal mechanism
/// (TerminationSignals: a C handler that only writes to a pipe, read by a thread of its own), installed first thing
/// in `serve`, so a signal that comes while the cluster is still starting is remembered, not lost.
final class StopRequest: @unchecked Sendable {
    static let shared = StopRequest()
    private let lock = NSLock()
    private var requested = false
    private var waiter: (() -> Void)?

    /// Installs the handler (once per process).
    func install() {
        TerminationSignals.install()
        TerminationSignals.setHandler { [self] _ in
            request()
            return .handled
        }
    }

    func request() {
        let waiter = lock.withLock { () -> (() -> Void)? in
            requested = true
            defer { self.waiter = nil }
            return self.waiter
        }
        waiter?()
    }

    /// Calls `body` once a stop was requested (at once when it already was).
    func onStop(_ body: @escaping () -> Void) {
        let already = lock.withLock { () -> Bool in
            if !requested { waiter = body }
            return requested
        }
        if already { body() }
    }
}

/// One HTTP call, awaited (never a blocking wait: the commands run in async context).
func request(_ method: String, _ url: String, body: [String: Any]? = nil) async throws -> (Data, Int) {
    guard let u = URL(string: url) else { throw ValidationError("bad URL \(url)") }
    var req = URLRequest(url: u)
    req.httpMethod = method
    if let body { req.httpBody = try JSONSerialization.data(withJSONObject: body) }
    let request = req
    return try await withCheckedThrowingContinuation { (c: CheckedContinuation<(Data, Int), any Error>) in
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                c.resume(throwing: ValidationError("\(method) \(url) failed: \(error.localizedDescription); is vault-sim serve running?"))
            } else {
                c.resume(returning: (data ?? Data(), (response as? HTTPURLResponse)?.statusCode ?? 0))
            }
        }.resume()
    }
}

struct ControlOptions: ParsableArguments {
    @Option(help: "The control API address printed by `vault-sim serve` (or $VAULT_SIM_CONTROL).")
    var control: String = ProcessInfo.processInfo.environment["VAULT_SIM_CONTROL"] ?? ""

    func call(_ method: String, _ path: String, body: [String: Any]? = nil) async throws {
        guard !control.isEmpty else { throw ValidationError("give --control or set VAULT_SIM_CONTROL") }
        let (data, status) = try await request(method, control + path, body: body)
        FileHandle.standardOutput.write(data)
        if status >= 300 { throw ExitCode(1) }
    }
}

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every node's state.")
    @OptionGroup var options: ControlOptions
    func run() async throws { try await options.call("GET", "/status") }
}

struct NodeAction: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "node", abstract: "Stop, start, wipe, seal, corrupt or lag a node.")
    @OptionGroup var options: ControlOptions
    @Argument(help: "stop | start | wipe | seal | corrupt | lag") var action: String
    @Argument(help: "Node id, e.g. vault_2.") var node: String
    func validate() throws {
        guard ["stop", "start", "wipe", "seal", "corrupt", "lag"].contains(action) else {
            throw ValidationError("action must be stop, start, wipe, seal, corrupt or lag")
        }
    }
    func run() async throws { try await options.call("POST", "/nodes/\(node)/\(action)") }
}

struct Leader: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Force a leader change (to NODE, or any other voter).")
    @OptionGroup var options: ControlOptions
    @Argument var node: String?
    func run() async throws { try await options.call("POST", "/leader", body: node.map { ["node": $0] } ?? [:]) }
}

struct Fault: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Inject a fault: truncate-next-snapshot, reset-next-snapshot, delay-first-byte, throttle, fail, clear.")
    @OptionGroup var options: ControlOptions
    @Argument var type: String
    @Option var afterBytes: Int?
    @Option var path: String?
    @Option var delayMs: Int?
    @Option var count: Int?
    @Option var bytesPerSecond: Int?
    @Option var status: Int?
    @Option var message: String?
    func run() async throws {
        var body: [String: Any] = ["type": type]
        if let afterBytes { body["after_bytes"] = afterBytes }
        if let path { body["path"] = path }
        if let delayMs { body["delay_ms"] = delayMs }
        if let count { body["count"] = count }
        if let bytesPerSecond { body["bytes_per_second"] = bytesPerSecond }
        if let status { body["status"] = status }
        if let message { body["message"] = message }
        try await options.call("POST", "/faults", body: body)
    }
}

struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write bulk encrypted data into the active cluster.")
    @OptionGroup var options: ControlOptions
    @Option(help: "How much, e.g. 1GiB.") var bytes: String
    func run() async throws {
        guard let n = parseSize(bytes) else { throw ValidationError("--bytes must look like 1GiB") }
        try await options.call("POST", "/seed", body: ["bytes": n])
    }
}
