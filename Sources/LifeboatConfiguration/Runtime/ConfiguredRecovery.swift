// From the configuration to the restore and drill engines: nodes, canaries, and the reset hook built from
// `restore.hooks` (reset_all once, then wipe_node and start for each node) or `drill.hooks`.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

extension LifeboatConfiguration.Node {
    /// The node as the recovery engine names it.
    public var recoveryNode: RecoveryNode { RecoveryNode(name: name, apiAddress: apiAddress) }
}

extension LifeboatConfiguration.Canary {
    /// The engine's canaries: one per field (it must exist, and hold the expected value when one is given; values
    /// are compared, never logged), or one that only has to be readable.
    public func canarySecrets() throws -> [CanarySecret] {
        let base = try CanarySecret(parsing: path)
        guard !fields.isEmpty else { return [base] }
        return fields.map { CanarySecret(mount: base.mount, path: base.path, requiredKey: $0.name, expectedValue: $0.expected) }
    }
}

extension LifeboatConfiguration.Restore {
    /// The configured reset hook, or nil when `restore.hooks` has no commands.
    public var resetHook: (any ResetHook)? {
        guard !(hooks.resetAll.isEmpty && hooks.wipeNode.isEmpty && hooks.start.isEmpty) else { return nil }
        return ConfiguredResetHook(
            resetAll: hooks.resetAll.map(\.arguments),
            perNode: CommandResetHook(commands: (hooks.wipeNode + hooks.start).map(\.arguments), timeout: hooks.timeout),
            timeout: hooks.timeout)
    }
}

extension LifeboatConfiguration.Restore {
    /// The per-node part of `restore.hooks` (`wipe_node`, then `start`) for the recoveries that touch one node at a
    /// time (`recover node`, `recover quorum`'s rejoins). Never `reset_all`: that wipes EVERY node, which those
    /// recoveries must not do. nil without `wipe_node` (then `--reset-command` is needed).
    public var nodeResetHook: (any ResetHook)? {
        guard !hooks.wipeNode.isEmpty else { return nil }
        return CommandResetHook(commands: (hooks.wipeNode + hooks.start).map(\.arguments), timeout: hooks.timeout)
    }
}

/// `restore.hooks`: `reset_all` runs once, before the first node is reset (it must be safe to run again, as on
/// `--resume`); then `wipe_node` and `start` run for each node.
public final class ConfiguredResetHook: ResetHook {
    public let resetAll: [[String]]
    public let perNode: CommandResetHook
    public let timeout: Duration
    private let ranResetAll = PThreadLocked(false)

    public init(resetAll: [[String]], perNode: CommandResetHook, timeout: Duration) {
        self.resetAll = resetAll
        self.perNode = perNode
        self.timeout = timeout
    }

    public var description: String {
        (resetAll.isEmpty ? "" : "once: " + resetAll.map { $0.joined(separator: " ") }.joined(separator: " && ") + "; per node: ")
            + perNode.description
    }

    public func reset(_ node: RecoveryNode) async throws -> String {
        var transcript = ""
        if !resetAll.isEmpty, ranResetAll.withLock({ ran in defer { ran = true }; return !ran }) {
            for argv in resetAll {
                let result = try await CommandRunner.run(argv, environment: [:], timeout: timeout, label: "reset all")
                transcript += "$ " + argv.joined(separator: " ") + "\n" + result.output
                guard result.exitCode == 0 else {
                    ranResetAll.withLock { $0 = false }
                    throw RecoveryError(.hookFailed, "the reset_all hook `\(argv.joined(separator: " "))` exited with status \(result.exitCode)\(result.tail.isEmpty ? "" : ": \(result.tail)"); fix it and run `lifeboat restore --resume`")
                }
            }
        }
        return transcript + (try await perNode.reset(node))
    }
}

extension LifeboatConfiguration.Drill {
    /// The scratch cluster the `drill.hooks` describe, or nil when there is no create hook.
    public var scratchCluster: CommandScratchCluster? {
        guard !hooks.create.isEmpty else { return nil }
        return CommandScratchCluster(
            createCommands: hooks.create.map(\.arguments), destroyCommands: hooks.destroy.map(\.arguments),
            resetCommands: hooks.wipeNode.map(\.arguments), nodes: nodes.map(\.recoveryNode), timeout: hooks.timeout)
    }
}
