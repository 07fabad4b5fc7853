// RepositoryLock: a second run is refused with the holder's details and exit code 75; a lock whose holder died
// (exited, or killed with SIGKILL while holding it) is taken over; contention with a real second process.

import Foundation
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

@Suite("RepositoryLock")
struct LockTests {
    /// 2026-11-28T23:15:00Z
    static let started = ManifestTimestamp(parsing: "2026-11-28T23:15:00Z")!.date

    @Test func secondAcquireIsRefusedWithTheHoldersDetails() throws {
        let scratch = try StoreScratchDirectory("lock")
        let first = try RepositoryLock.acquire(directory: scratch.path, operation: "backup", now: Self.started,
                                               timeZone: TimeZone(identifier: "Europe/Berlin")!, host: "db1", pid: 1234)
        #expect(first.isHeld)
        #expect(first.previousHolder == nil)
        #expect(first.holder.startedAt.description == "2026-11-29T00:15:00+01:00")
        do {
            _ = try RepositoryLock.acquire(directory: scratch.path, operation: "prune")
            Issue.record("a second lock on the same repository was granted")
        } catch let error as RepositoryLockError {
            guard case .held(let holder, let path, let running) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(holder?.pid == 1234)
            #expect(holder?.host == "db1")
            #expect(path == scratch.path + "/" + RepositoryLock.fileName)
            #expect(running)  // another host: assumed running
            #expect(error.description.hasPrefix(
                "another lifeboat backup (pid 1234 on host db1, since 2026-11-28T23:15:00Z) holds the repository lock"))
            #expect(error.exitStatus == .lockHeld)
            #expect(ExitStatus.forError(error) == .lockHeld)
            #expect(ExitStatus.lockHeld.rawValue == 75)
        }
        first.release()
        #expect(!first.isHeld)
        first.release()  // idempotent
        let second = try RepositoryLock.acquire(directory: scratch.path, operation: "prune")
        #expect(second.previousHolder == nil)  // released cleanly
        #expect(second.holder.pid == getpid())
        #expect(second.holder.host == RepositoryLock.currentHost())
    }

    @Test func deallocatingTheLockReleasesIt() throws {
        let scratch = try StoreScratchDirectory("lock")
        do {
            let lock = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
            #expect(lock.isHeld)
        }
        let again = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
        #expect(again.previousHolder == nil)
    }

    @Test func lockFileIsPrivateInformativeAndNotAnObject() async throws {
        let scratch = try StoreScratchDirectory("lock")
        let store = try LocalStore(directory: scratch.path)
        try await store.put("data/x.lbk", [1])
        let lock = try RepositoryLock.acquire(directory: scratch.path, operation: "backup", now: Self.started,
                                              timeZone: TimeZone(identifier: "UTC")!, host: "db1", pid: 42)
        var info = stat()
        #expect(stat(lock.path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let body = try String(contentsOfFile: lock.path, encoding: .utf8)
        #expect(body == #"{"host":"db1","lifeboat_version":"\#(LifeboatVersion.current)","operation":"backup","pid":42,"started_at":"2026-11-28T23:15:00+00:00"}"# + "\n")
        #expect(try await store.list(prefix: "").map(\.name) == ["data/x.lbk"])
        await lock.release()
        #expect(try String(contentsOfFile: lock.path, encoding: .utf8).isEmpty)
    }

    @Test func missingRepositoryDirectoryIsAnIOError() throws {
        let scratch = try StoreScratchDirectory("lock")
        do {
            _ = try RepositoryLock.acquire(directory: scratch.path + "/missing", operation: "backup")
            Issue.record("locked a missing directory")
        } catch let error as RepositoryLockError {
            #expect(ExitStatus.forError(error) == .ioError)
            #expect(error.description.contains("missing/.lifeboat.lock"))
            #expect(error.description.contains("No such file or directory"))
        }
    }

    @Test func staleLockOfAnExitedProcessIsTakenOver() throws {
        let scratch = try StoreScratchDirectory("lock")
        let deadPID = try LockChild.pidOfExitedProcess()
        let host = RepositoryLock.currentHost()
        let body = #"{"host":"\#(host)","lifeboat_version":"0.1.0","operation":"backup","pid":\#(deadPID),"started_at":"2026-11-28T23:15:00Z"}"#
        _ = FileManager.default.createFile(atPath: scratch.path + "/" + RepositoryLock.fileName, contents: Data(body.utf8))

        let lock = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
        #expect(lock.previousHolder?.pid == deadPID)
        #expect(lock.previousHolder?.host == host)
        #expect(lock.holder.pid == getpid())
    }

    @Test func anotherProcessHoldingTheLockIsNamedThenReleases() throws {
        let scratch = try StoreScratchDirectory("lock")
        let path = scratch.path + "/" + RepositoryLock.fileName
        let child = try LockChild(path: path, host: "db9")
        do {
            _ = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
            Issue.record("the lock held by another process was granted")
        } catch RepositoryLockError.held(let holder, _, let running) {
            #expect(holder?.pid == child.pid)
            #expect(holder?.host == "db9")
            #expect(running)
        }
        child.finish()
        let lock = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
        #expect(lock.previousHolder?.pid == child.pid)  // the child exited without clearing its details
    }

    @Test func holderKilledWithSIGKILLIsTakenOver() throws {
        let scratch = try StoreScratchDirectory("lock")
        let path = scratch.path + "/" + RepositoryLock.fileName
        let child = try LockChild(path: path, host: RepositoryLock.currentHost())
        #expect(throws: RepositoryLockError.self) { try RepositoryLock.acquire(directory: scratch.path, operation: "backup") }
        child.kill()
        // The kernel released the flock with the process; the JSON body is stale and reported.
        let lock = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
        #expect(lock.previousHolder?.pid == child.pid)
        #expect(lock.holder.pid == getpid())
    }

    @Test func lockStillHeldAfterTheRecordedProcessDiedIsExplained() throws {
        // The recorded pid is gone but some other process (one that inherited the descriptor) still holds the flock.
        let scratch = try StoreScratchDirectory("lock")
        let path = scratch.path + "/" + RepositoryLock.fileName
        let deadPID = try LockChild.pidOfExitedProcess()
        let child = try LockChild(path: path, host: RepositoryLock.currentHost(), recordedPID: deadPID)
        defer { child.finish() }
        do {
            _ = try RepositoryLock.acquire(directory: scratch.path, operation: "backup")
            Issue.record("the lock was granted while another process holds the flock")
        } catch let error as RepositoryLockError {
            guard case .held(let holder, _, let running) = error else {
                Issue.record("unexpected \(error)")
                return
            }
            #expect(holder?.pid == deadPID)
            #expect(!running)
            #expect(error.description.contains("no longer running"))
            #expect(error.exitStatus == .lockHeld)
        }
    }
}

/// A python3 child process that takes the flock on a lock file, writes a lock body and holds it until its stdin closes.
final class LockChild {
    let process = Process()
    let input = Pipe()
    let output = Pipe()
    var pid: Int32 { process.processIdentifier }

    static let script = """
    import fcntl, os, sys
    path, host, recorded = sys.argv[1], sys.argv[2], sys.argv[3]
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    pid = os.getpid() if recorded == "self" else int(recorded)
    body = '{"host":"%s","lifeboat_version":"0.1.0","operation":"backup","pid":%d,"started_at":"2026-11-28T23:15:00Z"}' % (host, pid)
    os.ftruncate(fd, 0)
    os.write(fd, body.encode())
    print("locked", flush=True)
    sys.stdin.read()
    """

    init(path: String, host: String, recordedPID: Int32? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, path, host, recordedPID.map(String.init) ?? "self"]
        process.standardInput = input
        process.standardOutput = output
        do {
            try process.run()
        } catch {
            try Test.cancel("needs python3 for a second process holding the lock: \(error)")
        }
        var seen = Data()
        while !String(decoding: seen, as: UTF8.self).contains("locked") {
            let more = output.fileHandleForReading.availableData
            if more.isEmpty {
                process.waitUntilExit()
                try Test.cancel("python3 could not take the lock (exit \(process.terminationStatus))")
            }
            seen.append(more)
        }
    }

    /// Closes stdin and waits: the child exits normally, the kernel drops its flock.
    func finish() {
        guard process.isRunning else { return }
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    /// SIGKILL, then wait.
    func kill() {
        Glibc.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit {
        if process.isRunning {
            Glibc.kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// The pid of a process that has exited (and been reaped).
    static func pidOfExitedProcess() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exit 0"]
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
