// One snapshot, several destinations: the same archive under the same id on every destination that works; a
// destination that fills up mid-stream is dropped with nothing left on it; a bad snapshot stores nothing anywhere;
// a destination locked by another run is reported as such. In-process, on a real Vault snapshot fixture.

import Foundation
import LifeboatArchive
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

@Suite struct MultiDestinationBackupTests {
    let source = FileSnapshotSource(path: fixturesDirectory.appendingPathComponent("backup.snap").path)
    let key = ArchiveKey.generate()
    var secret: EncryptionSecret { .key(key) }

    func target(_ name: String, _ store: MemoryStore) -> BackupTarget {
        BackupTarget(name: name, repository: BackupRepository(store: store))
    }

    /// Everything in `store`, temporary objects included.
    func objects(_ store: MemoryStore) async throws -> [String] {
        try await store.list(prefix: "").map(\.name).sorted()
    }

    @Test func everyDestinationGetsTheSameArchiveUnderTheSameID() async throws {
        let a = MemoryStore(name: "a"), b = MemoryStore(name: "b")
        let result = try await BackupRunner.run(source: source, targets: [target("a", a), target("b", b)], secret: secret,
                                                options: BackupOptions(chunkSize: 4096))
        #expect(result.stored == ["a", "b"])
        #expect(result.failures.isEmpty)
        let object = result.manifest.dataObject
        let bytesA = try await a.get(object, limit: 1 << 30)
        let bytesB = try await b.get(object, limit: 1 << 30)
        #expect(bytesA == bytesB)
        #expect(Int64(bytesA.count) == result.manifest.storedSize)
        #expect(try await BackupRepository(store: b).manifest(result.manifest.id) == result.manifest)
    }

    @Test func aDestinationThatFillsUpIsDroppedAndTheOtherKeepsTheBackup() async throws {
        let roomy = MemoryStore(name: "roomy"), full = MemoryStore(name: "full", capacity: 10_000)
        let result = try await BackupRunner.run(source: source, targets: [target("roomy", roomy), target("full", full)],
                                                secret: secret, options: BackupOptions(chunkSize: 4096))
        #expect(result.stored == ["roomy"])
        #expect(result.failures.map(\.destination) == ["full"])
        #expect(result.isPartial)
        // Nothing half-written is left on the full destination; the other one holds manifest and data.
        #expect(try await objects(full).isEmpty)
        #expect(try await objects(roomy) == [result.manifest.dataObject, BackupRepository.manifestObjectName(for: result.manifest.id)].sorted())
        _ = try await BackupExporter.read(result.manifest, from: BackupRepository(store: roomy), keyRing: KeyRing(keys: [key]))
    }

    @Test func whenNoDestinationCanStoreItEveryReasonIsReported() async throws {
        let a = MemoryStore(name: "a", capacity: 5_000), b = MemoryStore(name: "b", capacity: 7_000)
        let error = await #expect(throws: DestinationsFailedError.self) {
            try await BackupRunner.run(source: source, targets: [target("a", a), target("b", b)], secret: secret,
                                       options: BackupOptions(chunkSize: 4096))
        }
        #expect(error?.failures.map(\.destination).sorted() == ["a", "b"])
        #expect(error?.exitStatus == .ioError)
        #expect(error?.description.contains("nothing was stored") == true)
        #expect(try await objects(a).isEmpty)
        #expect(try await objects(b).isEmpty)
    }

    @Test func aTruncatedSnapshotIsStoredNowhere() async throws {
        let directory = NSTemporaryDirectory() + "lifeboat-multi-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let whole = try Data(contentsOf: fixturesDirectory.appendingPathComponent("backup.snap"))
        let truncated = directory + "/truncated.snap"
        try whole.prefix(whole.count * 2 / 3).write(to: URL(fileURLWithPath: truncated))
        let a = MemoryStore(name: "a"), b = MemoryStore(name: "b")
        await #expect(throws: BackupError.self) {
            try await BackupRunner.run(source: FileSnapshotSource(path: truncated), targets: [target("a", a), target("b", b)],
                                       secret: secret, options: BackupOptions(chunkSize: 4096, attempts: 1))
        }
        #expect(try await objects(a).isEmpty)
        #expect(try await objects(b).isEmpty)
    }

    @Test func aLockedDestinationIsSkippedAndNamedAndAllLockedExitsSeventyFive() async throws {
        let directory = NSTemporaryDirectory() + "lifeboat-multi-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func local(_ name: String) throws -> OpenedDestination {
            let store = try LocalStore(directory: directory + "/" + name, createIfMissing: true)
            return OpenedDestination(
                configuration: .init(name: name, storage: .local(.init(path: store.directory)), retention: RetentionPolicy(keepLast: .limited(1))),
                repository: BackupRepository(store: store), lockDirectory: store.directory)
        }
        let free = try local("free"), busy = try local("busy")
        let held = try await busy.lock(.write, operation: "another backup")
        let report = try await ConfiguredBackup.run(source: source, destinations: [free, busy], secret: secret)
        #expect(report.stored == ["free"])
        #expect(report.isPartial)
        #expect(report.destinations[1].error?.contains("another backup") == true, "\(report.destinations[1])")
        #expect(PartialBackupError(report: report).exitStatus == .partial)
        #expect(report.destinations[0].kept == 1)

        let freeHeld = try await free.lock(.exclusive, operation: "a prune")
        let error = await #expect(throws: DestinationsFailedError.self) {
            try await ConfiguredBackup.run(source: source, destinations: [free, busy], secret: secret)
        }
        #expect(error?.exitStatus == .lockHeld)
        await freeHeld.release()
        await held.release()
    }

    @Test func theAgentCountsABackupMissingOnADestinationAsAFailure() async throws {
        try await RecoveryFixture.with { fixture in
            let directory = fixture.directory
            func local(_ name: String) throws -> OpenedDestination {
                let store = try LocalStore(directory: directory + "/" + name, createIfMissing: true)
                return OpenedDestination(configuration: .init(name: name, storage: .local(.init(path: store.directory))),
                                         repository: BackupRepository(store: store), lockDirectory: store.directory)
            }
            let good = try local("good"), broken = try local("broken")
            let jobs = ConfiguredAgentJobs(client: fixture.client, setup: .init(
                destinations: [good, broken], secret: .key(fixture.archiveKey), keyRing: KeyRing(keys: [fixture.archiveKey]),
                onlyIfLeader: false))
            // Both fine: stored on both.
            let outcome = try await jobs.runBackup(destinations: ["good", "broken"])
            #expect(outcome.destinations == ["good", "broken"])
            // The second one's data directory becomes a file: the run fails with store_unavailable, naming it.
            try FileManager.default.removeItem(atPath: directory + "/broken/data")
            try Data("x".utf8).write(to: URL(fileURLWithPath: directory + "/broken/data"))
            let error = await #expect(throws: AgentJobError.self) { try await jobs.runBackup(destinations: ["good", "broken"]) }
            #expect(error?.reason == .storeUnavailable)
            #expect(error?.message.contains("NOT on broken") == true, "\(String(describing: error))")
            #expect(try await good.repository.list().backups.count == 2)
            // Verification reads every destination's newest backup.
            let verified = try await jobs.runVerify(destinations: ["good"])
            #expect(verified.backupsChecked == 1)
            await jobs.close()
        }
    }
}
