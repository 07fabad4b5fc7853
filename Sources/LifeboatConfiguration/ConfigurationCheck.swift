// ConfigurationCheck: the core of `lifeboat config check`. Loads the configuration like every command does,
// then resolves (without printing) every secret reference and checks the files the configuration names (key files,
// unseal keys, TLS material), and renders the effective configuration with secrets masked.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// What `lifeboat config check` prints and how it exits.
public struct ConfigurationCheckResult: Sendable {
    /// The effective configuration as YAML with secrets masked; empty when the configuration could not be built.
    public var text: String
    /// Problems that make the configuration unusable (exit with ``ExitStatus/configuration``).
    public var errors: [ConfigurationIssue]
    /// Risky or surprising settings (literal secrets, skip_verify, no retention, ...).
    public var warnings: [ConfigurationIssue]
    /// The file read, or nil when the built-in defaults applied.
    public var file: String?
    /// The effective configuration when there is no error (what `config check --connect` tries); a fleet's first
    /// checked cluster.
    public var configuration: LoadedConfiguration? { clusters.first }
    /// Every checked cluster's effective configuration when there is no error (one without `clusters:`).
    public var clusters: [LoadedConfiguration]

    /// True when there is no error.
    public var isValid: Bool { errors.isEmpty }
}

/// Validates the configuration and everything it points at, for `lifeboat config check`.
public enum ConfigurationCheck {
    /// Loads the configuration with `loader` (file search, environment, `overrides`), checks every secret and file
    /// it references, and renders the effective configuration.
    public static func run(
        loader: ConfigurationLoader, configFlag: String? = nil, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) -> ConfigurationCheckResult {
        finish(loader.evaluate(configFlag: configFlag, overrides: overrides), environment: loader.environment)
    }

    /// Like ``run(loader:configFlag:overrides:)`` for configuration text (`file` is the name shown in messages).
    public static func run(
        loader: ConfigurationLoader, yaml: String, file: String, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) -> ConfigurationCheckResult {
        finish(loader.evaluate(yaml: yaml, file: file, fileSource: "text", overrides: overrides), environment: loader.environment)
    }

    /// Like ``run(loader:configFlag:overrides:)`` for the clusters `selection` names (a configuration without
    /// `clusters:` is one cluster): every cluster's problems, and each effective configuration under a
    /// `# cluster NAME` line.
    /// - Throws: ``ClusterSelectionError`` when the selection does not fit the file's clusters.
    public static func run(
        loader: ConfigurationLoader, configFlag: String? = nil, selection: ClusterSelection,
        overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) throws(ClusterSelectionError) -> ConfigurationCheckResult {
        let fleet = try loader.evaluateClusters(configFlag: configFlag, selection: selection, overrides: overrides)
        var results = fleet.clusters.map { finish($0.evaluation, environment: loader.environment) }
        if let notice = LoadedFleet(clusterNames: fleet.clusterNames, clusters: [],
                                    ignoredEnvironment: fleet.ignoredEnvironment).ignoredEnvironmentNotice {
            results.append(ConfigurationCheckResult(
                text: "", errors: [], warnings: [ConfigurationIssue(severity: .warning, keyPath: "", message: notice)],
                file: fleet.file, clusters: []))
        }
        guard fleet.clusters.contains(where: { $0.name != nil }) else {
            return results.first ?? ConfigurationCheckResult(text: "", errors: [], warnings: [], file: fleet.file, clusters: [])
        }
        let issues = ConfigurationLoader.ordered(results.flatMap { $0.errors + $0.warnings })
        let errors = issues.filter { $0.severity == .error }
        let text = zip(fleet.clusters, results).map { cluster, result in
            "# cluster \(cluster.name ?? "")\n" + result.text
        }.joined(separator: "\n")
        return ConfigurationCheckResult(
            text: errors.isEmpty ? text : "", errors: errors, warnings: issues.filter { $0.severity == .warning },
            file: fleet.file, clusters: errors.isEmpty ? results.flatMap(\.clusters) : [])
    }

    private static func finish(_ evaluation: ConfigurationLoader.Evaluation, environment: [String: String]) -> ConfigurationCheckResult {
        let resolver = SecretResolver(environment: environment)
        // What the configuration points at is checked even when it has errors, so every problem shows at once.
        let references = evaluation.bestEffort.map { referenceIssues($0, resolver: resolver) } ?? []
        let issues = ConfigurationLoader.ordered(evaluation.issues + references)
        let text = evaluation.loaded.map { loaded in ConfigurationRenderer.render(loaded) { resolver.status(of: $0) } } ?? ""
        return ConfigurationCheckResult(
            text: text, errors: issues.filter { $0.severity == .error }, warnings: issues.filter { $0.severity == .warning },
            file: evaluation.file, clusters: evaluation.loaded.map { [$0] } ?? [])
    }

    /// Problems with what the configuration points at: unresolvable secrets, missing or too-open files.
    public static func referenceIssues(_ loaded: LoadedConfiguration, resolver: SecretResolver) -> [ConfigurationIssue] {
        var issues: [ConfigurationIssue] = []
        let c = loaded.configuration
        func error(_ path: String, _ message: String) {
            issues.append(ConfigurationIssue(keyPath: path, message: message, origin: loaded.origins[path]))
        }
        func warning(_ path: String, _ message: String) {
            issues.append(ConfigurationIssue(severity: .warning, keyPath: path, message: message, origin: loaded.origins[path]))
        }
        for field in c.secretFields(destinationPaths: loaded.destinationPaths) {
            let status = resolver.status(of: field.reference)
            if !status.isUsable {
                error(field.keyPath, SecretResolver.problem(status, field.reference))
            }
        }
        if c.keys.isEmpty {
            warning("keys", "no key is configured: `lifeboat backup` and restores need keys.key_files (from "
                + "`lifeboat key generate`) or keys.passphrase")
        }
        for (index, file) in c.keys.keyFiles.enumerated() {
            do {
                _ = try ArchiveKey.load(path: file)
            } catch {
                let path = loaded.origins["keys.key_files[\(index)]"] != nil ? "keys.key_files[\(index)]" : "keys.key_files"
                issues.append(ConfigurationIssue(keyPath: path, message: "\(error)", origin: loaded.origins[path]))
            }
        }
        func secretFile(_ file: String?, at path: String, what: String) {
            guard let file else { return }
            if case .failure(let problem) = SecretResolver.readSecretFile(file) {
                error(path, "\(what): " + SecretResolver.problem(problem.status, .file(file)))
            }
        }
        secretFile(c.restore.unsealKeysFile, at: "restore.unseal_keys_file", what: "unseal keys file")
        secretFile(c.drill.unsealKeysFile, at: "drill.unseal_keys_file", what: "unseal keys file")
        secretFile(c.vault.tls.clientKey, at: "vault.tls.client_key", what: "TLS client key")
        func existing(_ file: String?, at path: String, what: String) {
            guard let file else { return }
            if !FileManager.default.fileExists(atPath: file) {
                error(path, "\(what) \(file) does not exist: fix the path")
            }
        }
        existing(c.vault.tls.caCert, at: "vault.tls.ca_cert", what: "CA file")
        existing(c.vault.tls.caPath, at: "vault.tls.ca_path", what: "CA directory")
        existing(c.vault.tls.clientCert, at: "vault.tls.client_cert", what: "client certificate")
        if c.vault.auth.effectiveMethod == .tokenFile {
            secretFile(c.vault.auth.tokenFile, at: "vault.auth.token_file", what: "token file")
        }
        if c.vault.auth.effectiveMethod == .agentSink, let sink = c.vault.auth.sinkPath, !FileManager.default.fileExists(atPath: sink) {
            warning("vault.auth.sink_path", "the Vault Agent sink file \(sink) does not exist yet: is the agent running "
                + "and is its file sink configured with this path?")
        }
        for (index, destination) in c.destinations.enumerated() {
            let path = loaded.destinationPath(index)
            if case .s3(let s3) = destination.storage {
                existing(s3.caCert, at: "\(path).ca_cert", what: "CA file")
            }
            if destination.retention == nil {
                warning(path, "destination `\(destination.name)` has no retention: every backup is kept forever; "
                    + "add e.g. retention: {keep_daily: 7, keep_weekly: 4}")
            }
        }
        return issues
    }
}
