// LocalStore beyond the shared contract: file and directory modes, temporary files on disk, persistence,
// missing or misplaced directories, a full disk (1 MiB tmpfs) and a read-only file system.

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

@Suite("LocalStore")
struct StoreLocalTests {
    @Test func filesAre0600AndDirectories0700() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path + "/repo", createIfMissing: true)
        try await store.put("data/deep/x.lbk", [1, 2, 3])
        func mode(_ path: String) throws -> mode_t {
            var info = stat()
            guard lstat(path, &info) == 0 else { throw FileIOError(path: path, operation: "stat", code: errno) }
            return info.st_mode & 0o777
        }
        #expect(try mode(scratch.path + "/repo") == 0o700)
        #expect(try mode(scratch.path + "/repo/data") == 0o700)
        #expect(try mode(scratch.path + "/repo/data/deep") == 0o700)
        #expect(try mode(scratch.path + "/repo/data/deep/x.lbk") == 0o600)
    }

    @Test func pendingObjectIsATemporaryFileUntilCommit() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        let pending = try await store.createPendingObject(named: "data/a.lbk")
        try await pending.append([1, 2, 3])
        let during = scratch.allEntries()
        #expect(during.count == 2)  // data, data/.lifeboat-tmp-a.lbk-<random>
        #expect(during.contains { $0.hasPrefix("data/" + AtomicFileWriter.temporaryPrefix + "a.lbk-") })
        #expect(!FileManager.default.fileExists(atPath: scratch.path + "/data/a.lbk"))
        try await pending.commit()
        #expect(scratch.allEntries() == ["data", "data/a.lbk"])

        let aborted = try await store.createPendingObject(named: "data/b.lbk")
        try await aborted.append([4])
        await aborted.abort()
        #expect(scratch.allEntries() == ["data", "data/a.lbk"])
    }

    @Test func objectsPersistAcrossStoreInstances() async throws {
        let scratch = try StoreScratchDirectory()
        try await LocalStore(directory: scratch.path).put("manifests/m.json", Array("{}".utf8))
        let reopened = try LocalStore(directory: scratch.path + "/")
        #expect(reopened.directory == scratch.path)
        #expect(try await reopened.get("manifests/m.json") == Array("{}".utf8))
    }

    @Test func hiddenFilesAndDirectoriesAreNotObjects() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        try await store.put("data/x.lbk", [1])
        _ = FileManager.default.createFile(atPath: scratch.path + "/.lifeboat.lock", contents: Data("{}".utf8))
        try FileManager.default.createDirectory(atPath: scratch.path + "/data/.hidden", withIntermediateDirectories: true)
        _ = FileManager.default.createFile(atPath: scratch.path + "/data/.hidden/y", contents: Data())
        _ = FileManager.default.createFile(atPath: scratch.path + "/data/not valid", contents: Data())
        #expect(try await store.list(prefix: "").map(\.name) == ["data/x.lbk"])
    }

    @Test func missingDirectoryIsAClearError() throws {
        let scratch = try StoreScratchDirectory()
        let missing = scratch.path + "/nope"
        do {
            _ = try LocalStore(directory: missing)
            Issue.record("opening a missing directory succeeded")
        } catch let error as StoreError {
            #expect(error.kind == .notFound)
            #expect(error.description.contains(missing))
            #expect(error.description.contains("does not exist"))
            #expect(ExitStatus.forError(error) == .ioError)
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
        let created = try LocalStore(directory: missing + "/a/b", createIfMissing: true)
        var isDirectory: ObjCBool = false
        #expect(FileManager.default.fileExists(atPath: created.directory, isDirectory: &isDirectory) && isDirectory.boolValue)
    }

    @Test func directoryRemovedUnderneathIsAClearError() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path + "/repo", createIfMissing: true)
        try FileManager.default.removeItem(atPath: store.directory)
        let error = await expectStoreError(.notFound) { try await store.createPendingObject(named: "data/x.lbk") }
        #expect(error?.description.contains(store.directory) == true)
        await expectStoreError(.notFound) { try await store.cleanupOrphans(olderThan: Date()) }
        #expect(try await store.list(prefix: "data/").isEmpty)
    }

    @Test func pathThroughARegularFileIsAClearError() async throws {
        let scratch = try StoreScratchDirectory()
        _ = FileManager.default.createFile(atPath: scratch.path + "/file", contents: Data("x".utf8))
        do {
            _ = try LocalStore(directory: scratch.path + "/file")
            Issue.record("a regular file was accepted as a repository directory")
        } catch let error as StoreError {
            #expect(error.kind == .corrupt)
            #expect(error.description.contains("not a directory"))
        }
        do {
            _ = try LocalStore(directory: scratch.path + "/file/repo", createIfMissing: true)
            Issue.record("a path below a regular file was accepted")
        } catch let error as StoreError {
            #expect(error.kind == .corrupt)
            #expect(error.description.contains("Not a directory") || error.description.contains("not a directory"))
        }
        // Inside a repository: `data` is a file where a directory is expected.
        let store = try LocalStore(directory: scratch.path + "/repo", createIfMissing: true)
        _ = FileManager.default.createFile(atPath: store.directory + "/data", contents: Data())
        await expectStoreError(.corrupt) { try await store.createPendingObject(named: "data/x.lbk") }
    }

    @Test func fullDiskRemovesTheTemporaryFile() async throws {
        let tmpfs: StoreTmpfs
        do {
            tmpfs = try StoreTmpfs(size: "1m")
        } catch let error as StoreTmpfsUnavailable {
            try Test.cancel("full-disk case needs a tmpfs: \(error)")
        }
        let store = try LocalStore(directory: tmpfs.path)
        try await store.put("data/small.lbk", StoreBytes.random(10_000, seed: 5))

        let pending = try await store.createPendingObject(named: "data/big.lbk")
        let error = await expectStoreError(.noSpace) {
            for index in 0..<8 {
                try await pending.append(StoreBytes.random(256 * 1024, seed: 100 + UInt64(index)))
            }
            try await pending.commit()
        }
        #expect(error?.description.contains("nothing partial was kept") == true)
        #expect(error?.description.contains(tmpfs.path + "/data/big.lbk") == true)
        #expect(ExitStatus.forError(error!) == .ioError)
        // No temporary file is left, the earlier object is intact, and the space is usable again.
        let entries = try FileManager.default.contentsOfDirectory(atPath: tmpfs.path + "/data")
        #expect(entries == ["small.lbk"])
        #expect(try await store.list(prefix: "").map(\.name) == ["data/small.lbk"])
        #expect(try await store.get("data/small.lbk") == StoreBytes.random(10_000, seed: 5))
        try await store.put("data/after.lbk", StoreBytes.random(500_000, seed: 6))
        #expect(try await store.stat("data/after.lbk").size == 500_000)
    }

    @Test func readOnlyFileSystemIsPermissionDenied() async throws {
        // Tests run as root, so chmod cannot deny anything; a read-only mount can.
        let tmpfs: StoreTmpfs
        do {
            tmpfs = try StoreTmpfs(size: "1m", readOnly: true)
        } catch let error as StoreTmpfsUnavailable {
            try Test.cancel("read-only case needs a tmpfs: \(error)")
        }
        let store = try LocalStore(directory: tmpfs.path)
        let error = await expectStoreError(.permissionDenied) { try await store.createPendingObject(named: "data/x.lbk") }
        #expect(error?.description.contains("Read-only file system") == true)
        #expect(error?.description.contains("writable") == true)
        await expectStoreError(.permissionDenied) { try await store.createPendingObject(named: "x.lbk") }
        #expect(try await store.list(prefix: "").isEmpty)
    }

    @Test func cleanupRemovesOnlyOldTemporaryFiles() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        try await store.put("data/keep.lbk", [1])
        try FileManager.default.createDirectory(atPath: scratch.path + "/manifests", withIntermediateDirectories: true)
        let old = scratch.path + "/data/" + AtomicFileWriter.temporaryPrefix + "old.lbk-aaaaaaaaaaaa"
        let young = scratch.path + "/manifests/" + AtomicFileWriter.temporaryPrefix + "young.json-bbbbbbbbbbbb"
        _ = FileManager.default.createFile(atPath: old, contents: Data([1]))
        _ = FileManager.default.createFile(atPath: young, contents: Data([2]))
        // Backdate the old one by two days.
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86_400)
        try FileManager.default.setAttributes([.modificationDate: twoDaysAgo], ofItemAtPath: old)

        let removed = try await store.cleanupOrphans(olderThan: Date().addingTimeInterval(-86_400))
        #expect(removed == ["data/" + AtomicFileWriter.temporaryPrefix + "old.lbk-aaaaaaaaaaaa"])
        #expect(!FileManager.default.fileExists(atPath: old))
        #expect(FileManager.default.fileExists(atPath: young))
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/data/keep.lbk"))
    }
}
