// S3 Object Lock against a real S3 API server (moto 5.2): the preflight refuses a bucket without Object Lock; every
// data object and manifest is written as a locked version (single PutObject and multipart); the agent's own
// credentials cannot remove a locked backup (the delete is refused, nothing is hidden); retention keeps a locked
// backup with "locked until T" and removes it, every version of it, on the first prune after the lock expired.
//
// Clocks: moto checks locks against its own (real) clock. The expiry test writes its backups with an injected store
// clock a day and an hour in the past, so their one-day locks have already expired for moto, and plans its first
// prune at an injected instant before that expiry: both decisions come from injected clocks, nothing sleeps.

import Foundation
import NIOCore
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
import LifeboatArchive

@Suite(.serialized) struct S3ObjectLockMotoTests {
    /// A bucket created with Object Lock (moto turns versioning on with it).
    private func lockedBucket(_ s3: S3TestEnvironment) async throws -> String {
        let name = s3.bucket + "-locked"
        let setup = try s3.makeStore(direct: true, retry: .none, bucket: name)
        try await setup.client.createBucket(region: "us-east-1", objectLockEnabled: true)
        return name
    }

    /// Stores one backup (data object of `size` bytes, then its manifest) the way BackupRunner does.
    private func storeBackup(_ repository: BackupRepository, at date: Date, size: Int) async throws -> BackupManifest {
        var generator = SystemRandomNumberGenerator()
        let id = BackupID.generate(at: date, using: &generator)
        let pending = try await repository.begin(id)
        try await pending.append(StoreBytes.random(size, seed: UInt64(size)))
        let info = try await pending.commit()
        var manifest = ManifestSamples.manifest(id: id, offset: 0, tags: [])
        manifest.storedSize = info.size
        manifest.verifications = []
        manifest.objectLock = info.lock
        try await repository.commit(manifest)
        return manifest
    }

    @Test("preflight: a bucket without Object Lock is refused with how to enable it; a locked bucket passes")
    func preflight() async throws {
        try await S3TestEnvironment.with { s3 in
            let plain = try s3.makeStore(objectLock: S3ObjectLockSetting(mode: .compliance, days: 1))
            let error = await #expect(throws: S3Error.self) { try await plain.checkObjectLock() }
            #expect(error?.kind == .configuration)
            #expect("\(error.map { "\($0)" } ?? "")".contains("does not have Object Lock enabled"))
            #expect("\(error.map { "\($0)" } ?? "")".contains("--object-lock-enabled-for-bucket"))

            let locked = try s3.makeStore(bucket: try await lockedBucket(s3), objectLock: S3ObjectLockSetting(mode: .compliance, days: 1))
            try await locked.checkObjectLock()
            // A store without object_lock never asks.
            try await s3.makeStore().checkObjectLock()
        }
    }

    @Test("locked backups: every object carries the lock, the manifest records it, the agent's credentials cannot remove it")
    func lockedBackupSurvivesTheAgentsCredentials() async throws {
        try await S3TestEnvironment.with { s3 in
            let bucket = try await lockedBucket(s3)
            let store = try s3.makeStore(bucket: bucket, objectLock: S3ObjectLockSetting(mode: .compliance, days: 1))
            let repository = BackupRepository(store: store)
            let now = Date()
            // One single-PutObject backup and one multipart backup (moto ignores the lock headers of
            // CreateMultipartUpload, so that one is locked by PutObjectRetention after the commit).
            let small = try await storeBackup(repository, at: now.addingTimeInterval(-7200), size: 4096)
            let large = try await storeBackup(repository, at: now.addingTimeInterval(-3600), size: 6 * 1024 * 1024 + 17)
            for manifest in [small, large] {
                let recorded = try #require(manifest.objectLock)
                #expect(recorded.mode == .compliance)
                #expect(abs(recorded.retainUntil.timeIntervalSince(now.addingTimeInterval(86_400))) < 120)
                let lock = try #require(try await repository.objectLock(of: manifest))
                #expect(lock.holds(at: now))
                #expect(try await store.objectLock(of: manifest.dataObject) == recorded)
                // The manifest round-trips the record.
                #expect(try await repository.manifest(manifest.id).objectLock == recorded)
            }
            // The repository's own lock objects are not locked: they must stay removable.
            let lock = try await StoreLock.acquire(store: store, mode: .exclusive, operation: "test",
                                                   timing: StoreLockTiming(staleAfter: 900, wait: 0, clock: { Date() }))
            await lock.release()
            #expect(try await store.list(prefix: "locks/").isEmpty)

            // The agent's credentials: deleting the backup (every version, by version id) is refused ...
            let error = await #expect(throws: StoreError.self) { try await repository.delete(small.id) }
            #expect(error?.kind == .permissionDenied)
            // ... and hides nothing: both backups are still listed and readable.
            let listing = try await repository.list()
            #expect(listing.backups.map(\.id) == [small.id, large.id])
            #expect(listing.problems.isEmpty)
            #expect(try await store.get(small.dataObject) == StoreBytes.random(4096, seed: 4096))
            // A plain DeleteObject (what an intruder with these credentials can send) only adds a delete marker:
            // the locked version stays, and removing it by version id is refused.
            let dataKey = store.key(for: large.dataObject)
            try await store.client.deleteObject(key: dataKey)
            let versions = try await store.client.listObjectVersions(prefix: dataKey)
            let kept = try #require(versions.first { !$0.isDeleteMarker })
            #expect(versions.contains { $0.isDeleteMarker })
            await #expect(throws: S3Error.self) { try await store.client.deleteObject(key: dataKey, versionID: kept.versionID) }
            #expect(try await store.client.listObjectVersions(prefix: dataKey).contains { $0.versionID == kept.versionID })

            // Retention keeps the locked backup the policy would remove, and says until when.
            let run = try await RetentionRun.apply(RetentionPolicy(keepLast: .limited(1)), to: repository, now: now, dryRun: false)
            #expect(run.removed.isEmpty)
            let decision = try #require(run.decisions.first { $0.candidate.id == small.id.rawValue })
            #expect(decision.isKept)
            #expect(decision.reasons.map(\.rule) == [.locked])
            #expect(decision.reasons.first?.description.hasPrefix("locked until 20") == true)
        }
    }

    @Test("retention: kept while locked, removed (every version) by the first prune after the lock expired")
    func prunedAfterTheLockExpires() async throws {
        try await S3TestEnvironment.with { s3 in
            let bucket = try await lockedBucket(s3)
            // Written a day and an hour ago (injected store clock): the one-day governance locks expired an hour ago
            // for moto. Lifeboat never sends the governance bypass header, so until then not even governance mode
            // lets it remove them.
            let written = Date().addingTimeInterval(-86_400 - 3600)
            let store = try s3.makeStore(bucket: bucket, objectLock: S3ObjectLockSetting(mode: .governance, days: 1),
                                         clock: { written })
            let repository = BackupRepository(store: store)
            let old = try await storeBackup(repository, at: written.addingTimeInterval(-60), size: 1024)
            let new = try await storeBackup(repository, at: written, size: 2048)
            let until = try #require(old.objectLock).retainUntil  // whole seconds
            #expect(old.objectLock == StoreObjectLock(mode: .governance, retainUntil: written.addingTimeInterval(86_400)))

            // A prune planned before the expiry keeps the old backup: "locked until T".
            let policy = RetentionPolicy(keepLast: .limited(1))
            let early = try await RetentionRun.apply(policy, to: repository, now: until.addingTimeInterval(-60), dryRun: false)
            #expect(early.removed.isEmpty)
            let kept = try #require(early.decisions.first { $0.candidate.id == old.id.rawValue })
            #expect(kept.reasons == [RetentionReason(rule: .locked, until: until)])
            #expect(kept.reasons.first?.description == "locked until \(ISO8601DateFormatter().string(from: until))")

            // The first prune after the expiry removes it, every version of both objects (no delete marker left
            // paying for storage); the newer backup stays.
            let late = try await RetentionRun.apply(policy, to: repository, now: until.addingTimeInterval(60), dryRun: false)
            #expect(late.removed == [old.id.rawValue])
            #expect(try await repository.list().backups.map(\.id) == [new.id])
            for name in [old.dataObject, BackupRepository.manifestObjectName(for: old.id)] {
                #expect(try await store.client.listObjectVersions(prefix: store.key(for: name)).isEmpty)
            }
        }
    }
}
