// RestoreOptions: everything a restore needs besides the backup: the nodes, the original unseal keys, the archive
// keys, the reset hook, the state directory (journal and staging), canaries, the original token source and the
// timeouts. Filled by the CLI from flags and the configuration; by tests directly.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// A KV version 2 secret whose presence after a restore proves the data came back.
public struct CanarySecret: Sendable, Codable, Equatable, Hashable, CustomStringConvertible {
    /// The KV v2 mount, e.g. `secret`.
    public var mount: String
    /// The secret's path inside the mount, e.g. `lifeboat/canary/prod`.
    public var path: String
    /// When set, the secret's data must hold this key (its value is never logged).
    public var requiredKey: String?
    /// When set (with `requiredKey`), the key's value must be this string (compared, never logged).
    public var expectedValue: String?

    public init(mount: String = "secret", path: String, requiredKey: String? = nil, expectedValue: String? = nil) {
        self.mount = mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.path = path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        self.requiredKey = requiredKey
        self.expectedValue = expectedValue
    }

    /// Parses `secret/data/lifeboat/canary/x`, `secret/lifeboat/canary/x` (first segment = mount) or `mount:path`.
    public init(parsing text: String) throws {
        if let colon = text.firstIndex(of: ":") {
            self.init(mount: String(text[..<colon]), path: String(text[text.index(after: colon)...]))
        } else {
            let parts = text.trimmingCharacters(in: CharacterSet(charactersIn: "/")).split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2 else {
                throw RecoveryError(.configuration, "canary \"\(text)\" needs a mount and a path, e.g. secret/data/lifeboat/canary/prod")
            }
            var rest = parts[1]
            if rest.hasPrefix("data/") { rest.removeFirst(5) }
            self.init(mount: parts[0], path: rest)
        }
        guard !mount.isEmpty, !path.isEmpty else {
            throw RecoveryError(.configuration, "canary \"\(text)\" needs a mount and a path, e.g. secret/data/lifeboat/canary/prod")
        }
    }

    /// The API path read (`<mount>/data/<path>`).
    public var description: String { mount + "/data/" + path }
}

/// How long a restore waits for each state, and how often it looks.
public struct RestoreTimeouts: Sendable, Equatable {
    /// Until a reset node answers as uninitialized.
    public var nodeReset: Duration = .seconds(300)
    /// Until an unsealed node becomes active or standby.
    public var activation: Duration = .seconds(120)
    /// Until the asynchronous apply reseals the node (plus `applyPerGiB` per GiB of snapshot).
    public var apply: Duration = .seconds(300)
    public var applyPerGiB: Duration = .seconds(600)
    /// Until every node is a voter and autopilot is healthy; until indexes and leader settle in verify.
    public var cluster: Duration = .seconds(300)
    /// Upload timeout = base + size / throughput (a slow link must not cut a large snapshot).
    public var uploadBase: Duration = .seconds(120)
    public var uploadMinimumBytesPerSecond: Int64 = 1 << 20
    /// Pause between two polls.
    public var pollInterval: Duration = .seconds(1)
    /// Each hook command is killed after this long (command hooks only).
    public var hookCommand: Duration = .seconds(300)

    public init() {}

    /// The upload timeout for a snapshot of `bytes`.
    public func upload(bytes: Int64) -> Duration {
        uploadBase + .seconds(Double(bytes) / Double(max(1, uploadMinimumBytesPerSecond)))
    }

    /// The apply timeout for a snapshot of `bytes`.
    public func apply(bytes: Int64) -> Duration {
        apply + applyPerGiB * (Double(bytes) / Double(1 << 30))
    }
}

/// Something that happened during a restore, for a progress display (the CLI prints these).
public enum RestoreEvent: Sendable, Equatable {
    case phaseStarted(RestorePhase)
    case phaseFinished(RestorePhase, seconds: Double)
    case phaseSkipped(RestorePhase)
    case phaseFailed(RestorePhase, message: String)
    /// A step inside a phase, e.g. "unsealing vault_2 (2 of 3 keys)".
    case note(RestorePhase, String)
}

/// The settings of one restore.
public struct RestoreOptions: Sendable {
    public var mode: RestoreMode
    /// Every node of the cluster; the first is initialized and receives the snapshot (`--force`).
    public var nodes: [RecoveryNode]
    /// The original cluster's unseal keys (empty for auto-unseal).
    public var unsealKeys: UnsealKeySet
    /// Decrypts the backup.
    public var keyRing: KeyRing
    /// Wipes a node (required for `--force` unless the nodes are already empty and running).
    public var resetHook: (any ResetHook)?
    /// Holds the journal and the `staging/` directory (mode 0700).
    public var stateDirectory: String
    public var canaries: [CanarySecret]
    /// The original cluster's token (from the configuration or the environment), needed once the restored data is
    /// live: raft configuration, autopilot, canaries. Same-cluster restores also upload with it.
    public var originalToken: @Sendable () async throws -> VaultSecret?
    /// Raft node ids by node name, when they differ from the names (membership checks compare raft ids).
    public var raftNodeIDs: [String: String]
    public var timeouts: RestoreTimeouts
    /// Confirms that a healthy target holding data the backup does not (a higher raft index, or another cluster)
    /// may be replaced (`--overwrite-newer`); `--yes` alone is not enough.
    public var overwriteNewer = false
    /// The nodes are a drill's scratch cluster: a target that answers as the backup's own cluster is production
    /// reached by mistake and is always refused (whatever `overwriteNewer` says).
    public var scratchTarget = false
    /// Where `originalToken` comes from, for the plan (never the token itself).
    public var tokenSource = "the configured Vault token"
    /// Progress callback (called from the restore's task).
    public var onEvent: (@Sendable (RestoreEvent) -> Void)?

    public init(mode: RestoreMode, nodes: [RecoveryNode], unsealKeys: UnsealKeySet, keyRing: KeyRing, resetHook: (any ResetHook)?,
                stateDirectory: String, canaries: [CanarySecret] = [], raftNodeIDs: [String: String] = [:],
                timeouts: RestoreTimeouts = RestoreTimeouts(),
                originalToken: @escaping @Sendable () async throws -> VaultSecret?) {
        self.mode = mode
        self.nodes = nodes
        self.unsealKeys = unsealKeys
        self.keyRing = keyRing
        self.resetHook = resetHook
        self.stateDirectory = stateDirectory
        self.canaries = canaries
        self.raftNodeIDs = raftNodeIDs
        self.timeouts = timeouts
        self.originalToken = originalToken
    }

    /// The raft node id of `node`.
    public func raftID(_ node: RecoveryNode) -> String { raftNodeIDs[node.name] ?? node.name }

    /// The staging directory.
    public var stagingDirectory: String { stateDirectory + "/staging" }
}
