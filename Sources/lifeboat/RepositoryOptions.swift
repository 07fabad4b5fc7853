// Where the configuration and the backups are: --config, --repo and --destination, shared by every command that
// touches backups, and the CommandContext built from them (the effective configuration after file, environment
// and flags; its keys, destinations and Vault client).

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

/// `--cluster NAME`, taken by every command that reads the configuration. With a fleet configuration (`clusters:`)
/// it selects the cluster to act on (required when there are several); without one, `list` filters by the cluster
/// recorded in the manifests, `import` records it, and the other commands refuse it (docs/configuration.md,
/// "Fleet mode").
struct ClusterOption: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The cluster to act on, from the configuration's `clusters:` list (required when it names several). Without `clusters:`: `list` shows only this cluster's backups (its recorded name or id, `unknown` for none), `import` records it as the snapshot's cluster.",
        valueName: "name"))
    var cluster: String?

    /// What the configuration's clusters and this flag select.
    func selection(allByDefault: Bool = false) -> ClusterSelection {
        cluster.map { .one($0) } ?? (allByDefault ? .all : .one(nil))
    }
}

struct RepositoryOptions: ParsableArguments {
    @OptionGroup var clusterOption: ClusterOption

    /// `--cluster`.
    var cluster: String? { clusterOption.cluster }

    @Option(help: ArgumentHelp(
        "The configuration file (default: $LIFEBOAT_CONFIG, else ./lifeboat.yaml, else /etc/lifeboat/lifeboat.yaml; without one the built-in defaults apply).",
        valueName: "path"))
    var config: String?

    @Option(name: .customLong("repo"), help: ArgumentHelp(
        "A local repository directory, or the name of a configured destination (default: $LIFEBOAT_REPO, else the configured destinations, else /var/lib/lifeboat/repository as root, ~/.local/share/lifeboat/repository otherwise).",
        valueName: "path"))
    var repository: String?

    @Option(name: .customLong("destination"), help: ArgumentHelp("Use only this configured destination (repeatable).", valueName: "name"))
    var destinations: [String] = []

    @Option(name: .customLong("lock-wait"), help: ArgumentHelp(
        "When another run holds a destination's lock, keep trying for this long (e.g. 90s, 10m; default 0: exit 75 at once).",
        valueName: "duration"))
    var lockWait: String?

    /// --lock-wait in seconds.
    func lockWaitSeconds() throws -> TimeInterval {
        guard let lockWait else { return 0 }
        guard let duration = try? Schedule.parseDuration(lockWait) else {
            throw UsageError(description: "--lock-wait takes a duration such as 90s or 10m, not \"\(lockWait)\"")
        }
        return Double(duration.components.seconds)
    }

    /// Loads the configuration of the one cluster `--cluster` selects (the only one, without `clusters:`) with
    /// these flags, the secret flags, the option groups' `flags` and any command-specific `overrides` on top
    /// (those win over the groups).
    /// - Parameter clusterFilter: without `clusters:`, `--cluster` has this command's own meaning (`list`,
    ///   `import`); otherwise it is refused there.
    func context(secrets: SecretOptions? = nil, overrides: ConfigurationOverrides = ConfigurationOverrides(),
                 flags: [any ConfigurationFlags] = [], clusterFilter: Bool = false) throws -> CommandContext {
        let contexts = try self.contexts(secrets: secrets, overrides: overrides, flags: flags,
                                         selection: clusterOption.selection(), clusterFilter: clusterFilter)
        guard let context = contexts.clusters.first else {
            throw UsageError(description: "the configuration names no cluster to act on; add one to `clusters:`")
        }
        return context
    }

    /// Loads the configuration of every cluster `selection` names; a configuration without `clusters:` gives one.
    func contexts(secrets: SecretOptions? = nil, overrides: ConfigurationOverrides = ConfigurationOverrides(),
                  flags: [any ConfigurationFlags] = [], selection: ClusterSelection,
                  clusterFilter: Bool = false) throws -> (clusters: [CommandContext], fleet: LoadedFleet) {
        var overrides = overrides
        for group in flags { group.apply(to: &overrides) }
        overrides.repository = repository
        overrides.destinations = destinations
        if let secrets { try secrets.apply(to: &overrides) }
        let environment = ProcessInfo.processInfo.environment
        let fleet = try ConfigurationLoader(environment: environment).loadClusters(
            configFlag: config, selection: selection, overrides: overrides)
        if !fleet.isFleet, let cluster, !clusterFilter {
            throw UsageError(description: "--cluster \(cluster): the configuration names no clusters (it has no `clusters:` "
                + "list), so there is nothing to choose; leave --cluster out")
        }
        var seen = Set<ConfigurationIssue>()
        var contexts: [CommandContext] = []
        for cluster in fleet.clusters {
            for warning in cluster.loaded.warnings where seen.insert(warning).inserted {
                printStatus("lifeboat: warning: \(warning)")
            }
            var context = CommandContext(loaded: cluster.loaded, environment: environment)
            context.lockWait = try lockWaitSeconds()
            contexts.append(context)
        }
        return (contexts, fleet)
    }
}

/// The effective configuration of one command run, and what it opens.
struct CommandContext {
    var loaded: LoadedConfiguration
    let environment: [String: String]
    /// --lock-wait, in seconds.
    var lockWait: TimeInterval = 0

    var configuration: LifeboatConfiguration { loaded.configuration }

    /// Every configured key and the passphrase.
    func keyRing() throws -> KeyRing { try configuration.keys.keyRing(environment: environment) }

    /// What new backups are encrypted with.
    func encryptionSecret() throws -> EncryptionSecret { try configuration.keys.encryptionSecret(environment: environment) }

    /// Opens the destinations for `body` and closes them afterwards.
    func withDestinations<R>(create: Bool, _ body: ([OpenedDestination]) async throws -> R) async throws -> R {
        var destinations = try await configuration.openDestinations(create: create, environment: environment,
                                                                    manifestCacheRoot: stateDirectory + "/manifest-cache")
        for index in destinations.indices { destinations[index].lockWait = lockWait }
        do {
            let result = try await body(destinations)
            for destination in destinations { await destination.close() }
            return result
        } catch {
            for destination in destinations { await destination.close() }
            throw error
        }
    }

    /// A Vault client for the configured cluster; the caller shuts it down.
    func makeVaultClient(firstByteTimeout: Duration? = nil) throws -> VaultClient {
        try VaultClient(configuration: try configuration.vault.clientConfiguration(
            environment: environment, firstByteTimeout: firstByteTimeout))
    }

    /// A Vault client for the configured cluster, shut down after `body`.
    func withVaultClient<R>(firstByteTimeout: Duration? = nil, _ body: (VaultClient) async throws -> R) async throws -> R {
        let client = try makeVaultClient(firstByteTimeout: firstByteTimeout)
        do {
            let result = try await body(client)
            try? await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    /// Where restore, drill and agent keep their state when not configured: a fleet cluster's own directory
    /// (`clusters/NAME` beside the top-level agent state file), else beside the first local repository
    /// (`<repo>/..`), else the directory of the agent's state file.
    var stateDirectory: String {
        if let own = loaded.clusterStateDirectory { return own }
        for destination in configuration.destinations {
            if case .local(let local) = destination.storage {
                return URL(fileURLWithPath: local.path).deletingLastPathComponent().path
            }
        }
        let state = configuration.agent.stateFile
            ?? LifeboatConfiguration.defaultStatePath(environment: environment, isRoot: geteuid() == 0)
        return URL(fileURLWithPath: state).deletingLastPathComponent().path
    }

    /// The destinations for messages: `local directory /path` or `2 destinations (local, offsite)`.
    func describe(_ destinations: [OpenedDestination]) -> String {
        destinations.count == 1 ? destinations[0].displayName
            : "\(destinations.count) destinations (\(destinations.map(\.name).joined(separator: ", ")))"
    }
}
