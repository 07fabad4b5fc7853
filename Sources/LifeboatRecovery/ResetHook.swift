// ResetHook: how a restore wipes a node (stop it, delete its raft data, start it again empty). Lifeboat cannot do
// this through Vault's API, so the operator configures commands (argv arrays with {node} / {addr} placeholders,
// e.g. `docker compose stop {node}`, `docker compose run --rm {node} rm -rf /vault/raft`, `docker compose start
// {node}`); tests and the demo use an in-process implementation. Also the command runner (Process, output captured,
// timeout) shared with the drill's scratch-cluster hooks.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// Wipes one node's raft data and leaves it running, sealed and uninitialized.
public protocol ResetHook: Sendable {
    /// What the hook runs, for the plan and the logs (never secrets).
    var description: String { get }
    /// Resets `node`. Must be safe to run again on a node that is already empty.
    /// - Returns: the captured output of what ran (for the log), possibly empty.
    func reset(_ node: RecoveryNode) async throws -> String
}

/// A reset hook made of commands run in order for each node; any non-zero exit stops it with an error.
///
/// Each command is an argv array (no shell involved). In every argument `{node}` is replaced by the node's name
/// and `{addr}` by its API address. The first element is looked up in `PATH` when it holds no `/`.
public struct CommandResetHook: ResetHook {
    public var commands: [[String]]
    /// Each command is killed after this long.
    public var timeout: Duration
    /// Extra environment variables for the commands (added to Lifeboat's own environment).
    public var environment: [String: String]

    public init(commands: [[String]], timeout: Duration = .seconds(300), environment: [String: String] = [:]) {
        self.commands = commands
        self.timeout = timeout
        self.environment = environment
    }

    public var description: String {
        commands.map { $0.joined(separator: " ") }.joined(separator: " && ")
    }

    public func reset(_ node: RecoveryNode) async throws -> String {
        var transcript = ""
        for command in commands {
            let argv = command.map { Self.substitute($0, node: node) }
            let result = try await CommandRunner.run(argv, environment: environment, timeout: timeout)
            transcript += "$ " + argv.joined(separator: " ") + "\n" + result.output
            guard result.exitCode == 0 else {
                throw RecoveryError(.hookFailed, "the reset hook `\(argv.joined(separator: " "))` for \(node.name) exited with status \(result.exitCode)\(result.tail.isEmpty ? "" : ": \(result.tail)"); fix the hook (or the node) and run `lifeboat restore --resume`", node: node.name)
            }
        }
        return transcript
    }

    /// Replaces `{node}` and `{addr}` in one argument.
    public static func substitute(_ argument: String, node: RecoveryNode) -> String {
        argument.replacingOccurrences(of: "{node}", with: node.name).replacingOccurrences(of: "{addr}", with: node.apiAddress)
    }
}

/// A reset hook that runs a closure (in-process simulators, tests).
public struct ClosureResetHook: ResetHook {
    public let description: String
    private let body: @Sendable (RecoveryNode) async throws -> Void

    public init(description: String, _ body: @escaping @Sendable (RecoveryNode) async throws -> Void) {
        self.description = description
        self.body = body
    }

    public func reset(_ node: RecoveryNode) async throws -> String {
        try await body(node)
        return ""
    }
}

/// The outcome of one command.
public struct CommandResult: Sendable {
    public var exitCode: Int32
    /// stdout and stderr, interleaved as written (capped at 256 KiB).
    public var output: String

    /// The last few lines of output, for an error message.
    public var tail: String {
        let lines = output.split(whereSeparator: \.isNewline).suffix(5)
        let text = lines.joined(separator: " | ")
        return text.count > 600 ? String(text.suffix(600)) : text
    }
}

/// Runs commands with `Process`, capturing their output, with a timeout.
public enum CommandRunner {
    static let maxOutput = 256 * 1024

    /// Runs `argv` (argv[0] looked up in PATH through /usr/bin/env) and waits for it.
    /// - Throws: ``RecoveryError`` ``RecoveryError/Code/hookFailed`` when it cannot start or exceeds `timeout`.
    public static func run(_ argv: [String], environment: [String: String] = [:], timeout: Duration) async throws -> CommandResult {
        guard !argv.isEmpty, !argv[0].isEmpty else {
            throw RecoveryError(.configuration, "a hook command is empty: write it as an argv array, e.g. [\"docker\", \"compose\", \"stop\", \"{node}\"]")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = argv
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let collector = OutputCollector(handle: pipe.fileHandleForReading, limit: maxOutput)
        let exited = ExitSignal()
        process.terminationHandler = { p in exited.fire(p.terminationStatus) }
        do { try process.run() } catch {
            throw RecoveryError(.hookFailed, "cannot run `\(argv.joined(separator: " "))`: \(error); check that the program exists and is executable")
        }
        // Close our copy of the write end, so the reader sees EOF when the child exits.
        try? pipe.fileHandleForWriting.close()
        collector.start()
        let status: Int32? = await withTaskCancellationHandler {
            await exited.wait(timeout: timeout)
        } onCancel: {
            process.terminate()
        }
        guard let status else {
            process.terminate()
            if Task.isCancelled { throw CancellationError() }
            let pid = process.processIdentifier
            try? await Task.sleep(for: .seconds(2))
            if process.isRunning { kill(pid, SIGKILL) }
            let output = collector.finish()
            throw RecoveryError(.hookFailed, "`\(argv.joined(separator: " "))` did not finish within \(timeout) and was killed\(output.isEmpty ? "" : ": \(CommandResult(exitCode: -1, output: output).tail)")")
        }
        try Task.checkCancellation()
        return CommandResult(exitCode: status, output: collector.finish())
    }

    /// Reads a pipe to EOF on its own thread.
    final class OutputCollector: @unchecked Sendable {
        // `data` is written by the reader thread and read after `done` is signalled.
        private let handle: FileHandle
        private let limit: Int
        private var data = Data()
        private let done = DispatchSemaphore(value: 0)

        init(handle: FileHandle, limit: Int) {
            self.handle = handle
            self.limit = limit
        }

        func start() {
            Thread.detachNewThread { [self] in
                while true {
                    let piece = handle.availableData
                    if piece.isEmpty { break }
                    if data.count < limit { data.append(piece.prefix(limit - data.count)) }
                }
                done.signal()
            }
        }

        func finish() -> String {
            _ = done.wait(timeout: .now() + 5)
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// A one-shot exit status with a timed wait.
    final class ExitSignal: @unchecked Sendable {
        // Guarded by `lock`.
        private let lock = NSLock()
        private var status: Int32?
        private var waiter: CheckedContinuation<Int32?, Never>?

        func fire(_ code: Int32) {
            let w: CheckedContinuation<Int32?, Never>? = lock.withLock {
                status = code
                defer { waiter = nil }
                return waiter
            }
            w?.resume(returning: code)
        }

        func wait(timeout: Duration) async -> Int32? {
            await withTaskGroup(of: Int32?.self) { group in
                group.addTask {
                    await withCheckedContinuation { (c: CheckedContinuation<Int32?, Never>) in
                        let ready: Int32? = self.lock.withLock {
                            if let s = self.status { return s }
                            self.waiter = c
                            return nil
                        }
                        if let ready { c.resume(returning: ready) }
                    }
                }
                group.addTask {
                    try? await Task.sleep(for: timeout)
                    return nil
                }
                let first = await group.next() ?? nil
                if first == nil {
                    // Timed out (or cancelled): release the waiting continuation.
                    let w: CheckedContinuation<Int32?, Never>? = self.lock.withLock {
                        defer { self.waiter = nil }
                        return self.waiter
                    }
                    w?.resume(returning: nil)
                }
                group.cancelAll()
                return first
            }
        }
    }
}
