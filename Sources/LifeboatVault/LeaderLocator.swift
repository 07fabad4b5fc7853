// LeaderLocator: finds the active node. Asks sys/leader on each configured node until one answers; uses the
// reported leader_address as the URL (it may be a name the configuration never mentions) once it answers as the
// active node, and otherwise falls back to the configured node that says is_self. Sealed nodes, "no leader",
// an empty leader_address and unreachable nodes become clear errors. `--only-if-leader` is LifeboatBackup's OnlyIfLeader.swift.

import Foundation
import LifeboatSnapshot

/// The active node, as discovered.
public struct VaultLeader: Sendable, Equatable {
    /// The URL to send leader-only requests (snapshots) to.
    public var address: String
    /// The leader_address Vault reported (may differ from `address` when it was unreachable from here).
    public var reportedAddress: String
    /// The configured node whose sys/leader answer led here.
    public var discoveredVia: String
}

/// Finds the active node of the configured cluster.
public struct LeaderLocator: Sendable {
    public let client: VaultClient

    public init(client: VaultClient) { self.client = client }

    /// Finds the active node. Remembers it in the client (forwarded requests go there first).
    public func locate() async throws -> VaultLeader {
        let nodes = client.configuration.addresses
        var problems: [(String, VaultError)] = []
        var unusableLeader: (reported: String, reason: String)?
        var selfAnswers: [String: VaultLeaderStatus] = [:]

        for node in nodes {
            let status: VaultLeaderStatus
            do { status = try await client.leaderStatus(at: node) } catch let e as VaultError {
                problems.append((node, e))
                continue
            }
            if !status.haEnabled && !status.isSelf {
                problems.append((node, VaultError(kind: .noLeader, message: "\(node) reports HA disabled (not Raft storage?): Lifeboat needs Vault with integrated (Raft) storage", address: node, path: "sys/leader")))
                continue
            }
            if status.isSelf {
                let reported = status.leaderAddress.isEmpty ? node : status.leaderAddress
                return remember(VaultLeader(address: node, reportedAddress: reported, discoveredVia: node))
            }
            selfAnswers[node] = status
            guard !status.leaderAddress.isEmpty else {
                problems.append((node, VaultError(kind: .noLeader, message: "\(node) is a standby that knows no leader (leader_address is empty): an election is in progress or quorum is lost", address: node, path: "sys/leader")))
                continue
            }
            let reported: String
            do { reported = try VaultClientConfiguration.normalizeAddress(status.leaderAddress, origin: "leader_address") } catch {
                unusableLeader = (status.leaderAddress, "it is not a valid http(s) URL")
                continue
            }
            if node.lowercased().hasPrefix("https://") && reported.lowercased().hasPrefix("http://") {
                unusableLeader = (reported, "it is plain http while \(node) uses https (the token would travel in clear)")
                continue
            }
            if nodes.contains(reported) {
                // A configured node: its own answer decides (asked in this loop, or now if already passed).
                if let earlier = selfAnswers[reported], !earlier.isSelf { continue }
                if let confirmed = try? await client.leaderStatus(at: reported), confirmed.isSelf {
                    return remember(VaultLeader(address: reported, reportedAddress: reported, discoveredVia: node))
                }
                continue
            }
            // Not configured: use it if it answers as the active node.
            do {
                let confirmed = try await client.leaderStatus(at: reported)
                if confirmed.isSelf {
                    return remember(VaultLeader(address: reported, reportedAddress: reported, discoveredVia: node))
                }
                unusableLeader = (reported, "it answers but is not the active node (leadership is moving)")
            } catch let e as VaultError {
                unusableLeader = (reported, e.message)
            }
        }
        throw failure(nodes: nodes, problems: problems, unusableLeader: unusableLeader)
    }

    private func remember(_ leader: VaultLeader) -> VaultLeader {
        client.rememberLeader(leader.address)
        return leader
    }

    private func failure(nodes: [String], problems: [(String, VaultError)], unusableLeader: (reported: String, reason: String)?) -> VaultError {
        if let u = unusableLeader {
            return VaultError(kind: .noLeader,
                              message: "the active node is \(u.reported) but it cannot be used: \(u.reason); no configured node (\(nodes.joined(separator: ", "))) is the active one: add an address of the leader that works from here to LIFEBOAT_VAULT_ADDRS",
                              address: u.reported, path: "sys/leader")
        }
        let kinds = Set(problems.map(\.1.kind))
        if !problems.isEmpty && kinds == [.sealed] {
            return VaultError(kind: .sealed, message: "the cluster is sealed (every configured node answered sealed: \(nodes.joined(separator: ", "))): unseal it (vault operator unseal) and run again",
                              statusCode: 503, vaultErrors: problems.first?.1.vaultErrors ?? [], address: nodes.first, path: "sys/leader")
        }
        if !problems.isEmpty && problems.allSatisfy({ $0.1.kind == .unreachable || $0.1.kind == .tls }) {
            if problems.count == 1 { return problems[0].1 }
            let detail = problems.map { "\($0.0): \($0.1.message)" }.joined(separator: "; ")
            let kind: VaultError.Kind = kinds == [.tls] ? .tls : .unreachable
            return VaultError(kind: kind, message: "cannot reach any Vault node: \(detail)", address: nodes.first, path: "sys/leader")
        }
        if let noLeader = problems.first(where: { $0.1.kind == .noLeader }) {
            let others = problems.filter { $0.0 != noLeader.0 }.map { "\($0.0): \($0.1.message)" }
            return VaultError(kind: .noLeader, message: noLeader.1.message + (others.isEmpty ? "" : " (other nodes: " + others.joined(separator: "; ") + ")") + "; run again once a leader is elected",
                              statusCode: noLeader.1.statusCode, vaultErrors: noLeader.1.vaultErrors, address: noLeader.0, path: "sys/leader")
        }
        if let first = problems.first {
            if problems.count == 1 { return first.1 }
            return VaultError(kind: first.1.kind, message: problems.map { "\($0.0): \($0.1.message)" }.joined(separator: "; "),
                              statusCode: first.1.statusCode, vaultErrors: first.1.vaultErrors, address: first.0, path: "sys/leader")
        }
        return VaultError(kind: .noLeader, message: "no configured Vault node is the active node (\(nodes.joined(separator: ", "))) and none named a leader; run again once a leader is elected",
                          address: nodes.first, path: "sys/leader")
    }
}
