// ConfigurationRenderer: the effective configuration as YAML for `lifeboat config check`. Every key is written with
// its effective value; values that did not come from the file carry their origin in a comment; secrets are masked
// (`env:NAME  # set`, `file:/path  # ok`, `"****"` for literal values). The output parses back as a configuration.

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

enum ConfigurationRenderer {
    /// Renders `loaded`; `status` gives the state of each secret reference (nil: not checked).
    static func render(_ loaded: LoadedConfiguration, status: (SecretReference) -> SecretStatus?) -> String {
        var writer = YAMLWriter(origins: loaded.origins)
        let c = loaded.configuration
        writer.comment("Effective Lifeboat configuration. Secrets are masked.")
        writer.comment(loaded.file.map { "File: \($0) (found via \(loaded.fileSource))" } ?? "File: \(loaded.fileSource)")
        writer.comment("Values not from the file name their origin (default, environment or flag) in a comment.")
        writer.value(0, "version", "\(ConfigurationParser.supportedVersion)", path: "version")

        writer.key(0, "vault")
        writer.string(1, "address", c.vault.address, path: "vault.address")
        writer.list(1, "addresses", c.vault.addresses, path: "vault.addresses")
        writer.optionalString(1, "namespace", c.vault.namespace, path: "vault.namespace")
        writer.bool(1, "openbao", c.vault.openbao, path: "vault.openbao")
        writer.key(1, "tls")
        writer.optionalString(2, "ca_cert", c.vault.tls.caCert, path: "vault.tls.ca_cert")
        writer.optionalString(2, "ca_path", c.vault.tls.caPath, path: "vault.tls.ca_path")
        writer.optionalString(2, "client_cert", c.vault.tls.clientCert, path: "vault.tls.client_cert")
        writer.optionalString(2, "client_key", c.vault.tls.clientKey, path: "vault.tls.client_key")
        writer.optionalString(2, "server_name", c.vault.tls.serverName, path: "vault.tls.server_name")
        writer.bool(2, "skip_verify", c.vault.tls.skipVerify, path: "vault.tls.skip_verify")
        writer.key(1, "auth")
        let auth = c.vault.auth
        if let method = auth.method {
            writer.string(2, "method", method.rawValue, path: "vault.auth.method")
        } else if let inferred = auth.effectiveMethod {
            writer.value(2, "method", "null", path: "vault.auth.method", note: "inferred: \(inferred.rawValue)")
        } else {
            writer.value(2, "method", "null", path: "vault.auth.method",
                note: "none configured: VAULT_TOKEN or ~/.vault-token at run time")
        }
        writer.secret(2, "token", auth.token, path: "vault.auth.token", status: status)
        writer.optionalString(2, "token_file", auth.tokenFile, path: "vault.auth.token_file")
        writer.optionalString(2, "sink_path", auth.sinkPath, path: "vault.auth.sink_path")
        writer.secret(2, "role_id", auth.roleID, path: "vault.auth.role_id", status: status)
        writer.secret(2, "secret_id", auth.secretID, path: "vault.auth.secret_id", status: status)
        writer.string(2, "mount", auth.mount, path: "vault.auth.mount")
        writer.key(1, "timeouts")
        writer.duration(2, "request", c.vault.timeouts.request, path: "vault.timeouts.request")
        writer.duration(2, "snapshot", c.vault.timeouts.snapshot, path: "vault.timeouts.snapshot")
        writer.duration(2, "stall", c.vault.timeouts.stall, path: "vault.timeouts.stall")

        writer.key(0, "keys")
        writer.list(1, "key_files", c.keys.keyFiles, path: "keys.key_files")
        writer.secret(1, "passphrase", c.keys.passphrase, path: "keys.passphrase", status: status)
        if !c.keys.recipients.isEmpty { writer.list(1, "recipients", c.keys.recipients, path: "keys.recipients") }

        writer.key(0, "destinations")
        for (index, destination) in c.destinations.enumerated() {
            renderDestination(destination, path: loaded.destinationPath(index), into: &writer, status: status)
        }

        writer.key(0, "backup")
        writer.bool(1, "compression", c.backup.compression, path: "backup.compression")
        writer.value(1, "chunk_size", "\(c.backup.chunkSize)", path: "backup.chunk_size")
        writer.list(1, "tags", c.backup.tags, path: "backup.tags")
        writer.bool(1, "only_if_leader", c.backup.onlyIfLeader, path: "backup.only_if_leader")

        writer.key(0, "agent")
        writer.string(1, "listen", c.agent.listen, path: "agent.listen")
        writer.key(1, "schedules")
        for (key, value) in [("backup", c.agent.schedules.backup), ("verify", c.agent.schedules.verify), ("drill", c.agent.schedules.drill)] {
            if let value {
                writer.string(2, key, value, path: "agent.schedules.\(key)")
            } else {
                writer.value(2, key, "null", path: "agent.schedules.\(key)", note: "disabled")
            }
        }
        writer.string(1, "time_zone", c.agent.timeZone, path: "agent.time_zone")
        if let jitter = c.agent.jitter { writer.duration(1, "jitter", jitter, path: "agent.jitter") }
        writer.string(1, "log_format", c.agent.logFormat.rawValue, path: "agent.log_format")
        writer.optionalString(1, "state_file", c.agent.stateFile, path: "agent.state_file")
        if let maxAge = c.agent.healthMaxAge { writer.duration(1, "health_max_age", maxAge, path: "agent.health_max_age") }
        writer.duration(1, "shutdown_grace_period", c.agent.shutdownGracePeriod, path: "agent.shutdown_grace_period")

        writer.key(0, "notifications")
        if c.notifications.webhooks.isEmpty {
            writer.value(1, "webhooks", "[]", path: "notifications.webhooks")
        } else {
            writer.key(1, "webhooks")
            for (index, webhook) in c.notifications.webhooks.enumerated() {
                let path = "notifications.webhooks[\(index)]"
                writer.item(2)
                writer.webhookURL(3, webhook.url, path: "\(path).url", status: status)
                writer.string(3, "format", webhook.format.rawValue, path: "\(path).format")
                writer.list(3, "on", webhook.on.map(\.rawValue), path: "\(path).on")
                writer.duration(3, "timeout", webhook.timeout, path: "\(path).timeout")
                writer.value(3, "retries", "\(webhook.retries)", path: "\(path).retries")
            }
        }

        writer.key(0, "restore")
        renderNodes(c.restore.nodes, indent: 1, path: "restore.nodes", into: &writer)
        writer.key(1, "hooks")
        renderCommands(c.restore.hooks.resetAll, indent: 2, key: "reset_all", path: "restore.hooks.reset_all", into: &writer)
        renderCommands(c.restore.hooks.wipeNode, indent: 2, key: "wipe_node", path: "restore.hooks.wipe_node", into: &writer)
        renderCommands(c.restore.hooks.start, indent: 2, key: "start", path: "restore.hooks.start", into: &writer)
        writer.duration(2, "timeout", c.restore.hooks.timeout, path: "restore.hooks.timeout")
        writer.optionalString(1, "unseal_keys_file", c.restore.unsealKeysFile, path: "restore.unseal_keys_file")
        renderCanaries(c.restore.canaries, indent: 1, path: "restore.canaries", into: &writer)

        writer.key(0, "drill")
        writer.bool(1, "simulator", c.drill.simulator, path: "drill.simulator")
        renderNodes(c.drill.nodes, indent: 1, path: "drill.nodes", into: &writer)
        writer.key(1, "hooks")
        renderCommands(c.drill.hooks.create, indent: 2, key: "create", path: "drill.hooks.create", into: &writer)
        renderCommands(c.drill.hooks.destroy, indent: 2, key: "destroy", path: "drill.hooks.destroy", into: &writer)
        renderCommands(c.drill.hooks.wipeNode, indent: 2, key: "wipe_node", path: "drill.hooks.wipe_node", into: &writer)
        writer.duration(2, "timeout", c.drill.hooks.timeout, path: "drill.hooks.timeout")
        writer.optionalString(1, "unseal_keys_file", c.drill.unsealKeysFile, path: "drill.unseal_keys_file")
        renderCanaries(c.drill.canaries, indent: 1, path: "drill.canaries", into: &writer)
        writer.optionalString(1, "report_directory", c.drill.reportDirectory, path: "drill.report_directory")
        return writer.text
    }

    private static func renderDestination(
        _ destination: LifeboatConfiguration.Destination, path: String, into writer: inout YAMLWriter,
        status: (SecretReference) -> SecretStatus?
    ) {
        writer.item(1)
        writer.string(2, "name", destination.name, path: "\(path).name")
        writer.string(2, "type", destination.type, path: "\(path).type")
        switch destination.storage {
        case .local(let local):
            writer.string(2, "path", local.path, path: "\(path).path")
        case .s3(let s3):
            writer.optionalString(2, "endpoint", s3.endpoint, path: "\(path).endpoint")
            writer.string(2, "region", s3.region, path: "\(path).region")
            writer.string(2, "bucket", s3.bucket, path: "\(path).bucket")
            writer.string(2, "prefix", s3.prefix, path: "\(path).prefix")
            writer.bool(2, "path_style", s3.pathStyle, path: "\(path).path_style")
            writer.optionalString(2, "ca_cert", s3.caCert, path: "\(path).ca_cert")
            writer.secret(2, "access_key_id", s3.accessKeyID, path: "\(path).access_key_id", status: status)
            writer.secret(2, "secret_access_key", s3.secretAccessKey, path: "\(path).secret_access_key", status: status)
            writer.secret(2, "session_token", s3.sessionToken, path: "\(path).session_token", status: status)
            writer.optionalString(2, "profile", s3.profile, path: "\(path).profile")
            if s3.lockStaleAfter != StoreLockTiming.defaultStaleAfter {
                writer.string(2, "lock_stale_after", "\(Int(s3.lockStaleAfter))s", path: "\(path).lock_stale_after")
            }
            if let sse = s3.sse {
                writer.key(2, "sse")
                writer.string(3, "type", sse.type.rawValue, path: "\(path).sse.type")
                writer.optionalString(3, "kms_key_id", sse.kmsKeyID, path: "\(path).sse.kms_key_id")
            }
            if let lock = s3.objectLock {
                writer.key(2, "object_lock")
                writer.string(3, "mode", lock.mode.rawValue, path: "\(path).object_lock.mode")
                writer.value(3, "days", String(lock.days), path: "\(path).object_lock.days",
                             note: lock.daysFromRetention ? "from retention (its longest keep)" : nil)
            }
        }
        if let retention = destination.retention {
            writer.key(2, "retention", note: retention.description)
            let counts: [(String, RetentionCount?)] = [
                ("keep_last", retention.keepLast), ("keep_hourly", retention.keepHourly),
                ("keep_daily", retention.keepDaily), ("keep_weekly", retention.keepWeekly),
                ("keep_monthly", retention.keepMonthly), ("keep_yearly", retention.keepYearly),
            ]
            for case let (key, count?) in counts {
                writer.value(3, key, count == .unlimited ? "unlimited" : count.description, path: "\(path).retention.\(key)")
            }
            let durations: [(String, RetentionDuration?)] = [
                ("keep_within", retention.keepWithin), ("keep_within_hourly", retention.keepWithinHourly),
                ("keep_within_daily", retention.keepWithinDaily), ("keep_within_weekly", retention.keepWithinWeekly),
                ("keep_within_monthly", retention.keepWithinMonthly), ("keep_within_yearly", retention.keepWithinYearly),
            ]
            for case let (key, duration?) in durations {
                writer.string(3, key, duration.description, path: "\(path).retention.\(key)")
            }
            if !retention.keepTags.isEmpty {
                writer.value(3, "keep_tags", "[" + retention.keepTags.map { YAMLWriter.flowList($0) }.joined(separator: ", ") + "]",
                    path: "\(path).retention.keep_tags")
            }
        } else {
            writer.value(2, "retention", "null", path: "\(path).retention", note: "no retention: every backup is kept")
        }
        if let schedule = destination.schedule {
            writer.string(2, "schedule", schedule, path: "\(path).schedule")
        }
        if let cluster = destination.cluster {
            writer.string(2, "cluster", cluster, path: "\(path).cluster")
        }
        if destination.groupBy != .cluster {
            writer.string(2, "group_by", destination.groupBy.rawValue, path: "\(path).group_by")
        }
    }

    private static func renderNodes(_ nodes: [LifeboatConfiguration.Node], indent: Int, path: String, into writer: inout YAMLWriter) {
        guard !nodes.isEmpty else { return writer.value(indent, "nodes", "[]", path: path) }
        writer.key(indent, "nodes")
        for (index, node) in nodes.enumerated() {
            writer.item(indent + 1)
            writer.string(indent + 2, "name", node.name, path: "\(path)[\(index)].name")
            writer.string(indent + 2, "api_addr", node.apiAddress, path: "\(path)[\(index)].api_addr")
        }
    }

    private static func renderCommands(
        _ commands: [LifeboatConfiguration.HookCommand], indent: Int, key: String, path: String, into writer: inout YAMLWriter
    ) {
        guard !commands.isEmpty else { return writer.value(indent, key, "[]", path: path) }
        writer.key(indent, key)
        for command in commands {
            writer.raw(indent + 1, "- " + YAMLWriter.flowList(command.arguments))
        }
    }

    private static func renderCanaries(_ canaries: [LifeboatConfiguration.Canary], indent: Int, path: String, into writer: inout YAMLWriter) {
        guard !canaries.isEmpty else { return writer.value(indent, "canaries", "[]", path: path) }
        writer.key(indent, "canaries")
        for (index, canary) in canaries.enumerated() {
            writer.item(indent + 1)
            writer.string(indent + 2, "path", canary.path, path: "\(path)[\(index)].path")
            let fields = canary.fields.map { "\(YAMLWriter.scalar($0.name)): \($0.expected.map { YAMLWriter.scalar($0) } ?? "null")" }
            writer.value(indent + 2, "fields", "{" + fields.joined(separator: ", ") + "}", path: "\(path)[\(index)].fields")
        }
    }
}

/// A minimal YAML writer: block mappings and lists, flow lists for short values, comments for origins.
struct YAMLWriter {
    let origins: [String: ConfigurationOrigin]
    private(set) var text = ""
    /// Set after `item(_:)`: the next key is written on the `- ` line.
    private var pendingItem: Int?

    init(origins: [String: ConfigurationOrigin]) {
        self.origins = origins
    }

    mutating func comment(_ line: String) {
        text += "# \(line)\n"
    }

    mutating func raw(_ indent: Int, _ line: String) {
        text += String(repeating: "  ", count: indent) + line + "\n"
    }

    mutating func item(_ indent: Int) {
        pendingItem = indent
    }

    private mutating func emit(_ indent: Int, _ body: String, comment: String?) {
        var prefix = String(repeating: "  ", count: indent)
        if let itemIndent = pendingItem {
            prefix = String(repeating: "  ", count: itemIndent) + "- "
            pendingItem = nil
        }
        text += prefix + body + (comment.map { "  # \($0)" } ?? "") + "\n"
    }

    /// The origin note for `path`, unless the value came from the file.
    private func originNote(_ path: String) -> String? {
        switch origins[path] {
        case .file?: return nil
        case .environment(let name)?: return "from environment \(name)"
        case .flag(let name)?: return "from flag \(name)"
        case .defaultValue?, nil: return "default"
        }
    }

    private func note(_ path: String, _ extra: String?) -> String? {
        let parts = [originNote(path), extra].compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: "; ")
    }

    mutating func key(_ indent: Int, _ key: String, note: String? = nil) {
        emit(indent, "\(key):", comment: note)
    }

    mutating func value(_ indent: Int, _ key: String, _ rendered: String, path: String, note extra: String? = nil) {
        emit(indent, "\(key): \(rendered)", comment: note(path, extra))
    }

    mutating func string(_ indent: Int, _ key: String, _ text: String, path: String) {
        value(indent, key, Self.scalar(text), path: path)
    }

    mutating func optionalString(_ indent: Int, _ key: String, _ text: String?, path: String) {
        guard let text else { return }
        string(indent, key, text, path: path)
    }

    mutating func bool(_ indent: Int, _ key: String, _ flag: Bool, path: String) {
        value(indent, key, flag ? "true" : "false", path: path)
    }

    mutating func duration(_ indent: Int, _ key: String, _ duration: Duration, path: String) {
        value(indent, key, Schedule.format(duration), path: path)
    }

    mutating func list(_ indent: Int, _ key: String, _ items: [String], path: String) {
        value(indent, key, Self.flowList(items), path: path)
    }

    /// A secret reference, masked: `env:NAME  # set`, `file:/path  # ok`, `"****"  # literal value`.
    mutating func secret(
        _ indent: Int, _ key: String, _ reference: SecretReference?, path: String, status: (SecretReference) -> SecretStatus?
    ) {
        guard let reference else { return }
        let rendered: String
        switch reference {
        case .environment, .file: rendered = Self.scalar(reference.description)
        case .literal: rendered = "\"****\""
        }
        value(indent, key, rendered, path: path, note: status(reference)?.description)
    }

    /// A webhook URL: a reference like any secret; a literal shows only its scheme and host.
    mutating func webhookURL(_ indent: Int, _ reference: SecretReference, path: String, status: (SecretReference) -> SecretStatus?) {
        guard case .literal(let url) = reference else {
            return secret(indent, "url", reference, path: path, status: status)
        }
        let masked: String
        if let components = URLComponents(string: url), let scheme = components.scheme, let host = components.host {
            masked = "\(scheme)://\(host)\(components.port.map { ":\($0)" } ?? "")/****"
        } else {
            masked = "****"
        }
        value(indent, "url", Self.scalar(masked), path: path, note: "path and query masked")
    }

    static func flowList(_ items: [String]) -> String {
        "[" + items.map { scalar($0, inFlow: true) }.joined(separator: ", ") + "]"
    }

    /// `text` as a YAML scalar: plain when that reads back as the same string, double-quoted otherwise.
    static func scalar(_ text: String, inFlow: Bool = false) -> String {
        guard needsQuotes(text, inFlow: inFlow) else { return text }
        var escaped = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            case "\t": escaped += "\\t"
            case "\r": escaped += "\\r"
            default:
                if scalar.value < 0x20 {
                    escaped += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
                } else {
                    escaped.unicodeScalars.append(scalar)
                }
            }
        }
        return escaped + "\""
    }

    private static func needsQuotes(_ text: String, inFlow: Bool) -> Bool {
        guard let first = text.first, let last = text.last else { return true }
        if ConfigurationReader.parseInteger(text) != nil || ConfigurationReader.parseBool(text) != nil || Double(text) != nil {
            return true
        }
        if ["null", "Null", "NULL", "~"].contains(text) { return true }
        if "-?:,[]{}#&*!|>'\"%@`".contains(first) || first == " " || last == " " || last == ":" { return true }
        if text.contains(": ") || text.contains(" #") || text.contains(where: { $0.isNewline || $0 == "\t" }) { return true }
        if inFlow && text.contains(where: { ",[]{}".contains($0) }) { return true }
        return false
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
