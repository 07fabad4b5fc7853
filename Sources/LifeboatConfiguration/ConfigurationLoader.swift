// ConfigurationLoader: finds the configuration file, then builds the effective configuration in precedence order
// (built-in defaults < file < environment < flags), validates the result and reports every problem at once.
// Secrets are not read here: that is SecretResolver's job, at the moment they are needed.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// A configuration with the record of where each value came from.
public struct LoadedConfiguration: Sendable {
    /// The effective configuration.
    public var configuration: LifeboatConfiguration
    /// The file that was read, or nil when the built-in defaults were used.
    public var file: String?
    /// How the file was found (`--config`, `LIFEBOAT_CONFIG`, `./lifeboat.yaml`, ...), or why none was used.
    public var fileSource: String
    /// Where each key path's value came from, when not from the defaults.
    public var origins: [String: ConfigurationOrigin]
    /// Warnings found while loading (literal secrets, skip_verify, ...). Secrets' state is checked separately by
    /// ``ConfigurationCheck``.
    public var warnings: [ConfigurationIssue]
    /// The key path of each destination: `repository`, `destinations[i]`, or that of the flag that made it.
    var destinationPaths: [String]
    /// The cluster's name in a fleet configuration (`clusters:`); nil for a single-cluster configuration.
    public var cluster: String?

    /// Where this cluster keeps its local state (agent state file, manifest cache, restore and drill journals):
    /// the directory of its agent state file for a fleet cluster (`.../clusters/NAME`), else nil (the commands'
    /// single-cluster rule: beside the first local repository).
    public var clusterStateDirectory: String? {
        guard cluster != nil, let stateFile = configuration.agent.stateFile else { return nil }
        return URL(fileURLWithPath: stateFile).deletingLastPathComponent().path
    }

    init(configuration: LifeboatConfiguration, file: String?, fileSource: String, origins: [String: ConfigurationOrigin], destinationPaths: [String]) {
        self.configuration = configuration
        self.file = file
        self.fileSource = fileSource
        self.origins = origins
        self.warnings = []
        self.destinationPaths = destinationPaths
    }

    /// Where the value at `keyPath` came from (the defaults when nothing set it).
    public func origin(of keyPath: String) -> ConfigurationOrigin {
        origins[keyPath] ?? .defaultValue
    }

    /// The key path of destination `index`, as written in the file.
    public func destinationPath(_ index: Int) -> String {
        index < destinationPaths.count ? destinationPaths[index] : "destinations[\(index)]"
    }

    mutating func set(_ keyPath: String, _ origin: ConfigurationOrigin, _ change: (inout LifeboatConfiguration) -> Void) {
        change(&configuration)
        origins[keyPath] = origin
    }

    /// Replaces the whole `vault.auth` block (keeping `mount`); forgets the origins of the replaced keys.
    mutating func replaceAuth(_ auth: LifeboatConfiguration.Auth, origin: ConfigurationOrigin) {
        configuration.vault.auth = auth
        for key in origins.keys where key.hasPrefix("vault.auth.") && key != "vault.auth.mount" {
            origins[key] = nil
        }
        origins["vault.auth.method"] = origin
    }

    mutating func replaceDestinations(_ destinations: [LifeboatConfiguration.Destination], origin: ConfigurationOrigin) {
        for key in origins.keys where destinationPaths.contains(where: { key == $0 || key.hasPrefix($0 + ".") || key.hasPrefix($0 + "[") }) {
            origins[key] = nil
        }
        configuration.destinations = destinations
        destinationPaths = destinations.indices.map { "destinations[\($0)]" }
        for path in destinationPaths { origins[path] = origin }
    }

    mutating func keepDestinations(at indices: [Int]) {
        configuration.destinations = indices.map { configuration.destinations[$0] }
        destinationPaths = indices.map { destinationPath($0) }
    }
}

/// Finds, reads and combines the configuration. All inputs (environment, current directory, whether the process
/// runs as root) are injected so tests need no real environment.
public struct ConfigurationLoader: Sendable {
    /// The file names searched when neither `--config` nor `LIFEBOAT_CONFIG` is given, in order.
    public static let searchPaths = ["lifeboat.yaml", "/etc/lifeboat/lifeboat.yaml"]

    public var environment: [String: String]
    public var currentDirectory: String
    public var isRoot: Bool

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        currentDirectory: String = FileManager.default.currentDirectoryPath,
        isRoot: Bool = geteuid() == 0
    ) {
        self.environment = environment
        self.currentDirectory = currentDirectory
        self.isRoot = isRoot
    }

    /// The configuration file to read: `--config`, else `LIFEBOAT_CONFIG`, else `./lifeboat.yaml`, else
    /// `/etc/lifeboat/lifeboat.yaml`; nil when none exists (the built-in defaults apply).
    /// - Throws: when `--config` or `LIFEBOAT_CONFIG` names a file that does not exist (an explicit choice).
    public func locate(configFlag: String?) throws(ConfigurationError) -> (path: String, source: String)? {
        func absolute(_ path: String) -> String {
            ConfigurationPaths.absolute(path, relativeTo: currentDirectory, home: environment["HOME"])
        }
        if let flag = configFlag, !flag.isEmpty {
            let path = absolute(flag)
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError(message: "the configuration file \(path) (from --config) does not exist: "
                    + "fix the path, or leave --config out to use \(Self.searchPaths.joined(separator: " or "))",
                    origin: .flag("--config"))
            }
            return (path, "--config")
        }
        if let variable = environment["LIFEBOAT_CONFIG"], !variable.isEmpty {
            let path = absolute(variable)
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError(message: "the configuration file \(path) (from LIFEBOAT_CONFIG) does not exist: "
                    + "fix the path or unset LIFEBOAT_CONFIG", origin: .environment("LIFEBOAT_CONFIG"))
            }
            return (path, "LIFEBOAT_CONFIG")
        }
        for candidate in Self.searchPaths {
            let path = absolute(candidate)
            if FileManager.default.fileExists(atPath: path) {
                return (path, candidate.hasPrefix("/") ? candidate : "./" + candidate)
            }
        }
        return nil
    }

    /// The outcome of building a configuration: the result when usable, and every issue found.
    public struct Evaluation: Sendable {
        /// The configuration; nil when there are errors.
        public var loaded: LoadedConfiguration?
        /// Every error and warning, errors from the file in line order first.
        public var issues: [ConfigurationIssue]
        /// The file read, if any.
        public var file: String?
        /// The configuration as far as it could be built, also when there are errors (values in error keep their
        /// defaults), so that `config check` can check what it points at and report every problem at once; nil
        /// only when the file is not YAML.
        public var bestEffort: LoadedConfiguration?

        public var errors: [ConfigurationIssue] { issues.filter { $0.severity == .error } }
        public var warnings: [ConfigurationIssue] { issues.filter { $0.severity == .warning } }
    }

    /// Finds and reads the configuration file, then applies the environment and `overrides`.
    /// - Throws: ``ConfigurationError`` with every problem found.
    public func load(configFlag: String? = nil, overrides: ConfigurationOverrides = ConfigurationOverrides())
        throws(ConfigurationError) -> LoadedConfiguration
    {
        try Self.unwrap(evaluate(configFlag: configFlag, overrides: overrides))
    }

    /// Reads configuration text (e.g. for SIGHUP reload or tests), then applies the environment and `overrides`.
    /// - Parameters:
    ///   - file: the name shown in messages; relative paths in the text are resolved against its directory.
    /// - Throws: ``ConfigurationError`` with every problem found.
    public func load(yaml: String, file: String, overrides: ConfigurationOverrides = ConfigurationOverrides())
        throws(ConfigurationError) -> LoadedConfiguration
    {
        try Self.unwrap(evaluate(yaml: yaml, file: file, fileSource: "text", overrides: overrides))
    }

    private static func unwrap(_ evaluation: Evaluation) throws(ConfigurationError) -> LoadedConfiguration {
        guard var loaded = evaluation.loaded, evaluation.errors.isEmpty else {
            throw ConfigurationError(issues: evaluation.errors)
        }
        loaded.warnings = evaluation.warnings
        return loaded
    }

    /// Like ``load(configFlag:overrides:)`` but never throws: returns the configuration (when usable) with every
    /// error and warning, for `lifeboat config check`.
    public func evaluate(configFlag: String? = nil, overrides: ConfigurationOverrides = ConfigurationOverrides()) -> Evaluation {
        switch source(configFlag: configFlag) {
        case .failure(let evaluation): return evaluation
        case .success(let source):
            return evaluate(yaml: source.yaml, file: source.file, fileSource: source.fileSource, overrides: overrides)
        }
    }

    /// The configuration text to read (nil: none found, the built-in defaults), or the evaluation that says why it
    /// cannot be read.
    struct Source {
        var yaml: String?
        var file: String?
        var fileSource: String
    }

    enum SourceOutcome {
        case success(Source)
        case failure(Evaluation)
    }

    func source(configFlag: String?) -> SourceOutcome {
        let location: (path: String, source: String)?
        do {
            location = try locate(configFlag: configFlag)
        } catch {
            return .failure(Evaluation(loaded: nil, issues: error.issues, file: nil))
        }
        guard let location else {
            return .success(Source(yaml: nil, file: nil, fileSource: "none found (built-in defaults)"))
        }
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: location.path))
            guard let decoded = String(data: data, encoding: .utf8) else {
                return .failure(Evaluation(loaded: nil, issues: [ConfigurationIssue(keyPath: "",
                    message: "the configuration file \(location.path) is not UTF-8 text")], file: location.path))
            }
            return .success(Source(yaml: decoded, file: location.path, fileSource: location.source))
        } catch {
            return .failure(Evaluation(loaded: nil, issues: [ConfigurationIssue(keyPath: "",
                message: "cannot read the configuration file \(location.path): \(error.localizedDescription); "
                    + "check its permissions")], file: location.path))
        }
    }

    /// Builds the configuration from `yaml` (nil: no file, the built-in defaults) plus environment and overrides.
    public func evaluate(yaml: String?, file: String?, fileSource: String, overrides: ConfigurationOverrides) -> Evaluation {
        let defaults = LifeboatConfiguration.defaults(environment: environment, isRoot: isRoot)
        var parsed: ParsedConfiguration?
        if let yaml {
            let name = file ?? "lifeboat.yaml"
            let directory = file.map { ConfigurationPaths.directory(of: $0, currentDirectory: currentDirectory) } ?? currentDirectory
            parsed = ConfigurationParser.parse(
                yaml, file: name, directory: directory, home: environment["HOME"], defaults: defaults)
        }
        return evaluate(parsed: parsed, file: file, fileSource: fileSource, defaults: defaults, environment: environment,
                        overrides: overrides)
    }

    /// The steps after parsing, shared by a single-cluster file and each cluster of a fleet: the environment
    /// (`environment`: all of it, or a fleet's process-wide variables only), the flags, validation, warnings.
    func evaluate(
        parsed: ParsedConfiguration?, file: String?, fileSource: String, defaults: LifeboatConfiguration,
        environment: [String: String], overrides: ConfigurationOverrides
    ) -> Evaluation {
        var issues: [ConfigurationIssue] = []
        var loaded: LoadedConfiguration
        var fileHadErrors = false
        if let parsed {
            issues = parsed.issues
            fileHadErrors = parsed.issues.contains { $0.severity == .error }
            guard let configuration = parsed.configuration else {
                return Evaluation(loaded: nil, issues: issues, file: file)
            }
            loaded = LoadedConfiguration(
                configuration: configuration, file: file, fileSource: fileSource, origins: parsed.positions,
                destinationPaths: parsed.destinationPaths)
        } else {
            loaded = LoadedConfiguration(
                configuration: defaults, file: nil, fileSource: fileSource, origins: [:],
                destinationPaths: defaults.destinations.indices.map { "destinations[\($0)]" })
        }
        issues += ConfigurationEnvironment.apply(
            environment, to: &loaded, currentDirectory: currentDirectory, repositoryFlagGiven: overrides.repository != nil)
        issues += overrides.apply(to: &loaded, currentDirectory: currentDirectory)
        issues += ConfigurationValidator.validate(
            loaded.configuration, origins: loaded.origins, destinationPaths: loaded.destinationPaths,
            fileHadErrors: fileHadErrors)
        issues += Self.literalSecretWarnings(loaded)
        let ordered = Self.ordered(issues)
        let hasErrors = ordered.contains { $0.severity == .error }
        loaded.warnings = ordered.filter { $0.severity == .warning }
        return Evaluation(loaded: hasErrors ? nil : loaded, issues: ordered, file: file, bestEffort: loaded)
    }

    /// A warning for every secret written literally in the file.
    static func literalSecretWarnings(_ loaded: LoadedConfiguration) -> [ConfigurationIssue] {
        loaded.configuration.secretFields(destinationPaths: loaded.destinationPaths).compactMap { field in
            guard field.reference.isLiteral, !field.isURL else { return nil }
            return ConfigurationIssue(
                severity: .warning, keyPath: field.keyPath,
                message: "a literal secret in the configuration: anyone who can read the file can use it; "
                    + "write env:NAME or file:/path (mode 0600) instead",
                origin: loaded.origins[field.keyPath])
        }
    }

    /// Errors and warnings from the file in line order, then the rest in the order found; duplicates removed.
    static func ordered(_ issues: [ConfigurationIssue]) -> [ConfigurationIssue] {
        var seen = Set<ConfigurationIssue>()
        let unique = issues.filter { seen.insert($0).inserted }
        let indexed = unique.enumerated().map { ($0.offset, $0.element) }
        return indexed.sorted { a, b in
            switch (a.1.line, b.1.line) {
            case let (la?, lb?):
                if la != lb { return la < lb }
                if let ca = a.1.column, let cb = b.1.column, ca != cb { return ca < cb }
                return a.0 < b.0
            case (.some, nil): return true
            case (nil, .some): return false
            case (nil, nil): return a.0 < b.0
            }
        }.map(\.1)
    }
}

extension LifeboatConfiguration {
    /// One secret-bearing key of the configuration.
    public struct SecretField: Sendable, Equatable {
        /// The key path, e.g. `vault.auth.token` or `destinations[1].secret_access_key`.
        public var keyPath: String
        /// Where the secret comes from.
        public var reference: SecretReference
        /// True for webhook URLs: a literal URL is normal, but it may embed a credential, so it is masked too.
        public var isURL: Bool
    }

    /// Every secret reference in the configuration, with its key path.
    public func secretFields(destinationPaths: [String] = []) -> [SecretField] {
        var fields: [SecretField] = []
        func add(_ path: String, _ reference: SecretReference?, url: Bool = false) {
            if let reference { fields.append(SecretField(keyPath: path, reference: reference, isURL: url)) }
        }
        add("vault.auth.token", vault.auth.token)
        add("vault.auth.role_id", vault.auth.roleID)
        add("vault.auth.secret_id", vault.auth.secretID)
        add("keys.passphrase", keys.passphrase)
        for (index, destination) in destinations.enumerated() {
            guard case .s3(let s3) = destination.storage else { continue }
            let path = index < destinationPaths.count ? destinationPaths[index] : "destinations[\(index)]"
            add("\(path).access_key_id", s3.accessKeyID)
            add("\(path).secret_access_key", s3.secretAccessKey)
            add("\(path).session_token", s3.sessionToken)
        }
        for (index, webhook) in notifications.webhooks.enumerated() {
            add("notifications.webhooks[\(index)].url", webhook.url, url: true)
        }
        return fields
    }
}
