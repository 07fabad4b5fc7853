// TemporaryFiles: the process knows its temporary files, and a temporary file's flock tells a live writer's file
// (never touched) from a dead one's (removed at once, whatever its age).

import Foundation
import Testing
import LifeboatArchive
import LifeboatRepository

@Suite("TemporaryFiles") struct TemporaryFilesTests {
    func scratch() throws -> String {
        let directory = NSTemporaryDirectory() + "lifeboat-tmpfiles-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    func hidden(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(".lifeboat-tmp-") }.sorted()
    }

    /// What a writer killed with SIGKILL leaves: the file, without its lock.
    func abandoned(_ directory: String, _ name: String) throws -> String {
        let path = directory + "/" + AtomicFileWriter.temporaryPrefix + name + "-deadbeef0000"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("a live writer's file is tracked and never taken for abandoned; it is forgotten once published")
    func liveWriterIsTrackedAndLocked() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try AtomicFileWriter(path: directory + "/out.snap")
        try writer.write([1, 2, 3])
        #expect(TemporaryFiles.tracked.contains(writer.temporaryPath))
        #expect(TemporaryFiles.removeIfAbandoned(writer.temporaryPath) == nil)
        #expect(TemporaryFiles.removeAbandoned(in: directory).names.isEmpty)
        // A second writer for the same name leaves the first (live) one alone.
        let second = try AtomicFileWriter(path: directory + "/out.snap")
        #expect(hidden(directory).count == 2)
        second.abort()
        #expect(!TemporaryFiles.tracked.contains(second.temporaryPath))
        try writer.commit()
        #expect(!TemporaryFiles.tracked.contains(writer.temporaryPath))
        #expect(hidden(directory).isEmpty)
        #expect(FileManager.default.fileExists(atPath: directory + "/out.snap"))
    }

    @Test("a dead writer's file is removed by the next writer of the same name, and only that name's")
    func deadWritersFilesAreReclaimed() throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let dead = try abandoned(directory, "out.snap")
        let other = try abandoned(directory, "other.snap")
        let writer = try AtomicFileWriter(path: directory + "/out.snap")
        #expect(!FileManager.default.fileExists(atPath: dead))
        #expect(FileManager.default.fileExists(atPath: other))
        writer.abort()
        let removed = TemporaryFiles.removeAbandoned(in: directory)
        #expect(removed.names == [(other as NSString).lastPathComponent])
        #expect(removed.bytes == 3)
        #expect(hidden(directory).isEmpty)
    }

    @Test("a local repository: abandoned pending files go at once, a pending object being written stays")
    func localStoreRemovesOnlyAbandonedPendingObjects() async throws {
        let directory = try scratch()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try LocalStore(directory: directory)
        let live = try await store.createPendingObject(named: "data/live.lbk")
        try await live.append([9, 9])
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        _ = try abandoned(directory + "/data", "dead.lbk")
        let removed = try store.removeAbandonedPendingObjects()
        #expect(removed.names.count == 1)
        #expect(removed.names.first?.hasPrefix("data/.lifeboat-tmp-dead.lbk-") == true)
        #expect(hidden(directory + "/data").count == 1)
        try await live.commit()
        #expect(try await store.get("data/live.lbk", limit: 10) == [9, 9])
        #expect(hidden(directory + "/data").isEmpty)
    }
}
