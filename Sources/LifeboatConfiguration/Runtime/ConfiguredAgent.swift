// From the configuration to the agent's settings: one backup group per destination with its own `schedule`, one
// shared group (`agent.schedules.backup`) for the rest, verification and drills on their schedules, the listener,
// the health threshold and the webhooks (their URLs resolved here).

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

extension LifeboatConfiguration {
    /// The name of the backup group of the destinations that use `agent.schedules.backup`.
    public static let sharedBackupGroup = "default"

    /// The agent settings for this configuration.
    /// - Parameter statePath: the state file (already defaulted by the caller).
    /// - Throws: ``ConfigurationError`` naming the key of a schedule, listen address or webhook that cannot be used.
    /// - Parameter drillAvailable: a scratch cluster is given some other way (command-line flags), so a drill
    ///   schedule does not need the `drill` section.
    public func agentConfiguration(
        statePath: String?, environment: [String: String], drillAvailable: Bool = false
    ) throws -> AgentConfiguration {
        func schedule(_ text: String, _ keyPath: String) throws -> Schedule {
            do {
                return try agent.schedule(text)
            } catch {
                throw ConfigurationError(keyPath: keyPath, message: "\(error)")
            }
        }
        var groups: [AgentConfiguration.BackupGroup] = []
        var shared: [String] = []
        for (index, destination) in destinations.enumerated() {
            if let own = destination.schedule {
                groups.append(.init(name: destination.name, schedule: try schedule(own, "destinations[\(index)].schedule"),
                                    destinations: [destination.name]))
            } else {
                shared.append(destination.name)
            }
        }
        if !shared.isEmpty, let text = agent.schedules.backup {
            var name = Self.sharedBackupGroup
            while groups.contains(where: { $0.name == name }) { name += "-shared" }
            groups.insert(.init(name: name, schedule: try schedule(text, "agent.schedules.backup"), destinations: shared), at: 0)
        }
        var drillSchedule: Schedule?
        if let text = agent.schedules.drill {
            guard drill.isConfigured || drillAvailable else {
                throw ConfigurationError(keyPath: "agent.schedules.drill",
                    message: "a drill schedule needs a scratch cluster: set drill.simulator or drill.hooks.create")
            }
            drillSchedule = try schedule(text, "agent.schedules.drill")
        }
        let listen: ListenAddress
        do {
            listen = try ListenAddress.parse(agent.listen)
        } catch {
            throw ConfigurationError(keyPath: "agent.listen", message: "\(error)")
        }
        let resolver = SecretResolver(environment: environment)
        let webhooks = try notifications.webhooks.enumerated().map { index, webhook in
            let events = Set(webhook.on.map { event -> AgentNotification.Event in
                switch event {
                case .failure: return .failure
                case .recovery: return .recovery
                case .success: return .success
                }
            })
            return WebhookConfiguration(
                url: try resolver.resolve(webhook.url, keyPath: "notifications.webhooks[\(index)].url").exposedValue,
                format: webhook.format == .slack ? .slack : .json, events: events, timeout: webhook.timeout,
                maxAttempts: webhook.retries + 1)
        }
        return AgentConfiguration(
            destinations: destinations.map(\.name), backupGroups: groups,
            verify: try agent.schedules.verify.map { .init(schedule: try schedule($0, "agent.schedules.verify")) },
            drill: drillSchedule, statePath: statePath, listen: listen, healthMaxAge: agent.healthMaxAge,
            shutdownGracePeriod: agent.shutdownGracePeriod, webhooks: webhooks)
    }
}
