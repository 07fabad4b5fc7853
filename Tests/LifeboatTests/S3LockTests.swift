// Locks in the bucket: runs on different hosts exclude each other through lock objects created with
// `If-None-Match: *` on moto. In-process with injected clocks (stale takeover without waiting), and with separate
// `lifeboat` processes as separate "hosts" (their own HOME and state directory) against one bucket.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatBase

@Suite(.serialized) struct S3LockTests {
    func timing(_ clock: SteppedClock, staleAfter: TimeInterval = 60) -> StoreLockTiming {
        // A refresh interval far beyond the test, so that only the injected clock ages a lock.
        StoreLockTiming(staleAfter: staleAfter, refreshInterval: 3600, clock: { clock.now() })
    }

    @Test func writersExcludeEachOtherReadersRunBesideAWriterAndPruneWaitsForReaders() async throws {
        try await S3TestEnvironment.with { env in
            let hostA = try env.makeStore(prefix: "locks-test/"), hostB = try env.makeStore(prefix: "locks-test/")
            let clock = SteppedClock(Date(timeIntervalSince1970: 1_800_000_000))
            let backup = try await StoreLock.acquire(store: hostA, mode: .write, operation: "backup", timing: timing(clock), host: "host-a")
            // A second writer on another host: refused, naming the holder.
            let refused = await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: hostB, mode: .write, operation: "backup", timing: timing(clock), host: "host-b")
            }
            #expect(refused?.description.contains("host host-a") == true, "\(String(describing: refused))")
            #expect(refused?.exitStatus == .lockHeld)
            await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: hostB, mode: .exclusive, operation: "prune", timing: timing(clock), host: "host-b")
            }
            // A reader runs beside the backup.
            let verify = try await StoreLock.acquire(store: hostB, mode: .shared, operation: "verify", timing: timing(clock), host: "host-b")
            // The backup cannot upgrade to remove backups while the reader reads.
            #expect(try await backup.upgrade() == false)
            #expect(backup.mode == .write)
            await backup.release()
            // Prune waits for the reader: refused while it reads.
            await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: hostA, mode: .exclusive, operation: "prune", timing: timing(clock), host: "host-a")
            }
            await verify.release()
            let prune = try await StoreLock.acquire(store: hostA, mode: .exclusive, operation: "prune", timing: timing(clock), host: "host-a")
            // Readers are refused while prune holds the destination.
            await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: hostB, mode: .shared, operation: "verify", timing: timing(clock), host: "host-b")
            }
            await prune.release()
            #expect(try await StoreLock.holders(in: hostA).isEmpty)
        }
    }

    @Test func aDeadHoldersLockIsTakenOverOnlyAfterItsDeadline() async throws {
        try await S3TestEnvironment.with { env in
            let store = try env.makeStore(prefix: "stale/")
            let clock = SteppedClock(Date(timeIntervalSince1970: 1_800_000_000))
            // The holder "dies": it never refreshes and never releases.
            let dead = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", timing: timing(clock, staleAfter: 120),
                                                   host: "host-dead")
            clock.advance(119)
            await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", timing: timing(clock), host: "host-b")
            }
            clock.advance(2)
            let taker = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", timing: timing(clock), host: "host-b")
            #expect(taker.previousHolderSummary?.contains("host-dead") == true)
            // The dead run, if it comes back, finds its lock gone and does not remove the new holder's.
            await dead.refresh()
            #expect(dead.isLost)
            await dead.release()
            #expect(try await StoreLock.holders(in: store).map(\.host) == ["host-b"])
            await taker.release()
        }
    }

    /// The race the conditional refresh closes: the lock is taken over between the refresh's read (still this run's)
    /// and its write. A plain replace would write this run's lock back over the new holder's (two holders); with
    /// `If-Match` on the version read, moto refuses the write and the run learns it lost the lock.
    @Test func aRefreshNeverWritesOverATakeoverThatLandsBetweenItsReadAndItsWrite() async throws {
        try await S3TestEnvironment.with { env in
            let s3 = try env.makeStore(prefix: "refresh-race/")
            let store = TakeoverOnReadStore(base: s3)
            let clock = SteppedClock(Date(timeIntervalSince1970: 1_800_000_000))
            let slow = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", timing: timing(clock), host: "host-slow")
            var taker = slow.record
            taker.host = "host-taker"
            taker.runID = StoreLock.newRunID()
            store.arm(replacingWith: try taker.encoded())
            await slow.refresh()
            #expect(slow.isLost)
            #expect(try await StoreLock.holders(in: s3).map(\.host) == ["host-taker"])
            // Upgrading a lost lock fails with its own message instead of removing backups under another run's lock.
            let lost = await #expect(throws: StoreLockError.self) { _ = try await slow.upgrade() }
            #expect(lost == .lost(store: s3.displayName))
            await slow.release()
            #expect(try await StoreLock.holders(in: s3).map(\.host) == ["host-taker"])
        }
    }

    @Test func racingTakeoversLeaveExactlyOneHolder() async throws {
        try await S3TestEnvironment.with { env in
            let store = try env.makeStore(prefix: "race/")
            let clock = SteppedClock(Date(timeIntervalSince1970: 1_800_000_000))
            _ = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", timing: timing(clock, staleAfter: 10), host: "dead")
            clock.advance(11)
            let winners = PThreadLocked<[StoreLock]>([])
            let contenderTiming = timing(clock)
            let contenders = try (0..<6).map { _ in try env.makeStore(prefix: "race/") }
            await withTaskGroup(of: StoreLock?.self) { group in
                for (host, contender) in contenders.enumerated() {
                    group.addTask {
                        try? await StoreLock.acquire(store: contender, mode: .write, operation: "backup",
                                                     timing: contenderTiming, host: "host-\(host)")
                    }
                }
                for await case let lock? in group { winners.withLock { $0.append(lock) } }
            }
            let held = winners.withLock { $0 }
            #expect(held.count == 1, "\(held.map(\.record.host))")
            for lock in held { await lock.release() }
        }
    }

    @Test func anUploadOfALiveRunIsNeverAbortedByAnotherHostsPrune() async throws {
        try await S3TestEnvironment.with { env in
            let hostA = try env.makeStore(prefix: "uploads/", partSize: 5 * 1024 * 1024)
            let hostB = try env.makeStore(prefix: "uploads/")
            let clock = SteppedClock(Date())
            let backup = try await StoreLock.acquire(store: hostA, mode: .write, operation: "backup", timing: timing(clock), host: "host-a")
            let pending = try await hostA.createPendingObject(named: "data/20260101T000000Z-0001.lbk")
            var data = S3TestData(seed: 7)
            try await pending.append(data.bytes(6 * 1024 * 1024))  // one part uploaded: a live multipart upload
            // Host B's prune cannot start while the backup runs, so its cleanup never reaches the upload.
            await #expect(throws: StoreLockError.self) {
                _ = try await StoreLock.acquire(store: hostB, mode: .exclusive, operation: "prune", timing: timing(clock), host: "host-b")
            }
            try await pending.append(data.bytes(1024))
            let committed = try await pending.commit()
            #expect(committed.size == 6 * 1024 * 1024 + 1024)
            await backup.release()
        }
    }
}

/// Separate `lifeboat` processes as hosts: own HOME, own state directory, one bucket.
@Suite(.serialized) struct S3TwoHostTests {
    func configuration(_ workspace: E2EWorkspace, s3: S3TestEnvironment, host: String, extra: String = "",
                       staleAfter: String = "30s") throws -> String {
        let home = workspace.directory + "/\(host)-home"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        let text = """
            keys:
              key_files: [\(workspace.keyFile)]
            destinations:
              - name: shared
                type: s3
                endpoint: \(s3.endpoint)
                bucket: \(s3.bucket)
                prefix: fleet
                path_style: true
                access_key_id: env:LB_TEST_S3_KEY
                secret_access_key: env:LB_TEST_S3_SECRET
                lock_stale_after: \(staleAfter)
            \(extra)
            agent:
              state_file: \(workspace.directory)/\(host)-state/agent-state.json

            """
        let path = workspace.directory + "/\(host).yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func environment(_ workspace: E2EWorkspace, host: String) -> [String: String] {
        ["LB_TEST_S3_KEY": "AKIAMOTOTESTKEY", "LB_TEST_S3_SECRET": "moto-test-secret", "HOME": workspace.directory + "/\(host)-home"]
    }

    /// Runs two processes at once and returns both results.
    func concurrently(_ first: @escaping @Sendable () async throws -> ProcessResult,
                      _ second: @escaping @Sendable () async throws -> ProcessResult) async throws -> (ProcessResult, ProcessResult) {
        async let a = first()
        async let b = second()
        return try await (a, b)
    }

    @Test func verifyRacingPruneLeavesNoGhostManifests() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await S3TestEnvironment.with { s3 in
            let hostA = try configuration(workspace, s3: s3, host: "a"), hostB = try configuration(workspace, s3: s3, host: "b")
            let envA = environment(workspace, host: "a"), envB = environment(workspace, host: "b")
            let store = try s3.makeStore(prefix: "fleet/")
            let repository = BackupRepository(store: store)
            let key = try ArchiveKey.load(path: workspace.keyFile)
            let source = FileSnapshotSource(path: fixturesDirectory.appendingPathComponent("backup.snap").path)
            for round in 1...20 {
                for index in 0..<3 {
                    // Distinct creation times (a second apart), so that "newest" is never a tie.
                    let taken = Date().addingTimeInterval(Double(round * 10 + index) - 3600)
                    _ = try await BackupRunner.run(source: source, repository: repository, secret: .key(key), now: { taken })
                }
                let (verify, prune) = try await concurrently(
                    { try await lifeboat(["verify", "--all", "--config", hostA, "--lock-wait", "60s"], environment: envA) },
                    { try await lifeboat(["prune", "--keep-last", "1", "--config", hostB, "--lock-wait", "60s"], environment: envB) })
                #expect(verify.status == 0, "round \(round): \(verify.stdout)\n\(verify.stderr)")
                #expect(!verify.stdout.contains("DAMAGED"), "round \(round): \(verify.stdout)")
                #expect(prune.status == 0, "round \(round): \(prune.stderr)")
                // Every manifest has its data object: no manifest was recreated after prune removed its backup.
                let listing = try await repository.list()
                #expect(listing.problems.isEmpty, "round \(round): \(listing.problems)")
                // keep-last 1, plus the newest verified backup when prune ran before this round's verify (the rail).
                #expect((1...2).contains(listing.backups.count), "round \(round): \(listing.backups.map(\.id))")
                #expect(try await StoreLock.holders(in: store).isEmpty, "round \(round)")
            }
        }
    }

    @Test func aBackupKilledWithSIGKILLLeavesALockThatGoesStaleAndIsTakenOver() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await S3TestEnvironment.with { s3 in
            let hostA = try configuration(workspace, s3: s3, host: "a", staleAfter: "4s")
            let hostB = try configuration(workspace, s3: s3, host: "b", staleAfter: "4s")
            let vault = try ["VAULT_ADDR": sim.address(sim.nodes[0].id), "VAULT_TOKEN": sim.rootToken]
            let envA = environment(workspace, host: "a").merging(vault) { $1 }
            let envB = environment(workspace, host: "b")
            let store = try s3.makeStore(prefix: "fleet/")
            // Host A's backup waits for a snapshot that does not come: it holds the write lock and refreshes it.
            try await sim.control(["fault", "delay-first-byte", "--path", "sys/storage/raft/snapshot", "--delay-ms", "600000"])
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent("lifeboat")
            process.arguments = ["backup", "--config", hostA, "--no-prune"]
            var env = ProcessInfo.processInfo.environment
            env.merge(envA) { $1 }
            process.environment = env
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            var holders: [LockRecord] = []
            for _ in 0..<600 where holders.isEmpty {
                holders = try await StoreLock.holders(in: store)
                if holders.isEmpty { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(holders.map(\.pid) == [process.processIdentifier], "host A's backup holds the lock")
            // While it lives (and refreshes past its 4 s deadline) host B is refused.
            try await Task.sleep(for: .seconds(5))
            let refused = try await lifeboat(["prune", "--keep-last", "1", "--config", hostB], environment: envB)
            #expect(refused.status == 75, "a live holder's lock is never taken over: \(refused.stderr)")
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            // Dead, it stops refreshing: host B waits, takes the lock over once stale, says so, and runs.
            let pruned = try await lifeboat(["prune", "--keep-last", "1", "--config", hostB, "--lock-wait", "60s"], environment: envB)
            #expect(pruned.status == 0, "\(pruned.stderr)")
            #expect(pruned.stderr.contains("took over the stale lock"), "\(pruned.stderr)")
            #expect(pruned.stderr.contains("pid \(process.processIdentifier)"), "\(pruned.stderr)")
            #expect(try await StoreLock.holders(in: store).isEmpty, "the taken-over lock was released after the prune")
        }
    }

    @Test func aBackupOnOneHostWaitsForAPruneOnAnotherAndVerifyRunsBesideABackup() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await S3TestEnvironment.with { s3 in
            let hostB = try configuration(workspace, s3: s3, host: "b")
            let envB = environment(workspace, host: "b")
            let store = try s3.makeStore(prefix: "fleet/")
            let snap = fixturesDirectory.appendingPathComponent("backup.snap").path
            #expect(try await lifeboat(["import", snap, "--config", hostB, "--cluster", "prod"], environment: envB).status == 0)
            // Host A (this process) holds the write lock, as a running backup does.
            let backup = try await StoreLock.acquire(store: store, mode: .write, operation: "backup", host: "host-a")
            let imported = try await lifeboat(["import", snap, "--config", hostB, "--cluster", "prod"], environment: envB)
            #expect(imported.status == 75, "\(imported.stderr)")
            #expect(imported.stderr.contains("host host-a"), "\(imported.stderr)")
            let pruned = try await lifeboat(["prune", "--keep-last", "1", "--config", hostB], environment: envB)
            #expect(pruned.status == 75, "\(pruned.stderr)")
            let verified = try await lifeboat(["verify", "--all", "--config", hostB], environment: envB)
            #expect(verified.status == 0, "verify runs beside a backup: \(verified.stderr)")
            let listed = try await lifeboat(["list", "--config", hostB, "--cluster", "prod"], environment: envB)
            #expect(listed.status == 0, "\(listed.stderr)")
            #expect(listed.stdout.contains("CLUSTER") && listed.stdout.contains("prod"), "\(listed.stdout)")
            // With --lock-wait the import waits until host A is done, then runs.
            let waiting = Task.detached {
                try await lifeboat(["import", snap, "--config", hostB, "--cluster", "prod", "--lock-wait", "60s"], environment: envB)
            }
            try await Task.sleep(for: .seconds(2))
            await backup.release()
            let waited = try await waiting.value
            #expect(waited.status == 0, "\(waited.stderr)")
            #expect(try await BackupRepository(store: store).list().backups.count == 2)
        }
    }
}

/// Forwards to `base`; once armed, the next read of the writer's lock object returns what was there and then lets
/// "another run" replace it (the takeover landing between a refresh's read and its write).
final class TakeoverOnReadStore: ForwardingStore, @unchecked Sendable {
    let base: any BackupStore
    private let replacement = PThreadLocked<[UInt8]?>(nil)
    init(base: any BackupStore) { self.base = base }
    func arm(replacingWith bytes: [UInt8]) { replacement.withLock { $0 = bytes } }

    func get(_ name: String, limit: Int) async throws -> [UInt8] {
        let bytes = try await base.get(name, limit: limit)
        if name == StoreLock.exclusiveName, let other = replacement.withLock({ box -> [UInt8]? in defer { box = nil }; return box }) {
            try await base.put(name, other, mode: .replace)
        }
        return bytes
    }
}
