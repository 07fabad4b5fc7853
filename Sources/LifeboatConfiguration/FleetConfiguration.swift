// Fleet mode: a configuration whose top-level `clusters:` list names several Vault clusters. Each entry is merged
// over the top-level sections at the YAML node level (mappings merged key by key, everything else replaced), so
// every value keeps its file position; each merged document then goes through the ordinary single-cluster parser
// and validator. This file owns the `clusters:` rules (names, process-wide keys, inheritance) and cluster
// selection (`--cluster NAME`); docs/configuration.md, "Fleet mode", describes them.

import Foundation
import Yams
import LifeboatBase
import LifeboatAgent

/// Which clusters of a configuration a command loads.
public enum ClusterSelection: Sendable, Equatable {
    /// One cluster: `--cluster NAME`, or nil for "the only one" (a fleet of one, or a configuration without
    /// `clusters:`). A fleet of several clusters needs the name.
    case one(String?)
    /// Every cluster (the agent without `--cluster`). Cluster-specific environment variables are not applied.
    case all
}

/// A fleet configuration needs `--cluster NAME`, or names no such cluster. A usage error (exit 64).
public struct ClusterSelectionError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
    public var exitStatus: ExitStatus { .usage }
}

/// The clusters a command works on, each with its effective configuration.
public struct LoadedFleet: Sendable {
    /// One selected cluster.
    public struct Cluster: Sendable {
        /// The name from `clusters:`; nil for a configuration without `clusters:`.
        public var name: String?
        public var loaded: LoadedConfiguration
    }

    /// Every cluster the file names, in file order; empty for a configuration without `clusters:`.
    public var clusterNames: [String]
    /// The selected clusters, in file order.
    public var clusters: [Cluster]
    /// Cluster-specific environment variables that were set but not applied (``ClusterSelection/all``).
    public var ignoredEnvironment: [String]

    /// True when the file has a `clusters:` list.
    public var isFleet: Bool { !clusterNames.isEmpty }

    /// The one-line notice for ``ignoredEnvironment``, nil when nothing was ignored.
    public var ignoredEnvironmentNotice: String? {
        guard !ignoredEnvironment.isEmpty else { return nil }
        return "the configuration names \(clusterNames.count) clusters, so \(ignoredEnvironment.joined(separator: ", ")) "
            + "\(ignoredEnvironment.count == 1 ? "is" : "are") not applied to any of them; set the cluster's values in "
            + "the file, or choose one cluster with --cluster NAME to apply the environment to it"
    }
}

extension ConfigurationLoader {
    /// Every selected cluster's evaluation (errors and warnings included), for `config check` and ``loadClusters``.
    public struct FleetEvaluation: Sendable {
        public var clusterNames: [String]
        /// Each selected cluster (nil name: a configuration without `clusters:`) with its evaluation.
        public var clusters: [(name: String?, evaluation: Evaluation)]
        public var ignoredEnvironment: [String]
        /// The file read, if any.
        public var file: String?

        /// Every issue of every cluster, once each, errors from the file in line order first.
        public var issues: [ConfigurationIssue] { ConfigurationLoader.ordered(clusters.flatMap(\.evaluation.issues)) }
    }

    /// Finds and reads the configuration, then builds the configuration of each selected cluster.
    /// - Throws: ``ClusterSelectionError`` when the selection does not fit the file's clusters.
    public func evaluateClusters(
        configFlag: String? = nil, selection: ClusterSelection, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) throws(ClusterSelectionError) -> FleetEvaluation {
        switch source(configFlag: configFlag) {
        case .failure(let evaluation):
            return FleetEvaluation(clusterNames: [], clusters: [(nil, evaluation)], ignoredEnvironment: [], file: evaluation.file)
        case .success(let source):
            return try evaluateClusters(yaml: source.yaml, file: source.file, fileSource: source.fileSource,
                                        selection: selection, overrides: overrides)
        }
    }

    /// Builds the configuration of each selected cluster from `yaml` (nil: no file, the built-in defaults).
    /// - Throws: ``ClusterSelectionError`` when the selection does not fit the file's clusters.
    public func evaluateClusters(
        yaml: String?, file: String?, fileSource: String, selection: ClusterSelection, overrides: ConfigurationOverrides
    ) throws(ClusterSelectionError) -> FleetEvaluation {
        let single = { FleetEvaluation(clusterNames: [], clusters: [
            (nil, evaluate(yaml: yaml, file: file, fileSource: fileSource, overrides: overrides))], ignoredEnvironment: [], file: file) }
        guard let yaml else { return single() }
        let name = file ?? "lifeboat.yaml"
        let reader = ConfigurationReader(file: name, directory: directory(of: file), home: environment["HOME"])
        guard let composed = ConfigurationParser.compose(yaml, reader), let root = composed,
              let fleet = FleetDocument.split(root, reader)
        else { return single() }
        let names = fleet.map(\.name)
        if reader.issues.contains(where: { $0.severity == .error }) {
            let evaluation = Evaluation(loaded: nil, issues: ConfigurationLoader.ordered(reader.issues), file: file)
            return FleetEvaluation(clusterNames: names, clusters: [(nil, evaluation)], ignoredEnvironment: [], file: file)
        }
        let chosen = try Self.choose(selection, from: fleet)
        if chosen.count > 1, let flag = overrides.clusterFlags.first {
            throw ClusterSelectionError(message: "\(flag) describes one cluster, and this configuration names "
                + "\(names.count) clusters (\(names.joined(separator: ", "))): set it in the cluster's entry in the file, or "
                + "choose one cluster with --cluster NAME")
        }
        var environment = self.environment
        var ignored: [String] = []
        if selection == .all {
            ignored = ConfigurationEnvironment.clusterVariables.filter { name in
                environment[name].map { !$0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty } ?? false
            }
            for variable in ConfigurationEnvironment.clusterVariables { environment[variable] = nil }
        }
        let defaults = LifeboatConfiguration.defaults(environment: self.environment, isRoot: isRoot)
        let clusters = chosen.map { cluster -> (name: String?, evaluation: Evaluation) in
            let clusterReader = ConfigurationReader(file: name, directory: directory(of: file), home: self.environment["HOME"])
            var parsed = ConfigurationParser.parse(root: cluster.document, clusterReader, defaults: defaults)
            if var configuration = parsed.configuration {
                // Each cluster's local state (agent state file, manifest cache, journals) in a directory of its own.
                let base = URL(fileURLWithPath: configuration.agent.stateFile
                    ?? LifeboatConfiguration.defaultStatePath(environment: self.environment, isRoot: isRoot))
                configuration.agent.stateFile = base.deletingLastPathComponent()
                    .appendingPathComponent("clusters").appendingPathComponent(cluster.name)
                    .appendingPathComponent(base.lastPathComponent).path
                parsed.configuration = configuration
            }
            var evaluation = evaluate(parsed: parsed, file: file, fileSource: fileSource, defaults: defaults,
                                      environment: environment, overrides: overrides)
            evaluation.loaded?.cluster = cluster.name
            evaluation.bestEffort?.cluster = cluster.name
            return (cluster.name, evaluation)
        }
        return FleetEvaluation(clusterNames: names, clusters: clusters, ignoredEnvironment: ignored, file: file)
    }

    /// Loads the selected clusters.
    /// - Throws: ``ClusterSelectionError`` (exit 64) for a selection that does not fit, ``ConfigurationError`` with
    ///   every problem of every selected cluster.
    public func loadClusters(
        configFlag: String? = nil, selection: ClusterSelection, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) throws -> LoadedFleet {
        try Self.unwrap(evaluateClusters(configFlag: configFlag, selection: selection, overrides: overrides))
    }

    /// Like ``loadClusters(configFlag:selection:overrides:)`` for configuration text (SIGHUP reload and tests).
    public func loadClusters(
        yaml: String, file: String, selection: ClusterSelection, overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) throws -> LoadedFleet {
        try Self.unwrap(evaluateClusters(yaml: yaml, file: file, fileSource: "text", selection: selection, overrides: overrides))
    }

    private static func unwrap(_ fleet: FleetEvaluation) throws(ConfigurationError) -> LoadedFleet {
        let errors = fleet.issues.filter { $0.severity == .error }
        guard errors.isEmpty else { throw ConfigurationError(issues: errors) }
        var clusters: [LoadedFleet.Cluster] = []
        for (name, evaluation) in fleet.clusters {
            guard var loaded = evaluation.loaded else { throw ConfigurationError(issues: evaluation.errors) }
            loaded.warnings = evaluation.warnings
            clusters.append(LoadedFleet.Cluster(name: name, loaded: loaded))
        }
        return LoadedFleet(clusterNames: fleet.clusterNames, clusters: clusters, ignoredEnvironment: fleet.ignoredEnvironment)
    }

    /// The clusters `selection` names, or why it does not fit.
    static func choose(_ selection: ClusterSelection, from fleet: [FleetDocument.Cluster]) throws(ClusterSelectionError)
        -> [FleetDocument.Cluster]
    {
        let names = fleet.map(\.name)
        let listed = "\(names.count) cluster\(names.count == 1 ? "" : "s") (\(names.joined(separator: ", ")))"
        switch selection {
        case .all:
            return fleet
        case .one(nil):
            guard fleet.count == 1 else {
                throw ClusterSelectionError(message: "this configuration names \(listed); choose one with --cluster NAME")
            }
            return fleet
        case .one(let name?):
            if let cluster = fleet.first(where: { $0.name == name }) { return [cluster] }
            let suggestion = KeySuggestion.nearest(to: name, in: names).map { "did you mean \($0)? " } ?? ""
            throw ClusterSelectionError(message: "--cluster \(name): no such cluster; \(suggestion)this configuration names \(listed)")
        }
    }

    private func directory(of file: String?) -> String {
        file.map { ConfigurationPaths.directory(of: $0, currentDirectory: currentDirectory) } ?? currentDirectory
    }
}

/// The YAML side of fleet mode: checks the `clusters:` list and merges each entry over the top-level sections.
enum FleetDocument {
    /// One cluster's name and its merged document.
    struct Cluster {
        var name: String
        var document: Node
    }

    /// Keys that belong to the process and so cannot differ between clusters, with why.
    static let processWideKeys: [(path: [String], reason: String)] = [
        (["version"], "it is the file's format version"),
        (["clusters"], "clusters do not nest"),
        (["agent", "listen"], "one listener serves every cluster's /metrics, /healthz and /status"),
        (["agent", "log_format"], "the agent writes one log"),
        (["agent", "state_file"], "each cluster keeps its state in clusters/NAME/ beside the top-level agent.state_file"),
        (["agent", "shutdown_grace_period"], "one SIGTERM stops every cluster's jobs"),
    ]

    /// At most this many clusters (each runs its own jobs in the agent).
    static let maximumClusters = 64

    /// The clusters of `root`, nil when it has no `clusters` key (a single-cluster configuration). Problems with
    /// the list are recorded in `reader`; clusters with problems are left out.
    static func split(_ root: Node, _ reader: ConfigurationReader) -> [Cluster]? {
        guard case .mapping(let top) = root,
              let list = top.first(where: { $0.key.scalar?.string == "clusters" })
        else { return nil }
        let shared = Node.Mapping(top.filter { $0.key.scalar?.string != "clusters" }.map { ($0.key, $0.value) },
                                  top.tag, top.style, top.mark)
        guard case .sequence(let items) = list.value, !items.isEmpty else {
            reader.error("clusters", at: list.value.mark ?? list.key.mark,
                "expected a list of clusters, e.g. [{name: prod, vault: {address: https://vault.prod:8200}}], got "
                    + (ConfigurationReader.isNull(list.value) ? "an empty value" : ConfigurationReader.describe(list.value))
                    + "; remove `clusters` for a single-cluster configuration")
            return []
        }
        guard items.count <= maximumClusters else {
            reader.error("clusters", at: list.key.mark,
                "\(items.count) clusters is more than the \(maximumClusters) one agent runs; split the fleet over several configurations")
            return []
        }
        var clusters: [Cluster] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let path = "clusters[\(index)]"
            guard case .mapping(let entry) = item else {
                reader.error(path, at: item.mark, "expected a mapping with `name` and the cluster's sections, got "
                    + ConfigurationReader.describe(item))
                continue
            }
            guard let name = clusterName(entry, at: path, reader) else { continue }
            if let first = seen[name] {
                reader.error(path + ".name", at: entry.first { $0.key.scalar?.string == "name" }?.value.mark,
                    "cluster name \"\(name)\" is used twice (also clusters[\(first)]): cluster names must be unique")
                continue
            }
            seen[name] = index
            var refused = false
            for (keys, reason) in processWideKeys {
                guard let key = find(keys, in: entry) else { continue }
                let dotted = keys.joined(separator: ".")
                reader.error(path + "." + dotted, at: key.mark,
                    "`\(dotted)` is process-wide and cannot be set for one cluster (\(reason)); set it at the top level of the file")
                refused = true
            }
            guard !refused else { continue }
            let own = Node.Mapping(entry.filter { $0.key.scalar?.string != "name" }.map { ($0.key, $0.value) },
                                   entry.tag, entry.style, entry.mark)
            clusters.append(Cluster(name: name, document: .mapping(merge(shared, own, topLevel: true))))
        }
        return clusters
    }

    /// True for a usable cluster name: 1-63 of `a-z`, `0-9` and `-`, starting with a letter or digit (it becomes a
    /// metric label value and a directory name).
    static func isValidName(_ name: String) -> Bool {
        guard (1...63).contains(name.unicodeScalars.count), name.first != "-" else { return false }
        return name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    private static func clusterName(_ entry: Node.Mapping, at path: String, _ reader: ConfigurationReader) -> String? {
        guard let pair = entry.first(where: { $0.key.scalar?.string == "name" }) else {
            reader.error(path + ".name", at: entry.mark, "missing key `name` (every cluster needs a name, e.g. name: prod)")
            return nil
        }
        guard let name = pair.value.scalar?.string, isValidName(name) else {
            reader.error(path + ".name", at: pair.value.mark,
                "cluster name \(ConfigurationReader.describe(pair.value)) is not usable: use 1-63 lowercase letters, digits "
                    + "and '-', starting with a letter or digit (e.g. prod, eu-west-1)")
            return nil
        }
        return name
    }

    /// The key node at `keys` inside `mapping`, if written.
    private static func find(_ keys: [String], in mapping: Node.Mapping) -> Node? {
        guard let first = keys.first, let pair = mapping.first(where: { $0.key.scalar?.string == first }) else { return nil }
        if keys.count == 1 { return pair.key }
        guard case .mapping(let inner) = pair.value else { return nil }
        return find(Array(keys.dropFirst()), in: inner)
    }

    /// `override` over `base`: a key in both whose values are mappings is merged the same way; any other value
    /// (a list, a scalar, null) replaces the inherited one. At the top level a cluster's own `repository` or
    /// `destinations` replaces an inherited one of either form.
    static func merge(_ base: Node.Mapping, _ override: Node.Mapping, topLevel: Bool) -> Node.Mapping {
        var pairs = base.map { ($0.key, $0.value) }
        let ownKeys = Set(override.compactMap { $0.key.scalar?.string })
        if topLevel, !ownKeys.isDisjoint(with: ["repository", "destinations"]) {
            pairs.removeAll { ["repository", "destinations"].contains($0.0.scalar?.string ?? "") }
        }
        for (key, value) in override {
            guard let name = key.scalar?.string, let index = pairs.firstIndex(where: { $0.0.scalar?.string == name }) else {
                pairs.append((key, value))
                continue
            }
            if case .mapping(let inherited) = pairs[index].1, case .mapping(let own) = value {
                pairs[index] = (key, .mapping(merge(inherited, own, topLevel: false)))
            } else {
                pairs[index] = (key, value)
            }
        }
        return Node.Mapping(pairs, base.tag, base.style, base.mark)
    }
}
