// `lifeboat backup`: one verified, encrypted snapshot from the current leader into the repository. The form a cron
// line runs every hour for years.

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Take a snapshot from the current leader, verify it completely, encrypt it and store it.",
        discussion: """
            Settings come from the configuration file (docs/configuration.md), with Vault's own environment on top: \
            VAULT_ADDR (or LIFEBOAT_VAULT_ADDRS, a comma-separated list of node addresses), VAULT_TOKEN / \
            ~/.vault-token / a Vault Agent sink / AppRole, VAULT_CACERT and the other VAULT_* (or BAO_*) TLS settings; \
            flags win over both. The snapshot is streamed once and written to every configured destination at the \
            same time; then each destination that received it applies its retention policy (never one that failed). \
            A snapshot that fails any check is never stored anywhere.

            Exit codes: 0 stored everywhere (or skipped with --only-if-leader: this node is an unsealed standby of \
            an active cluster), 3 stored on some destinations but not all (the output says which), 1 Vault \
            unreachable or refused, 65 the snapshot failed verification, 69 --only-if-leader and the local node is \
            sealed, uninitialized or unreachable (or its cluster has no working leader), 74 no destination could \
            store it, 75 another run holds the lock, 78 configuration error.

            Example (crontab):
              17 * * * *  lifeboat backup --config /etc/lifeboat/lifeboat.yaml
              17 * * * *  VAULT_ADDR=https://vault.internal:8200 lifeboat backup --key-file /etc/lifeboat/backup.key
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions
    @OptionGroup(title: "Vault and archive options") var vaultAndArchive: VaultAndArchiveOptions

    @Option(name: .customLong("tag"), help: ArgumentHelp("A tag to attach, e.g. pre-upgrade (repeatable; added to backup.tags).", valueName: "tag"))
    var tags: [String] = []

    @Flag(name: .customLong("only-if-leader"), help: "Run only when the first Vault address is the active node; on an unsealed standby of an active cluster exit 0 and touch nothing (one job per Vault node); a sealed, uninitialized or unreachable node exits 69.")
    var onlyIfLeader = false

    @OptionGroup var noCompression: NoCompressionOption

    @Flag(name: .customLong("no-prune"), help: "Do not apply the destinations' retention policies after the backup.")
    var noPrune = false

    @Flag(help: "Print the manifest and each destination's result (or the skip) as JSON.")
    var json = false

    @Option(name: .customLong("snapshot-timeout"), help: ArgumentHelp("Longest a whole snapshot download may take, e.g. 6h (vault.timeouts.snapshot).", valueName: "duration"))
    var snapshotTimeout: String?

    @Option(name: .customLong("stall-timeout"), help: ArgumentHelp("Cut the snapshot stream when no byte arrives for this long, e.g. 60s (vault.timeouts.stall).", valueName: "duration"))
    var stallTimeout: String?

    @Option(name: .customLong("first-byte-timeout"), help: ArgumentHelp("Longest wait for the leader to start sending (it scans its database first), e.g. 15m.", valueName: "duration"))
    var firstByteTimeout = "15m"

    func run() async throws {
        let report: ConfiguredBackupReport
        do {
            var context = try repository.context(secrets: secrets, overrides: ConfigurationOverrides(
                onlyIfLeader: onlyIfLeader ? true : nil, tags: tags),
                flags: [vaultAndArchive, noCompression])
            var configuration = context.configuration
            do {
                if let snapshotTimeout { configuration.vault.timeouts.snapshot = try Schedule.parseDuration(snapshotTimeout) }
                if let stallTimeout { configuration.vault.timeouts.stall = try Schedule.parseDuration(stallTimeout) }
            } catch {
                throw UsageError(description: "\(error)")
            }
            if let problem = DurationLimits.problem(configuration.vault.timeouts.snapshot, key: "vault.timeouts.snapshot", name: "--snapshot-timeout")
                ?? DurationLimits.problem(configuration.vault.timeouts.stall, key: "vault.timeouts.stall", name: "--stall-timeout") {
                throw UsageError(description: problem)
            }
            context.loaded.configuration = configuration
            let firstByte: Duration
            do { firstByte = try Schedule.parseDuration(firstByteTimeout) } catch { throw UsageError(description: "\(error)") }
            if let problem = DurationLimits.problem(firstByte, key: "--first-byte-timeout") { throw UsageError(description: problem) }
            let taken = try await context.withVaultClient(firstByteTimeout: firstByte) { client in
                try await backUp(client: client, context: context)
            }
            switch taken {
            case .skipped(let leader):
                if json {
                    struct Skipped: Encodable {
                        var skipped = true
                        var reason = "this node is a standby"
                        var leader: String
                    }
                    try printJSON(Skipped(leader: leader))
                } else {
                    print("skipped: this node is a standby (unsealed; the active node \(leader) takes the backup)")
                }
                return
            case .taken(let r):
                report = r
            }
        } catch {
            throw fail(error)
        }
        if json {
            try printJSON(ManifestWith(manifest: report.manifest, key: "destinations", extra: report.destinations))
        } else {
            let m = report.manifest
            print("stored backup \(m.id): index \(m.raft.index), term \(m.raft.term), \(m.entryCount) entries, \(m.originalSize) bytes -> \(m.storedSize) stored, from \(m.leader.address ?? "the leader") in \(String(format: "%.1f", m.durationSeconds)) s")
            for destination in report.destinations { print("  " + Self.line(destination)) }
        }
        if report.isPartial { throw fail(PartialBackupError(report: report)) }
        for destination in report.destinations {
            for warning in destination.warnings { printStatus("lifeboat: warning: \(warning)") }
            if let problem = destination.retentionError { printStatus("lifeboat: warning: retention on \(destination.destination) failed: \(problem)") }
        }
    }

    enum Outcome {
        case taken(ConfiguredBackupReport)
        case skipped(leader: String)
    }

    /// The backup itself, or a skip when only-if-leader is set and this node is an unsealed standby of an active
    /// cluster (a sealed, uninitialized or unreachable node throws ``LocalNodeNotReady``, exit 69).
    private func backUp(client: VaultClient, context: CommandContext) async throws -> Outcome {
        let backup = context.configuration.backup
        if backup.onlyIfLeader, case .skip(let leader) = try await LeaderLocator(client: client).onlyIfLeaderVerdict() {
            return .skipped(leader: leader)
        }
        let secret = try context.encryptionSecret()
        let options = BackupOptions(tags: backup.tags, compression: backup.compression, chunkSize: backup.chunkSize)
        let progress = TransferProgress.forTerminal(label: "backup", total: nil, enabled: !json)
        defer { progress?.finish() }
        var onProgress: (@Sendable (Int64) -> Void)?
        if let progress { onProgress = { bytes in progress.update(bytes) } }
        return .taken(try await context.withDestinations(create: true) { destinations in
            try await ConfiguredBackup.run(
                source: VaultSnapshotSource(client: client), destinations: destinations, secret: secret, options: options,
                applyRetention: !noPrune,
                onRetry: { attempt, error in printStatus("attempt \(attempt) failed (\(error)); retrying with the current leader") },
                progress: onProgress)
        })
    }

    static func line(_ report: DestinationBackupReport) -> String {
        guard report.stored else { return "\(report.destination): NOT stored: \(report.error ?? "failed")" }
        var line = "\(report.destination): stored"
        if let kept = report.kept { line += "; retention kept \(kept), removed \(report.removed.count)" }
        if report.retentionError != nil { line += "; retention FAILED" }
        return line
    }
}
