// `lifeboat backup`: one verified, encrypted snapshot from the current leader into the repository. The form a cron
// line runs every hour for years.

import ArgumentParser
import Foundation
import LifeboatCore

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a snapshot from the current leader, verify it completely, encrypt it and store it.",
        discussion: """
            Vault is reached with Vault's own environment: VAULT_ADDR (or LIFEBOAT_VAULT_ADDRS, a comma-separated list \
            of node addresses), VAULT_TOKEN / ~/.vault-token / a Vault Agent sink / AppRole, VAULT_CACERT and the other \
            VAULT_* (or BAO_*) TLS settings. A snapshot that fails any check is never stored.

            Exit codes: 0 stored (or skipped as a standby with --only-if-leader), 1 Vault unreachable or refused, \
            65 the snapshot failed verification, 74 I/O error, 75 another run holds the repository lock, \
            78 configuration error.

            Example (crontab):
              17 * * * *  VAULT_ADDR=https://vault.internal:8200 lifeboat backup --key-file /etc/lifeboat/backup.key
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag to attach, e.g. pre-upgrade (repeatable).", valueName: "tag"))
    var tags: [String] = []

    @Flag(name: .customLong("only-if-leader"), help: "Run only when the first Vault address is the active node; on a standby exit 0 and touch nothing (one agent per Vault node).")
    var onlyIfLeader = false

    @Flag(name: .customLong("no-compression"), help: "Never deflate chunks.")
    var noCompression = false

    @Flag(help: "Print the manifest (or the skip) as JSON.")
    var json = false

    @Option(name: .customLong("snapshot-timeout"), help: ArgumentHelp("Longest a whole snapshot download may take, e.g. 6h.", valueName: "duration"))
    var snapshotTimeout = "6h"

    @Option(name: .customLong("stall-timeout"), help: ArgumentHelp("Cut the snapshot stream when no byte arrives for this long, e.g. 60s.", valueName: "duration"))
    var stallTimeout = "60s"

    @Option(name: .customLong("first-byte-timeout"), help: ArgumentHelp("Longest wait for the leader to start sending (it scans its database first), e.g. 15m.", valueName: "duration"))
    var firstByteTimeout = "15m"

    /// The snapshot timeouts from the flags.
    func timeouts() throws -> VaultClientConfiguration.Timeouts {
        var timeouts = VaultClientConfiguration.Timeouts()
        do {
            timeouts.snapshotTotal = try Schedule.parseDuration(snapshotTimeout)
            timeouts.snapshotStall = try Schedule.parseDuration(stallTimeout)
            timeouts.snapshotFirstByte = try Schedule.parseDuration(firstByteTimeout)
        } catch {
            throw UsageError(description: "\(error)")
        }
        return timeouts
    }

    func run() async throws {
        do {
            try await withVaultClient(timeouts: try timeouts()) { client in
                if onlyIfLeader, try await !LeaderLocator(client: client).isLocalNodeActive() {
                    print(json ? #"{"skipped":true,"reason":"this node is a standby"}"# : "skipped: this node is a standby")
                    return
                }
                let secret = try secrets.encryptionSecret()
                let repo = try repository.open(create: true)
                let lock = try RepositoryLock.acquire(directory: repository.path, operation: "backup")
                defer { lock.release() }
                _ = try? await repo.cleanupLeftovers(olderThan: Date().addingTimeInterval(-3600))
                let manifest = try await BackupRunner.run(
                    source: VaultSnapshotSource(client: client), repository: repo, secret: secret,
                    options: BackupOptions(tags: tags, compression: !noCompression),
                    onRetry: { attempt, error in printStatus("attempt \(attempt) failed (\(error)); retrying with the current leader") })
                if json {
                    print(String(decoding: try manifest.encoded(), as: UTF8.self))
                } else {
                    print("stored backup \(manifest.id): index \(manifest.raft.index), term \(manifest.raft.term), \(manifest.entryCount) entries, \(manifest.originalSize) bytes -> \(manifest.storedSize) stored, from \(manifest.leader.address ?? "the leader") in \(String(format: "%.1f", manifest.durationSeconds)) s")
                }
            }
        } catch {
            throw fail(error)
        }
    }
}

/// A Vault client configured from the environment for the duration of `body`, shut down afterwards.
func withVaultClient<R>(timeouts: VaultClientConfiguration.Timeouts? = nil, _ body: (VaultClient) async throws -> R) async throws -> R {
    let configuration = try VaultClientConfiguration(environment: ProcessInfo.processInfo.environment,
                                                     overrides: .init(timeouts: timeouts))
    let client = try VaultClient(configuration: configuration)
    do {
        let result = try await body(client)
        try? await client.shutdown()
        return result
    } catch {
        try? await client.shutdown()
        throw error
    }
}
