// Helpers for the store, repository and lock tests: scratch directories, tmpfs mounts (full disk, read-only),
// deterministic bytes, and the store fixtures the conformance suite runs against.

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

/// A scratch directory removed when the value is released.
final class StoreScratchDirectory: Sendable {
    let path: String

    init(_ label: String = "store") throws {
        let base = FileManager.default.temporaryDirectory.path + "/lifeboat-\(label)-" + UUID().uuidString.prefix(8)
        guard mkdir(base, 0o700) == 0 else { throw FileIOError(path: base, operation: "mkdir", code: errno) }
        path = base
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Names of every entry below the directory (recursively), relative to it, sorted.
    func allEntries() -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: path)
        var names: [String] = []
        while let name = enumerator?.nextObject() as? String { names.append(name) }
        return names.sorted()
    }
}

/// A tmpfs mounted for one test (needs root and permission to mount; tests cancel themselves when that fails).
final class StoreTmpfs: Sendable {
    let scratch: StoreScratchDirectory
    let path: String

    /// Mounts a tmpfs of `size` (e.g. `1m`); `readOnly` mounts it read-only.
    init(size: String, readOnly: Bool = false) throws {
        scratch = try StoreScratchDirectory("tmpfs")
        path = scratch.path + "/mnt"
        guard mkdir(path, 0o700) == 0 else { throw FileIOError(path: path, operation: "mkdir", code: errno) }
        let options = "size=\(size),mode=0700" + (readOnly ? ",ro" : "")
        let output = try StoreProcess.run("mount", ["-t", "tmpfs", "-o", options, "tmpfs", path])
        guard output.status == 0 else { throw StoreTmpfsUnavailable(reason: output.text) }
    }

    deinit { _ = try? StoreProcess.run("umount", [path]) }
}

struct StoreTmpfsUnavailable: Error, CustomStringConvertible {
    let reason: String
    var description: String { "cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): \(reason)" }
}

enum StoreProcess {
    /// Runs a program found on PATH, waits, returns its exit status and combined output.
    static func run(_ program: String, _ arguments: [String]) throws -> (status: Int32, text: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [program] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Deterministic pseudo-random bytes.
enum StoreBytes {
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededRandomNumberGenerator(seed: seed)
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                var word = generator.next()
                let take = min(8, buffer.count - offset)
                withUnsafeBytes(of: &word) { buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: take) }
                offset += take
            }
        }
        return bytes
    }
}

/// A store under test, with the one thing only its implementation knows how to do: leave a pending object behind
/// the way a killed process would.
struct StoreFixture: Sendable {
    let store: any BackupStore
    /// Writes `bytes` into a pending object for `name` and leaves it neither committed nor aborted.
    let abandonPendingObject: @Sendable (_ name: String, _ bytes: [UInt8]) async throws -> Void
    /// Keeps resources (a scratch directory) alive for the fixture's lifetime.
    let resources: [any Sendable]
}

/// The stores the conformance suite runs against. S3 joins this list.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case local
    case memory

    var testDescription: String { rawValue }

    func makeFixture() throws -> StoreFixture {
        switch self {
        case .memory:
            let store = MemoryStore()
            return StoreFixture(store: store, abandonPendingObject: { name, bytes in
                let pending = try await store.createPendingObject(named: name)
                try await pending.append(bytes)
                // Dropped without commit or abort: the upload stays pending, as after kill -9.
            }, resources: [])
        case .local:
            let scratch = try StoreScratchDirectory("conformance")
            let store = try LocalStore(directory: scratch.path)
            return StoreFixture(store: store, abandonPendingObject: { name, bytes in
                // What a killed process leaves: AtomicFileWriter's temporary file, written, never renamed.
                let path = store.path(of: name)
                let directory = (path as NSString).deletingLastPathComponent
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
                let temporary = directory + "/" + AtomicFileWriter.temporaryPrefix + (path as NSString).lastPathComponent + "-0badc0ffee00"
                let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
                guard fd >= 0 else { throw FileIOError(path: temporary, operation: "create", code: errno) }
                defer { close(fd) }
                try FileDescriptorIO.writeAll(fd, bytes, path: temporary)
            }, resources: [scratch])
        }
    }
}

/// Asserts that `body` throws a ``StoreError`` of `kind` and returns it.
@discardableResult
func expectStoreError<T>(_ kind: StoreError.Kind, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () async throws -> T) async -> StoreError? {
    do {
        _ = try await body()
        Issue.record("expected StoreError.\(kind), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        return error
    } catch {
        Issue.record("expected StoreError.\(kind), got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}

/// A store that wraps another and forwards every operation to it; a test's wrapper implements only the operations
/// it changes (a failing delete, a takeover injected into a read).
protocol ForwardingStore: BackupStore {
    var base: any BackupStore { get }
}

extension ForwardingStore {
    var displayName: String { base.displayName }
    func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject {
        try await base.createPendingObject(named: name, mode: mode)
    }
    func openForReading(_ name: String) async throws -> any StoreObjectReader { try await base.openForReading(name) }
    func stat(_ name: String) async throws -> StoreObjectInfo { try await base.stat(name) }
    func list(prefix: String) async throws -> [StoreObjectInfo] { try await base.list(prefix: prefix) }
    func delete(_ name: String) async throws { try await base.delete(name) }
    func get(_ name: String, limit: Int) async throws -> [UInt8] { try await base.get(name, limit: limit) }
    func cleanupOrphans(olderThan cutoff: Date) async throws -> [String] { try await base.cleanupOrphans(olderThan: cutoff) }
    func objectLock(of name: String) async throws -> StoreObjectLock? { try await base.objectLock(of: name) }
}
