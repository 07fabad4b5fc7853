// HookProcess: how Lifeboat runs a hook command (reset, create, destroy) so that it can never hang the tool.
// posix_spawn with: stdin from /dev/null (or an unlinked file holding the input a hook is given); stdout and stderr into one pipe; every other descriptor closed in the child
// (closefrom(3) as a spawn action, so a daemon the hook starts holds nothing of Lifeboat's); its own process group,
// which the timeout kills as a whole; default signal mask and dispositions. Output is streamed as it comes, one line
// at a time, prefixed with the hook and node. Lifeboat waits for the hook itself, never for an EOF: after `waitpid`
// reports the exit, what the hook wrote is drained from the pipe (it is all there: the writes happened before the
// exit) and the hook is done. A background process the hook left holding the write end (a scratch cluster started
// without redirecting its output) does not delay anything: a detached thread keeps reading and discarding until that
// process closes it, so the process never dies of a broken pipe, and the thread ends with it.

import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// A spawned hook command and the thread that watches it.
final class HookProcess: @unchecked Sendable {
    // `cancelled` is written by the cancelling task and read by the monitor thread (guarded by `lock`).
    private let lock = NSLock()
    private var cancelled = false
    let pid: pid_t
    private let readFD: Int32

    enum Outcome {
        case exited(Int32)
        case timedOut
        case cancelled
    }

    /// While the hook runs, an interrupted Lifeboat (SIGINT/SIGTERM/SIGHUP) stops its whole group before exiting.
    private let exitCleanup: Int

    private init(pid: pid_t, readFD: Int32) {
        self.pid = pid
        self.readFD = readFD
        exitCleanup = TerminationSignals.addCleanup { kill(-pid, SIGTERM) }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34+), looked up at run time: not every C library has it
    /// and Swift's Glibc module does not declare it.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: CloseFrom? = {
        #if os(Linux)
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: CloseFrom.self)
        #else
        return nil
        #endif
    }()

    /// Starts `executable` with `argv` (argv[0] included) and `environment`. `input`, when given, is the child's
    /// standard input (an unlinked temporary file holding exactly those bytes, so a large input cannot block
    /// Lifeboat on a full pipe); otherwise stdin is /dev/null.
    static func spawn(executable: String, argv: [String], environment: [String: String], input: [UInt8]? = nil) throws -> HookProcess {
        var inputFD: Int32 = -1
        if let input {
            inputFD = try anonymousFile(holding: input)
        }
        defer { if inputFD >= 0 { close(inputFD) } }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw SpawnError(errno: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let pid: pid_t
        do {
            pid = try spawnChild(executable: executable, argv: argv, environment: environment,
                                 standardInput: inputFD >= 0 ? inputFD : nil, output: fds[1])
        } catch {
            close(fds[0])
            close(fds[1])
            throw error
        }
        close(fds[1])
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        return HookProcess(pid: pid, readFD: fds[0])
    }

    /// The one way Lifeboat starts a child process (hooks here; the test harness's real-Vault nodes too): stdin
    /// from `standardInput` or /dev/null, stdout and stderr both to `output`, every other descriptor closed, its own
    /// process group (so the whole group can be signalled), an empty signal mask and default dispositions (a parent
    /// that blocks SIGTERM must not pass that on). Returns the child's pid; the caller reaps it.
    static func spawnChild(executable: String, argv: [String], environment: [String: String],
                           standardInput: Int32?, output: Int32) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if let standardInput {
            posix_spawn_file_actions_adddup2(&actions, standardInput, 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_adddup2(&actions, output, 1)
        posix_spawn_file_actions_adddup2(&actions, output, 2)
        if let closeFrom {
            _ = closeFrom(&actions, 3)
        } else {
            // No closefrom: close every descriptor open now (all of Lifeboat's are marked close-on-exec anyway
            // where Foundation allows it; this catches the rest).
            for fd in openDescriptors() where fd > 2 { posix_spawn_file_actions_addclose(&actions, fd) }
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        let flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGMASK) | Int32(POSIX_SPAWN_SETSIGDEF)
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, executable, &actions, &attributes, cArgs, cEnv)
        guard rc == 0 else { throw SpawnError(errno: rc) }
        return pid
    }

    /// A temporary file, unlinked at once (no name is left behind), holding `bytes` and positioned at its start.
    private static func anonymousFile(holding bytes: [UInt8]) throws -> Int32 {
        var template = Array((NSTemporaryDirectory() + "/lifeboat-hook-input-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw SpawnError(errno: errno) }
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let code = errno
                close(fd)
                throw SpawnError(errno: code)
            }
            offset += n
        }
        guard lseek(fd, 0, SEEK_SET) == 0 else {
            let code = errno
            close(fd)
            throw SpawnError(errno: code)
        }
        return fd
    }

    struct SpawnError: Error, CustomStringConvertible {
        var errno: Int32
        var description: String { String(cString: strerror(errno)) }
    }

    static func openDescriptors() -> [Int32] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).compactMap { Int32($0) }
    }

    func cancel() {
        lock.withLock { cancelled = true }
    }

    private var isCancelled: Bool { lock.withLock { cancelled } }

    /// Watches the process until it exits, times out or is cancelled; calls `onBytes` with every piece of output.
    /// Blocking: run it on its own thread.
    func monitor(timeout: Duration, onBytes: ([UInt8]) -> Void) -> Outcome {
        let deadline = ContinuousClock.now + timeout
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        var eof = false
        var handedOff = false
        defer {
            if !handedOff { close(readFD) }
            TerminationSignals.removeCleanup(exitCleanup)
        }

        /// Reads what is in the pipe now; returns false at EOF.
        func drain() -> Bool {
            while true {
                let n = buffer.withUnsafeMutableBytes { read(readFD, $0.baseAddress, $0.count) }
                if n > 0 { onBytes(Array(buffer[0..<n])); continue }
                if n == 0 { return false }
                if errno == EINTR { continue }
                return true  // EAGAIN: nothing more for now
            }
        }

        while true {
            var status: Int32 = 0
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid {
                if !eof && drain() {
                    // Something the hook started still holds the pipe: read it to its end elsewhere.
                    handedOff = true
                    Self.discardUntilClosed(readFD)
                }
                return .exited(Self.exitCode(status))
            }
            if waited < 0 && errno != EINTR {
                if !eof { _ = drain() }
                return .exited(-1)
            }
            if isCancelled {
                killGroup()
                return .cancelled
            }
            if ContinuousClock.now >= deadline {
                killGroup()
                if !eof { _ = drain() }
                return .timedOut
            }
            // Wait for output or for 50 ms, whichever first, then look at the process again.
            var pfd = pollfd(fd: readFD, events: Int16(POLLIN), revents: 0)
            if eof {
                _ = poll(nil, 0, 50)
            } else if poll(&pfd, 1, 50) > 0 {
                eof = !drain()
            }
        }
    }

    /// Reads and drops whatever arrives on `fd` until every writer closed it, on a detached thread; then closes it.
    private static func discardUntilClosed(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        Thread.detachNewThread {
            var sink = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = sink.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n > 0 || (n < 0 && errno == EINTR) { continue }
                break
            }
            close(fd)
        }
    }

    /// SIGTERM to the whole group, up to 2 s grace, then SIGKILL; reaps the hook itself.
    private func killGroup() {
        kill(-pid, SIGTERM)
        let grace = ContinuousClock.now + .seconds(2)
        var status: Int32 = 0
        while ContinuousClock.now < grace {
            if waitpid(pid, &status, WNOHANG) == pid {
                // The hook is gone; its group may not be.
                kill(-pid, SIGKILL)
                return
            }
            _ = poll(nil, 0, 20)
        }
        kill(-pid, SIGKILL)
        _ = waitpid(pid, &status, 0)
    }

    /// The exit code, or 128 + the signal number for a killed process (as a shell reports it).
    static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }
}

/// Splits a byte stream into lines and hands each, prefixed, to a sink; keeps a bounded copy of everything.
///
/// The monitor thread appends and the awaiting task finishes. The program orders them (the monitor returns before
/// the continuation is resumed), but ThreadSanitizer did not see that order and reported `append` against `finish`,
/// now and then (most likely when the hook ends before the task reaches its `await`, so the task never suspends and
/// the order is held by atomics inside the uninstrumented Swift runtime). The state is behind the lock, so the order
/// no longer depends on how the task resumes.
final class HookOutput: Sendable {
    private struct State {
        var pending: [UInt8] = []
        var captured: [UInt8] = []
    }

    private let state = PThreadLocked(State())
    private let limit: Int
    private let prefix: String
    private let sink: @Sendable (String) -> Void

    init(prefix: String, limit: Int, sink: @escaping @Sendable (String) -> Void) {
        self.prefix = prefix
        self.limit = limit
        self.sink = sink
    }

    /// Lines go to the sink under the lock, so they keep their order.
    func append(_ bytes: [UInt8]) {
        state.withLock { s in
            if s.captured.count < limit { s.captured += bytes.prefix(limit - s.captured.count) }
            s.pending += bytes
            while let newline = s.pending.firstIndex(of: 0x0a) {
                sink(prefix + String(decoding: s.pending[..<newline], as: UTF8.self))
                s.pending.removeSubrange(...newline)
            }
            if s.pending.count > 4096 {
                sink(prefix + String(decoding: s.pending, as: UTF8.self))
                s.pending.removeAll()
            }
        }
    }

    func finish() -> String {
        state.withLock { s in
            if !s.pending.isEmpty {
                sink(prefix + String(decoding: s.pending, as: UTF8.self))
                s.pending.removeAll()
            }
            return String(decoding: s.captured, as: UTF8.self)
        }
    }
}
