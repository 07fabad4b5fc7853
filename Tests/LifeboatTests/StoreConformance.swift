// The BackupStore conformance suite: the contract documented on BackupStore, as checks every store must pass.
// Each check is a function over a StoreFixture; StoreConformanceTests runs all of them against every StoreKind.
// A new store (S3) adds a StoreKind case, or calls StoreConformance.runAll from its own suite.

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

enum StoreConformance {
    /// Every check, by name.
    static let checks: [(name: String, run: @Sendable (StoreFixture) async throws -> Void)] = [
        ("pending object invisible until commit", pendingObjectIsInvisibleUntilCommit),
        ("abort leaves nothing", abortLeavesNothing),
        ("failed append leaves nothing", appendAfterAbortFailsAndLeavesNothing),
        ("create-new commit never replaces", createNewCommitNeverReplaces),
        ("racing create-new commits: first wins", racingCreateNewCommitsFirstWins),
        ("replace mode replaces", replaceModeReplaces),
        ("conditional replace needs the version it read", conditionalReplaceNeedsTheVersionItRead),
        ("64 MiB streamed in 1 MiB appends", largeStreamedObjectRoundTrips),
        ("reads are chunked as asked", readsAreChunkedAsAsked),
        ("empty object", emptyObjectRoundTrips),
        ("list returns every object with a prefix", listReturnsEverythingWithPrefix),
        ("delete, idempotent", deleteRemovesAndIsIdempotent),
        ("missing objects", missingObjectsFailWithNotFound),
        ("invalid names", invalidNamesAreRejected),
        ("crash: abandoned pending object", abandonedPendingObjectIsInvisibleAndCleanedUp),
    ]

    /// Runs every check against fresh fixtures from `makeFixture`.
    static func runAll(_ makeFixture: () throws -> StoreFixture) async throws {
        for check in checks {
            try await check.run(try makeFixture())
        }
    }

    static func pendingObjectIsInvisibleUntilCommit(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let bytes = StoreBytes.random(100_000, seed: 1)
        let pending = try await store.createPendingObject(named: "data/object.bin")
        #expect(pending.name == "data/object.bin")
        try await pending.append(Array(bytes[..<50_000]))
        try await pending.append(Array(bytes[50_000...]))

        await expectStoreError(.notFound) { try await store.stat("data/object.bin") }
        await expectStoreError(.notFound) { try await store.openForReading("data/object.bin") }
        #expect(try await store.list(prefix: "").isEmpty)
        #expect(try await store.list(prefix: "data/").isEmpty)

        let info = try await pending.commit()
        #expect(info.name == "data/object.bin")
        #expect(info.size == 100_000)
        let stat = try await store.stat("data/object.bin")
        #expect(stat.size == 100_000)
        #expect(try await store.list(prefix: "").map(\.name) == ["data/object.bin"])
        #expect(try await store.get("data/object.bin") == bytes)
    }

    static func abortLeavesNothing(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let pending = try await store.createPendingObject(named: "data/aborted.bin")
        try await pending.append(StoreBytes.random(10_000, seed: 2))
        await pending.abort()
        await pending.abort()  // idempotent

        #expect(try await store.list(prefix: "").isEmpty)
        await expectStoreError(.notFound) { try await store.stat("data/aborted.bin") }
        // Nothing pending is left for cleanup either, however old the threshold.
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600)).isEmpty)
        // The name is free again.
        try await store.put("data/aborted.bin", [1, 2, 3])
        #expect(try await store.get("data/aborted.bin") == [1, 2, 3])
    }

    static func appendAfterAbortFailsAndLeavesNothing(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let pending = try await store.createPendingObject(named: "x")
        try await pending.append([1])
        await pending.abort()
        await expectStoreError(.ioFailure) { try await pending.append([2]) }
        await expectStoreError(.ioFailure) { try await pending.commit() }
        #expect(try await store.list(prefix: "").isEmpty)

        let committed = try await store.createPendingObject(named: "y")
        try await committed.commit()
        await expectStoreError(.ioFailure) { try await committed.commit() }
        await expectStoreError(.ioFailure) { try await committed.append([1]) }
        #expect(try await store.list(prefix: "").map(\.name) == ["y"])
    }

    static func createNewCommitNeverReplaces(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        try await store.put("manifests/a.json", Array("first".utf8))
        // Either creating or committing the second one fails; the first object is untouched either way.
        await expectStoreError(.alreadyExists) {
            let pending = try await store.createPendingObject(named: "manifests/a.json")
            do {
                try await pending.append(Array("second".utf8))
                try await pending.commit()
            } catch {
                await pending.abort()
                throw error
            }
        }
        #expect(try await store.get("manifests/a.json") == Array("first".utf8))
        #expect(try await store.list(prefix: "").map(\.name) == ["manifests/a.json"])
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600)).isEmpty)
    }

    static func racingCreateNewCommitsFirstWins(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let first = try await store.createPendingObject(named: "data/race.bin")
        let second = try await store.createPendingObject(named: "data/race.bin")
        try await first.append(Array("first".utf8))
        try await second.append(Array("second".utf8))
        try await first.commit()
        await expectStoreError(.alreadyExists) { try await second.commit() }
        #expect(try await store.get("data/race.bin") == Array("first".utf8))
        #expect(try await store.list(prefix: "").map(\.name) == ["data/race.bin"])
        // The failed commit aborted its pending object.
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600)).isEmpty)
    }

    static func replaceModeReplaces(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        try await store.put("manifests/b.json", Array("old".utf8))
        try await store.put("manifests/b.json", Array("new, longer".utf8), mode: .replace)
        #expect(try await store.get("manifests/b.json") == Array("new, longer".utf8))
        #expect(try await store.stat("manifests/b.json").size == 11)
        // Replace also creates.
        try await store.put("manifests/c.json", [9], mode: .replace)
        #expect(try await store.list(prefix: "manifests/").map(\.name) == ["manifests/b.json", "manifests/c.json"])
    }

    /// `replaceIfUnchanged`: the lock refresh's guard against writing over a run that took the lock over.
    static func conditionalReplaceNeedsTheVersionItRead(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        try await store.put("locks/exclusive.json", Array("first".utf8))
        let first = try #require(try await store.stat("locks/exclusive.json").versionTag)
        try await store.put("locks/exclusive.json", Array("second".utf8), mode: .replaceIfUnchanged(versionTag: first))
        let second = try #require(try await store.stat("locks/exclusive.json").versionTag)
        #expect(second != first)
        // Another run replaced it meanwhile: the write with the version read before is refused, the object untouched.
        let stale = await #expect(throws: StoreError.self) {
            try await store.put("locks/exclusive.json", Array("third".utf8), mode: .replaceIfUnchanged(versionTag: first))
        }
        #expect(stale?.kind == .changed, "\(String(describing: stale))")
        #expect(try await store.get("locks/exclusive.json") == Array("second".utf8))
        // Removed meanwhile: refused too, and nothing is created.
        try await store.delete("locks/exclusive.json")
        let gone = await #expect(throws: StoreError.self) {
            try await store.put("locks/exclusive.json", Array("fourth".utf8), mode: .replaceIfUnchanged(versionTag: second))
        }
        #expect(gone?.kind == .changed, "\(String(describing: gone))")
        #expect(try await store.list(prefix: "locks/").isEmpty)
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600)).isEmpty)
    }

    static func largeStreamedObjectRoundTrips(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let mebibyte = 1024 * 1024
        let pending = try await store.createPendingObject(named: "data/large.lbk")
        var written = SHA256Digest()
        for index in 0..<64 {
            let chunk = StoreBytes.random(mebibyte, seed: 1000 + UInt64(index))
            written.update(chunk)
            try await pending.append(chunk)
        }
        let info = try await pending.commit()
        #expect(info.size == Int64(64 * mebibyte))
        #expect(try await store.stat("data/large.lbk").size == Int64(64 * mebibyte))

        var read = SHA256Digest()
        var total = 0
        var largestChunk = 0
        for try await chunk in store.chunks(of: "data/large.lbk", chunkSize: mebibyte) {
            read.update(chunk)
            total += chunk.count
            largestChunk = max(largestChunk, chunk.count)
        }
        #expect(total == 64 * mebibyte)
        // Memory is bounded by the chunk size asked for.
        #expect(largestChunk <= mebibyte)
        #expect(read.finalize() == written.finalize())
    }

    static func readsAreChunkedAsAsked(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let bytes = StoreBytes.random(1000, seed: 3)
        try await store.put("odd", bytes)
        let reader = try await store.openForReading("odd")
        var collected: [UInt8] = []
        while let chunk = try await reader.read(maxCount: 7) {
            #expect(!chunk.isEmpty && chunk.count <= 7)
            collected += chunk
        }
        #expect(collected == bytes)
        #expect(try await reader.read(maxCount: 7) == nil)
        await reader.close()
        #expect(try await reader.read(maxCount: 7) == nil)

        // Whole reads are bounded.
        #expect(try await store.get("odd", limit: 1000) == bytes)
        await expectStoreError(.corrupt) { try await store.get("odd", limit: 999) }
        await expectStoreError(.notFound) { try await store.get("missing", limit: 10) }
    }

    static func emptyObjectRoundTrips(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let pending = try await store.createPendingObject(named: "empty")
        let info = try await pending.commit()
        #expect(info.size == 0)
        #expect(try await store.stat("empty").size == 0)
        var chunks = 0
        for try await _ in store.chunks(of: "empty") { chunks += 1 }
        #expect(chunks == 0)
        #expect(try await store.get("empty") == [])
    }

    static func listReturnsEverythingWithPrefix(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let count = 2_500  // more than S3's 1,000-key page
        let names = (0..<count).map { String(format: "many/%05d.json", $0) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            var next = 0
            for _ in 0..<8 {
                let batch = stride(from: next, to: count, by: 8).map { names[$0] }
                next += 1
                group.addTask {
                    for name in batch { try await store.put(name, Array(name.utf8)) }
                }
            }
            try await group.waitForAll()
        }
        try await store.put("manyother/x.json", [1])
        try await store.put("m/y.json", [2])
        try await store.put("many/sub/deep.json", [3])
        let pending = try await store.createPendingObject(named: "many/pending.json")
        try await pending.append([4])

        let many = try await store.list(prefix: "many/")
        #expect(many.count == count + 1)
        #expect(many.map(\.name) == (names + ["many/sub/deep.json"]).sorted())
        #expect(many.first { $0.name == "many/00042.json" }?.size == Int64("many/00042.json".utf8.count))
        #expect(try await store.list(prefix: "many").count == count + 2)
        #expect(try await store.list(prefix: "many/001").count == 100)
        #expect(try await store.list(prefix: "many/0001").count == 10)
        #expect(try await store.list(prefix: "many/sub/").map(\.name) == ["many/sub/deep.json"])
        #expect(try await store.list(prefix: "").count == count + 3)
        #expect(try await store.list(prefix: "nothing/").isEmpty)
        #expect(try await store.list(prefix: "m/").map(\.name) == ["m/y.json"])
        await pending.abort()
    }

    static func deleteRemovesAndIsIdempotent(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        try await store.put("data/d.lbk", [1, 2])
        try await store.put("data/e.lbk", [3])
        try await store.delete("data/d.lbk")
        await expectStoreError(.notFound) { try await store.stat("data/d.lbk") }
        #expect(try await store.list(prefix: "").map(\.name) == ["data/e.lbk"])
        try await store.delete("data/d.lbk")
        try await store.delete("never/existed")
        // A deleted name can be created again.
        try await store.put("data/d.lbk", [5])
        #expect(try await store.get("data/d.lbk") == [5])
    }

    static func missingObjectsFailWithNotFound(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        let error = await expectStoreError(.notFound) { try await store.stat("manifests/missing.json") }
        #expect(error?.description.contains("missing.json") == true)
        await expectStoreError(.notFound) { try await store.openForReading("manifests/missing.json") }
        await expectStoreError(.notFound) { try await store.get("missing") }
        await expectStoreError(.notFound) {
            for try await _ in store.chunks(of: "missing") {}
        }
    }

    static func invalidNamesAreRejected(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        for name in ["", "/abs", "../up", "a/../b", "a//b", "a/", ".hidden", "a/.lifeboat-tmp-x", "sp ace", "ümlaut", "a\\b"] {
            await expectStoreError(.invalidName) { try await store.createPendingObject(named: name) }
            await expectStoreError(.invalidName) { try await store.stat(name) }
            await expectStoreError(.invalidName) { try await store.openForReading(name) }
            await expectStoreError(.invalidName) { try await store.delete(name) }
        }
        for prefix in ["../", "/", "a//", ".x"] {
            await expectStoreError(.invalidName) { try await store.list(prefix: prefix) }
        }
        #expect(try await store.list(prefix: "").isEmpty)
    }

    static func abandonedPendingObjectIsInvisibleAndCleanedUp(_ fixture: StoreFixture) async throws {
        let store = fixture.store
        try await store.put("data/complete.lbk", [1])
        try await fixture.abandonPendingObject("data/crashed.lbk", StoreBytes.random(4096, seed: 4))

        #expect(try await store.list(prefix: "").map(\.name) == ["data/complete.lbk"])
        await expectStoreError(.notFound) { try await store.stat("data/crashed.lbk") }
        // Too young to be an orphan: it might belong to a run in progress.
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(-3600)).isEmpty)
        let removed = try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600))
        #expect(removed.count == 1)
        #expect(removed.first?.contains("crashed.lbk") == true)
        #expect(try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(3600)).isEmpty)
        #expect(try await store.list(prefix: "").map(\.name) == ["data/complete.lbk"])
        // The name was never taken.
        try await store.put("data/crashed.lbk", [2])
        #expect(try await store.get("data/crashed.lbk") == [2])
    }
}

@Suite("BackupStore conformance")
struct StoreConformanceTests {
    @Test(arguments: StoreKind.allCases)
    func pendingObjectIsInvisibleUntilCommit(_ kind: StoreKind) async throws {
        try await StoreConformance.pendingObjectIsInvisibleUntilCommit(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func abortLeavesNothing(_ kind: StoreKind) async throws {
        try await StoreConformance.abortLeavesNothing(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func useAfterAbortOrCommitFails(_ kind: StoreKind) async throws {
        try await StoreConformance.appendAfterAbortFailsAndLeavesNothing(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func createNewCommitNeverReplaces(_ kind: StoreKind) async throws {
        try await StoreConformance.createNewCommitNeverReplaces(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func racingCreateNewCommitsFirstWins(_ kind: StoreKind) async throws {
        try await StoreConformance.racingCreateNewCommitsFirstWins(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func replaceModeReplaces(_ kind: StoreKind) async throws {
        try await StoreConformance.replaceModeReplaces(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func conditionalReplaceNeedsTheVersionItRead(_ kind: StoreKind) async throws {
        try await StoreConformance.conditionalReplaceNeedsTheVersionItRead(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func largeStreamedObjectRoundTrips(_ kind: StoreKind) async throws {
        try await StoreConformance.largeStreamedObjectRoundTrips(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func readsAreChunkedAsAsked(_ kind: StoreKind) async throws {
        try await StoreConformance.readsAreChunkedAsAsked(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func emptyObjectRoundTrips(_ kind: StoreKind) async throws {
        try await StoreConformance.emptyObjectRoundTrips(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func listReturnsEverythingWithPrefix(_ kind: StoreKind) async throws {
        try await StoreConformance.listReturnsEverythingWithPrefix(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func deleteRemovesAndIsIdempotent(_ kind: StoreKind) async throws {
        try await StoreConformance.deleteRemovesAndIsIdempotent(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func missingObjectsFailWithNotFound(_ kind: StoreKind) async throws {
        try await StoreConformance.missingObjectsFailWithNotFound(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func invalidNamesAreRejected(_ kind: StoreKind) async throws {
        try await StoreConformance.invalidNamesAreRejected(kind.makeFixture())
    }

    @Test(arguments: StoreKind.allCases)
    func abandonedPendingObjectIsInvisibleAndCleanedUp(_ kind: StoreKind) async throws {
        try await StoreConformance.abandonedPendingObjectIsInvisibleAndCleanedUp(kind.makeFixture())
    }

    /// `runAll`, the entry point for stores tested from their own suites, runs every check.
    @Test func runAllOnMemoryStore() async throws {
        try await StoreConformance.runAll { try StoreKind.memory.makeFixture() }
    }
}
