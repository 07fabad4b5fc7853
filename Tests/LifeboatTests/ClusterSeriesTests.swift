// Several Vault clusters, one repository: two vault-sim clusters (in-process, real HTTP) back up, interleaved, into
// one local repository and one moto S3 destination; retention, applied after backups and by prune, must keep each
// cluster's series exactly as its policy says for that series alone. A pinned destination refuses the other cluster.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatBase
import VaultSim

/// One in-process simulated cluster and a client for it.
final class SeriesCluster: @unchecked Sendable {
    let sim: VaultSimulator
    let client: VaultClient
    let directory: String
    let name: String

    static func start() async throws -> SeriesCluster {
        let directory = NSTemporaryDirectory() + "lifeboat-series-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let sim = try await RecoveryFixture.startSimulator(nodes: 1, directory: directory + "/sim")
        let result = try await sim.initializeCluster(shares: 1, threshold: 1)
        for node in sim.nodes where node.sealed { try sim.unseal(node.id, keys: result.keysBase64) }
        let client = try VaultClient(configuration: try VaultClientConfiguration(
            addresses: sim.nodes.map(\.apiAddress), authentication: .token(VaultSecret(result.rootToken))))
        _ = try await sim.waitForActive(timeout: .seconds(60))  // generous: a loaded machine elects late
        let health = try await client.health(at: sim.nodes[0].apiAddress).health
        guard let name = health.clusterName else { throw E2EError("vault-sim reported no cluster_name") }
        return SeriesCluster(sim: sim, client: client, directory: directory, name: name)
    }

    private init(sim: VaultSimulator, client: VaultClient, directory: String, name: String) {
        self.sim = sim
        self.client = client
        self.directory = directory
        self.name = name
    }

    func stop() async {
        try? await client.shutdown()
        await sim.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A clock the test moves.
final class SteppedClock: Sendable {
    private let current: PThreadLocked<Date>
    init(_ start: Date) { current = PThreadLocked(start) }
    func now() -> Date { current.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { current.withLock { $0 += seconds } }
}

@Suite(.serialized) struct ClusterSeriesTests {
    let key = ArchiveKey.generate()
    let policy = RetentionPolicy(keepLast: 3, keepDaily: 2)

    func destination(_ name: String, local path: String, pinned: String? = nil) throws -> OpenedDestination {
        let store = try LocalStore(directory: path, createIfMissing: true)
        return OpenedDestination(
            configuration: .init(name: name, storage: .local(.init(path: path)), retention: policy, cluster: pinned),
            repository: BackupRepository(store: store), lockDirectory: store.directory)
    }

    func destination(_ name: String, s3 store: S3Store, lockDirectory: String, pinned: String? = nil) throws -> OpenedDestination {
        try FileManager.default.createDirectory(atPath: lockDirectory, withIntermediateDirectories: true)
        return OpenedDestination(
            configuration: .init(name: name, storage: .s3(.init(bucket: store.configuration.bucket)), retention: policy, cluster: pinned),
            repository: BackupRepository(store: store), lockDirectory: lockDirectory)
    }

    @Test func interleavedBackupsAndPrunesKeepEachClustersSeriesAsItsPolicySays() async throws {
        let a = try await SeriesCluster.start()
        let b = try await SeriesCluster.start()
        defer { Task { await a.stop(); await b.stop() } }
        #expect(a.name != b.name)
        let scratch = NSTemporaryDirectory() + "lifeboat-series-repo-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await S3TestEnvironment.with { env in
            let destinations = [
                try destination("local", local: scratch + "/repository"),
                try destination("bucket", s3: try env.makeStore(prefix: "shared/"), lockDirectory: scratch + "/locks/bucket"),
            ]
            let clock = SteppedClock(Date(timeIntervalSince1970: 1_767_571_200))  // 2026-01-05T00:00:00Z
            // The model: each cluster's series, pruned by the planner over that series alone.
            var model: [String: [(id: String, time: Date, offset: Int)]] = [a.name: [], b.name: []]
            func applyModel() throws {
                for (name, series) in model {
                    let decisions = try RetentionPlanner.plan(
                        series.reversed().map { RetentionCandidate(id: $0.id, time: $0.time, utcOffsetSeconds: $0.offset) },
                        policy: policy, now: clock.now())
                    let kept = Set(decisions.filter(\.isKept).map(\.candidate.id))
                    model[name] = series.filter { kept.contains($0.id) }
                }
            }
            var warned: [String: [String]] = [:]
            // Cluster a backs up every 5 hours, b irregularly; retention runs after some backups and in prunes.
            let pattern: [SeriesCluster] = [a, a, b, a, b, b, a, a, a, b, a, b, a, a, b, a, b, b, a, a]
            for (step, cluster) in pattern.enumerated() {
                let retain = step % 3 != 1
                let report = try await ConfiguredBackup.run(
                    source: VaultSnapshotSource(client: cluster.client), destinations: destinations, secret: .key(key),
                    options: BackupOptions(attempts: 1), applyRetention: retain, now: { clock.now() })
                #expect(report.stored == ["local", "bucket"], "\(report.destinations)")
                #expect(report.manifest.cluster.name == cluster.name)
                #expect(report.manifest.cluster.id != nil)
                #expect(report.manifest.vaultVersion != nil)
                for destination in report.destinations { warned[destination.destination, default: []] += destination.warnings }
                model[cluster.name, default: []].append((report.manifest.id.rawValue, report.manifest.createdAt.date, report.manifest.createdAt.utcOffsetSeconds))
                if retain { try applyModel() }
                if step % 7 == 6 {
                    for destination in destinations {
                        _ = try await RetentionRun.apply(policy, to: destination.repository, grouping: destination.configuration.groupBy,
                                                         now: clock.now(), dryRun: false)
                    }
                    try applyModel()
                }
                clock.advance(step % 2 == 0 ? 5 * 3600 : 11 * 3600)
            }
            // Each destination holds exactly each cluster's series as the policy keeps it for that series alone.
            for destination in destinations {
                let backups = try await destination.repository.list().backups
                for cluster in [a, b] {
                    let stored = backups.filter { $0.cluster.name == cluster.name }.map(\.id.rawValue).sorted()
                    let expected = (model[cluster.name] ?? []).map(\.id).sorted()
                    #expect(stored == expected, "\(destination.name), cluster \(cluster.name)")
                    #expect(stored.count >= 3)
                }
                #expect(backups.count == model.values.map(\.count).reduce(0, +))
                // b's first backup started a new series here, with a warning, once.
                #expect(warned[destination.name]?.count == 1, "\(warned)")
                #expect(warned[destination.name]?.first?.contains("cluster \(b.name) starts a series of its own") == true)
                // The registry knows both clusters.
                let registry = try await destination.repository.clusterRegistry()
                #expect(registry.stored)
                #expect(Set(registry.registry.seriesNames) == [a.name, b.name])
                // Treating the destination as one series (the old behaviour) would thin out the clusters: the
                // grouping is what keeps them.
                let ungrouped = try RetentionRun.plan(backups, policy: policy, grouping: .none, now: clock.now())
                #expect(ungrouped.flatMap(\.decisions).contains { !$0.isKept })
            }
        }
    }

    @Test func aPinnedDestinationRefusesTheOtherClusterAndKeepsNothingOfIt() async throws {
        let a = try await SeriesCluster.start()
        let b = try await SeriesCluster.start()
        defer { Task { await a.stop(); await b.stop() } }
        let scratch = NSTemporaryDirectory() + "lifeboat-series-pin-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await S3TestEnvironment.with { env in
            let pinnedLocal = try destination("pinned", local: scratch + "/pinned", pinned: a.name)
            let pinnedBucket = try destination("pinned-bucket", s3: try env.makeStore(prefix: "pinned/"),
                                               lockDirectory: scratch + "/locks", pinned: a.name)
            let open = try destination("open", local: scratch + "/open")
            let first = try await ConfiguredBackup.run(source: VaultSnapshotSource(client: a.client),
                                                       destinations: [pinnedLocal, pinnedBucket, open], secret: .key(key))
            #expect(first.stored == ["pinned", "pinned-bucket", "open"])
            // b into the pinned destinations and an open one: stored only on the open one, exit 3 (partial).
            let second = try await ConfiguredBackup.run(source: VaultSnapshotSource(client: b.client),
                                                        destinations: [pinnedLocal, pinnedBucket, open], secret: .key(key))
            #expect(second.stored == ["open"])
            for refused in second.destinations where !refused.stored {
                #expect(refused.error?.contains("pinned to cluster \(a.name)") == true, "\(refused)")
                #expect(refused.error?.contains("this backup is of cluster \(b.name)") == true)
            }
            // Nothing of b's backup is left on the pinned destinations: no manifest, no data object.
            for pinned in [pinnedLocal, pinnedBucket] {
                let names = try await pinned.repository.store.list(prefix: "").map(\.name)
                #expect(!names.contains { $0.contains(second.manifest.id.rawValue) }, "\(names)")
                #expect(try await pinned.repository.list().backups.map(\.id) == [first.manifest.id])
            }
            // Only b into a pinned destination alone: the pin's own error, exit 78.
            await #expect(throws: ClusterPinError.self) {
                _ = try await ConfiguredBackup.run(source: VaultSnapshotSource(client: b.client), destinations: [pinnedLocal],
                                                   secret: .key(key))
            }
        }
    }
}
