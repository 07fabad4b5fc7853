// `lifeboat drill`: prove a backup restores, by restoring it into a scratch cluster that configured commands create
// and destroy, checking canaries and the key count, and writing a report. Exits non-zero when the drill failed.

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
import LifeboatTesting

struct DrillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "Restore a backup into a scratch cluster and prove it works; write a JSON and Markdown report.",
        discussion: """
            The scratch cluster is created and destroyed by commands (e.g. a throwaway docker compose project; see \
            docs/runbooks/drill.md). Production is only read (the canaries' original token). Exit 0 when the drill \
            passed, 1 when it failed (the report says why).

            Example:
              lifeboat drill latest --key-file /etc/lifeboat/backup.key --unseal-keys-file /secure/init.json \\
                --create-command 'docker compose -p drill up -d' --destroy-command 'docker compose -p drill down -v' \\
                --reset-command 'scripts/cluster/reset-node.sh {node}' \\
                --scratch-node vault_1=http://127.0.0.1:18200 --scratch-node vault_2=http://127.0.0.1:18202 --scratch-node vault_3=http://127.0.0.1:18204 \\
                --canary secret/data/lifeboat/canary/drill --report-dir /var/lib/lifeboat/drills
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions

    @Argument(help: ArgumentHelp("A backup id, or `latest`.", valueName: "id"))
    var id: String = "latest"

    @OptionGroup var drill: DrillSettings

    @Option(help: ArgumentHelp("What to rehearse after the restore: total (the restore itself), node-loss (one node reset, then `recover node`) or quorum-loss (a majority reset, then `recover quorum`).",
                               valueName: "scenario"))
    var scenario: String = DrillScenario.total.rawValue

    @Option(name: .customLong("peers-command"), help: ArgumentHelp(
        "--scenario quorum-loss: writes its stdin to a scratch node's raft/peers.json; {node} and {api_addr} are replaced (repeatable).", valueName: "command"))
    var peersCommands: [String] = []

    @Option(name: .customLong("restart-command"), help: ArgumentHelp(
        "--scenario quorum-loss: restarts a scratch node; {node} and {api_addr} are replaced (repeatable).", valueName: "command"))
    var restartCommands: [String] = []

    @Flag(help: "Print the report as JSON.")
    var json = false

    func run() async throws {
        do {
            let context = try repository.context(secrets: secrets, flags: [vault])
            try await context.withVaultClient { client in
                guard let chosen = DrillScenario(rawValue: scenario) else {
                    throw UsageError(description: "--scenario \(scenario): use \(DrillScenario.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                let runner = try drill.runner(client: client, context: context, scenario: chosen,
                                              peersCommands: peersCommands, restartCommands: restartCommands)
                let report = try await context.withDestinations(create: false) { destinations in
                    try await runner.run(try await BackupLocator.restoreSource(id, in: destinations))
                }
                if json { print(String(decoding: try report.json(), as: UTF8.self)) } else { print(report.markdown()) }
                for file in report.reportFiles { printStatus("report: \(file)") }
                guard report.passed else {
                    throw DrillFailedError(reasons: report.reasons)
                }
            }
        } catch let failed as DrillFailedError {
            printStatus("lifeboat: drill FAILED: \(failed.reasons.joined(separator: "; "))")
            throw ExitCode(ExitStatus.failure.rawValue)
        } catch {
            throw fail(error)
        }
    }
}

/// How a drill's scratch cluster is made and checked: shared by `lifeboat drill` and `lifeboat agent --drill-schedule`.
struct DrillSettings: ParsableArguments {
    @Option(name: .customLong("scratch-node"), help: ArgumentHelp("A scratch node as NAME=ADDRESS, in order (repeatable).", valueName: "name=address"))
    var nodes: [String] = []

    @Option(name: .customLong("create-command"), help: ArgumentHelp("Creates the scratch cluster (shell command, repeatable).", valueName: "command"))
    var createCommands: [String] = []

    @Option(name: .customLong("destroy-command"), help: ArgumentHelp("Destroys the scratch cluster (shell command, repeatable).", valueName: "command"))
    var destroyCommands: [String] = []

    @Option(name: .customLong("reset-command"), help: ArgumentHelp("Wipes one scratch node; {node} and {api_addr} are replaced (repeatable).", valueName: "command"))
    var resetCommands: [String] = []

    @Option(name: .customLong("unseal-keys-file"), help: ArgumentHelp("The original cluster's unseal keys (mode 0600).", valueName: "path"))
    var unsealKeysFile: String?

    @Option(name: .customLong("canary"), help: ArgumentHelp("A KV v2 secret that must be readable in the restored cluster, as its API path, e.g. secret/data/lifeboat/canary/drill (repeatable).", valueName: "path"))
    var canaries: [String] = []

    @Option(name: .customLong("report-dir"), help: ArgumentHelp("Where the JSON and Markdown reports go (default: drill.report_directory, else the current directory).", valueName: "path"))
    var reportDirectory: String?

    /// True when the flags describe a scratch cluster (otherwise the configuration's `drill` section is used).
    var givesScratchCluster: Bool { !nodes.isEmpty || !createCommands.isEmpty || !resetCommands.isEmpty }

    /// A drill runner for these settings; what the flags leave out comes from the configuration's `drill` section
    /// (and `restore.unseal_keys_file` / `restore.canaries`).
    func runner(client: VaultClient, context: CommandContext, scenario: DrillScenario = .total,
                peersCommands: [String] = [], restartCommands: [String] = [],
                progress: (@Sendable (RestoreEvent) -> Void)? = printRestoreEvent) throws -> DrillRunner {
        let configuration = context.configuration
        let scratch: any ScratchCluster
        if givesScratchCluster {
            guard !nodes.isEmpty else { throw UsageError(description: "give the scratch cluster's nodes with --scratch-node NAME=ADDRESS") }
            guard !resetCommands.isEmpty else { throw UsageError(description: "give --reset-command (how to wipe one scratch node)") }
            var commands = CommandScratchCluster(createCommands: try shellHooks(createCommands, flag: "--create-command", placeholders: []),
                                                 destroyCommands: try shellHooks(destroyCommands, flag: "--destroy-command", placeholders: []),
                                                 resetCommands: try shellHooks(resetCommands, flag: "--reset-command"),
                                                 nodes: try nodes.map { try parseNode($0, flag: "--scratch-node") })
            commands.peersCommands = try shellHooks(peersCommands, flag: "--peers-command")
            commands.restartCommands = try shellHooks(restartCommands, flag: "--restart-command")
            scratch = commands
        } else if let configured = configuration.drill.scratchCluster {
            scratch = configured
        } else if configuration.drill.simulator {
            scratch = SimulatorScratchCluster()
        } else {
            throw UsageError(description: "no scratch cluster: give --scratch-node and --reset-command (and --create-command), "
                + "or configure drill.hooks.create and drill.nodes, or drill.simulator: true (docs/runbooks/drill.md)")
        }
        guard let unsealKeysFile = unsealKeysFile ?? configuration.drillUnsealKeysFile else {
            throw UsageError(description: "give --unseal-keys-file or set drill.unseal_keys_file (the original cluster's unseal keys)")
        }
        let canarySecrets = canaries.isEmpty ? try configuration.drillCanaries.flatMap { try $0.canarySecrets() }
            : try canaries.map { try CanarySecret(parsing: $0) }
        var options = DrillOptions(
            scratch: scratch, unsealKeys: try UnsealKeySet.load(path: unsealKeysFile), keyRing: try context.keyRing(),
            stateDirectory: context.stateDirectory + "/drill-state",
            reportDirectory: reportDirectory ?? configuration.drill.reportDirectory ?? ".", canaries: canarySecrets,
            originalToken: { try await client.auth.token() })
        // Phases are printed as they happen (a drill takes minutes; silence looks like a hang).
        options.onEvent = progress
        options.scenario = scenario
        if scenario == .quorumLoss, givesScratchCluster, peersCommands.isEmpty || restartCommands.isEmpty {
            throw UsageError(description: "--scenario quorum-loss needs --peers-command and --restart-command for the scratch nodes")
        }
        return DrillRunner(vault: VaultRecoveryClient(client: client), options: options, logger: quietLogger("lifeboat.drill"))
    }
}

struct DrillFailedError: Error {
    let reasons: [String]
}
