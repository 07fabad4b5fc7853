// ResetHook: how a restore wipes a node (stop it, delete its raft data, start it again empty). Lifeboat cannot do
// this through Vault's API, so the operator configures commands (argv arrays with {node} / {api_addr} placeholders,
// e.g. `docker compose stop {node}`, `docker compose run --rm {node} rm -rf /vault/raft`, `docker compose start
// {node}`); tests and the demo use an in-process implementation. The command runner is CommandRunner (HookProcess.swift
// underneath), shared with the drill's scratch-cluster hooks.

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
/// and `{api_addr}` by its API address (``HookPlaceholders``). The first element is looked up in `PATH` when it holds no `/`.
public struct CommandResetHook: ResetHook {
    public var commands: [[String]]
    /// Each command (and every process it started) is killed after this long.
    public var timeout: Duration
    /// Five minutes: a hook that takes longer is stuck, and the operator should hear about it.
    public static let defaultTimeout: Duration = .seconds(300)
    /// Extra environment variables for the commands (added to Lifeboat's own environment).
    public var environment: [String: String]

    public init(commands: [[String]], timeout: Duration = CommandResetHook.defaultTimeout, environment: [String: String] = [:]) {
        self.commands = commands
        self.timeout = timeout
        self.environment = environment
    }

    public var description: String {
        commands.map { $0.joined(separator: " ") }.joined(separator: " && ")
    }

    public func reset(_ node: RecoveryNode) async throws -> String {
        try await Self.run(commands, on: node, what: "reset", environment: environment, timeout: timeout)
    }

    /// Runs per-node hook commands in order with `{node}` and `{api_addr}` replaced (reset, and `recover quorum`'s peers
    /// and restart hooks); a non-zero exit stops with an error naming the hook, the node and the output's tail.
    /// - Parameter input: the commands' standard input (default /dev/null).
    /// - Returns: the transcript (commands and output) for a debug log.
    public static func run(_ commands: [[String]], on node: RecoveryNode, what: String, environment: [String: String], timeout: Duration,
                           input: [UInt8]? = nil) async throws -> String {
        var transcript = ""
        for command in commands {
            let argv = command.map { HookPlaceholders.substitute($0, node: node) }
            let result = try await CommandRunner.run(argv, environment: environment, timeout: timeout, label: "\(what) \(node.name)", input: input)
            transcript += "$ " + argv.joined(separator: " ") + "\n" + result.output
            guard result.exitCode == 0 else {
                throw RecoveryError(.hookFailed, "the \(what) hook `\(argv.joined(separator: " "))` for \(node.name) exited with status \(result.exitCode)\(result.tail.isEmpty ? "" : ": \(result.tail)"); fix the hook (or the node), then continue the run with --resume", node: node.name)
            }
        }
        return transcript
    }

}

/// The placeholders of hooks run for one node — `{node}` (its name) and `{api_addr}` (its API address), the keys of
/// a node in the configuration — with their one substitution and their one check, for the configuration's hooks and
/// the command line's `--reset-command` alike.
public enum HookPlaceholders {
    /// The placeholders a per-node hook may contain.
    public static let perNode = ["{node}", "{api_addr}"]

    /// Replaces `{node}` and `{api_addr}` in one argument.
    public static func substitute(_ argument: String, node: RecoveryNode) -> String {
        argument.replacingOccurrences(of: "{node}", with: node.name).replacingOccurrences(of: "{api_addr}", with: node.apiAddress)
    }

    /// The `{word}` occurrences in `text` that are not in `allowed`, in order.
    public static func unknown(in text: String, allowed: [String]) -> [String] {
        names(in: text).filter { !allowed.contains($0) }
    }

    /// `{word}` occurrences (letters and `_`) in `text`.
    static func names(in text: String) -> [String] {
        var names: [String] = []
        var current: String?
        for character in text {
            if character == "{" {
                current = "{"
            } else if var open = current {
                if character == "}" {
                    open.append("}")
                    if open.count > 2 { names.append(open) }
                    current = nil
                } else if character.isLetter || character == "_" {
                    open.append(character)
                    current = open
                } else {
                    current = nil
                }
            }
        }
        return names
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

/// Runs hook commands (see ``HookProcess``): stdin closed, no inherited descriptors beyond 0-2, own process group
/// killed at the timeout, output streamed line by line with a prefix and captured for error messages.
public enum CommandRunner {
    static let maxOutput = 256 * 1024

    /// Hook output on standard error (the terminal): the default.
    public static let standardErrorSink: @Sendable (String) -> Void = { line in
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Where hook output goes when a call names no sink; the agent sends it to its log instead of standard error.
    public static func setDefaultOutput(_ sink: @escaping @Sendable (String) -> Void) {
        defaultOutput.set(sink)
    }

    private static let defaultOutput = SinkBox(standardErrorSink)

    private final class SinkBox: @unchecked Sendable {
        // `sink` is only touched with `lock` held.
        private let lock = NSLock()
        private var sink: @Sendable (String) -> Void
        init(_ sink: @escaping @Sendable (String) -> Void) { self.sink = sink }
        func set(_ new: @escaping @Sendable (String) -> Void) { lock.withLock { sink = new } }
        func get() -> @Sendable (String) -> Void { lock.withLock { sink } }
    }

    /// Runs `argv` (argv[0] looked up in PATH through /usr/bin/env) and waits for it to exit — not for every
    /// process it started to close its output.
    /// - Parameters:
    ///   - label: the prefix of every output line, e.g. `reset vault_2`.
    ///   - output: receives each line as it comes (default: ``setDefaultOutput(_:)``'s sink, standard error unless set).
    /// - Throws: ``RecoveryError`` ``RecoveryError/Code/hookFailed`` when it cannot start or exceeds `timeout`
    ///   (then its whole process group is killed).
    ///   - input: the command's standard input (default: /dev/null), e.g. the peers.json of a lost-quorum recovery.
    public static func run(_ argv: [String], environment: [String: String] = [:], timeout: Duration, label: String = "hook",
                           input: [UInt8]? = nil, output: (@Sendable (String) -> Void)? = nil) async throws -> CommandResult {
        guard !argv.isEmpty, !argv[0].isEmpty else {
            throw RecoveryError(.configuration, "a hook command is empty: write it as an argv array, e.g. [\"docker\", \"compose\", \"stop\", \"{node}\"]")
        }
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        let process: HookProcess
        do {
            process = try HookProcess.spawn(executable: "/usr/bin/env", argv: ["env"] + argv, environment: env, input: input)
        } catch {
            throw RecoveryError(.hookFailed, "cannot run `\(argv.joined(separator: " "))`: \(error); check that the program exists and is executable")
        }
        let collected = HookOutput(prefix: "  [\(label)] ", limit: maxOutput, sink: output ?? defaultOutput.get())
        let outcome: HookProcess.Outcome = await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<HookProcess.Outcome, Never>) in
                Thread.detachNewThread {
                    c.resume(returning: process.monitor(timeout: timeout) { collected.append($0) })
                }
            }
        } onCancel: {
            process.cancel()
        }
        let text = collected.finish()
        switch outcome {
        case .cancelled:
            throw CancellationError()
        case .timedOut:
            throw RecoveryError(.hookFailed, "`\(argv.joined(separator: " "))` did not finish within \(timeout); it and every process it started were killed\(text.isEmpty ? "" : ": \(CommandResult(exitCode: -1, output: text).tail)")")
        case .exited(let code):
            return CommandResult(exitCode: code, output: text)
        }
    }
}
