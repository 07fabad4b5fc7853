// TerminationSignals: the one way the lifeboat process handles SIGINT, SIGTERM and SIGHUP. A C handler writes the
// signal's number into a pipe (the only thing it does: write(2) is async-signal-safe); a thread of its own reads the
// pipe and acts. A signal that arrives before that thread reads is not lost: it waits in the pipe. By default every
// such signal ends the run the way the shell expects (exit 128 + signal: 129, 130, 143) after removing every temporary
// file the process created (TemporaryFiles) and stopping the hook commands it started; the agent installs its own
// policy (graceful shutdown, reload on SIGHUP) through `setHandler`.

import Foundation
import LifeboatArchive

/// How the process reacts to SIGINT, SIGTERM and SIGHUP.
public enum TerminationSignals {
    /// The signals handled.
    public static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// What to do with one signal.
    public enum Response: Sendable {
        /// Remove every temporary file, stop started hooks, exit with 128 + the signal.
        case exit
        /// The handler took care of it; keep running.
        case handled
    }

    public typealias Handler = @Sendable (Int32) -> Response

    private struct State {
        var installed = false
        var handler: Handler = { _ in .exit }
        /// Cleanups to run before exiting (hook process groups to stop), by token.
        var cleanups: [Int: @Sendable () -> Void] = [:]
        var nextToken = 0
    }

    private static let state = PThreadLocked(State())

    /// Installs the signal handlers and starts the signal thread (once per process; later calls do nothing). Call it
    /// first thing in `main`, before anything else can be interrupted.
    public static func install() {
        let first = state.withLock { state -> Bool in
            defer { state.installed = true }
            return !state.installed
        }
        guard first else { return }
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // Never block in the handler: with the pipe full (thousands of pending signals) one more is dropped.
        _ = fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK)
        signalPipe = fds[1]
        let readFD = fds[0]
        let thread = Thread { run(readFD) }
        thread.name = "lifeboat-signals"
        thread.start()
        for signal in signals {
            // `nohup` ignores SIGHUP for the process it starts: keep it ignored.
            var current = sigaction()
            if signal == SIGHUP, sigaction(signal, nil, &current) == 0,
               unsafeBitCast(current.__sigaction_handler.sa_handler, to: Int.self) == unsafeBitCast(SIG_IGN, to: Int.self) {
                continue
            }
            var action = sigaction()
            // The C handler: async-signal-safe (write(2) only, errno preserved).
            action.__sigaction_handler.sa_handler = { signal in
                let saved = errno
                var byte = UInt8(truncatingIfNeeded: signal)
                _ = write(signalPipe, &byte, 1)
                errno = saved
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            _ = sigaction(signal, &action, nil)
        }
        // A parent may have started us with these signals blocked (the mask is inherited); threads started from now
        // on inherit this thread's mask.
        var unblock = sigset_t()
        sigemptyset(&unblock)
        for signal in signals { sigaddset(&unblock, signal) }
        pthread_sigmask(SIG_UNBLOCK, &unblock, nil)
    }

    /// Replaces the policy (the default exits on every signal). Returns the previous one, to put back later.
    @discardableResult
    public static func setHandler(_ handler: @escaping Handler) -> Handler {
        state.withLock { state in
            let previous = state.handler
            state.handler = handler
            return previous
        }
    }

    /// Registers `cleanup` to run before the process exits on a signal; returns a token for ``removeCleanup(_:)``.
    public static func addCleanup(_ cleanup: @escaping @Sendable () -> Void) -> Int {
        state.withLock { state in
            state.nextToken += 1
            state.cleanups[state.nextToken] = cleanup
            return state.nextToken
        }
    }

    public static func removeCleanup(_ token: Int) {
        state.withLock { _ = $0.cleanups.removeValue(forKey: token) }
    }

    /// The exit status of a run ended by `signal`, as a shell reports it (SIGHUP 129, SIGINT 130, SIGTERM 143).
    public static func exitStatus(for signal: Int32) -> Int32 { 128 + signal }

    /// `SIGINT`, `SIGTERM`, `SIGHUP`, or `signal N`.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    /// Removes the temporary files, runs the cleanups, says so on standard error and exits 128 + `signal`.
    public static func exitNow(_ signal: Int32) -> Never {
        let cleanups = state.withLock { Array($0.cleanups.values) }
        for cleanup in cleanups { cleanup() }
        TemporaryFiles.removeAllForExit { removed in
            var line = "lifeboat: interrupted by \(name(of: signal))"
            if removed > 0 { line += "; removed \(removed) temporary file\(removed == 1 ? "" : "s")" }
            line += "; nothing partial was kept\n"
            _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
            _exit(exitStatus(for: signal))
        }
    }

    private static func run(_ readFD: Int32) {
        var byte: UInt8 = 0
        while true {
            let n = read(readFD, &byte, 1)
            if n < 0 && errno == EINTR { continue }
            guard n == 1 else { return }
            let signal = Int32(byte)
            let handler = state.withLock { $0.handler }
            if case .exit = handler(signal) { exitNow(signal) }
        }
    }
}

/// The write end of the signal pipe; set once before the handlers are installed, then only read (by the handler).
nonisolated(unsafe) private var signalPipe: Int32 = -1
