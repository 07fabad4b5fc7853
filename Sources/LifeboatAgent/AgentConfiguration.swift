// What the agent daemon needs to know, independent of how the configuration file is written: the jobs and their
// schedules, the destinations, where to listen, how long to wait at shutdown and whom to notify. The CLI maps the
// parsed configuration file onto this and hands it over; SIGHUP hands over a new one.

import Foundation
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// The agent's settings. Build one from the configuration file, then call `validate()` (the agent does too).
public struct AgentConfiguration: Sendable, Equatable {
    /// Backups of some destinations on one schedule: "hourly to local disk", "daily to S3".
    public struct BackupGroup: Sendable, Equatable {
        /// The group's name: used in job names (`backup:<name>`), metric labels and messages. Bounded by the
        /// configuration; letters, digits, `-`, `_` and `.`.
        public var name: String
        public var schedule: Schedule
        /// Destination names that receive backups of this group.
        public var destinations: [String]

        public init(name: String, schedule: Schedule, destinations: [String]) {
            self.name = name
            self.schedule = schedule
            self.destinations = destinations
        }
    }

    /// Verification on its own schedule.
    public struct VerifyJob: Sendable, Equatable {
        public var schedule: Schedule
        /// Destinations to verify; empty means all.
        public var destinations: [String]

        public init(schedule: Schedule, destinations: [String] = []) {
            self.schedule = schedule
            self.destinations = destinations
        }
    }

    /// Every configured destination; retention runs on each after every successful backup.
    public var destinations: [String]
    public var backupGroups: [BackupGroup]
    public var verify: VerifyJob?
    /// The drill schedule, if drills are enabled.
    public var drill: Schedule?

    /// Where the state file (last runs, last results) lives; nil keeps it in memory only (tests, `--no-state`).
    public var statePath: String?
    /// Where /metrics, /healthz and /status listen. Changing it takes effect at the next start.
    public var listen: ListenAddress
    /// /healthz answers 503 when the last successful backup is older than this; nil disables the check.
    public var healthMaxAge: Duration?
    /// On SIGTERM/SIGINT, how long an in-flight job may run on before it is cancelled.
    public var shutdownGracePeriod: Duration
    public var webhooks: [WebhookConfiguration]

    public init(
        destinations: [String], backupGroups: [BackupGroup], verify: VerifyJob? = nil, drill: Schedule? = nil,
        statePath: String? = nil, listen: ListenAddress = .defaultAddress, healthMaxAge: Duration? = nil,
        shutdownGracePeriod: Duration = .seconds(60), webhooks: [WebhookConfiguration] = []
    ) {
        self.destinations = destinations
        self.backupGroups = backupGroups
        self.verify = verify
        self.drill = drill
        self.statePath = statePath
        self.listen = listen
        self.healthMaxAge = healthMaxAge
        self.shutdownGracePeriod = shutdownGracePeriod
        self.webhooks = webhooks
    }

    /// Checks what the types cannot: names, references between groups and destinations, durations.
    ///
    /// - Throws: `AgentConfigurationError` naming the first problem and how to fix it.
    public func validate() throws(AgentConfigurationError) {
        func fail(_ message: String) -> AgentConfigurationError { AgentConfigurationError(message: message) }
        guard !destinations.isEmpty else {
            throw fail("no destinations are configured: add at least one destination for the agent to back up to")
        }
        if let duplicate = Self.firstDuplicate(destinations) {
            throw fail("destination \"\(duplicate)\" is configured twice: destination names must be unique")
        }
        guard !backupGroups.isEmpty else {
            throw fail("no backup schedule is configured: add a schedule (e.g. \"every 1h\") to at least one destination")
        }
        if let duplicate = Self.firstDuplicate(backupGroups.map(\.name)) {
            throw fail("backup schedule \"\(duplicate)\" is configured twice: schedule names must be unique")
        }
        for group in backupGroups {
            guard Self.isValidName(group.name) else {
                throw fail("backup schedule name \"\(group.name)\" is not usable: use 1-64 letters, digits, '-', '_' or '.'")
            }
            guard !group.destinations.isEmpty else {
                throw fail("backup schedule \"\(group.name)\" has no destinations: name at least one")
            }
            for destination in group.destinations where !destinations.contains(destination) {
                throw fail("backup schedule \"\(group.name)\" names the unknown destination \"\(destination)\": "
                    + "configured destinations are \(destinations.joined(separator: ", "))")
            }
        }
        for destination in verify?.destinations ?? [] where !destinations.contains(destination) {
            throw fail("verify names the unknown destination \"\(destination)\": "
                + "configured destinations are \(destinations.joined(separator: ", "))")
        }
        if let maxAge = healthMaxAge, maxAge <= .zero {
            throw fail("health max age must be positive, e.g. \"2h\"")
        }
        guard shutdownGracePeriod >= .zero else {
            throw fail("shutdown grace period must not be negative")
        }
        for webhook in webhooks {
            try webhook.validate()
        }
    }

    /// The verification destinations: the configured list, or all destinations when it is empty.
    var verifyDestinations: [String] {
        guard let verify, !verify.destinations.isEmpty else { return destinations }
        return verify.destinations
    }

    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.count) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
    }

    private static func firstDuplicate(_ names: [String]) -> String? {
        var seen = Set<String>()
        for name in names where !seen.insert(name).inserted { return name }
        return nil
    }
}

/// A host and port to listen on.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    /// Loopback only: 127.0.0.1:9731.
    public static let defaultAddress = ListenAddress(host: "127.0.0.1", port: 9731)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (meaning 127.0.0.1).
    ///
    /// - Throws: `AgentConfigurationError` with the expected form.
    public static func parse(_ text: String) throws(AgentConfigurationError) -> ListenAddress {
        let fail = AgentConfigurationError(
            message: "invalid listen address \"\(text)\": write host:port, e.g. \"127.0.0.1:9731\" or \"[::1]:9731\"")
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else { throw fail }
        var host = String(text[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        if host.isEmpty { host = "127.0.0.1" }
        return ListenAddress(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// A configuration the agent cannot use; the message says what to change.
public struct AgentConfigurationError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    public var message: String

    public init(message: String) { self.message = message }

    public var description: String { message }
    public var exitStatus: ExitStatus { .configuration }
}
