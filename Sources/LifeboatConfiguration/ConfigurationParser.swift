// ConfigurationParser: lifeboat.yaml text -> LifeboatConfiguration, through Yams' node API so that every problem
// carries file, line and key path. This step checks structure and types (unknown keys, wrong types, unknown
// enumeration values); value rules that also apply to environment and flag overrides live in
// ConfigurationValidator, which runs on the final model.

import Foundation
import Yams
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

/// The result of parsing one configuration file.
struct ParsedConfiguration {
    /// The model (defaults plus the file). When the file has errors, values in error keep their defaults so
    /// that the remaining checks can still run and report everything at once; nil when the YAML does not parse.
    var configuration: LifeboatConfiguration?
    /// Errors and warnings, in file order.
    var issues: [ConfigurationIssue]
    /// Where each key path was written.
    var positions: [String: ConfigurationOrigin]
    /// The key path of each destination: `repository` or `destinations[i]`.
    var destinationPaths: [String]
}

enum ConfigurationParser {
    static let topLevelKeys = [
        "version", "vault", "keys", "repository", "destinations", "backup", "agent", "notifications", "restore", "drill",
    ]
    static let vaultKeys = ["address", "addresses", "namespace", "tls", "auth", "timeouts", "openbao"]
    static let tlsKeys = ["ca_cert", "ca_path", "client_cert", "client_key", "server_name", "skip_verify"]
    static let authKeys = ["method", "token", "token_file", "sink_path", "role_id", "secret_id", "mount"]
    static let timeoutKeys = ["request", "snapshot", "stall"]
    static let keysKeys = ["key_files", "passphrase", "recipients"]
    static let destinationCommonKeys = ["name", "type", "retention", "schedule", "cluster", "group_by"]
    static let localKeys = ["path"]
    static let s3Keys = [
        "endpoint", "region", "bucket", "prefix", "path_style", "ca_cert", "access_key_id", "secret_access_key",
        "session_token", "profile", "sse", "lock_stale_after", "object_lock",
    ]
    static let sseKeys = ["type", "kms_key_id"]
    static let objectLockKeys = ["mode", "days"]
    static let backupKeys = ["compression", "chunk_size", "tags", "only_if_leader"]
    static let agentKeys = [
        "listen", "schedules", "time_zone", "jitter", "log_format", "state_file", "health_max_age", "shutdown_grace_period",
    ]
    static let scheduleKeys = ["backup", "verify", "drill"]
    static let notificationKeys = ["webhooks"]
    static let webhookKeys = ["url", "format", "on", "timeout", "retries"]
    static let restoreKeys = ["nodes", "hooks", "unseal_keys_file", "canaries"]
    static let restoreHookKeys = ["reset_all", "wipe_node", "start", "timeout"]
    static let drillKeys = ["simulator", "nodes", "hooks", "unseal_keys_file", "canaries", "report_directory"]
    static let drillHookKeys = ["create", "destroy", "wipe_node", "timeout"]
    static let nodeKeys = ["name", "api_addr"]
    static let canaryKeys = ["path", "fields"]
    /// The only configuration format version so far.
    static let supportedVersion = 1

    /// Parses `text`, the contents of the file shown as `file` in messages.
    /// - Parameters:
    ///   - directory: the directory relative paths in the file are resolved against.
    ///   - defaults: the configuration the file's values are written over.
    static func parse(
        _ text: String, file: String, directory: String?, home: String?, defaults: LifeboatConfiguration
    ) -> ParsedConfiguration {
        let reader = ConfigurationReader(file: file, directory: directory, home: home)
        guard let root = compose(text, reader) else {
            return finish(reader, nil, defaults.destinations.indices.map { "destinations[\($0)]" })
        }
        return parse(root: root, reader, defaults: defaults)
    }

    /// The YAML document of `text` (`.some(nil)`: an empty file); nil after recording a syntax error in `reader`.
    static func compose(_ text: String, _ reader: ConfigurationReader) -> Node?? {
        do {
            return .some(try Yams.compose(yaml: text))
        } catch {
            let (line, column) = yamlErrorPosition(error)
            reader.error("", line: line, column: column, yamlErrorMessage(error))
            return nil
        }
    }

    /// Reads one cluster's document (the whole file, or a fleet cluster's document merged by ``FleetDocument``).
    static func parse(root: Node?, _ reader: ConfigurationReader, defaults: LifeboatConfiguration) -> ParsedConfiguration {
        var configuration = defaults
        var destinationPaths = defaults.destinations.indices.map { "destinations[\($0)]" }
        guard let root, !ConfigurationReader.isNull(root) else {
            reader.warning("", line: 1, column: 1, "the file is empty: the built-in defaults apply")
            return finish(reader, configuration, destinationPaths)
        }
        guard let top = reader.mapping(root, at: "", allowed: topLevelKeys, misplaced: [
            "clusters": "names several clusters, and this reads a single-cluster configuration; load it per cluster "
                + "(the commands do, with --cluster NAME)",
        ], example: "vault:, keys:, destinations:")
        else {
            return finish(reader, nil, destinationPaths)
        }

        if let version = top.int("version"), version != supportedVersion {
            reader.error("version", at: top.mark(of: "version"),
                "configuration version \(version) is not supported by this Lifeboat (it reads version \(supportedVersion))")
        }
        if let vault = top.mapping("vault", allowed: vaultKeys) {
            configuration.vault = parseVault(vault, defaults: configuration.vault)
        }
        if let keys = top.mapping("keys", allowed: keysKeys, example: "key_files: [/etc/lifeboat/backup.key]") {
            configuration.keys = LifeboatConfiguration.Keys(
                keyFiles: keys.node("key_files").flatMap {
                    pathList($0, at: keys.childPath("key_files"), reader, example: "[/etc/lifeboat/backup.key]")
                } ?? [],
                passphrase: keys.secret("passphrase"),
                recipients: keys.stringList("recipients", example: "[lifeboat-recipient-1:<64 hex digits>, /etc/lifeboat/offline.pub]") ?? [])
        }
        if top.node("repository") != nil && top.node("destinations") != nil {
            reader.error("repository", at: top.mark(of: "repository"),
                "both `repository` and `destinations` are set: use `repository` for a single destination or "
                    + "`destinations` for several, not both")
        } else if let node = top.node("repository") {
            if let destination = parseDestination(node, at: "repository", shorthand: true, reader) {
                configuration.destinations = [destination]
                destinationPaths = ["repository"]
            }
        } else if let items = top.sequence("destinations", example: "[{name: local, type: local, path: /var/lib/lifeboat}]") {
            let parsed = items.compactMap { item in
                parseDestination(item.node, at: item.path, shorthand: false, reader).map { ($0, item.path) }
            }
            configuration.destinations = parsed.map(\.0)
            destinationPaths = parsed.map(\.1)
            if items.isEmpty {
                reader.error("destinations", at: top.mark(of: "destinations"),
                    "the list is empty: configure at least one destination, or remove the key to use the default "
                        + "local repository")
            }
        }
        if let backup = top.mapping("backup", allowed: backupKeys) {
            configuration.backup = parseBackup(backup, defaults: configuration.backup)
        }
        if let agent = top.mapping("agent", allowed: agentKeys) {
            configuration.agent = parseAgent(agent, defaults: configuration.agent)
        }
        if let notifications = top.mapping("notifications", allowed: notificationKeys) {
            configuration.notifications.webhooks = notifications.sequence("webhooks", example: "[{url: env:WEBHOOK_URL}]")?
                .compactMap { parseWebhook($0.node, at: $0.path, reader) } ?? []
        }
        if let restore = top.mapping("restore", allowed: restoreKeys) {
            configuration.restore = parseRestore(restore, defaults: configuration.restore)
        }
        if let drill = top.mapping("drill", allowed: drillKeys) {
            configuration.drill = parseDrill(drill, defaults: configuration.drill)
        }
        return finish(reader, configuration, destinationPaths)
    }

    static func finish(
        _ reader: ConfigurationReader, _ configuration: LifeboatConfiguration?, _ destinationPaths: [String]
    ) -> ParsedConfiguration {
        ParsedConfiguration(
            configuration: configuration, issues: reader.issues, positions: reader.positions,
            destinationPaths: destinationPaths)
    }

    // MARK: YAML syntax errors

    /// The line and column a YAML error points at (1:1 when it points nowhere).
    static func yamlErrorPosition(_ error: any Error) -> (line: Int, column: Int) {
        guard let yamlError = error as? YamlError else { return (1, 1) }
        switch yamlError {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _):
            return (mark.line, mark.column)
        case .duplicatedKeysInMapping(_, let context):
            return (context.mark.line, context.mark.column)
        case .reader(_, let offset?, _, let yaml):
            let line = yaml.utf8.prefix(offset).reduce(1) { $1 == UInt8(ascii: "\n") ? $0 + 1 : $0 }
            return (line, 1)
        default:
            return (1, 1)
        }
    }

    static func yamlErrorMessage(_ error: any Error) -> String {
        guard let yamlError = error as? YamlError else { return "cannot read the YAML: \(error)" }
        switch yamlError {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _),
            .composer(let context, let problem, _, _):
            let while_ = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            return "YAML syntax error: \(problem)\(while_); check the indentation and quoting around this line"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate key " + duplicates.map { "`\($0)`" }.joined(separator: ", ")
                + ": each key may appear once in a mapping; remove or merge the repeated one"
        case .reader(let problem, _, _, _):
            return "cannot read the file as YAML text: \(problem) (is it UTF-8?)"
        default:
            return "cannot read the YAML: \(yamlError)"
        }
    }

    // MARK: vault

    private static func parseVault(_ m: MappingReader, defaults: LifeboatConfiguration.Vault) -> LifeboatConfiguration.Vault {
        var vault = defaults
        if let address = m.string("address") { vault.address = address.trimmingCharacters(in: .whitespaces) }
        if let list = m.stringList("addresses", example: "[https://vault-2:8200, https://vault-3:8200]") {
            vault.addresses = list.map { $0.trimmingCharacters(in: .whitespaces) }
        }
        if let namespace = m.string("namespace") { vault.namespace = namespace }
        if let openbao = m.bool("openbao") { vault.openbao = openbao }
        if let tls = m.mapping("tls", allowed: tlsKeys) {
            vault.tls.caCert = tls.path("ca_cert") ?? vault.tls.caCert
            vault.tls.caPath = tls.path("ca_path") ?? vault.tls.caPath
            vault.tls.clientCert = tls.path("client_cert") ?? vault.tls.clientCert
            vault.tls.clientKey = tls.path("client_key") ?? vault.tls.clientKey
            vault.tls.serverName = tls.string("server_name") ?? vault.tls.serverName
            vault.tls.skipVerify = tls.bool("skip_verify") ?? vault.tls.skipVerify
        }
        if let auth = m.mapping("auth", allowed: authKeys) {
            vault.auth.method = auth.choice("method", as: LifeboatConfiguration.Auth.Method.self)
            vault.auth.token = auth.secret("token")
            vault.auth.tokenFile = auth.path("token_file")
            vault.auth.sinkPath = auth.path("sink_path")
            vault.auth.roleID = auth.secret("role_id")
            vault.auth.secretID = auth.secret("secret_id")
            if let mount = auth.string("mount") { vault.auth.mount = mount }
        }
        if let timeouts = m.mapping("timeouts", allowed: timeoutKeys) {
            vault.timeouts.request = timeouts.duration("request") ?? vault.timeouts.request
            vault.timeouts.snapshot = timeouts.duration("snapshot") ?? vault.timeouts.snapshot
            vault.timeouts.stall = timeouts.duration("stall") ?? vault.timeouts.stall
        }
        return vault
    }

    private static func pathList(_ node: Node, at path: String, _ reader: ConfigurationReader, example: String) -> [String]? {
        reader.stringList(node, at: path, example: example)?.map(reader.absolutePath)
    }

    // MARK: destinations

    private static func parseDestination(
        _ node: Node, at path: String, shorthand: Bool, _ reader: ConfigurationReader
    ) -> LifeboatConfiguration.Destination? {
        typealias Destination = LifeboatConfiguration.Destination
        if shorthand, case .scalar = node {
            // `repository: /var/lib/lifeboat/repository`
            guard let directory = reader.path(node, at: path) else { return nil }
            return Destination(name: Destination.defaultName, storage: .local(.init(path: directory)))
        }
        guard case .mapping(let raw) = node else {
            reader.error(path, at: node.mark, "expected a destination (name, type and its keys)"
                + (shorthand ? " or a local directory path" : "") + ", got \(ConfigurationReader.describe(node))")
            return nil
        }
        let typeNode = mergedValue(raw, "type").flatMap { ConfigurationReader.isNull($0) ? nil : $0 }
        var type: String? = shorthand && typeNode == nil ? "local" : nil
        var typeKnown = type != nil
        if let typeNode {
            if let text = reader.string(typeNode, at: ConfigurationReader.child(path, "type")) {
                if Destination.types.contains(text) {
                    type = text
                    typeKnown = true
                } else {
                    let suggestion = KeySuggestion.nearest(to: text, in: Destination.types)
                    reader.error(ConfigurationReader.child(path, "type"), at: typeNode.mark,
                        "unknown destination type \"\(text)\"; allowed: \(Destination.types.joined(separator: ", "))"
                            + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""), suggestion: suggestion)
                }
            }
        }
        let allowed: [String]
        var misplaced: [String: String] = [:]
        switch type {
        case "local"?:
            allowed = destinationCommonKeys + localKeys
            for key in s3Keys { misplaced[key] = "belongs to s3 destinations; this destination has type local" }
        case "s3"?:
            allowed = destinationCommonKeys + s3Keys
            for key in localKeys { misplaced[key] = "belongs to local destinations; an s3 destination uses bucket and prefix" }
        default:
            allowed = destinationCommonKeys + localKeys + s3Keys
        }
        guard let m = reader.mapping(node, at: path, allowed: allowed, misplaced: misplaced) else { return nil }
        if typeNode == nil && !shorthand {
            reader.error(m.childPath("type"), at: m.mark,
                "missing key `type`; allowed types: \(Destination.types.joined(separator: ", "))")
        }
        var name = shorthand ? Destination.defaultName : nil
        if let given = m.string("name") {
            name = given
        } else if !shorthand {
            m.require("name", context: "every destination needs a unique name, e.g. name: local")
        }
        let retention = m.node("retention").flatMap { parseRetention($0, at: m.childPath("retention"), reader) }
        let schedule = m.string("schedule")
        let cluster = m.string("cluster")
        let groupBy = m.choice("group_by", as: RetentionGrouping.self) ?? .cluster
        guard typeKnown, let type else { return nil }

        let storage: LifeboatConfiguration.Storage
        if type == "local" {
            guard m.require("path", context: "a local destination needs the repository directory") else { return nil }
            guard let directory = m.path("path") else { return nil }
            storage = .local(.init(path: directory))
        } else {
            guard m.require("bucket", context: "an s3 destination needs a bucket") else { return nil }
            guard let bucket = m.string("bucket") else { return nil }
            var s3 = LifeboatConfiguration.S3Storage(bucket: bucket)
            s3.endpoint = m.string("endpoint")
            if let region = m.string("region") { s3.region = region }
            if let prefix = m.node("prefix").flatMap({ reader.string($0, at: m.childPath("prefix")) }) { s3.prefix = prefix }
            if let pathStyle = m.bool("path_style") { s3.pathStyle = pathStyle }
            s3.caCert = m.path("ca_cert")
            s3.accessKeyID = m.secret("access_key_id")
            s3.secretAccessKey = m.secret("secret_access_key")
            s3.sessionToken = m.secret("session_token")
            s3.profile = m.string("profile")
            if let staleAfter = m.duration("lock_stale_after") {
                if staleAfter < .seconds(1) {
                    reader.error(m.childPath("lock_stale_after"), at: m.mark, "lock_stale_after must be at least 1s (e.g. 15m)")
                } else {
                    s3.lockStaleAfter = Double(staleAfter.components.seconds)
                }
            }
            if let sse = m.mapping("sse", allowed: sseKeys, example: "{type: aws:kms, kms_key_id: alias/lifeboat}") {
                if sse.require("type", context: "AES256 or aws:kms"),
                    let kind = sse.choice("type", as: LifeboatConfiguration.ServerSideEncryption.Kind.self)
                {
                    s3.sse = .init(type: kind, kmsKeyID: sse.string("kms_key_id"))
                }
            }
            if let lock = m.mapping("object_lock", allowed: objectLockKeys, example: "{mode: compliance, days: 30}") {
                if lock.require("mode", context: "object_lock needs a mode: governance or compliance"),
                    let mode = lock.choice("mode", as: StoreObjectLock.Mode.self)
                {
                    if lock.contains("days") {
                        if let days = lock.int("days") { s3.objectLock = .init(mode: mode, days: days) }
                    } else if let days = retention?.longestKeepDays {
                        // Aligned with the retention policy: a backup is locked for as long as the policy can keep it.
                        s3.objectLock = .init(mode: mode, days: days, daysFromRetention: true)
                    } else {
                        reader.error(lock.childPath("days"), at: lock.mark,
                                     "object_lock needs days: this destination's retention does not bound how long a backup is kept "
                                        + "(none, or only keep_last, keep_tags or an unlimited count), so give days explicitly, e.g. days: 35")
                    }
                }
            }
            storage = .s3(s3)
        }
        guard let name else { return nil }
        return Destination(name: name, storage: storage, retention: retention, schedule: schedule, cluster: cluster, groupBy: groupBy)
    }

    /// The value of `key` in `mapping`, written there or brought in by a `<<` merge key.
    private static func mergedValue(_ mapping: Node.Mapping, _ key: String) -> Node? {
        if let value = mapping[key] { return value }
        guard let merge = mapping["<<"] else { return nil }
        let sources: [Node] = merge.sequence.map { Array($0) } ?? [merge]
        for source in sources {
            if let value = source.mapping?[key] { return value }
        }
        return nil
    }

    // MARK: retention

    /// The policy, or nil when any rule in it is in error (so that the planner's "keeps nothing" check does not
    /// repeat the error of a rule that could not be read).
    private static func parseRetention(_ node: Node, at path: String, _ reader: ConfigurationReader) -> RetentionPolicy? {
        let issuesBefore = reader.issues.count
        guard let policy = readRetention(node, at: path, reader) else { return nil }
        return reader.issues[issuesBefore...].contains { $0.severity == .error } ? nil : policy
    }

    private static func readRetention(_ node: Node, at path: String, _ reader: ConfigurationReader) -> RetentionPolicy? {
        guard let m = reader.mapping(node, at: path, allowed: RetentionPolicy.knownKeys, example: "{keep_daily: 7, keep_weekly: 4}")
        else { return nil }
        var policy = RetentionPolicy()
        func count(_ key: String) -> RetentionCount? {
            guard let value = m.node(key) else { return nil }
            if case .scalar(let scalar) = value {
                if scalar.string == "unlimited" { return .unlimited }
                if !ConfigurationReader.isQuoted(scalar), let number = ConfigurationReader.parseInteger(scalar.string) {
                    return RetentionCount(integerLiteral: number)
                }
            }
            reader.error(m.childPath(key), at: value.mark,
                "expected an integer or \"unlimited\" for \(key), got \(ConfigurationReader.describe(value))")
            return nil
        }
        func duration(_ key: String) -> RetentionDuration? {
            guard let value = m.node(key), let text = reader.string(value, at: m.childPath(key)) else { return nil }
            do {
                return try RetentionDuration(parsing: text)
            } catch {
                reader.error(m.childPath(key), at: value.mark, "\(error)")
                return nil
            }
        }
        policy.keepLast = count("keep_last")
        policy.keepHourly = count("keep_hourly")
        policy.keepDaily = count("keep_daily")
        policy.keepWeekly = count("keep_weekly")
        policy.keepMonthly = count("keep_monthly")
        policy.keepYearly = count("keep_yearly")
        policy.keepWithin = duration("keep_within")
        policy.keepWithinHourly = duration("keep_within_hourly")
        policy.keepWithinDaily = duration("keep_within_daily")
        policy.keepWithinWeekly = duration("keep_within_weekly")
        policy.keepWithinMonthly = duration("keep_within_monthly")
        policy.keepWithinYearly = duration("keep_within_yearly")
        if let items = m.sequence("keep_tags", example: "[pre-upgrade, [weekly, verified]]") {
            for (item, itemPath) in items {
                switch item {
                case .scalar:
                    // restic's form: "a,b" means a backup carrying both a and b; "" means a backup without tags.
                    if let text = reader.string(item, at: itemPath) {
                        policy.keepTags.append(RetentionPolicy.tagList(parsing: text))
                    }
                case .sequence:
                    if let tags = reader.stringList(item, at: itemPath, example: "[weekly, verified]") {
                        policy.keepTags.append(tags)
                    }
                default:
                    reader.error(itemPath, at: item.mark,
                        "expected a tag or a list of tags, got \(ConfigurationReader.describe(item))")
                }
            }
        }
        return policy
    }

    // MARK: backup and agent

    private static func parseBackup(_ m: MappingReader, defaults: LifeboatConfiguration.Backup) -> LifeboatConfiguration.Backup {
        var backup = defaults
        backup.compression = m.bool("compression") ?? backup.compression
        if let node = m.node("chunk_size"), let size = parseSize(node, at: m.childPath("chunk_size"), m.reader) {
            backup.chunkSize = size
        }
        backup.tags = m.stringList("tags", example: "[hourly]") ?? backup.tags
        backup.onlyIfLeader = m.bool("only_if_leader") ?? backup.onlyIfLeader
        return backup
    }

    /// A size in bytes: an integer, or a number with KiB or MiB (`"1MiB"`, `"256KiB"`).
    private static func parseSize(_ node: Node, at path: String, _ reader: ConfigurationReader) -> Int? {
        if case .scalar(let scalar) = node {
            if !ConfigurationReader.isQuoted(scalar), let bytes = ConfigurationReader.parseInteger(scalar.string) {
                return bytes
            }
            let text = scalar.string.trimmingCharacters(in: .whitespaces)
            if text.hasSuffix("KiB") || text.hasSuffix("MiB"), let bytes = ConfigurationSize.parse(text) {
                return bytes
            }
        }
        reader.error(path, at: node.mark,
            "expected a size in bytes for \(ConfigurationReader.lastKey(path)) (e.g. 1048576, \"1MiB\" or \"256KiB\"), "
                + "got \(ConfigurationReader.describe(node))")
        return nil
    }

    private static func parseAgent(_ m: MappingReader, defaults: LifeboatConfiguration.Agent) -> LifeboatConfiguration.Agent {
        var agent = defaults
        agent.listen = m.string("listen") ?? agent.listen
        agent.timeZone = m.string("time_zone") ?? agent.timeZone
        if let jitter = m.duration("jitter") { agent.jitter = jitter }
        agent.logFormat = m.choice("log_format", as: LifeboatConfiguration.LogFormat.self) ?? agent.logFormat
        agent.stateFile = m.path("state_file") ?? agent.stateFile
        agent.healthMaxAge = m.duration("health_max_age") ?? agent.healthMaxAge
        agent.shutdownGracePeriod = m.duration("shutdown_grace_period") ?? agent.shutdownGracePeriod
        if let schedules = m.mapping("schedules", allowed: scheduleKeys, example: "{backup: \"@hourly\", verify: \"@daily\"}") {
            // A key written as null (or "off") disables that job; an absent key keeps the default.
            func read(_ key: String, _ current: String?) -> String? {
                if schedules.isExplicitNull(key) { return nil }
                guard let text = schedules.string(key) else { return current }
                return LifeboatConfiguration.Agent.scheduleSetting(text)
            }
            agent.schedules.backup = read("backup", agent.schedules.backup)
            agent.schedules.verify = read("verify", agent.schedules.verify)
            agent.schedules.drill = read("drill", agent.schedules.drill)
        }
        return agent
    }

    // MARK: notifications

    private static func parseWebhook(_ node: Node, at path: String, _ reader: ConfigurationReader) -> LifeboatConfiguration.Webhook? {
        guard let m = reader.mapping(node, at: path, allowed: webhookKeys, example: "{url: env:SLACK_WEBHOOK_URL, format: slack}")
        else { return nil }
        guard m.require("url", context: "where to POST; a URL, env:NAME or file:/path"), let url = m.secret("url") else { return nil }
        var webhook = LifeboatConfiguration.Webhook(url: url)
        webhook.format = m.choice("format", as: LifeboatConfiguration.Webhook.Format.self) ?? webhook.format
        if let items = m.sequence("on", example: "[failure, recovery]") {
            var events: [LifeboatConfiguration.Webhook.Event] = []
            for (item, itemPath) in items {
                if let event = reader.choice(item, at: itemPath, as: LifeboatConfiguration.Webhook.Event.self),
                    !events.contains(event)
                {
                    events.append(event)
                }
            }
            webhook.on = events.sorted()
        }
        webhook.timeout = m.duration("timeout") ?? webhook.timeout
        webhook.retries = m.int("retries") ?? webhook.retries
        return webhook
    }

    // MARK: restore and drill

    private static func parseRestore(_ m: MappingReader, defaults: LifeboatConfiguration.Restore) -> LifeboatConfiguration.Restore {
        var restore = defaults
        if let items = m.sequence("nodes", example: "[{name: vault-1, api_addr: https://vault-1:8200}]") {
            restore.nodes = items.compactMap { parseNode($0.node, at: $0.path, m.reader) }
        }
        if let hooks = m.mapping("hooks", allowed: restoreHookKeys) {
            let perNode = HookPlaceholders.perNode
            restore.hooks.resetAll = hooks.node("reset_all").map {
                parseCommands($0, at: hooks.childPath("reset_all"), placeholders: [], m.reader,
                    why: "reset_all runs once for the whole cluster")
            } ?? []
            restore.hooks.wipeNode = hooks.node("wipe_node").map {
                parseCommands($0, at: hooks.childPath("wipe_node"), placeholders: perNode, m.reader, why: "")
            } ?? []
            restore.hooks.start = hooks.node("start").map {
                parseCommands($0, at: hooks.childPath("start"), placeholders: perNode, m.reader, why: "")
            } ?? []
            restore.hooks.timeout = hooks.duration("timeout") ?? restore.hooks.timeout
        }
        restore.unsealKeysFile = m.path("unseal_keys_file")
        if let items = m.sequence("canaries", example: "[{path: secret/data/lifeboat/canary, fields: {value: ok}}]") {
            restore.canaries = items.compactMap { parseCanary($0.node, at: $0.path, m.reader) }
        }
        return restore
    }

    private static func parseDrill(_ m: MappingReader, defaults: LifeboatConfiguration.Drill) -> LifeboatConfiguration.Drill {
        var drill = defaults
        drill.simulator = m.bool("simulator") ?? drill.simulator
        if let items = m.sequence("nodes", example: "[{name: drill-1, api_addr: http://127.0.0.1:18200}]") {
            drill.nodes = items.compactMap { parseNode($0.node, at: $0.path, m.reader) }
        }
        if let hooks = m.mapping("hooks", allowed: drillHookKeys) {
            drill.hooks.create = hooks.node("create").map {
                parseCommands($0, at: hooks.childPath("create"), placeholders: [], m.reader, why: "create runs once")
            } ?? []
            drill.hooks.destroy = hooks.node("destroy").map {
                parseCommands($0, at: hooks.childPath("destroy"), placeholders: [], m.reader, why: "destroy runs once")
            } ?? []
            drill.hooks.wipeNode = hooks.node("wipe_node").map {
                parseCommands($0, at: hooks.childPath("wipe_node"), placeholders: HookPlaceholders.perNode,
                              m.reader, why: "")
            } ?? []
            drill.hooks.timeout = hooks.duration("timeout") ?? drill.hooks.timeout
        }
        drill.unsealKeysFile = m.path("unseal_keys_file")
        if let items = m.sequence("canaries", example: "[{path: secret/data/lifeboat/canary, fields: [value]}]") {
            drill.canaries = items.compactMap { parseCanary($0.node, at: $0.path, m.reader) }
        }
        drill.reportDirectory = m.path("report_directory")
        return drill
    }

    private static func parseNode(_ node: Node, at path: String, _ reader: ConfigurationReader) -> LifeboatConfiguration.Node? {
        guard let m = reader.mapping(node, at: path, allowed: nodeKeys, example: "{name: vault-1, api_addr: https://vault-1:8200}")
        else { return nil }
        guard m.require("name", "api_addr", context: "each node needs a name and its API address"),
            let name = m.string("name"), let address = m.string("api_addr")
        else { return nil }
        return LifeboatConfiguration.Node(name: name, apiAddress: address.trimmingCharacters(in: .whitespaces))
    }

    /// A hook: one command as a list of arguments, or a list of such commands.
    private static func parseCommands(
        _ node: Node, at path: String, placeholders: [String], _ reader: ConfigurationReader, why: String
    ) -> [LifeboatConfiguration.HookCommand] {
        let example = "[docker, compose, stop, vault-1] or [[sh, -c, \"rm -rf /vault/data/*\"]]"
        if case .scalar = node {
            reader.error(path, at: node.mark,
                "write the command as a list of arguments, e.g. \(example); a shell line needs [sh, -c, \"...\"], "
                    + "got \(ConfigurationReader.describe(node))")
            return []
        }
        guard let items = reader.sequence(node, at: path, example: example) else { return [] }
        let isList: (Node) -> Bool = { if case .sequence = $0 { return true } else { return false } }
        if items.isEmpty { return [] }
        let commands: [(node: Node, path: String)]
        if items.allSatisfy({ isList($0.node) }) {
            commands = items
        } else if items.allSatisfy({ !isList($0.node) }) {
            commands = [(node, path)]
        } else {
            reader.error(path, at: node.mark,
                "mixes arguments and nested lists: write one command as [prog, arg, ...] or several as [[prog, arg], [prog, arg]]")
            return []
        }
        var result: [LifeboatConfiguration.HookCommand] = []
        for (command, commandPath) in commands {
            guard let arguments = reader.stringList(command, at: commandPath, example: example) else { continue }
            guard !arguments.isEmpty else {
                reader.error(commandPath, at: command.mark, "an empty command: give the program and its arguments")
                continue
            }
            for argument in arguments {
                for placeholder in HookPlaceholders.unknown(in: argument, allowed: placeholders) {
                    let allowed = placeholders.isEmpty
                        ? "no placeholders are available here (\(why))"
                        : "allowed here: \(placeholders.joined(separator: ", "))"
                    reader.error(commandPath, at: command.mark, "unknown placeholder \(placeholder) in \"\(argument)\"; \(allowed)")
                }
            }
            // A program given as ./x or ../x is relative to the configuration file, like every other path in it.
            var resolved = arguments
            if resolved[0].hasPrefix("./") || resolved[0].hasPrefix("../") { resolved[0] = reader.absolutePath(resolved[0]) }
            result.append(.init(resolved))
        }
        return result
    }

    private static func parseCanary(_ node: Node, at path: String, _ reader: ConfigurationReader) -> LifeboatConfiguration.Canary? {
        guard let m = reader.mapping(node, at: path, allowed: canaryKeys, example: "{path: secret/data/lifeboat/canary, fields: {value: ok}}")
        else { return nil }
        guard m.require("path", context: "the API path of the secret to read"), let secretPath = m.string("path") else { return nil }
        var canary = LifeboatConfiguration.Canary(path: secretPath)
        if let fields = m.node("fields") {
            let fieldsPath = m.childPath("fields")
            switch fields {
            case .mapping(let mapping):
                for (key, value) in mapping {
                    guard let name = key.scalar?.string else {
                        reader.error(fieldsPath, at: key.mark, "a field name must be a plain word")
                        continue
                    }
                    let expected = ConfigurationReader.isNull(value)
                        ? nil : reader.string(value, at: ConfigurationReader.child(fieldsPath, name))
                    canary.fields.append(.init(name: name, expected: expected))
                }
            case .sequence:
                canary.fields = (reader.stringList(fields, at: fieldsPath, example: "[value]") ?? []).map { .init(name: $0) }
            default:
                reader.error(fieldsPath, at: fields.mark,
                    "expected field names ([value]) or names with expected values ({value: ok}), got \(ConfigurationReader.describe(fields))")
            }
        }
        return canary
    }
}
