// LifeboatConfiguration: the typed model of lifeboat.yaml with every default filled in (Vault connection, keys,
// destinations with retention and schedules, backup, agent, notifications, restore and drill). Loading, validation,
// environment and flag overrides and rendering live in the neighbouring files; docs/configuration.md lists every key.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

/// Lifeboat's configuration, after defaults, the file, the environment and flags have been applied.
///
/// Build it with ``ConfigurationLoader``; every property already holds its effective value (defaults are filled
/// in). Secrets are ``SecretReference``s: resolve them with a ``SecretResolver`` when they are needed.
public struct LifeboatConfiguration: Sendable, Equatable {
    /// How to reach and authenticate to Vault or OpenBao.
    public var vault: Vault
    /// The keys that encrypt and decrypt backups.
    public var keys: Keys
    /// Where backups are stored (the `destinations` list, or the single `repository`). Never empty once loaded.
    public var destinations: [Destination]
    /// How backups are taken.
    public var backup: Backup
    /// The scheduling daemon (`lifeboat agent`).
    public var agent: Agent
    /// Webhooks called on failure, recovery and (optionally) success.
    public var notifications: Notifications
    /// The cluster `lifeboat restore` rebuilds.
    public var restore: Restore
    /// The scratch cluster `lifeboat drill` restores into.
    public var drill: Drill

    public init(
        vault: Vault = Vault(), keys: Keys = Keys(), destinations: [Destination] = [], backup: Backup = Backup(),
        agent: Agent = Agent(), notifications: Notifications = Notifications(), restore: Restore = Restore(),
        drill: Drill = Drill()
    ) {
        self.vault = vault
        self.keys = keys
        self.destinations = destinations
        self.backup = backup
        self.agent = agent
        self.notifications = notifications
        self.restore = restore
        self.drill = drill
    }

    /// The destination named `name`, if configured.
    public func destination(named name: String) -> Destination? {
        destinations.first { $0.name == name }
    }

    /// The built-in configuration used when there is no configuration file: one local repository at
    /// ``defaultRepositoryPath(environment:isRoot:)``, everything else at its default.
    public static func defaults(environment: [String: String], isRoot: Bool) -> LifeboatConfiguration {
        LifeboatConfiguration(
            destinations: [
                Destination(name: Destination.defaultName, storage: .local(LocalStorage(path: defaultRepositoryPath(
                    environment: environment, isRoot: isRoot))))
            ],
            agent: Agent(stateFile: defaultStatePath(environment: environment, isRoot: isRoot)))
    }

    /// The agent's default state file: `/var/lib/lifeboat/agent-state.json` for root, otherwise
    /// `$XDG_STATE_HOME/lifeboat/agent-state.json`, falling back to `~/.local/state/lifeboat/agent-state.json`.
    public static func defaultStatePath(environment: [String: String], isRoot: Bool) -> String {
        if isRoot { return "/var/lib/lifeboat/agent-state.json" }
        if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") {
            return (xdg.hasSuffix("/") ? String(xdg.dropLast()) : xdg) + "/lifeboat/agent-state.json"
        }
        return homeDirectory(environment) + "/.local/state/lifeboat/agent-state.json"
    }

    static func homeDirectory(_ environment: [String: String]) -> String {
        var home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        if home.count > 1, home.hasSuffix("/") { home.removeLast() }
        return home
    }

    /// The default local repository: `/var/lib/lifeboat/repository` for root, otherwise
    /// `$XDG_DATA_HOME/lifeboat/repository`, falling back to `~/.local/share/lifeboat/repository`.
    public static func defaultRepositoryPath(environment: [String: String], isRoot: Bool) -> String {
        if isRoot { return "/var/lib/lifeboat/repository" }
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return (xdg.hasSuffix("/") ? String(xdg.dropLast()) : xdg) + "/lifeboat/repository"
        }
        return homeDirectory(environment) + "/.local/share/lifeboat/repository"
    }

    /// The unseal keys file a drill uses: `drill.unseal_keys_file`, else `restore.unseal_keys_file`.
    public var drillUnsealKeysFile: String? { drill.unsealKeysFile ?? restore.unsealKeysFile }

    /// The canaries a drill checks: `drill.canaries`, else `restore.canaries`.
    public var drillCanaries: [Canary] { drill.canaries.isEmpty ? restore.canaries : drill.canaries }
}

// MARK: - vault

extension LifeboatConfiguration {
    /// How to reach and authenticate to Vault or OpenBao (`vault:`).
    public struct Vault: Sendable, Equatable {
        /// Vault's default address.
        public static let defaultAddress = "https://127.0.0.1:8200"

        /// The local node's API address (`address`, default `https://127.0.0.1:8200`).
        public var address: String
        /// Further node addresses tried for leader discovery (`addresses`).
        public var addresses: [String]
        /// Enterprise namespace sent as X-Vault-Namespace (`namespace`).
        public var namespace: String?
        /// TLS verification and client certificates (`tls`).
        public var tls: TLS
        /// How Lifeboat obtains a token (`auth`).
        public var auth: Auth
        /// Request and snapshot timeouts (`timeouts`).
        public var timeouts: Timeouts
        /// The cluster is OpenBao (`openbao`): messages and hints name OpenBao and the `bao` command.
        public var openbao: Bool

        public init(
            address: String = Vault.defaultAddress, addresses: [String] = [], namespace: String? = nil, tls: TLS = TLS(),
            auth: Auth = Auth(), timeouts: Timeouts = Timeouts(), openbao: Bool = false
        ) {
            self.address = address
            self.addresses = addresses
            self.namespace = namespace
            self.tls = tls
            self.auth = auth
            self.timeouts = timeouts
            self.openbao = openbao
        }

        /// `address` followed by `addresses`, duplicates removed: the order leader discovery tries them in.
        public var allAddresses: [String] {
            var seen = Set<String>()
            return ([address] + addresses).filter { seen.insert($0).inserted }
        }
    }

    /// TLS settings (`vault.tls`), Vault's VAULT_CACERT family.
    public struct TLS: Sendable, Equatable {
        /// PEM file of CA certificates to trust instead of the system store (`ca_cert`).
        public var caCert: String?
        /// Directory of PEM CA certificates (`ca_path`; ignored when `ca_cert` is set, as in Vault).
        public var caPath: String?
        /// Client certificate for listeners that require one (`client_cert`; needs `client_key`).
        public var clientCert: String?
        /// The client certificate's private key (`client_key`).
        public var clientKey: String?
        /// The name the server certificate must carry, and the SNI sent (`server_name`).
        public var serverName: String?
        /// Turns certificate verification off (`skip_verify`). Dangerous; warned about.
        public var skipVerify: Bool

        public init(
            caCert: String? = nil, caPath: String? = nil, clientCert: String? = nil, clientKey: String? = nil,
            serverName: String? = nil, skipVerify: Bool = false
        ) {
            self.caCert = caCert
            self.caPath = caPath
            self.clientCert = clientCert
            self.clientKey = clientKey
            self.serverName = serverName
            self.skipVerify = skipVerify
        }
    }

    /// How Lifeboat authenticates to Vault (`vault.auth`).
    public struct Auth: Sendable, Equatable {
        /// The authentication methods.
        public enum Method: String, Sendable, Equatable, CaseIterable {
            /// A fixed token (`token`).
            case token
            /// A token file written once, such as `~/.vault-token` (`token_file`); re-read after a 403.
            case tokenFile = "token_file"
            /// A file a Vault Agent sink rewrites (`sink_path`); re-read every time a token is needed.
            case agentSink = "agent_sink"
            /// AppRole login (`role_id`, `secret_id`, `mount`), renewed at half the TTL.
            case approle
        }

        /// The method (`method`). When not set it is inferred from the keys present; with none present, Vault's
        /// conventions apply at run time (VAULT_TOKEN, then ~/.vault-token).
        public var method: Method?
        /// The token for `method: token` (`token`, a secret reference).
        public var token: SecretReference?
        /// The token file for `method: token_file` (`token_file`).
        public var tokenFile: String?
        /// The Vault Agent sink file for `method: agent_sink` (`sink_path`).
        public var sinkPath: String?
        /// The AppRole role_id (`role_id`, a secret reference).
        public var roleID: SecretReference?
        /// The AppRole secret_id (`secret_id`, a secret reference; optional for roles with bind_secret_id=false).
        public var secretID: SecretReference?
        /// The AppRole auth mount path (`mount`, default `approle`).
        public var mount: String

        public init(
            method: Method? = nil, token: SecretReference? = nil, tokenFile: String? = nil, sinkPath: String? = nil,
            roleID: SecretReference? = nil, secretID: SecretReference? = nil, mount: String = "approle"
        ) {
            self.method = method
            self.token = token
            self.tokenFile = tokenFile
            self.sinkPath = sinkPath
            self.roleID = roleID
            self.secretID = secretID
            self.mount = mount
        }

        /// `method`, or the one implied by the keys present (role_id, then sink_path, then token, then token_file);
        /// nil when nothing is configured.
        public var effectiveMethod: Method? {
            if let method { return method }
            if roleID != nil || secretID != nil { return .approle }
            if sinkPath != nil { return .agentSink }
            if token != nil { return .token }
            if tokenFile != nil { return .tokenFile }
            return nil
        }
    }

    /// Timeouts (`vault.timeouts`); generous by default because large snapshots take minutes.
    public struct Timeouts: Sendable, Equatable {
        /// An ordinary API request (`request`, default 60s).
        public var request: Duration
        /// A whole snapshot download or upload (`snapshot`, default 6h).
        public var snapshot: Duration
        /// A snapshot stream that delivers no byte for this long is cut (`stall`, default 60s).
        public var stall: Duration

        public init(request: Duration = .seconds(60), snapshot: Duration = .seconds(6 * 3600), stall: Duration = .seconds(60)) {
            self.request = request
            self.snapshot = snapshot
            self.stall = stall
        }
    }
}

// MARK: - keys

extension LifeboatConfiguration {
    /// The keys that encrypt and decrypt backups (`keys`).
    ///
    /// New backups are encrypted with the first key file, or with the passphrase when there is no key file.
    /// Every key file and the passphrase decrypt (keep retired keys listed for as long as their backups exist).
    public struct Keys: Sendable, Equatable {
        /// Key files written by `lifeboat key generate` (`key_files`; mode 0600). The first one encrypts.
        public var keyFiles: [String]
        /// A passphrase, stretched with scrypt (`passphrase`, a secret reference).
        public var passphrase: SecretReference?
        /// X25519 recipients (`recipients`: `lifeboat-recipient-1:` lines, or files holding one). When set, new
        /// backups are encrypted to every one of them instead of the first key file or the passphrase, and this host
        /// needs no private key; restoring needs the identity file of one of them in `key_files` or `--key-file`.
        public var recipients: [String]

        public init(keyFiles: [String] = [], passphrase: SecretReference? = nil, recipients: [String] = []) {
            self.keyFiles = keyFiles
            self.passphrase = passphrase
            self.recipients = recipients
        }

        /// True when nothing is configured to encrypt with.
        public var isEmpty: Bool { keyFiles.isEmpty && passphrase == nil && recipients.isEmpty }
    }
}

// MARK: - backup

extension LifeboatConfiguration {
    /// How backups are taken (`backup`).
    public struct Backup: Sendable, Equatable {
        /// Allowed chunk sizes (bytes of plaintext per encrypted chunk).
        public static let chunkSizeRange = ArchiveHeader.chunkSizeRange

        /// Try zlib on each chunk and keep it when smaller (`compression`, default true).
        public var compression: Bool
        /// Plaintext bytes per encrypted chunk (`chunk_size`, default 1 MiB, 1024...16777216).
        public var chunkSize: Int
        /// Tags added to every backup (`tags`).
        public var tags: [String]
        /// Skip quietly (exit 0) when the local node is a standby (`only_if_leader`, default false).
        public var onlyIfLeader: Bool

        public init(
            compression: Bool = true, chunkSize: Int = ArchiveHeader.defaultChunkSize, tags: [String] = [],
            onlyIfLeader: Bool = false
        ) {
            self.compression = compression
            self.chunkSize = chunkSize
            self.tags = tags
            self.onlyIfLeader = onlyIfLeader
        }
    }
}

// MARK: - agent

extension LifeboatConfiguration {
    /// Log line formats.
    public enum LogFormat: String, Sendable, Equatable, CaseIterable {
        /// Human-readable lines (default).
        case human
        /// One JSON object per line.
        case json
    }

    /// The scheduling daemon (`agent`).
    public struct Agent: Sendable, Equatable {
        /// The default listen address of the metrics, health and status endpoints.
        public static let defaultListen = "127.0.0.1:9731"

        /// `host:port` of /metrics, /healthz and /status (`listen`, default 127.0.0.1:9731).
        public var listen: String
        /// When each job runs (`schedules`).
        public var schedules: Schedules
        /// IANA time zone cron expressions are evaluated in (`time_zone`, default UTC).
        public var timeZone: String
        /// The largest random delay added to each run (`jitter`, default none).
        public var jitter: Duration?
        /// Log format (`log_format`: human or json).
        public var logFormat: LogFormat
        /// Where the agent keeps its last runs and results (`state_file`; default in Lifeboat's data directory).
        public var stateFile: String?
        /// /healthz fails when the last successful backup is older than this (`health_max_age`; default: no check).
        public var healthMaxAge: Duration?
        /// On SIGTERM, how long an in-flight job may run on before it is cancelled (`shutdown_grace_period`, 60s).
        public var shutdownGracePeriod: Duration

        public init(
            listen: String = Agent.defaultListen, schedules: Schedules = Schedules(), timeZone: String = "UTC",
            jitter: Duration? = nil, logFormat: LogFormat = .human, stateFile: String? = nil,
            healthMaxAge: Duration? = nil, shutdownGracePeriod: Duration = .seconds(60)
        ) {
            self.listen = listen
            self.schedules = schedules
            self.timeZone = timeZone
            self.jitter = jitter
            self.logFormat = logFormat
            self.stateFile = stateFile
            self.healthMaxAge = healthMaxAge
            self.shutdownGracePeriod = shutdownGracePeriod
        }

        /// Parses `text` (a schedule from `schedules` or a destination) with this agent's time zone and jitter.
        /// - Throws: the schedule parser's error.
        public func schedule(_ text: String) throws(ScheduleError) -> Schedule {
            try Schedule.parse(text, timeZone: timeZone, jitter: jitter.map { Schedule.format($0) })
        }
    }

    /// When the agent's jobs run (`agent.schedules`): cron expressions, @hourly/@daily/@weekly, or `every 15m`.
    public struct Schedules: Sendable, Equatable {
        /// Backups to every destination without its own `schedule` (`backup`, default `@hourly`; null disables).
        public var backup: String?
        /// Verification of the newest backup (`verify`, default `@daily`; null disables).
        public var verify: String?
        /// DR drills (`drill`, default none; needs the `drill` section).
        public var drill: String?

        public init(backup: String? = "@hourly", verify: String? = "@daily", drill: String? = nil) {
            self.backup = backup
            self.verify = verify
            self.drill = drill
        }
    }
}

// MARK: - notifications

extension LifeboatConfiguration {
    /// Webhook notifications (`notifications`).
    public struct Notifications: Sendable, Equatable {
        /// The webhooks (`webhooks`).
        public var webhooks: [Webhook]

        public init(webhooks: [Webhook] = []) {
            self.webhooks = webhooks
        }
    }

    /// One webhook (`notifications.webhooks[i]`).
    public struct Webhook: Sendable, Equatable {
        /// The payload shapes.
        public enum Format: String, Sendable, Equatable, CaseIterable {
            /// Lifeboat's JSON event (default).
            case json
            /// A Slack-compatible `{"text": ...}` payload.
            case slack
        }

        /// The events a webhook can be sent for.
        public enum Event: String, Sendable, Equatable, CaseIterable, Comparable {
            /// A job failed.
            case failure
            /// A job succeeded after failing.
            case recovery
            /// A job succeeded.
            case success

            public static func < (lhs: Event, rhs: Event) -> Bool {
                allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
            }
        }

        /// Where to POST (`url`; a secret reference, since Slack-style URLs embed a credential).
        public var url: SecretReference
        /// Payload shape (`format`, default json).
        public var format: Format
        /// Events sent (`on`, default [failure, recovery]).
        public var on: [Event]
        /// Per-attempt timeout (`timeout`, default 10s).
        public var timeout: Duration
        /// Retries after a failed attempt (`retries`, default 3, at most 10).
        public var retries: Int

        public init(
            url: SecretReference, format: Format = .json, on: [Event] = [.failure, .recovery],
            timeout: Duration = .seconds(10), retries: Int = 3
        ) {
            self.url = url
            self.format = format
            self.on = on
            self.timeout = timeout
            self.retries = retries
        }
    }
}

// MARK: - restore and drill

extension LifeboatConfiguration {
    /// One Vault node (`restore.nodes[i]`, `drill.nodes[i]`).
    public struct Node: Sendable, Equatable {
        /// The node's name, substituted for `{node}` in hooks (`name`).
        public var name: String
        /// The node's API address (`api_addr`).
        public var apiAddress: String

        public init(name: String, apiAddress: String) {
            self.name = name
            self.apiAddress = apiAddress
        }
    }

    /// A command run by a hook, as an argument vector (no shell unless you call one: `[sh, -c, "..."]`).
    public struct HookCommand: Sendable, Equatable, CustomStringConvertible {
        /// The program and its arguments.
        public var arguments: [String]

        public init(_ arguments: [String]) {
            self.arguments = arguments
        }

        public var description: String { arguments.joined(separator: " ") }
    }

    /// A secret that must be readable after a restore or drill (`canaries[i]`).
    public struct Canary: Sendable, Equatable {
        /// The API path to read, e.g. `secret/data/lifeboat/canary` (`path`).
        public var path: String
        /// Fields that must be present, optionally with their expected value (`fields`).
        public var fields: [Field]

        public init(path: String, fields: [Field] = []) {
            self.path = path
            self.fields = fields
        }

        /// One field of a canary.
        public struct Field: Sendable, Equatable {
            /// The field name.
            public var name: String
            /// The value it must have; nil when only its presence is checked.
            public var expected: String?

            public init(name: String, expected: String? = nil) {
                self.name = name
                self.expected = expected
            }
        }
    }

    /// The production cluster `lifeboat restore` rebuilds (`restore`).
    public struct Restore: Sendable, Equatable {
        /// The nodes; the first one is initialized and restored, the others join it (`nodes`).
        public var nodes: [Node]
        /// Commands for the reset phase (`hooks`).
        public var hooks: Hooks
        /// The original unseal keys (`unseal_keys_file`; `vault operator init -format=json` output; mode 0600).
        public var unsealKeysFile: String?
        /// Secrets checked at the end (`canaries`).
        public var canaries: [Canary]

        public init(nodes: [Node] = [], hooks: Hooks = Hooks(), unsealKeysFile: String? = nil, canaries: [Canary] = []) {
            self.nodes = nodes
            self.hooks = hooks
            self.unsealKeysFile = unsealKeysFile
            self.canaries = canaries
        }

        /// The restore hooks (`restore.hooks`), each a list of commands run in order.
        public struct Hooks: Sendable, Equatable {
            /// Stop every node and wipe its Raft data (`reset_all`; no placeholders).
            public var resetAll: [HookCommand]
            /// Wipe one node before it rejoins (`wipe_node`; `{node}`, `{api_addr}`).
            public var wipeNode: [HookCommand]
            /// Start the nodes again after the reset (`start`; `{node}`, `{api_addr}` when run per node).
            public var start: [HookCommand]
            /// Longest time one command (and every process it started) may run (`timeout`, default 5m).
            public var timeout: Duration

            public init(
                resetAll: [HookCommand] = [], wipeNode: [HookCommand] = [], start: [HookCommand] = [],
                timeout: Duration = .seconds(300)
            ) {
                self.resetAll = resetAll
                self.wipeNode = wipeNode
                self.start = start
                self.timeout = timeout
            }
        }
    }

    /// The scratch cluster `lifeboat drill` restores into (`drill`).
    public struct Drill: Sendable, Equatable {
        /// Restore into an in-process vault-sim cluster instead of running hooks (`simulator`, default false).
        public var simulator: Bool
        /// The scratch cluster's nodes, as the create hook leaves them (`nodes`).
        public var nodes: [Node]
        /// Commands creating and destroying the scratch cluster (`hooks`).
        public var hooks: Hooks
        /// The original unseal keys (`unseal_keys_file`; defaults to `restore.unseal_keys_file`).
        public var unsealKeysFile: String?
        /// Secrets that must be readable in the restored cluster (`canaries`; defaults to `restore.canaries`).
        public var canaries: [Canary]
        /// Where drill reports (JSON and Markdown) are written (`report_directory`; default: the current directory).
        public var reportDirectory: String?

        public init(
            simulator: Bool = false, nodes: [Node] = [], hooks: Hooks = Hooks(), unsealKeysFile: String? = nil,
            canaries: [Canary] = [], reportDirectory: String? = nil
        ) {
            self.simulator = simulator
            self.nodes = nodes
            self.hooks = hooks
            self.unsealKeysFile = unsealKeysFile
            self.canaries = canaries
            self.reportDirectory = reportDirectory
        }

        /// The drill hooks (`drill.hooks`).
        public struct Hooks: Sendable, Equatable {
            /// Create and start the scratch cluster (`create`).
            public var create: [HookCommand]
            /// Tear it down, also after a failed drill (`destroy`).
            public var destroy: [HookCommand]
            /// Wipe one scratch node before the restore (`wipe_node`; `{node}`, `{api_addr}`); not needed when
            /// `create` always makes empty nodes.
            public var wipeNode: [HookCommand]
            /// Longest time one command (and every process it started) may run (`timeout`, default 5m).
            public var timeout: Duration

            public init(create: [HookCommand] = [], destroy: [HookCommand] = [], wipeNode: [HookCommand] = [],
                        timeout: Duration = .seconds(300)) {
                self.create = create
                self.destroy = destroy
                self.wipeNode = wipeNode
                self.timeout = timeout
            }
        }

        /// True when a drill can run: the simulator, or a create hook.
        public var isConfigured: Bool { simulator || !hooks.create.isEmpty }
    }
}
