// `lifeboat restore`: the command typed during an incident. Preflight proves the backup good before anything is
// touched; with --force the whole reset -> initialize -> snapshot-force -> unseal -> rebootstrap -> verify path runs.

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

struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup: same-cluster, or the full disaster-recovery path with --force.",
        discussion: """
            Without --force the snapshot is posted to the running cluster (same cluster, same unseal keys). With \
            --force every node is reset by the reset commands, the first node is initialized with a temporary key, \
            the snapshot is force-restored, the nodes are unsealed with the ORIGINAL keys and rejoined, and the \
            cluster is verified. Nothing is touched before the backup has been decrypted, verified and staged, the \
            unseal keys have been proven against the backup (they must open its SHA256SUMS.sealed), every target \
            node's state has been shown (wiping a running, unsealed target needs --overwrite-newer), \
            and the token has been checked with sys/capabilities-self where a node is unsealed. Phases are \
            journaled: after a crash or Ctrl-C, `--resume` continues where it stopped (a failed run prints the exact \
            command). Exit codes: 64 too few unseal keys or a target needing --overwrite-newer, 65 a bad backup or \
            unseal keys that do not open it, 78 a token lacking a capability. See docs/runbooks/restore.md.

            Example (the docker compose cluster of scripts/cluster):
              lifeboat restore latest --force --key-file /etc/lifeboat/backup.key \\
                --unseal-keys-file /secure/init.json \\
                --node vault_1=http://127.0.0.1:8200 --node vault_2=http://127.0.0.1:8202 --node vault_3=http://127.0.0.1:8204 \\
                --reset-command 'scripts/cluster/reset-node.sh {node}' --canary secret/data/lifeboat/canary/restore
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions

    @Argument(help: ArgumentHelp("A backup id, or `latest`.", valueName: "id"))
    var id: String = "latest"

    @Flag(help: "Run the full disaster-recovery path (reset every node, initialize, snapshot-force, rebootstrap).")
    var force = false

    @Flag(help: "Stop after preflight and print the plan.")
    var plan = false

    @Flag(help: "Continue an interrupted restore from its journal.")
    var resume = false

    @Flag(help: "Do not ask for confirmation on a terminal.")
    var yes = false

    @Flag(name: .customLong("overwrite-newer"), help: "Confirm that a running, unsealed target is replaced: with --force it is wiped; without, data newer than the backup is lost. --yes alone is not enough.")
    var overwriteNewer = false

    @Option(name: .customLong("node"), help: ArgumentHelp(
        "A node as NAME=ADDRESS, in order; the first is initialized and receives the snapshot. Default: restore.nodes, else the Vault addresses, named node1, node2...",
        valueName: "name=address"))
    var nodes: [String] = []

    @Option(name: .customLong("reset-command"), help: ArgumentHelp(
        "A shell command that stops, wipes (raft data) and starts one node; {node} and {api_addr} are replaced. Repeatable, run in order.",
        valueName: "command"))
    var resetCommands: [String] = []

    @Option(name: .customLong("unseal-keys-file"), help: ArgumentHelp(
        "The ORIGINAL cluster's unseal keys: `vault operator init -format=json` output, the API's keys/keys_base64, or one key per line (mode 0600). Without it, keys are asked for on a terminal.",
        valueName: "path"))
    var unsealKeysFile: String?

    @Flag(name: .customLong("auto-unseal"), help: "The cluster uses auto-unseal: no unseal keys are needed.")
    var autoUnseal = false

    @Option(name: .customLong("canary"), help: ArgumentHelp("A KV v2 secret that must be readable after the restore, as its API path, e.g. secret/data/lifeboat/canary/a (repeatable).",
                                                            valueName: "path"))
    var canaries: [String] = []

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where the journal and the staged snapshot live (default: <repo>/../restore-state).", valueName: "path"))
    var stateDirectory: String?

    @Flag(help: "Print the plan or the report as JSON.")
    var json = false

    func run() async throws {
        do {
            let context = try repository.context(secrets: secrets, overrides: ConfigurationOverrides(unsealKeysFile: unsealKeysFile),
                                                  flags: [vault])
            try await context.withVaultClient { client in
                let executor = RestoreExecutor(vault: VaultRecoveryClient(client: client), options: try options(client: client, context: context),
                                               logger: quietLogger("lifeboat.restore"))
                let report: RestoreReport
                do {
                if resume {
                    report = try await executor.resume()
                } else {
                    let prepared = try await context.withDestinations(create: false) { destinations in
                        var source = try await BackupLocator.restoreSource(id, in: destinations)
                        if let progress = TransferProgress.forTerminal(label: "preflight \(source.id)", total: nil, enabled: !json) {
                            let open = source.open
                            source.open = { ProgressReader(try await open(), progress: progress) }
                            defer { progress.finish() }
                            return try await executor.preflight(source)
                        }
                        return try await executor.preflight(source)
                    }
                    if plan {
                        // --plan stops here: the staged plaintext snapshot is not left behind.
                        TemporaryFiles.remove(prepared.staged.path)
                        var shown = prepared.plan
                        shown.stagingPath = prepared.staged.path + " (removed again: --plan keeps no plaintext)"
                        if json { print(String(decoding: try shown.json(), as: UTF8.self)) } else { print(shown.render()) }
                        return
                    }
                    if !json { printStatus(prepared.plan.render()) }
                    let interactive = isatty(STDIN_FILENO) == 1 && !yes
                    report = try await executor.execute(prepared) { _ in
                        guard interactive else { return true }
                        return confirm("Type `restore` to go ahead: ") == "restore"
                    }
                }
                } catch let failed as RestoreFailed {
                    if json { print(String(decoding: (try? failed.report.json()) ?? [], as: UTF8.self)) } else { printStatus(failed.report.render()) }
                    // One line per node as it is now, and the exact command that continues.
                    for node in await executor.observeTargetNodes() { printStatus("node \(node.line)") }
                    printStatus("to continue after fixing the cause: \(resumeCommand())")
                    throw failed
                }
                if json { print(String(decoding: try report.json(), as: UTF8.self)) } else { print(report.render()) }
            }
        } catch let failed as RestoreFailed {
            throw fail(failed)
        } catch {
            throw fail(error)
        }
    }

    func options(client: VaultClient, context: CommandContext) throws -> RestoreOptions {
        let restore = context.configuration.restore
        let recoveryNodes = try parsedNodes(client: client, configured: restore.nodes)
        let keys: UnsealKeySet
        if autoUnseal {
            keys = .none
        } else if let unsealKeysFile = restore.unsealKeysFile {
            keys = try UnsealKeySet.load(path: unsealKeysFile)
        } else if !force && !resume {
            // A same-cluster restore keeps the cluster's keys: none are needed.
            keys = .none
        } else if isatty(STDIN_FILENO) == 1 && !resume {
            keys = try UnsealKeySet(texts: promptForUnsealKeys())
        } else {
            throw UsageError(description: "no unseal keys: give --unseal-keys-file PATH or set restore.unseal_keys_file (or --auto-unseal for auto-unseal clusters)")
        }
        let hook: (any ResetHook)? = resetCommands.isEmpty ? restore.resetHook : CommandResetHook(commands: try shellHooks(resetCommands, flag: "--reset-command"))
        if force && hook == nil && !resume {
            throw UsageError(description: "--force needs --reset-command or restore.hooks in the configuration (how to stop, wipe and start a node); see scripts/cluster/reset-node.sh")
        }
        let canarySecrets = canaries.isEmpty ? try restore.canaries.flatMap { try $0.canarySecrets() } : try canaries.map { try CanarySecret(parsing: $0) }
        var options = RestoreOptions(
            mode: force ? .force : .sameCluster, nodes: recoveryNodes, unsealKeys: keys, keyRing: try context.keyRing(), resetHook: hook,
            stateDirectory: stateDirectory ?? context.stateDirectory + "/restore-state",
            canaries: canarySecrets,
            originalToken: { try await client.auth.token() })
        options.overwriteNewer = overwriteNewer
        options.tokenSource = client.configuration.authentication.description
        if !json {
            options.onEvent = printRestoreEvent
        }
        return options
    }

    /// This command line with `--resume` added (shell-quoted; it holds no secrets: keys come from files or prompts).
    func resumeCommand() -> String {
        var arguments = CommandLine.arguments
        if !arguments.contains("--resume") { arguments.append("--resume") }
        return arguments.map(quoted).joined(separator: " ")
    }

    func parsedNodes(client: VaultClient, configured: [LifeboatConfiguration.Node]) throws -> [RecoveryNode] {
        try recoveryNodes(flags: nodes, client: client, configured: configured)
    }
}

/// The cluster's nodes: the `--node NAME=ADDRESS` flags, else `restore.nodes`, else the Vault addresses named
/// node1, node2... (restore, doctor and the recoveries).
func recoveryNodes(flags: [String], client: VaultClient, configured: [LifeboatConfiguration.Node]) throws -> [RecoveryNode] {
    if flags.isEmpty, !configured.isEmpty { return configured.map(\.recoveryNode) }
    if flags.isEmpty {
        return client.configuration.addresses.enumerated().map { RecoveryNode(name: "node\($0.offset + 1)", apiAddress: $0.element) }
    }
    return try flags.map { try parseNode($0, flag: "--node") }
}

/// Prints a restore or drill phase as it happens (standard error).
@Sendable func printRestoreEvent(_ event: RestoreEvent) {
    switch event {
    case .phaseStarted(let phase): printStatus("==> \(phase)")
    case .phaseFinished(let phase, let seconds): printStatus("    \(phase) done in \(String(format: "%.2f", seconds)) s")
    case .phaseSkipped(let phase): printStatus("    \(phase) already done (journal)")
    case .phaseFailed(let phase, let message): printStatus("    \(phase) FAILED: \(message)")
    case .note(_, let text): printStatus("    \(text)")
    }
}

/// `NAME=ADDRESS` from --node / --scratch-node.
func parseNode(_ text: String, flag: String) throws -> RecoveryNode {
    guard let equals = text.firstIndex(of: "="), equals != text.startIndex else {
        throw UsageError(description: "\(flag) \(text): expected NAME=ADDRESS, e.g. vault_1=https://10.0.0.1:8200")
    }
    return RecoveryNode(name: String(text[..<equals]), apiAddress: String(text[text.index(after: equals)...]))
}

/// Reads unseal keys from the terminal without echo, one per prompt, until an empty answer.
func promptForUnsealKeys() -> [String] {
    var keys: [String] = []
    printStatus("Enter the original cluster's unseal keys, one per prompt; an empty answer ends.")
    while let pointer = getpass("Unseal key \(keys.count + 1): "), case let key = String(cString: pointer), !key.isEmpty {
        keys.append(key)
    }
    return keys
}

/// Asks a question on the terminal and returns the trimmed answer.
func confirm(_ question: String) -> String {
    FileHandle.standardError.write(Data(question.utf8))
    return (readLine() ?? "").trimmingCharacters(in: .whitespaces)
}
