// `lifeboat config check --connect`: tries what the configuration points at without taking a backup. Vault: every
// configured node's sys/health, the token (auth/token/lookup-self) and its capabilities on the paths Lifeboat's
// policies (policies/*.hcl) grant, asked with sys/capabilities-self. Destinations: a small probe object written,
// read back, compared and deleted on each. Every check runs even when an earlier one failed.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatVault
import LifeboatRepository
import LifeboatS3
import LifeboatRecovery

/// One result line of `config check --connect`.
public struct ConnectionCheckResult: Sendable, Equatable, CustomStringConvertible {
    public enum Status: String, Sendable, Equatable {
        case ok, warning, error
    }

    public var status: Status
    /// What was tried: `vault https://vault-1:8200`, `token`, `destination offsite`.
    public var subject: String
    /// What was found and, on a problem, what to do.
    public var message: String

    public init(_ status: Status, _ subject: String, _ message: String) {
        self.status = status
        self.subject = subject
        self.message = message
    }

    /// `ok      vault https://127.0.0.1:8200: active, unsealed, Vault 1.14.3`
    public var description: String {
        status.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0) + subject + ": " + message
    }
}

/// A capability Lifeboat needs on a Vault path, and the policy file in policies/ that grants it.
public struct RequiredCapability: Sendable, Equatable {
    public var path: String
    public var capability: String
    /// What it is needed for.
    public var purpose: String
    /// `policies/lifeboat-backup.hcl`, ...
    public var policy: String

    public init(path: String, capability: String, purpose: String, policy: String) {
        self.path = path
        self.capability = capability
        self.purpose = purpose
        self.policy = policy
    }

    /// `lifeboat backup` and `lifeboat agent` (policies/lifeboat-backup.hcl).
    public static let backup: [RequiredCapability] = [
        .init(path: "sys/storage/raft/snapshot", capability: "read", purpose: "download snapshots", policy: "policies/lifeboat-backup.hcl"),
        .init(path: "sys/storage/raft/configuration", capability: "read", purpose: "record the raft servers in each manifest",
              policy: "policies/lifeboat-backup.hcl"),
        .init(path: "auth/token/lookup-self", capability: "read", purpose: "look the token up", policy: "policies/lifeboat-backup.hcl"),
        .init(path: "auth/token/renew-self", capability: "update", purpose: "renew the token", policy: "policies/lifeboat-backup.hcl"),
    ]

    /// `lifeboat restore` onto the running cluster (policies/lifeboat-restore.hcl). A restore with --force uses the
    /// new cluster's temporary root token instead.
    public static let restore: [RequiredCapability] = [
        .init(path: "sys/storage/raft/snapshot", capability: "update", purpose: "restore a snapshot of this cluster",
              policy: "policies/lifeboat-restore.hcl"),
        .init(path: "sys/storage/raft/snapshot-force", capability: "update", purpose: "restore a snapshot with other unseal keys",
              policy: "policies/lifeboat-restore.hcl"),
        .init(path: "sys/storage/raft/autopilot/state", capability: "read", purpose: "watch the cluster come back",
              policy: "policies/lifeboat-restore.hcl"),
    ]

    /// Reading a canary (its API path, `<mount>/data/<path>`) after a restore or drill.
    public static func canary(_ apiPath: String) -> RequiredCapability {
        .init(path: apiPath, capability: "read", purpose: "read the canary after a restore or drill",
              policy: "policies/lifeboat-restore.hcl")
    }

    /// True when `granted` (a sys/capabilities-self answer for this path) allows the capability.
    public func isGranted(by granted: [String]) -> Bool {
        if granted.contains("deny") { return false }
        return granted.contains("root") || granted.contains(capability)
    }
}

public enum ConnectionCheck {
    /// The name of the probe object written to each destination (removed again at once).
    public static func probeName() -> String { "lifeboat-config-check-" + Hex.encode(SecureRandom.bytes(8)) }

    /// Runs every check and returns one line per finding, in order: Vault nodes, token, capabilities, destinations.
    public static func run(_ configuration: LifeboatConfiguration, environment: [String: String]) async -> [ConnectionCheckResult] {
        var results = await checkVault(configuration, environment: environment)
        for destination in configuration.destinations {
            results.append(await checkDestination(destination, in: configuration, environment: environment))
        }
        return results
    }

    // MARK: Vault

    static func checkVault(_ configuration: LifeboatConfiguration, environment: [String: String]) async -> [ConnectionCheckResult] {
        let product = configuration.vault.openbao ? "OpenBao" : "Vault"
        let client: VaultClient
        do {
            client = try VaultClient(configuration: try configuration.vault.clientConfiguration(environment: environment))
        } catch {
            return [.init(.error, product.lowercased(), "cannot set up the client: \(error)")]
        }
        let results = await checkVault(client: client, configuration, product: product)
        try? await client.shutdown()
        return results
    }

    private static func checkVault(client: VaultClient, _ configuration: LifeboatConfiguration, product: String) async -> [ConnectionCheckResult] {
        var results: [ConnectionCheckResult] = []
        var active: String?
        for (index, address) in client.configuration.addresses.enumerated() {
            let subject = "\(product.lowercased()) \(address)"
            // The local node (vault.address) must answer; the other nodes only help find the leader.
            let severity: ConnectionCheckResult.Status = index == 0 ? .error : .warning
            do {
                let (_, health) = try await client.health(at: address)
                let version = health.version.map { ", \(product) \($0)" } ?? ""
                if !health.initialized {
                    results.append(.init(severity, subject, "not initialized: initialize it (`vault operator init`) or fix the address"))
                } else if health.sealed {
                    results.append(.init(severity, subject, "sealed: unseal it (`vault operator unseal`)"))
                } else {
                    if !health.standby, active == nil { active = address }
                    results.append(.init(.ok, subject, (health.standby ? "standby" : "active") + ", unsealed" + version))
                }
            } catch {
                results.append(.init(severity, subject, "\(error)"))
            }
        }
        if active == nil {
            // No configured node is the leader: find it the way backups do (sys/leader, redirects).
            do {
                let leader = try await LeaderLocator(client: client).locate()
                active = leader.address
                results.append(.init(.ok, "\(product.lowercased()) leader", "\(leader.address) (found through \(leader.discoveredVia))"))
            } catch {
                results.append(.init(.error, "\(product.lowercased()) leader", "\(error)"))
            }
        }
        guard let active else {
            results.append(.init(.warning, "token", "not checked: no active node to ask"))
            return results
        }
        do {
            let lookup = try await client.lookupSelf(at: active)
            let policies = (lookup.policies ?? []).joined(separator: ", ")
            let expiry = lookup.ttl == 0 ? "does not expire" : "expires in \(Schedule.format(.seconds(lookup.ttl)))"
            results.append(.init(.ok, "token", "valid (policies: \(policies.isEmpty ? "none" : policies); \(expiry))"))
        } catch {
            results.append(.init(.error, "token", "\(error)"))
            return results
        }
        results += await checkCapabilities(configuration, client: client, at: active)
        return results
    }

    /// What this configuration needs: backups (an error when missing: the configured token takes them), and,
    /// when configured, reading the canaries and a same-cluster restore (warnings: they may use another token).
    static func requiredCapabilities(_ configuration: LifeboatConfiguration) -> (required: [RequiredCapability], optional: [RequiredCapability]) {
        var optional: [RequiredCapability] = []
        var seen = Set<String>()
        for canary in configuration.restore.canaries + configuration.drillCanaries {
            guard let parsed = try? CanarySecret(parsing: canary.path), seen.insert(parsed.description).inserted else { continue }
            optional.append(.canary(parsed.description))
        }
        if !configuration.restore.nodes.isEmpty { optional += RequiredCapability.restore }
        return (RequiredCapability.backup, optional)
    }

    static func checkCapabilities(_ configuration: LifeboatConfiguration, client: VaultClient, at address: String) async -> [ConnectionCheckResult] {
        let (required, optional) = requiredCapabilities(configuration)
        let paths = Array(Set((required + optional).map(\.path))).sorted()
        let granted: [String: [String]]
        do {
            granted = try await client.capabilitiesSelf(paths, at: address)
        } catch {
            return [.init(.warning, "capabilities", "NOT checked: sys/capabilities-self failed (\(error)); "
                + "make sure the token carries policies/lifeboat-backup.hcl")]
        }
        var results: [ConnectionCheckResult] = []
        var missing: [RequiredCapability] = []
        for need in required where !need.isGranted(by: granted[need.path] ?? []) { missing.append(need) }
        if missing.isEmpty {
            results.append(.init(.ok, "capabilities", "the token may do everything backups need (\(required.count) paths checked)"))
        }
        for need in missing {
            results.append(.init(.error, "capabilities", "the token lacks \(need.capability) on \(need.path) (to \(need.purpose)): "
                + "attach a policy like \(need.policy)"))
        }
        for need in optional where !need.isGranted(by: granted[need.path] ?? []) {
            results.append(.init(.warning, "capabilities", "the token lacks \(need.capability) on \(need.path) (to \(need.purpose)): "
                + "the token that restores or drills needs a policy like \(need.policy)"))
        }
        return results
    }

    // MARK: Destinations

    static func checkDestination(_ destination: LifeboatConfiguration.Destination, in configuration: LifeboatConfiguration,
                                 environment: [String: String]) async -> ConnectionCheckResult {
        let subject = "destination \(destination.name)"
        if case .local(let local) = destination.storage, !FileManager.default.fileExists(atPath: local.path) {
            let parent = URL(fileURLWithPath: local.path).deletingLastPathComponent().path
            if access(parent, W_OK) == 0 {
                return .init(.ok, subject, "local directory \(local.path) does not exist yet; the first backup creates it (mode 0700)")
            }
            return .init(.error, subject, "local directory \(local.path) does not exist and \(parent) is not writable: create it "
                + "(mode 0700, owned by the user that runs Lifeboat)")
        }
        let opened: OpenedDestination
        do {
            opened = try configuration.open(destination, create: false, environment: environment)
        } catch {
            return .init(.error, subject, "cannot open it: \(error)")
        }
        if let s3 = opened.repository.store as? S3Store, let lock = s3.configuration.objectLock {
            do {
                try await s3.checkObjectLock()
            } catch {
                await opened.close()
                return .init(.error, subject, "\(s3.displayName): \(error)")
            }
            let result = await probe(opened.repository.store, subject: subject)
            await opened.close()
            guard result.status == .ok else { return result }
            return .init(.ok, subject, result.message + "; versioning and Object Lock are enabled (backups locked \(lock))")
        }
        let result = await probe(opened.repository.store, subject: subject)
        await opened.close()
        return result
    }

    /// Writes, reads back and deletes a probe object.
    static func probe(_ store: any BackupStore, subject: String) async -> ConnectionCheckResult {
        let name = probeName()
        let probe = Array("lifeboat config check probe \(name)\n".utf8)
        var step = "write"
        do {
            try await store.put(name, probe)
            step = "read back"
            let back = try await store.get(name, limit: 4096)
            step = "delete"
            try await store.delete(name)
            guard back == probe else {
                return .init(.error, subject, "\(store.displayName): the probe object \(name) read back differently from what was written")
            }
            return .init(.ok, subject, "\(store.displayName): wrote, read back and deleted a probe object")
        } catch {
            if step != "write" { try? await store.delete(name) }
            return .init(.error, subject, "\(store.displayName): could not \(step) the probe object \(name): \(error)")
        }
    }
}
