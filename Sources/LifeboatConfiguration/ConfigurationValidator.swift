// ConfigurationValidator: the value rules of the configuration, checked on the final model (after the file, the
// environment and flags) so that an impossible value is reported wherever it came from: a file line, an
// environment variable or a flag. Reuses the retention planner's and the schedule parser's own checks.

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

struct ConfigurationValidator {
    let configuration: LifeboatConfiguration
    /// Where each key path came from (file positions, environment variables, flags).
    let origins: [String: ConfigurationOrigin]
    /// The key path of each destination (`repository` or `destinations[i]`).
    let destinationPaths: [String]
    /// The file already has errors: skip checks that would only repeat them (an empty destination list).
    let fileHadErrors: Bool

    private(set) var issues: [ConfigurationIssue] = []

    init(
        configuration: LifeboatConfiguration, origins: [String: ConfigurationOrigin], destinationPaths: [String],
        fileHadErrors: Bool = false
    ) {
        self.configuration = configuration
        self.origins = origins
        self.destinationPaths = destinationPaths
        self.fileHadErrors = fileHadErrors
    }

    /// Every problem and warning in the configuration.
    static func validate(
        _ configuration: LifeboatConfiguration, origins: [String: ConfigurationOrigin], destinationPaths: [String],
        fileHadErrors: Bool = false
    ) -> [ConfigurationIssue] {
        var validator = ConfigurationValidator(
            configuration: configuration, origins: origins, destinationPaths: destinationPaths, fileHadErrors: fileHadErrors)
        validator.run()
        return validator.issues
    }

    /// The origin of `path`, or of its nearest ancestor that has one.
    func origin(of path: String) -> ConfigurationOrigin? {
        var current = path
        while !current.isEmpty {
            if let origin = origins[current] { return origin }
            guard let cut = current.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            current = String(current[..<cut])
        }
        return nil
    }

    private mutating func error(_ path: String, _ message: String) {
        issues.append(ConfigurationIssue(keyPath: path, message: message, origin: origin(of: path)))
    }

    private mutating func warning(_ path: String, _ message: String) {
        issues.append(ConfigurationIssue(severity: .warning, keyPath: path, message: message, origin: origin(of: path)))
    }

    private func destinationPath(_ index: Int) -> String {
        index < destinationPaths.count ? destinationPaths[index] : "destinations[\(index)]"
    }

    mutating func run() {
        checkVault()
        checkKeys()
        checkDestinations()
        checkBackup()
        checkAgent()
        checkNotifications()
        checkRestoreAndDrill()
        checkDurationLimits()
    }

    // MARK: vault

    private mutating func checkVault() {
        let vault = configuration.vault
        checkAddress(vault.address, at: "vault.address", what: "Vault address")
        for (index, address) in vault.addresses.enumerated() {
            checkAddress(address, at: "vault.addresses[\(index)]", what: "Vault address")
        }
        let tls = vault.tls
        if (tls.clientCert == nil) != (tls.clientKey == nil) {
            let (set, missing) = tls.clientCert != nil ? ("client_cert", "client_key") : ("client_key", "client_cert")
            error("vault.tls.\(set)", "\(set) is set without \(missing): a client certificate needs both the certificate and its key")
        }
        if tls.skipVerify {
            warning("vault.tls.skip_verify",
                "TLS certificate verification is off: anyone on the network path can impersonate Vault and receive "
                    + "the token; set ca_cert to your CA instead")
        }
        if tls.caCert != nil && tls.caPath != nil {
            warning("vault.tls.ca_path", "ca_path is ignored because ca_cert is set (as in Vault); remove one of them")
        }
        checkAuth(vault.auth)
        let timeouts = vault.timeouts
        for (key, value) in [("request", timeouts.request), ("snapshot", timeouts.snapshot), ("stall", timeouts.stall)]
        where value <= .zero {
            error("vault.timeouts.\(key)", "\(key) must be longer than zero, e.g. \"60s\"")
        }
        if timeouts.stall > .zero, timeouts.snapshot > .zero, timeouts.stall >= timeouts.snapshot {
            error("vault.timeouts.stall",
                "stall (\(Schedule.format(timeouts.stall))) must be shorter than snapshot (\(Schedule.format(timeouts.snapshot)))")
        }
    }

    private mutating func checkAuth(_ auth: LifeboatConfiguration.Auth) {
        typealias Method = LifeboatConfiguration.Auth.Method
        let present: [(key: String, method: Method, set: Bool)] = [
            ("token", .token, auth.token != nil),
            ("token_file", .tokenFile, auth.tokenFile != nil),
            ("sink_path", .agentSink, auth.sinkPath != nil),
            ("role_id", .approle, auth.roleID != nil),
            ("secret_id", .approle, auth.secretID != nil),
        ]
        guard let method = auth.effectiveMethod else { return }
        for entry in present where entry.set && entry.method != method {
            error("vault.auth.\(entry.key)",
                "\(entry.key) belongs to method \(entry.method.rawValue) but the method is \(method.rawValue): "
                    + "remove it, or set method: \(entry.method.rawValue)")
        }
        switch method {
        case .token where auth.token == nil:
            error("vault.auth.token", "method token needs `token` (e.g. token: env:VAULT_TOKEN)")
        case .tokenFile where auth.tokenFile == nil:
            error("vault.auth.token_file", "method token_file needs `token_file` (e.g. token_file: ~/.vault-token)")
        case .agentSink where auth.sinkPath == nil:
            error("vault.auth.sink_path", "method agent_sink needs `sink_path`, the file the Vault Agent sink writes")
        case .approle where auth.roleID == nil:
            error("vault.auth.role_id", "method approle needs `role_id` (e.g. role_id: file:/etc/lifeboat/role-id)")
        default:
            break
        }
        let mount = auth.mount.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        if mount.isEmpty || mount.contains(where: { $0 == " " || $0 == "\t" }) {
            error("vault.auth.mount", "mount \"\(auth.mount)\" is not an auth mount path: use e.g. approle or ops/approle")
        }
    }

    /// `http(s)://host[:port]` without a path; warns for plain http to a host that is not loopback.
    private mutating func checkAddress(_ address: String, at path: String, what: String) {
        var text = address
        while text.hasSuffix("/") { text.removeLast() }
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
            components.path.isEmpty, components.query == nil
        else {
            error(path, "invalid \(what) \"\(address)\": use http://host:port or https://host:port with no path, "
                + "e.g. https://vault.example.com:8200")
            return
        }
        if let port = components.port, !(1...65535).contains(port) {
            error(path, "invalid \(what) \"\(address)\": port \(port) is outside 1-65535")
        }
        if scheme == "http", !Self.isLoopback(host) {
            warning(path, "\(address) uses plain http to a host that is not loopback: the token crosses the network "
                + "in clear text; use https://")
        }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host.hasPrefix("127.") || host == "::1" || host == "[::1]"
    }

    // MARK: keys

    private mutating func checkKeys() {
        var seen = Set<String>()
        for (index, file) in configuration.keys.keyFiles.enumerated() where !seen.insert(file).inserted {
            warning("keys.key_files[\(index)]", "\(file) is listed twice")
        }
        // Recipients written inline are checked here; files named instead are read when a backup needs them.
        var recipients = Set<String>()
        for (index, value) in configuration.keys.recipients.enumerated() {
            if value.hasPrefix(RecipientPublicKey.prefix) {
                if (try? RecipientPublicKey(parsing: value, source: "keys.recipients[\(index)]")) == nil {
                    error("keys.recipients[\(index)]", "not a recipient: \(RecipientPublicKey.prefix) must be followed by 64 hex digits "
                        + "(copy the line `lifeboat key generate --recipient` printed, or name the .pub file it wrote)")
                }
            }
            if !recipients.insert(value).inserted { warning("keys.recipients[\(index)]", "\(value) is listed twice") }
        }
        if configuration.keys.recipients.count > ArchiveHeader.recipientCountRange.upperBound {
            error("keys.recipients", "an archive can be encrypted to at most \(ArchiveHeader.recipientCountRange.upperBound) recipients")
        }
    }

    // MARK: destinations

    private mutating func checkDestinations() {
        if configuration.destinations.isEmpty && !fileHadErrors {
            error("destinations", "no destination is configured: add one (e.g. a local repository path) or remove "
                + "the key to use the default local repository")
        }
        var firstIndex: [String: Int] = [:]
        for (index, destination) in configuration.destinations.enumerated() {
            let path = destinationPath(index)
            if let first = firstIndex[destination.name] {
                error("\(path).name", "destination name `\(destination.name)` is already used by \(destinationPath(first)): "
                    + "names must be unique")
            } else {
                firstIndex[destination.name] = index
            }
            if !Self.isValidName(destination.name) {
                error("\(path).name", "destination name \"\(destination.name)\" is not usable: use 1-64 letters, digits, "
                    + "'-', '_' or '.' (it appears in --destination, listings and metrics)")
            }
            switch destination.storage {
            case .local(let local):
                if !local.path.hasPrefix("/") {
                    error("\(path).path", "path \"\(local.path)\" must be absolute")
                }
            case .s3(let s3):
                checkS3(s3, at: path)
            }
            if let retention = destination.retention {
                checkRetention(retention, at: "\(path).retention")
            }
            if let schedule = destination.schedule {
                checkSchedule(schedule, at: "\(path).schedule")
            }
        }
    }

    static func isValidName(_ name: String) -> Bool {
        guard (1...64).contains(name.count) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)
        }
    }

    private mutating func checkS3(_ s3: LifeboatConfiguration.S3Storage, at path: String) {
        let bucket = s3.bucket
        let bucketOK = (3...63).contains(bucket.count)
            && bucket.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "." || $0 == "-" }
            && bucket.first.map { $0.isLetter || $0.isNumber } == true
            && bucket.last.map { $0.isLetter || $0.isNumber } == true
        if !bucketOK {
            error("\(path).bucket", "bucket name \"\(bucket)\" is not valid: 3-63 lowercase letters, digits, '.' and '-', "
                + "starting and ending with a letter or digit")
        }
        if let endpoint = s3.endpoint {
            let components = URLComponents(string: endpoint)
            if components?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) != true
                || (components?.host ?? "").isEmpty
            {
                error("\(path).endpoint", "invalid endpoint \"\(endpoint)\": use http(s)://host[:port], e.g. https://minio.example.com:9000")
            }
        }
        if s3.region.trimmingCharacters(in: .whitespaces).isEmpty {
            error("\(path).region", "region is empty: set it, e.g. us-east-1 (MinIO accepts any)")
        }
        if s3.prefix.hasPrefix("/") {
            error("\(path).prefix", "prefix \"\(s3.prefix)\" must not start with '/': write e.g. vault/prod")
        }
        if (s3.accessKeyID == nil) != (s3.secretAccessKey == nil) {
            let (set, missing) = s3.accessKeyID != nil
                ? ("access_key_id", "secret_access_key") : ("secret_access_key", "access_key_id")
            error("\(path).\(set)", "\(set) is set without \(missing): give both, or neither to use the AWS environment "
                + "variables or the credentials file")
        }
        if s3.sessionToken != nil && s3.accessKeyID == nil {
            error("\(path).session_token", "session_token needs access_key_id and secret_access_key")
        }
        if s3.profile != nil && s3.accessKeyID != nil {
            warning("\(path).profile", "profile is ignored because access_key_id and secret_access_key are set")
        }
        if let sse = s3.sse, sse.kmsKeyID != nil, sse.type != .kms {
            error("\(path).sse.kms_key_id", "kms_key_id needs type aws:kms (type is \(sse.type.rawValue))")
        }
        if let lock = s3.objectLock, !(1...36_500).contains(lock.days) {
            error("\(path).object_lock.days", "object_lock days must be between 1 and 36500 (each object is locked that many days after it is written)")
        }
    }

    /// Negative counts with the key at fault, then the planner's own policy check (an empty policy, empty tags).
    private mutating func checkRetention(_ policy: RetentionPolicy, at path: String) {
        let counts: [(String, RetentionCount?)] = [
            ("keep_last", policy.keepLast), ("keep_hourly", policy.keepHourly), ("keep_daily", policy.keepDaily),
            ("keep_weekly", policy.keepWeekly), ("keep_monthly", policy.keepMonthly), ("keep_yearly", policy.keepYearly),
        ]
        var negative = false
        for (key, count) in counts {
            if case .limited(let value)? = count, value < 0 {
                error("\(path).\(key)", "\(key) must be 0 or more, or \"unlimited\" (got \(value))")
                negative = true
            }
        }
        guard !negative else { return }
        do {
            try policy.validate()
        } catch let failure as RetentionError {
            switch failure {
            case .emptyTagList(let index):
                error("\(path).keep_tags[\(index)]", failure.description)
            default:
                error(path, failure.description)
            }
        } catch {
            self.error(path, "\(error)")
        }
    }

    private mutating func checkSchedule(_ text: String, at path: String) {
        do {
            _ = try Schedule.parse(text, timeZone: validTimeZone, jitter: configuration.agent.jitter.map { Schedule.format($0) })
        } catch {
            self.error(path, error.message)
        }
    }

    /// The configured time zone when it is valid (its own error is reported once, under agent.time_zone).
    private var validTimeZone: String? {
        (try? Schedule.timeZone(named: configuration.agent.timeZone)) != nil ? configuration.agent.timeZone : nil
    }

    // MARK: backup and agent

    private mutating func checkBackup() {
        let backup = configuration.backup
        let range = LifeboatConfiguration.Backup.chunkSizeRange
        if !range.contains(backup.chunkSize) {
            error("backup.chunk_size",
                "chunk_size must be between \(range.lowerBound) and \(range.upperBound) bytes (got \(backup.chunkSize))")
        }
        for (index, tag) in backup.tags.enumerated() where !Self.isValidTag(tag) {
            error("backup.tags[\(index)]", "tag \"\(tag)\" is not usable: use letters, digits, '-', '_', '.' and ':'")
        }
    }

    static func isValidTag(_ tag: String) -> Bool {
        !tag.isEmpty && tag.count <= 128 && tag.unicodeScalars.allSatisfy {
            ("a"..."z").contains($0) || ("A"..."Z").contains($0) || ("0"..."9").contains($0) || "-_.:".unicodeScalars.contains($0)
        }
    }

    private mutating func checkAgent() {
        let agent = configuration.agent
        do {
            _ = try ListenAddress.parse(agent.listen)
        } catch {
            self.error("agent.listen", error.message)
        }
        do {
            _ = try Schedule.timeZone(named: agent.timeZone)
        } catch {
            self.error("agent.time_zone", error.message)
        }
        if let jitter = agent.jitter, jitter < .zero {
            error("agent.jitter", "jitter must not be negative")
        }
        if let backup = agent.schedules.backup { checkSchedule(backup, at: "agent.schedules.backup") }
        if let verify = agent.schedules.verify { checkSchedule(verify, at: "agent.schedules.verify") }
        if let drill = agent.schedules.drill {
            checkSchedule(drill, at: "agent.schedules.drill")
            if !configuration.drill.isConfigured {
                error("agent.schedules.drill", "a drill schedule is set but the drill section has no create hook "
                    + "(drill.hooks.create) and simulator is off: configure the drill or remove the schedule")
            }
        }
        if let maxAge = agent.healthMaxAge, maxAge <= .zero {
            error("agent.health_max_age", "health_max_age must be longer than zero, e.g. \"2h\"")
        }
        if agent.shutdownGracePeriod < .zero {
            error("agent.shutdown_grace_period", "shutdown_grace_period must not be negative")
        }
    }

    /// Every duration has an upper bound (``DurationLimits``).
    private mutating func checkDurationLimits() {
        var durations: [(String, Duration?)] = [
            ("vault.timeouts.request", configuration.vault.timeouts.request),
            ("vault.timeouts.snapshot", configuration.vault.timeouts.snapshot),
            ("vault.timeouts.stall", configuration.vault.timeouts.stall),
            ("agent.jitter", configuration.agent.jitter),
            ("agent.health_max_age", configuration.agent.healthMaxAge),
            ("agent.shutdown_grace_period", configuration.agent.shutdownGracePeriod),
            ("restore.hooks.timeout", configuration.restore.hooks.timeout),
            ("drill.hooks.timeout", configuration.drill.hooks.timeout),
        ]
        for (index, webhook) in configuration.notifications.webhooks.enumerated() {
            durations.append(("notifications.webhooks[\(index)].timeout", webhook.timeout))
        }
        for case let (key, value?) in durations {
            if let problem = DurationLimits.problem(value, key: key) { error(key, problem) }
        }
    }

    // MARK: notifications

    private mutating func checkNotifications() {
        for (index, webhook) in configuration.notifications.webhooks.enumerated() {
            let path = "notifications.webhooks[\(index)]"
            if case .literal(let url) = webhook.url {
                let components = URLComponents(string: url)
                if components?.scheme.map({ ["http", "https"].contains($0.lowercased()) }) != true
                    || (components?.host ?? "").isEmpty
                {
                    // The URL may embed a credential: never quote it.
                    error("\(path).url", "the url is not an http(s) URL: write https://host/path, env:NAME or file:/path")
                }
            }
            if webhook.on.isEmpty {
                error("\(path).on", "on is empty: the webhook would never be called; use e.g. [failure, recovery]")
            }
            if webhook.timeout <= .zero {
                error("\(path).timeout", "timeout must be longer than zero, e.g. \"10s\"")
            }
            if !(0...10).contains(webhook.retries) {
                error("\(path).retries", "retries must be between 0 and 10 (got \(webhook.retries))")
            }
        }
    }

    // MARK: restore and drill

    private mutating func checkRestoreAndDrill() {
        let restore = configuration.restore
        checkNodes(restore.nodes, at: "restore.nodes")
        checkCanaries(restore.canaries, at: "restore.canaries")
        if restore.nodes.isEmpty && !(restore.hooks.resetAll.isEmpty && restore.hooks.wipeNode.isEmpty && restore.hooks.start.isEmpty) {
            warning("restore.nodes", "restore hooks are configured but restore.nodes is empty: `lifeboat restore --force` "
                + "needs the nodes to rebuild")
        }
        if restore.hooks.timeout <= .zero { error("restore.hooks.timeout", "timeout must be longer than zero, e.g. \"10m\"") }
        let drill = configuration.drill
        checkNodes(drill.nodes, at: "drill.nodes")
        checkCanaries(drill.canaries, at: "drill.canaries")
        if drill.hooks.timeout <= .zero { error("drill.hooks.timeout", "timeout must be longer than zero, e.g. \"10m\"") }
        if !drill.hooks.create.isEmpty && drill.hooks.destroy.isEmpty {
            warning("drill.hooks.destroy", "there is a create hook but no destroy hook: every drill will leave its scratch cluster running")
        }
        if !drill.hooks.create.isEmpty && drill.nodes.isEmpty && !drill.simulator {
            error("drill.nodes", "the drill creates a cluster but drill.nodes is empty: list the scratch cluster's nodes "
                + "(name and api_addr) so Lifeboat can reach them")
        }
    }

    private mutating func checkNodes(_ nodes: [LifeboatConfiguration.Node], at path: String) {
        var seen: [String: Int] = [:]
        for (index, node) in nodes.enumerated() {
            if let first = seen[node.name] {
                error("\(path)[\(index)].name", "node name `\(node.name)` is already used by \(path)[\(first)]: names must be unique")
            } else {
                seen[node.name] = index
            }
            checkAddress(node.apiAddress, at: "\(path)[\(index)].api_addr", what: "node API address")
        }
    }

    /// Canary paths are KV v2 API paths, `<mount>/data/<path>` (what policies name and reports print). The
    /// `vault kv` form (`secret/lifeboat/canary`) and `mount:path` are read the same way, with a warning that says
    /// which API path is used.
    private mutating func checkCanaries(_ canaries: [LifeboatConfiguration.Canary], at path: String) {
        for (index, canary) in canaries.enumerated() {
            let key = "\(path)[\(index)].path"
            if canary.path.hasPrefix("/") || canary.path.hasPrefix("v1/") {
                error(key, "write the API path without a leading / or v1/, e.g. secret/data/lifeboat/canary (got \(canary.path))")
                continue
            }
            do {
                let parsed = try CanarySecret(parsing: canary.path)
                if parsed.description != canary.path {
                    warning(key, "\(canary.path) is read as the KV v2 API path \(parsed.description) (mount `\(parsed.mount)`); "
                        + "write it that way (docs/configuration.md, canaries)")
                }
            } catch let problem {
                error(key, "\(problem)")
            }
        }
    }
}
