// ScratchCluster: the throwaway Vault cluster a drill restores into, created and destroyed by configured hooks
// (a docker compose project for real clusters, `vault-sim serve` for the demo; tests use an in-process simulator).

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// A running scratch cluster: its nodes (empty, running, uninitialized) and how to wipe one of them.
public struct ScratchClusterInstance: Sendable {
    public var nodes: [RecoveryNode]
    public var resetHook: any ResetHook
    /// Raft node ids by node name, when they differ from the names.
    public var raftNodeIDs: [String: String]
    /// How to write peers.json on a node and restart it (`drill --scenario quorum-loss`); nil when not configured.
    public var quorumHooks: (any QuorumHooks)?

    public init(nodes: [RecoveryNode], resetHook: any ResetHook, raftNodeIDs: [String: String] = [:], quorumHooks: (any QuorumHooks)? = nil) {
        self.nodes = nodes
        self.resetHook = resetHook
        self.raftNodeIDs = raftNodeIDs
        self.quorumHooks = quorumHooks
    }
}

/// Creates and destroys the cluster a drill restores into. `destroy` is called even when the drill failed.
public protocol ScratchCluster: Sendable {
    /// What it is, for the report (e.g. "docker compose project lifeboat-drill").
    var description: String { get }
    /// Brings up empty nodes and returns them.
    func create() async throws -> ScratchClusterInstance
    /// Tears everything down (containers, volumes, data). Must succeed on a partly created cluster.
    func destroy() async throws
}

/// A scratch cluster driven by commands (argv arrays, no shell): `create` brings the nodes up, `destroy` removes
/// them, `reset` (with `{node}` / `{api_addr}` placeholders) wipes one node. The node addresses are configured.
public struct CommandScratchCluster: ScratchCluster {
    public var createCommands: [[String]]
    public var destroyCommands: [[String]]
    public var resetCommands: [[String]]
    public var nodes: [RecoveryNode]
    public var raftNodeIDs: [String: String]
    public var timeout: Duration
    public var environment: [String: String]
    /// `drill --scenario quorum-loss`: write peers.json (stdin) on a scratch node, and restart one.
    public var peersCommands: [[String]] = []
    public var restartCommands: [[String]] = []

    public init(createCommands: [[String]], destroyCommands: [[String]], resetCommands: [[String]], nodes: [RecoveryNode],
                raftNodeIDs: [String: String] = [:], timeout: Duration = CommandResetHook.defaultTimeout, environment: [String: String] = [:]) {
        self.createCommands = createCommands
        self.destroyCommands = destroyCommands
        self.resetCommands = resetCommands
        self.nodes = nodes
        self.raftNodeIDs = raftNodeIDs
        self.timeout = timeout
        self.environment = environment
    }

    public var description: String {
        "scratch cluster (" + createCommands.map { $0.joined(separator: " ") }.joined(separator: " && ") + ")"
    }

    public func create() async throws -> ScratchClusterInstance {
        try await runAll(createCommands, what: "create")
        let quorum = peersCommands.isEmpty || restartCommands.isEmpty ? nil
            : CommandQuorumHooks(peersCommands: peersCommands, restartCommands: restartCommands, timeout: timeout, environment: environment)
        return ScratchClusterInstance(nodes: nodes,
                                      resetHook: CommandResetHook(commands: resetCommands, timeout: timeout, environment: environment),
                                      raftNodeIDs: raftNodeIDs, quorumHooks: quorum)
    }

    public func destroy() async throws {
        try await runAll(destroyCommands, what: "destroy")
    }

    private func runAll(_ commands: [[String]], what: String) async throws {
        for argv in commands {
            let result = try await CommandRunner.run(argv, environment: environment, timeout: timeout, label: "drill \(what)")
            guard result.exitCode == 0 else {
                throw RecoveryError(.scratchCluster, "the drill's \(what) command `\(argv.joined(separator: " "))` exited with status \(result.exitCode)\(result.tail.isEmpty ? "" : ": \(result.tail)")")
            }
        }
    }
}
