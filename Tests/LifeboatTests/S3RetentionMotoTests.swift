// Retention on a real S3 API server with more backups than one ListObjectsV2 page holds: 2,500 hourly backups
// (manifest and data object each) on moto, pruned with a daily/hourly policy. Agents that stop listing after the
// first 1,000 keys would see only the oldest backups and prune the wrong ones. (About four minutes against moto on
// a busy two-core machine: moto answers 50-100 requests a second.)

import Foundation
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting

@Suite(.serialized) struct S3RetentionMotoTests {
    @Test("2,500 backups on S3 are pruned exactly as the planner decides, across listing pages")
    func pruneTwentyFiveHundredBackups() async throws {
        try await S3TestEnvironment.with { s3 in
            let store = try s3.makeStore(prefix: "prune/")
            let repository = BackupRepository(store: store)
            let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z
            // No generator captured `inout` by the closure: ThreadSanitizer's runtime crashed (SEGV inside its own
            // access check) on that capture in this async function (docs/sanitizers.md).
            let manifests = (0..<2_500).map { hour -> BackupManifest in
                let id = BackupID.generate(at: start.addingTimeInterval(Double(hour) * 3600))
                var manifest = ManifestSamples.manifest(id: id, offset: 0, tags: [])
                manifest.storedSize = 16
                manifest.verifications = []
                return manifest
            }
            // Upload concurrently (moto answers one request per thread).
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, manifest) in manifests.enumerated() {
                    if index >= 16 { try await group.next() }
                    group.addTask {
                        _ = try await store.put(manifest.dataObject, [UInt8](repeating: 7, count: 16))
                        try await repository.commit(manifest)
                    }
                }
                try await group.waitForAll()
            }
            let policy = RetentionPolicy(keepLast: .limited(24), keepDaily: .limited(30))
            let now = start.addingTimeInterval(2_500 * 3600)
            let expected = try RetentionPlanner.plan(manifests.reversed().map(\.retentionCandidate), policy: policy, now: now)
            let expectedKept = Set(expected.filter(\.isKept).map(\.candidate.id))
            #expect(expectedKept.count < 60)

            // The dry run sees all 2,500 (every listing page) and removes nothing.
            let dry = try await RetentionRun.apply(policy, to: repository, now: now, dryRun: true)
            #expect(dry.decisions.count == 2_500)
            #expect(dry.removed.isEmpty)
            let run = try await RetentionRun.apply(policy, to: repository, now: now, dryRun: false)
            #expect(run.removed.count == 2_500 - expectedKept.count)
            let left = try await repository.list()
            #expect(Set(left.backups.map(\.id.rawValue)) == expectedKept)
            #expect(left.problems.isEmpty, "no manifest without data, no data without manifest")
            // The newest backup and the oldest of each kept day survive; data objects went with their manifests.
            #expect(expectedKept.contains(manifests.last!.id.rawValue))
            let dataObjects = try await store.list(prefix: BackupRepository.dataPrefix)
            #expect(dataObjects.count == expectedKept.count)
        }
    }
}
