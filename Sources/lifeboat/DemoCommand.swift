// `lifeboat demo`: the whole story on an in-process vault-sim cluster, no configuration needed. Starts a three-node
// cluster, plants secrets, takes backups with retention, destroys the cluster, runs `restore --force`, and checks
// that the secrets came back. Exits 0 only if they did.

import ArgumentParser
import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import Logging
import VaultSim

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Back up and restore a simulated three-node Vault cluster, end to end, in a temporary directory.",
        discussion: """
            Nothing outside a temporary directory is touched, and it is removed at the end (unless --keep).

            Example:
              swift run lifeboat demo
            """
    )

    @Flag(help: "Keep the temporary directory (repository, key, cluster data) for a look afterwards.")
    var keep = false

    func run() async throws {
        let directory = NSTemporaryDirectory() + "lifeboat-demo-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var steps = DemoSteps()
        var simulator: VaultSimulator?
        defer {
            if !keep { try? FileManager.default.removeItem(atPath: directory) }
        }
        do {
            // 1. A three-node Raft cluster on loopback, initialized with 3 unseal keys, threshold 2.
            var configuration = VaultSimulator.Configuration(dataDirectory: directory + "/cluster")
            configuration.electionDelay = .milliseconds(200)
            configuration.restoreApplyDelay = .milliseconds(100)
            let sim = try await steps.run("start a three-node Vault cluster (vault-sim) on loopback") {
                try await VaultSimulator.start(configuration)
            }
            simulator = sim
            let initialized = try await steps.run("initialize it (3 unseal keys, threshold 2) and unseal every node") {
                try await sim.initializeCluster(shares: 3, threshold: 2)
            }
            let nodes = sim.nodes.map { RecoveryNode(name: $0.id, apiAddress: $0.apiAddress) }
            let vault = try VaultClientConfiguration(addresses: nodes.map(\.apiAddress),
                                                     authentication: .token(VaultSecret(initialized.rootToken)))
            let client = try VaultClient(configuration: vault)
            defer { Task { try? await client.shutdown() } }

            // 2. Secrets worth saving.
            let secrets: [String: String] = ["lifeboat/canary/demo": "still here", "payments/db": "s3cr3t-password", "team/api": "token-1234"]
            try await steps.run("write \(secrets.count) secrets (KV v2 at secret/)") {
                for (path, value) in secrets { _ = try await client.kvWrite(path, data: ["value": .string(value)]) }
            }

            // 3. Backups into a local repository, with retention keeping the newest two.
            let key = ArchiveKey.generate()
            try key.write(to: directory + "/backup.key")
            let repository = BackupRepository(store: try LocalStore(directory: directory + "/repository", createIfMissing: true))
            let source = VaultSnapshotSource(client: client)
            for n in 1...3 {
                let manifest = try await steps.run("backup \(n) of 3: snapshot from the leader, verified, encrypted, stored") {
                    try await BackupRunner.run(source: source, repository: repository, secret: .key(key))
                }
                steps.detail("\(manifest.id): raft index \(manifest.raft.index), \(manifest.entryCount) entries, \(manifest.originalSize) -> \(manifest.storedSize) bytes")
            }
            try await steps.run("retention keep_last 2: prune the oldest backup") {
                let listing = try await repository.list()
                // Newest first: backups taken within one second tie on time, and the planner keeps input order for ties.
                let decisions = try RetentionPlanner.plan(listing.backups.reversed().map(\.retentionCandidate),
                                                          policy: RetentionPolicy(keepLast: 2), now: Date())
                for decision in decisions where !decision.isKept {
                    try await repository.delete(try BackupID(parsing: decision.candidate.id))
                    say("\n      removed \(decision.candidate.id)")
                }
            }

            // 4. Disaster: every node loses its data.
            try await steps.run("destroy the cluster: wipe the raft data of every node") {
                for node in nodes { sim.wipeNode(node.name) }
            }

            // 5. The full recovery path.
            let unsealKeys = try UnsealKeySet(texts: initialized.keysBase64)
            let restoreOptions = RestoreOptions(
                mode: .force, nodes: nodes, unsealKeys: unsealKeys, keyRing: KeyRing(keys: [key]),
                resetHook: ClosureResetHook(description: "vault-sim wipe") { node in sim.wipeNode(node.name) },
                stateDirectory: directory + "/restore-state",
                canaries: [try CanarySecret(parsing: "secret/data/lifeboat/canary/demo")],
                originalToken: { VaultSecret(initialized.rootToken) })
            let report = try await steps.run("lifeboat restore latest --force (reset, init, snapshot-force, unseal, rejoin, verify)") {
                let executor = RestoreExecutor(vault: VaultRecoveryClient(client: client), options: restoreOptions, logger: quietLogger("lifeboat.restore"))
                let prepared = try await executor.preflight(try await RestoreSource.resolve("latest", in: repository))
                return try await executor.execute(prepared)
            }
            steps.detail("recovery time \(String(format: "%.2f", report.totalSeconds)) s")

            // 6. Proof.
            try await steps.run("read every secret back with the original root token") {
                for (path, value) in secrets.sorted(by: { $0.key < $1.key }) {
                    guard case .string(let read)? = try await client.kvRead(path)?.data?["value"], read == value else {
                        throw DemoFailure("secret/\(path) did not come back")
                    }
                }
            }
            try? await client.shutdown()
            await sim.shutdown()
            simulator = nil
            say("\ndemo passed: \(secrets.count) secrets survived the loss of every node (\(String(format: "%.1f", steps.total)) s in all)\n")
            if keep { say("kept \(directory)\n") }
        } catch {
            if let simulator { await simulator.shutdown() }
            printStatus("demo FAILED: \(error)")
            throw ExitCode(ExitStatus.failure.rawValue)
        }
    }
}

/// Prints each step with its duration.
struct DemoSteps {
    private(set) var total: Double = 0
    private var number = 0

    mutating func run<T>(_ title: String, _ body: () async throws -> T) async throws -> T {
        number += 1
        let start = ContinuousClock.now
        say(String(format: "%2d. ", number) + title + " ...")
        let result = try await body()
        let elapsed = ContinuousClock.now - start
        let seconds = elapsed.secondsValue
        total += seconds
        say(String(format: " ok (%.2f s)\n", seconds))
        return result
    }

    func detail(_ text: String) {
        say("      " + text + "\n")
    }
}

/// A logger that only reports warnings and errors: the demo and the restore command print their own progress.
func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = .warning
    return logger
}

/// Unbuffered standard output, so a step's title shows before the step runs.
func say(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

struct DemoFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
