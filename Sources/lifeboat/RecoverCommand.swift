// `lifeboat recover unseal|node|quorum`: the recoveries short of a full restore (docs/runbooks/). Each runs a
// read-only preflight first (`--plan` stops there and prints the verdict), journals its steps, and continues with
// `--resume` after a failure or a crash. Thin: the logic is IncidentRecovery (LifeboatRecovery).

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatRecovery
import LifeboatVault
import LifeboatBase

struct RecoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Recover from an incident without a full restore: unseal, replace a node, or recover a lost quorum.",
        discussion: """
            Run `lifeboat doctor` first: it names the recovery and the exact command. Every recovery checks the \
            cluster before touching it (`--plan` prints the plan and stops), keeps a journal in the state directory, \
            and continues after a failure with `--resume`. None of them loses a write that a surviving node holds.
            """,
        subcommands: [RecoverUnsealCommand.self, RecoverNodeCommand.self, RecoverQuorumCommand.self]
    )
}

/// What every recovery takes.
struct RecoverOptions: ParsableArguments {
    @Option(name: .customLong("node"), help: ArgumentHelp(
        "A node as NAME=ADDRESS (NAME = its raft node id); repeat for every node. Default: restore.nodes, else the Vault addresses.",
        valueName: "name=address"))
    var nodes: [String] = []

    @Option(name: .customLong("unseal-keys-file"), help: ArgumentHelp(
        "The cluster's unseal keys: `vault operator init -format=json` output, the API's keys/keys_base64, or one key per line (mode 0600). Default: restore.unseal_keys_file; else asked for on a terminal.",
        valueName: "path"))
    var unsealKeysFile: String?

    @Option(name: .customLong("reset-command"), help: ArgumentHelp(
        "A shell command that stops, wipes (raft data) and starts one node; {node} and {api_addr} are replaced. Repeatable, run in order. Default: restore.hooks wipe_node then start (never reset_all).",
        valueName: "command"))
    var resetCommands: [String] = []

    @Option(name: .customLong("state-dir"), help: ArgumentHelp("Where the journal lives (default: <repo>/../restore-state).", valueName: "path"))
    var stateDirectory: String?

    @Flag(help: "Check the cluster, print the plan and stop (changes nothing).")
    var plan = false

    @Flag(help: "Continue the recovery recorded in the journal.")
    var resume = false

    @Flag(help: "Do not ask for confirmation on a terminal.")
    var yes = false

    @Flag(help: "Print the plan or the report as JSON.")
    var json = false
}

extension RecoverOptions {
    /// Runs `operation` (preflight, plan, confirmation, execution; or resume) with the options `customize` adds.
    func run(_ operation: IncidentOperation, target: String? = nil, repository: RepositoryOptions, vault: VaultOptions,
             customize: (inout IncidentOptions) throws -> Void = { _ in }) async throws {
        do {
            let context = try repository.context(overrides: ConfigurationOverrides(unsealKeysFile: unsealKeysFile), flags: [vault])
            try await context.withVaultClient { client in
                let restore = context.configuration.restore
                let clusterNodes = try recoveryNodes(flags: nodes, client: client, configured: restore.nodes)
                let keys: UnsealKeySet
                if let file = restore.unsealKeysFile {
                    keys = try UnsealKeySet.load(path: file)
                } else if isatty(STDIN_FILENO) == 1 && !plan {
                    keys = try UnsealKeySet(texts: promptForUnsealKeys())
                } else {
                    keys = .none
                }
                // Only the per-node part of restore.hooks: `reset_all` would wipe every node.
                let hook: (any ResetHook)? = resetCommands.isEmpty ? restore.nodeResetHook : CommandResetHook(commands: try shellHooks(resetCommands, flag: "--reset-command"))
                var options = IncidentOptions(nodes: clusterNodes, unsealKeys: keys, resetHook: hook, quorumHooks: nil,
                                              stateDirectory: stateDirectory ?? context.stateDirectory + "/restore-state",
                                              token: { try await client.auth.token() })
                if !json { options.onProgress = { printStatus("    " + $0) } }
                options.planOnly = plan
                try customize(&options)
                let recovery = IncidentRecovery(vault: VaultRecoveryClient(client: client), options: options,
                                                logger: quietLogger("lifeboat.recover"))
                let report: IncidentReport
                do {
                    if resume {
                        report = try await recovery.resume(expecting: operation, target: target)
                    } else {
                        let prepared = try await recovery.prepare(operation, target: target)
                        if plan {
                            if json { print(String(decoding: try prepared.json(), as: UTF8.self), terminator: "") } else { print(prepared.render()) }
                            return
                        }
                        if !json { printStatus(prepared.render()) }
                        let interactive = isatty(STDIN_FILENO) == 1 && !yes
                        let word = operation == .node ? (target ?? "node") : operation.rawValue
                        report = try await recovery.execute(prepared) { _ in
                            guard interactive else { return true }
                            return confirm("Type `\(word)` to go ahead: ") == word
                        }
                    }
                } catch let failed as IncidentFailed {
                    if json { print(String(decoding: (try? failed.report.json()) ?? [], as: UTF8.self), terminator: "") } else { printStatus(failed.report.render()) }
                    throw failed
                }
                if json { print(String(decoding: try report.json(), as: UTF8.self), terminator: "") } else { print(report.render()) }
            }
        } catch {
            throw fail(error)
        }
    }
}

struct RecoverUnsealCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unseal",
        abstract: "Unseal every sealed node with the keys (proven on the first sealed node before the others).",
        discussion: "Nothing is deleted. Exit codes: 64 nothing is sealed or too few keys, 1 a node refused the keys. See docs/runbooks/sealed.md.")

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions
    @OptionGroup var recover: RecoverOptions

    func run() async throws {
        try await recover.run(.unseal, repository: repository, vault: vault)
    }
}

struct RecoverNodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node",
        abstract: "Replace one lost, corrupt, removed or foreign node: reset, join, unseal, wait until it is a healthy voter.",
        discussion: """
            Needs an active node (a cluster with quorum) and the reset hook. Refuses a node that is only sealed \
            (`lifeboat recover unseal`), an unsealed member (unless --rebuild) and a node unsealed in another \
            cluster (unless --discard-foreign-data). When the raft configuration lists the node under an old raft \
            id (same raft address), that id is removed after the node rejoined. See docs/runbooks/node-loss.md.
            """)

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions
    @OptionGroup var recover: RecoverOptions

    @Argument(help: ArgumentHelp("The node to replace (a NAME from --node or restore.nodes).", valueName: "name"))
    var name: String

    @Flag(help: "Rebuild the node even though it is a running member of the cluster (stale or diverged raft data).")
    var rebuild = false

    @Flag(name: .customLong("discard-foreign-data"), help: "Wipe the node even though it is unsealed in another cluster (that cluster's data on it is lost).")
    var discardForeignData = false

    func run() async throws {
        try await recover.run(.node, target: name, repository: repository, vault: vault) { options in
            options.rebuild = rebuild
            options.discardForeignData = discardForeignData
        }
    }
}

struct RecoverQuorumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quorum",
        abstract: "Vault's lost-quorum procedure: peers.json on the survivor(s), restart, unseal, verify, rejoin the rest.",
        discussion: """
            The survivor(s) with the highest committed index are kept (shown in the plan, confirmed before anything \
            changes). Lifeboat does not run on the nodes: --peers-command receives peers.json on stdin and writes it \
            to the node's <raft path>/raft/peers.json; --restart-command restarts the node. Every other node is then \
            reset and rejoined. Nothing the survivors hold is lost. See docs/runbooks/quorum-loss.md.
            """)

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup(title: "Vault options") var vault: VaultOptions
    @OptionGroup var recover: RecoverOptions

    @Option(name: .customLong("peers-command"), help: ArgumentHelp(
        "A shell command that writes its stdin to the node's raft/peers.json; {node} and {api_addr} are replaced. Repeatable.",
        valueName: "command"))
    var peersCommands: [String] = []

    @Option(name: .customLong("restart-command"), help: ArgumentHelp(
        "A shell command that restarts the node's Vault process; {node} and {api_addr} are replaced. Repeatable.", valueName: "command"))
    var restartCommands: [String] = []

    @Option(name: .customLong("cluster-address"), help: ArgumentHelp(
        "A node's raft address for peers.json as NAME=HOST:PORT (default: the API host, API port + 1).", valueName: "name=host:port"))
    var clusterAddresses: [String] = []

    func run() async throws {
        try await recover.run(.quorum, repository: repository, vault: vault) { options in
            if !peersCommands.isEmpty || !restartCommands.isEmpty {
                guard !peersCommands.isEmpty, !restartCommands.isEmpty else {
                    throw UsageError(description: "give both --peers-command and --restart-command")
                }
                options.quorumHooks = CommandQuorumHooks(peersCommands: try shellHooks(peersCommands, flag: "--peers-command"),
                                                         restartCommands: try shellHooks(restartCommands, flag: "--restart-command"))
            }
            for entry in clusterAddresses {
                let node = try parseNode(entry, flag: "--cluster-address")
                options.clusterAddresses[node.name] = node.apiAddress
            }
        }
    }
}
