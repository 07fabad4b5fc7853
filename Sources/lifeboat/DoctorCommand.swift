// `lifeboat doctor`: read-only. Asks every node, classifies the incident, and prints the least destructive way
// back as exact commands; the exit code names the class (README "Exit codes"), for monitoring.

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatRecovery
import LifeboatRepository
import LifeboatVault
import LifeboatBase

struct DoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Diagnose the cluster (read-only) and print the least destructive recovery.",
        discussion: """
            Asks every node (sys/health, sys/seal-status, sys/leader) and, with the token where it allows, the \
            active node's raft configuration and autopilot state; compares the cluster's raft index with the latest \
            backup's. Each finding says what it means, what data is at risk and the commands to run, least \
            destructive first; `restore --force` is recommended only when no node holds the cluster's data. \
            Safe to run at any time: it changes nothing.
            Exit codes: 0 healthy, 10 sealed nodes, 11 nodes down, empty or removed (the cluster has quorum), \
            12 a stale or diverged node, 13 quorum lost, 14 a node of another cluster (the join trap), 15 total loss; \
            1 when Vault cannot be asked at all. See docs/runbooks/.
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions

    @Option(name: .customLong("node"), help: ArgumentHelp(
        "A node as NAME=ADDRESS (NAME = its raft node id); repeat for every node. Default: restore.nodes, else the Vault addresses.",
        valueName: "name=address"))
    var nodes: [String] = []

    @Flag(help: "Print the diagnosis as JSON.")
    var json = false

    func run() async throws {
        let diagnosis: ClusterDiagnosis
        do {
            let context = try repository.context(flags: [vault])
            diagnosis = try await context.withVaultClient { client in
                let clusterNodes = try recoveryNodes(flags: nodes, client: client, configured: context.configuration.restore.nodes)
                let latest = await latestBackup(context)
                var notes: [String] = []
                if latest == nil { notes.append("no backup found in the configured destinations: data at risk cannot be measured") }
                let style = RecoveryCommandStyle(commonFlags: commonFlags(),
                                                 unsealKeysConfigured: context.configuration.restore.unsealKeysFile != nil,
                                                 resetConfigured: context.configuration.restore.nodeResetHook != nil)
                let doctor = ClusterDoctor(vault: VaultRecoveryClient(client: client), nodes: clusterNodes,
                                           token: { try await client.auth.token() }, style: style)
                var result = await doctor.diagnose(latestBackup: latest, now: Date())
                result.notes = notes + result.notes
                return result
            }
        } catch {
            throw fail(error)
        }
        if json { print(String(decoding: try diagnosis.json(), as: UTF8.self), terminator: "") } else { print(diagnosis.render()) }
        if diagnosis.exitCode != 0 { throw ExitCode(diagnosis.exitCode) }
    }

    /// The flags of this invocation every recommended command repeats (never a secret: they come from files).
    func commonFlags() -> [String] {
        var flags: [String] = []
        if let config = repository.config { flags += ["--config", quoted(config)] }
        if let repo = repository.repository { flags += ["--repo", quoted(repo)] }
        for node in nodes { flags += ["--node", quoted(node)] }
        if let tokenFile = vault.tokenFile { flags += ["--token-file", quoted(tokenFile)] }
        if let address = vault.vaultAddress, nodes.isEmpty { flags += ["--vault-addr", quoted(address)] }
        return flags
    }

    /// The newest usable backup's id, time and raft index (nil when there is none or no destination opens).
    func latestBackup(_ context: CommandContext) async -> LatestBackupFacts? {
        try? await context.withDestinations(create: false) { destinations in
            let source = try await BackupLocator.restoreSource("latest", in: destinations)
            return LatestBackupFacts(id: source.id, createdAt: source.createdAt, index: source.expectedIndex)
        }
    }
}

/// A shell word: as is when safe, else single-quoted.
func quoted(_ word: String) -> String {
    word.allSatisfy({ $0.isLetter || $0.isNumber || "-_./=:,@%+".contains($0) }) && !word.isEmpty
        ? word : "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
