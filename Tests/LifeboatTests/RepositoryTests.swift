// BackupRepository over every store: the manifest-last protocol, crash leftovers and their cleanup, listing with
// problems, delete order, verification records; plus a 10,000-backup listing benchmark (LIFEBOAT_BENCH=1).

import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import Testing

enum RepositoryTestSupport {
    /// Stores `bytes` as backup `id` the way the backup command does: data first, manifest last.
    @discardableResult
    static func store(_ repository: BackupRepository, id: BackupID, bytes: [UInt8], offset: Int = 0,
                      tags: [String] = []) async throws -> BackupManifest {
        let pending = try await repository.begin(id)
        do {
            for start in stride(from: 0, to: bytes.count, by: 4096) {
                try await pending.append(Array(bytes[start..<min(bytes.count, start + 4096)]))
            }
            try await pending.commit()
        } catch {
            await pending.abort()
            throw error
        }
        var manifest = ManifestSamples.manifest(id: id, offset: offset, tags: tags)
        manifest.storedSize = Int64(bytes.count)
        manifest.verifications = []
        try await repository.commit(manifest)
        return manifest
    }

    /// Writes a file without fsync (FileManager.createFile syncs, which makes 20,000 files take minutes).
    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw FileIOError(path: path, operation: "create", code: errno) }
        defer { close(fd) }
        try FileDescriptorIO.writeAll(fd, bytes, path: path)
    }

    static func id(_ minute: Int, _ suffix: String = "0000") -> BackupID {
        BackupID(rawValue: String(format: "20261128T%02d%02d00Z-", minute / 60, minute % 60) + suffix)!
    }
}

/// A store that fails deletes of chosen objects: proves the order in which the repository deletes.
struct RepositoryFailingDeleteStore: ForwardingStore {
    let base: any BackupStore
    let failingPrefix: String

    func delete(_ name: String) async throws {
        if name.hasPrefix(failingPrefix) {
            throw StoreError(.unavailable, store: displayName, operation: "delete", object: name, detail: "injected")
        }
        try await base.delete(name)
    }
}

@Suite("BackupRepository")
struct RepositoryTests {
    @Test(arguments: StoreKind.allCases)
    func backupBecomesVisibleOnlyWithItsManifest(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let id = RepositoryTestSupport.id(0)
        let bytes = StoreBytes.random(50_000, seed: 21)

        let pending = try await repository.begin(id)
        #expect(pending.name == "data/20261128T000000Z-0000.lbk")
        try await pending.append(bytes)
        #expect(try await repository.list().backups.isEmpty)
        try await pending.commit()
        // Data committed, manifest not yet written: still no backup.
        #expect(try await repository.list() == BackupListing(backups: [], problems: []))
        await #expect(throws: ManifestError.backupNotFound(id, store: fixture.store.displayName)) { try await repository.manifest(id) }

        var manifest = ManifestSamples.manifest(id: id)
        manifest.storedSize = Int64(bytes.count)
        try await repository.commit(manifest)
        let listing = try await repository.list()
        #expect(listing.backups == [manifest])
        #expect(listing.problems.isEmpty)
        #expect(try await repository.manifest(id) == manifest)

        var read: [UInt8] = []
        for try await chunk in repository.dataChunks(of: manifest, chunkSize: 10_000) { read += chunk }
        #expect(read == bytes)
        #expect(try await fixture.store.list(prefix: "").map(\.name)
                == ["data/20261128T000000Z-0000.lbk", "manifests/20261128T000000Z-0000.json"])
    }

    @Test(arguments: StoreKind.allCases)
    func manifestIsCheckedAgainstItsData(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let id = RepositoryTestSupport.id(1)

        // No data object at all.
        var manifest = ManifestSamples.manifest(id: id)
        await #expect(throws: ManifestError.self) { try await repository.commit(manifest) }

        // Wrong size.
        let pending = try await repository.begin(id)
        try await pending.append([1, 2, 3])
        try await pending.commit()
        manifest.storedSize = 4
        do {
            try await repository.commit(manifest)
            Issue.record("a manifest with the wrong size was published")
        } catch let error as ManifestError {
            #expect(error.description.contains("stored_size is 4 but data/20261128T000100Z-0000.lbk holds 3 bytes"))
        }
        // A data object name that is not the id's.
        manifest.storedSize = 3
        manifest.dataObject = "data/other.lbk"
        await #expect(throws: ManifestError.self) { try await repository.commit(manifest) }
        #expect(try await repository.list().backups.isEmpty)

        manifest.dataObject = BackupRepository.dataObjectName(for: id)
        try await repository.commit(manifest)
        #expect(try await repository.list().backups.map(\.id) == [id])
    }

    @Test(arguments: StoreKind.allCases)
    func anIDIsUsedOnce(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let id = RepositoryTestSupport.id(2)
        let original = try await RepositoryTestSupport.store(repository, id: id, bytes: [1, 2, 3])
        await expectStoreError(.alreadyExists) { try await repository.begin(id) }
        var second = original
        second.tags = ["changed"]
        await expectStoreError(.alreadyExists) { try await repository.commit(second) }
        #expect(try await repository.manifest(id) == original)
    }

    @Test(arguments: StoreKind.allCases)
    func crashLeftoversAreInvisibleAndCleanedWhenOld(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let complete = try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(10), bytes: [1])

        // Killed while streaming: a pending data object, never committed nor aborted.
        try await fixture.abandonPendingObject(BackupRepository.dataObjectName(for: RepositoryTestSupport.id(11)), [2, 2])
        // Killed between the data commit and the manifest.
        let orphanData = try await repository.begin(RepositoryTestSupport.id(12))
        try await orphanData.append([3, 3, 3])
        try await orphanData.commit()

        #expect(try await repository.list() == BackupListing(backups: [complete], problems: []))

        // Young leftovers may belong to a run in progress: untouched.
        let early = try await repository.cleanupLeftovers(olderThan: Date().addingTimeInterval(-3600))
        #expect(early.isEmpty)

        let cleanup = try await repository.cleanupLeftovers(olderThan: Date().addingTimeInterval(3600))
        #expect(cleanup.pendingObjects.count == 1)
        #expect(cleanup.dataWithoutManifest == ["data/20261128T001200Z-0000.lbk"])
        #expect(try await fixture.store.list(prefix: "").map(\.name)
                == ["data/20261128T001000Z-0000.lbk", "manifests/20261128T001000Z-0000.json"])
        #expect(try await repository.list().backups == [complete])
        // Both ids can be used again.
        try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(11), bytes: [4])
        try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(12), bytes: [5])
        #expect(try await repository.list().backups.count == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func listIsSortedByIDAndReportsProblems(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let store = fixture.store
        let repository = BackupRepository(store: store)
        var generator = SeededRandomNumberGenerator(seed: 99)
        let minutes = Array(0..<40).shuffled(using: &generator)
        for minute in minutes {
            try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(minute, "beef"), bytes: [UInt8(minute)])
        }
        // Damage: an unreadable manifest, a manifest whose data is gone, one whose data has another size,
        // a manifest stored under another id's name, and a stray file that is not a manifest.
        try await store.put("manifests/20261128T010000Z-0bad.json", Array("{ truncated".utf8))
        try await store.delete(BackupRepository.dataObjectName(for: RepositoryTestSupport.id(5, "beef")))
        try await store.delete(BackupRepository.dataObjectName(for: RepositoryTestSupport.id(6, "beef")))
        try await store.put(BackupRepository.dataObjectName(for: RepositoryTestSupport.id(6, "beef")), [1, 2])
        let misplaced = try await store.get(BackupRepository.manifestObjectName(for: RepositoryTestSupport.id(7, "beef")))
        try await store.put("manifests/20261128T020000Z-0001.json", misplaced)
        try await store.put("manifests/README.txt", Array("hello".utf8))

        let listing = try await repository.list()
        #expect(listing.backups.map(\.id) == (0..<40).map { RepositoryTestSupport.id($0, "beef") })
        #expect(listing.problems.map(\.kind) == [.dataMissing, .dataSizeMismatch, .unreadableManifest, .unreadableManifest])
        #expect(listing.problems.map(\.object) == [
            "data/20261128T000500Z-beef.lbk", "data/20261128T000600Z-beef.lbk",
            "manifests/20261128T010000Z-0bad.json", "manifests/20261128T020000Z-0001.json",
        ])
        #expect(listing.problems[1].detail.contains("holds 2 bytes, the manifest says 1"))
        #expect(listing.problems[2].id == BackupID(rawValue: "20261128T010000Z-0bad"))
        #expect(listing.problems[3].detail.contains("it describes backup 20261128T000700Z-beef"))
    }

    @Test(arguments: StoreKind.allCases)
    func deleteRemovesManifestThenData(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let keep = try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(20), bytes: [1])
        let gone = RepositoryTestSupport.id(21)
        try await RepositoryTestSupport.store(repository, id: gone, bytes: [2])
        try await repository.delete(gone)
        #expect(try await repository.list().backups == [keep])
        #expect(try await fixture.store.list(prefix: "data/").map(\.name) == ["data/20261128T002000Z-0000.lbk"])
        await #expect(throws: ManifestError.backupNotFound(gone, store: fixture.store.displayName)) { try await repository.delete(gone) }

        // An unreadable manifest can still be deleted, with its data.
        let broken = RepositoryTestSupport.id(22)
        try await RepositoryTestSupport.store(repository, id: broken, bytes: [3])
        try await fixture.store.put(BackupRepository.manifestObjectName(for: broken), Array("garbage".utf8), mode: .replace)
        try await repository.delete(broken)
        #expect(try await fixture.store.list(prefix: "").count == 2)
    }

    @Test func interruptedDeleteLeavesOnlyALeftover() async throws {
        let memory = MemoryStore()
        let failing = BackupRepository(store: RepositoryFailingDeleteStore(base: memory, failingPrefix: "data/"))
        let id = RepositoryTestSupport.id(30)
        try await RepositoryTestSupport.store(failing, id: id, bytes: [1, 2, 3])
        await expectStoreError(.unavailable) { try await failing.delete(id) }
        // The manifest went first: the backup no longer exists, its data is a leftover for the next cleanup.
        let repository = BackupRepository(store: memory)
        #expect(try await repository.list().backups.isEmpty)
        #expect(try await memory.list(prefix: "data/").count == 1)
        let cleanup = try await repository.cleanupLeftovers(olderThan: Date().addingTimeInterval(60))
        #expect(cleanup.dataWithoutManifest == [BackupRepository.dataObjectName(for: id)])
        #expect(try await memory.list(prefix: "").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func verificationRecordsAndTagsRewriteTheManifest(_ kind: StoreKind) async throws {
        let fixture = try kind.makeFixture()
        let repository = BackupRepository(store: fixture.store)
        let id = RepositoryTestSupport.id(40)
        try await RepositoryTestSupport.store(repository, id: id, bytes: [1, 2])
        #expect(try await repository.manifest(id).retentionCandidate.verified == false)
        let record = BackupManifest.Verification(verifiedAt: ManifestTimestamp(parsing: "2026-11-29T08:00:00+01:00")!, result: .ok)
        let updated = try await repository.recordVerification(record, for: id)
        #expect(updated.lastVerification == record)
        #expect(try await repository.manifest(id) == updated)
        #expect(try await repository.list().backups.first?.retentionCandidate.verified == true)
        try await repository.setTags(["pre-upgrade"], for: id)
        #expect(try await repository.manifest(id).tags == ["pre-upgrade"])
        #expect(try await repository.manifest(id).lastVerification == record)
        await #expect(throws: ManifestError.self) {
            try await repository.recordVerification(record, for: RepositoryTestSupport.id(41))
        }
    }

    @Test func fullStoreKeepsNothingPartial() async throws {
        let memory = MemoryStore(capacity: 100_000)
        let repository = BackupRepository(store: memory)
        let kept = try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(50), bytes: StoreBytes.random(10_000, seed: 1))
        let error = await expectStoreError(.noSpace) {
            try await RepositoryTestSupport.store(repository, id: RepositoryTestSupport.id(51), bytes: StoreBytes.random(200_000, seed: 2))
        }
        #expect(error?.description.contains("nothing partial was kept") == true)
        #expect(await memory.pendingObjectCount == 0)
        #expect(try await repository.list().backups == [kept])
        #expect(try await memory.list(prefix: "").count == 2)
    }

    @Test func objectNamesRoundTripToIDs() {
        let id = RepositoryTestSupport.id(60, "abcd")
        #expect(BackupRepository.backupID(inObjectName: BackupRepository.dataObjectName(for: id)) == id)
        #expect(BackupRepository.backupID(inObjectName: BackupRepository.manifestObjectName(for: id)) == id)
        #expect(BackupRepository.backupID(inObjectName: "data/" + id.rawValue + ".json") == nil)
        #expect(BackupRepository.backupID(inObjectName: "manifests/README.txt") == nil)
    }

    /// Lists 10,000 backups in a local repository and prints how long it took. Times are not asserted (shared,
    /// noisy machines); run with LIFEBOAT_BENCH=1 to see them.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["LIFEBOAT_BENCH"] == "1"))
    func listTenThousandLocalBackups() async throws {
        let scratch = try StoreScratchDirectory("bench")
        let store = try LocalStore(directory: scratch.path)
        // Write the repository directly (fsyncing 20,000 files would measure the disk, not the listing).
        try FileManager.default.createDirectory(atPath: scratch.path + "/data", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: scratch.path + "/manifests", withIntermediateDirectories: true)
        let count = 10_000
        for index in 0..<count {
            let id = BackupID(rawValue: String(format: "2026%02d%02dT%02d%02d00Z-%04x", 1 + index / 2000, 1 + index / 80 % 25,
                                               index / 60 % 24, index % 60, index))!
            var manifest = ManifestSamples.manifest(id: id)
            manifest.storedSize = 1
            try RepositoryTestSupport.writeFile(store.path(of: manifest.dataObject), [0])
            try RepositoryTestSupport.writeFile(store.path(of: BackupRepository.manifestObjectName(for: id)), try manifest.encoded())
        }
        let repository = BackupRepository(store: store)
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        var timings: [String] = []
        for _ in 0..<3 {
            let start = ContinuousClock.now
            let cpuStart = cpuSeconds()
            let listing = try await repository.list()
            let elapsed = ContinuousClock.now - start
            let wall = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            timings.append(String(format: "%.3f s wall / %.3f s CPU", wall, cpuSeconds() - cpuStart))
            #expect(listing.backups.count == count)
            #expect(listing.problems.isEmpty)
        }
        var load = [Double](repeating: 0, count: 3)
        _ = getloadavg(&load, 3)
        print("list() of \(count) local backups: " + timings.joined(separator: ", ")
              + String(format: " (load average %.1f, %d cores)", load[0], ProcessInfo.processInfo.activeProcessorCount))
    }
}
