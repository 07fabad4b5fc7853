// Cluster series: which Vault cluster a backup belongs to, and the small `clusters.json` object that records the
// clusters a repository holds backups of. Retention groups by series (RetentionGrouping); a backup of a cluster the
// repository has not seen starts a new series (with a warning), or is refused where the destination is pinned.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

extension BackupManifest {
    /// The series this backup belongs to when grouping by cluster: the cluster name, else the cluster id, else nil
    /// (no identity: older manifests, imports without `--cluster`; together they form one series of their own).
    public var clusterSeries: String? {
        if let name = cluster.name, !name.isEmpty { return name }
        if let id = cluster.id, !id.isEmpty { return id }
        return nil
    }

    /// The raft servers as `id@address`: how a snapshot without cluster identity is matched to a known cluster.
    public var raftNodeKeys: Set<String> { Set(raft.servers.map { "\($0.id)@\($0.address)" }) }

    /// The series key for `grouping`: nil for ``RetentionGrouping/none`` and for backups without identity.
    public func series(_ grouping: RetentionGrouping) -> String? {
        grouping == .cluster ? clusterSeries : nil
    }
}

/// The clusters a repository holds backups of (`clusters.json`): for warnings when a new cluster starts a series,
/// and for giving an imported snapshot the identity of the cluster whose raft servers it names. Written only under
/// the repository's exclusive lock; rebuilt from the manifests when missing (repositories from before it existed).
public struct ClusterRegistry: Sendable, Equatable, Codable {
    /// The object name inside the repository.
    public static let objectName = "clusters.json"
    public static let currentVersion = 1

    public struct Entry: Sendable, Equatable, Codable {
        /// The series name (``BackupManifest/clusterSeries``); nil for backups without identity.
        public var series: String?
        public var name: String?
        public var id: String?
        /// Raft servers seen in this cluster's snapshots, as `id@address`.
        public var nodes: [String]

        public init(series: String?, name: String?, id: String?, nodes: [String]) {
            self.series = series
            self.name = name
            self.id = id
            self.nodes = nodes
        }

        enum CodingKeys: String, CodingKey { case series, name, id, nodes }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            series = try c.decodeIfPresent(String.self, forKey: .series)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            id = try c.decodeIfPresent(String.self, forKey: .id)
            nodes = try c.decodeIfPresent([String].self, forKey: .nodes) ?? []
        }

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(series, forKey: .series)
            try c.encode(name, forKey: .name)
            try c.encode(id, forKey: .id)
            try c.encode(nodes, forKey: .nodes)
        }
    }

    public var version: Int
    public var clusters: [Entry]

    public init(clusters: [Entry] = []) {
        version = Self.currentVersion
        self.clusters = clusters
    }

    /// The entry of `series` (nil: the series without identity).
    public func entry(for series: String?) -> Entry? { clusters.first { $0.series == series } }

    /// The series names (nil shown as `unknown`), for messages.
    public var seriesNames: [String] { clusters.map { $0.series ?? "unknown" } }

    /// Records `manifest`'s cluster and raft servers; true when anything changed.
    @discardableResult
    public mutating func record(_ manifest: BackupManifest) -> Bool {
        let series = manifest.clusterSeries
        let nodes = manifest.raftNodeKeys
        if let index = clusters.firstIndex(where: { $0.series == series }) {
            var entry = clusters[index]
            let merged = Set(entry.nodes).union(nodes)
            var changed = merged.count != entry.nodes.count
            entry.nodes = merged.sorted()
            if entry.id == nil, let id = manifest.cluster.id { entry.id = id; changed = true }
            if entry.name == nil, let name = manifest.cluster.name { entry.name = name; changed = true }
            clusters[index] = entry
            return changed
        }
        clusters.append(Entry(series: series, name: manifest.cluster.name, id: manifest.cluster.id, nodes: nodes.sorted()))
        return true
    }

    /// The one identified cluster whose recorded raft servers include one of `nodes`; nil when none or several do.
    public func identify(nodes: Set<String>) -> Entry? {
        let matches = clusters.filter { $0.series != nil && !Set($0.nodes).isDisjoint(with: nodes) }
        return matches.count == 1 ? matches[0] : nil
    }

    /// The registry as stored: JSON, keys sorted.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var bytes = Array(try encoder.encode(self))
        bytes.append(UInt8(ascii: "\n"))
        return bytes
    }

    /// Decodes a stored registry; nil when it is unreadable or from a newer Lifeboat (it is then rebuilt).
    public static func decode(_ bytes: [UInt8]) -> ClusterRegistry? {
        guard let registry = try? JSONDecoder().decode(ClusterRegistry.self, from: Data(bytes)),
              registry.version >= 1, registry.version <= currentVersion else { return nil }
        return registry
    }
}

extension BackupRepository {
    /// The repository's cluster registry; rebuilt from every manifest when `clusters.json` is missing or unreadable
    /// (the rebuilt registry is returned, not written: the caller writes it under the lock).
    public func clusterRegistry() async throws -> (registry: ClusterRegistry, stored: Bool) {
        do {
            if let registry = ClusterRegistry.decode(try await store.get(ClusterRegistry.objectName, limit: 4 * 1024 * 1024)) {
                return (registry, true)
            }
        } catch let error as StoreError where error.kind == .notFound {
            // Not written yet: rebuild below.
        } catch let error as StoreError where error.kind == .corrupt {
            // Larger than any real registry: rebuild below.
        }
        var registry = ClusterRegistry()
        for manifest in try await list().backups { registry.record(manifest) }
        return (registry, false)
    }

    /// Writes the cluster registry (replacing it). Call under the repository's exclusive lock.
    public func saveClusterRegistry(_ registry: ClusterRegistry) async throws {
        try await store.put(ClusterRegistry.objectName, try registry.encoded(), mode: .replace)
    }
}

/// A backup was refused by a destination pinned to another cluster (`cluster: NAME`). Nothing was stored there.
public struct ClusterPinError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    public var destination: String
    public var pinned: String
    /// The backup's series, nil when the snapshot has no cluster identity.
    public var found: String?

    public init(destination: String, pinned: String, found: String?) {
        self.destination = destination
        self.pinned = pinned
        self.found = found
    }

    public var description: String {
        guard let found else {
            return "destination \(destination) is pinned to cluster \(pinned) (`cluster: \(pinned)`), and this snapshot's cluster is unknown; "
                + "nothing was stored there. For `lifeboat import`, name its cluster with --cluster \(pinned) if it is one of \(pinned)'s"
        }
        return "destination \(destination) is pinned to cluster \(pinned) (`cluster: \(pinned)`) but this backup is of cluster \(found); "
            + "nothing was stored there. Back up \(found) to a destination of its own, or change the destination's `cluster`"
    }

    public var exitStatus: ExitStatus { .configuration }
}
