// Environment variables over the configuration file: Vault's VAULT_* names (BAO_* win over them, as OpenBao's
// client reads them), Lifeboat's LIFEBOAT_* names, and the AWS_* names as a fallback for S3 credentials.
// Every value applied is recorded with its origin so `config check` can say where it came from.

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

/// Applies environment variables to a loaded configuration. The table in docs/configuration.md lists them.
enum ConfigurationEnvironment {
    /// Names of the variables Lifeboat reads (for documentation and tests).
    static let variables = [
        "LIFEBOAT_CONFIG", "VAULT_ADDR", "LIFEBOAT_VAULT_ADDRS", "VAULT_NAMESPACE", "VAULT_CACERT", "VAULT_CAPATH",
        "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "VAULT_TLS_SERVER_NAME", "VAULT_SKIP_VERIFY", "VAULT_CLIENT_TIMEOUT",
        "VAULT_TOKEN", "VAULT_ROLE_ID", "VAULT_ROLE_ID_FILE", "VAULT_SECRET_ID", "VAULT_SECRET_ID_FILE",
        "VAULT_APPROLE_MOUNT", "LIFEBOAT_VAULT_AGENT_TOKEN_FILE", "LIFEBOAT_REPO", "LIFEBOAT_KEY_FILE",
        "LIFEBOAT_PASSPHRASE", "LIFEBOAT_PASSPHRASE_FILE", "LIFEBOAT_LOG_FORMAT", "LIFEBOAT_LISTEN",
        "LIFEBOAT_UNSEAL_KEYS_FILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_REGION", "AWS_DEFAULT_REGION",
    ]

    /// The variables that describe one cluster (its Vault, destinations, keys, unseal keys): every variable above
    /// except LIFEBOAT_CONFIG, LIFEBOAT_LOG_FORMAT, LIFEBOAT_LISTEN and the AWS_* gap-fillers, plus each VAULT_
    /// name's BAO_ twin. The agent running every cluster of a fleet does not apply them (docs/configuration.md,
    /// "Fleet mode").
    static let clusterVariables: [String] = variables.filter {
        !["LIFEBOAT_CONFIG", "LIFEBOAT_LOG_FORMAT", "LIFEBOAT_LISTEN"].contains($0) && !$0.hasPrefix("AWS_")
    }.flatMap { $0.hasPrefix("VAULT_") ? ["BAO_" + $0.dropFirst("VAULT_".count), $0] : [$0] }

    /// Applies `environment` to `loaded`; returns the problems with values that cannot be used.
    /// - Parameter repositoryFlagGiven: `--repo` was given, so LIFEBOAT_REPO is not read (the flag replaces it).
    static func apply(
        _ environment: [String: String], to loaded: inout LoadedConfiguration, currentDirectory: String,
        repositoryFlagGiven: Bool = false
    ) -> [ConfigurationIssue] {
        var issues: [ConfigurationIssue] = []
        func value(_ name: String) -> String? {
            guard let raw = environment[name] else { return nil }
            let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            return trimmed.isEmpty ? nil : trimmed
        }
        /// BAO_<name> first, then VAULT_<name>.
        func vaultVariable(_ name: String) -> (value: String, from: String)? {
            for prefix in ["BAO_", "VAULT_"] {
                if let v = value(prefix + name) { return (v, prefix + name) }
            }
            return nil
        }
        func absolute(_ path: String) -> String {
            ConfigurationPaths.absolute(path, relativeTo: currentDirectory, home: environment["HOME"])
        }
        func fail(_ name: String, _ keyPath: String, _ message: String) {
            issues.append(ConfigurationIssue(keyPath: keyPath, message: message, origin: .environment(name)))
        }

        // vault
        if let (address, from) = vaultVariable("ADDR") {
            loaded.set("vault.address", .environment(from)) { $0.vault.address = address }
        }
        if let list = value("LIFEBOAT_VAULT_ADDRS") {
            let addresses = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            loaded.set("vault.addresses", .environment("LIFEBOAT_VAULT_ADDRS")) { $0.vault.addresses = addresses }
        }
        if let (namespace, from) = vaultVariable("NAMESPACE") {
            loaded.set("vault.namespace", .environment(from)) { $0.vault.namespace = namespace }
        }
        let tlsPaths: [(String, String, WritableKeyPath<LifeboatConfiguration.TLS, String?>)] = [
            ("CACERT", "ca_cert", \.caCert), ("CAPATH", "ca_path", \.caPath),
            ("CLIENT_CERT", "client_cert", \.clientCert), ("CLIENT_KEY", "client_key", \.clientKey),
        ]
        for (name, key, keyPath) in tlsPaths {
            if let (path, from) = vaultVariable(name) {
                loaded.set("vault.tls.\(key)", .environment(from)) { $0.vault.tls[keyPath: keyPath] = absolute(path) }
            }
        }
        if let (serverName, from) = vaultVariable("TLS_SERVER_NAME") {
            loaded.set("vault.tls.server_name", .environment(from)) { $0.vault.tls.serverName = serverName }
        }
        if let (text, from) = vaultVariable("SKIP_VERIFY") {
            if let skip = VaultClientConfiguration.parseGoBool(text) {
                loaded.set("vault.tls.skip_verify", .environment(from)) { $0.vault.tls.skipVerify = skip }
            } else {
                fail(from, "vault.tls.skip_verify", "\(from)=\(text) is not a boolean: use true or false")
            }
        }
        if let (text, from) = vaultVariable("CLIENT_TIMEOUT") {
            if let seconds = Int(text), seconds > 0 {
                loaded.set("vault.timeouts.request", .environment(from)) { $0.vault.timeouts.request = .seconds(seconds) }
            } else if let duration = try? Schedule.parseDuration(text), duration > .zero {
                loaded.set("vault.timeouts.request", .environment(from)) { $0.vault.timeouts.request = duration }
            } else {
                fail(from, "vault.timeouts.request", "\(from)=\(text) is not a duration: use seconds (60) or e.g. 90s, 5m")
            }
        }
        applyAuth(vaultVariable, value, absolute, fail, &loaded)

        // repository and keys
        if !repositoryFlagGiven, let repository = value("LIFEBOAT_REPO") {
            issues += ConfigurationOverrides.selectRepository(
                repository, origin: .environment("LIFEBOAT_REPO"), in: &loaded, currentDirectory: currentDirectory)
        }
        if let list = value("LIFEBOAT_KEY_FILE") {
            let files = list.split(separator: ",").map { absolute($0.trimmingCharacters(in: .whitespaces)) }
            loaded.set("keys.key_files", .environment("LIFEBOAT_KEY_FILE")) { $0.keys.keyFiles = files }
        }
        if value("LIFEBOAT_PASSPHRASE") != nil && value("LIFEBOAT_PASSPHRASE_FILE") != nil {
            fail("LIFEBOAT_PASSPHRASE", "keys.passphrase",
                "both LIFEBOAT_PASSPHRASE and LIFEBOAT_PASSPHRASE_FILE are set: keep only one")
        } else if value("LIFEBOAT_PASSPHRASE") != nil {
            loaded.set("keys.passphrase", .environment("LIFEBOAT_PASSPHRASE")) {
                $0.keys.passphrase = .environment("LIFEBOAT_PASSPHRASE")
            }
        } else if let path = value("LIFEBOAT_PASSPHRASE_FILE") {
            loaded.set("keys.passphrase", .environment("LIFEBOAT_PASSPHRASE_FILE")) { $0.keys.passphrase = .file(absolute(path)) }
        }

        // agent and restore
        if let text = value("LIFEBOAT_LOG_FORMAT") {
            if let format = LifeboatConfiguration.LogFormat(rawValue: text) {
                loaded.set("agent.log_format", .environment("LIFEBOAT_LOG_FORMAT")) { $0.agent.logFormat = format }
            } else {
                fail("LIFEBOAT_LOG_FORMAT", "agent.log_format", "LIFEBOAT_LOG_FORMAT=\(text) is not a log format: use human or json")
            }
        }
        if let listen = value("LIFEBOAT_LISTEN") {
            loaded.set("agent.listen", .environment("LIFEBOAT_LISTEN")) { $0.agent.listen = listen }
        }
        if let path = value("LIFEBOAT_UNSEAL_KEYS_FILE") {
            loaded.set("restore.unseal_keys_file", .environment("LIFEBOAT_UNSEAL_KEYS_FILE")) {
                $0.restore.unsealKeysFile = absolute(path)
            }
        }

        // S3: the AWS variables fill in what a destination leaves out (a destination's own setting is more
        // specific than a process-wide variable, so it wins).
        for index in loaded.configuration.destinations.indices {
            guard case .s3(var s3) = loaded.configuration.destinations[index].storage else { continue }
            let path = loaded.destinationPath(index)
            var applied: [(String, String)] = []
            if s3.accessKeyID == nil, s3.profile == nil, value("AWS_ACCESS_KEY_ID") != nil, value("AWS_SECRET_ACCESS_KEY") != nil {
                s3.accessKeyID = .environment("AWS_ACCESS_KEY_ID")
                s3.secretAccessKey = .environment("AWS_SECRET_ACCESS_KEY")
                applied += [("access_key_id", "AWS_ACCESS_KEY_ID"), ("secret_access_key", "AWS_SECRET_ACCESS_KEY")]
                if s3.sessionToken == nil, value("AWS_SESSION_TOKEN") != nil {
                    s3.sessionToken = .environment("AWS_SESSION_TOKEN")
                    applied.append(("session_token", "AWS_SESSION_TOKEN"))
                }
            }
            if s3.profile == nil, s3.accessKeyID == nil, let profile = value("AWS_PROFILE") {
                s3.profile = profile
                applied.append(("profile", "AWS_PROFILE"))
            }
            if loaded.origins["\(path).region"] == nil,
                let (region, from) = value("AWS_REGION").map({ ($0, "AWS_REGION") })
                    ?? value("AWS_DEFAULT_REGION").map({ ($0, "AWS_DEFAULT_REGION") })
            {
                s3.region = region
                applied.append(("region", from))
            }
            loaded.configuration.destinations[index].storage = .s3(s3)
            for (key, variable) in applied { loaded.origins["\(path).\(key)"] = .environment(variable) }
        }
        return issues
    }

    /// Authentication from the environment, first match wins (AppRole, Vault Agent sink, token), replacing the
    /// file's `vault.auth` method and credentials. `VAULT_APPROLE_MOUNT` alone only sets the mount.
    private static func applyAuth(
        _ vaultVariable: ((String) -> (value: String, from: String)?), _ value: (String) -> String?,
        _ absolute: (String) -> String, _ fail: (String, String, String) -> Void, _ loaded: inout LoadedConfiguration
    ) {
        func credential(_ name: String, _ keyPath: String) -> (SecretReference, String)? {
            let direct = vaultVariable(name), file = vaultVariable(name + "_FILE")
            switch (direct, file) {
            case let (d?, f?):
                fail(d.from, keyPath, "both \(d.from) and \(f.from) are set: keep only one source")
                return nil
            case let (d?, nil): return (.environment(d.from), d.from)
            case let (nil, f?): return (.file(absolute(f.value)), f.from)
            case (nil, nil): return nil
            }
        }
        if let (mount, from) = vaultVariable("APPROLE_MOUNT") {
            loaded.set("vault.auth.mount", .environment(from)) { $0.vault.auth.mount = mount }
        }
        let mount = loaded.configuration.vault.auth.mount
        let role = credential("ROLE_ID", "vault.auth.role_id")
        let secret = credential("SECRET_ID", "vault.auth.secret_id")
        if let (roleID, roleFrom) = role {
            loaded.replaceAuth(.init(method: .approle, roleID: roleID, secretID: secret?.0, mount: mount), origin: .environment(roleFrom))
            loaded.origins["vault.auth.role_id"] = .environment(roleFrom)
            if let (_, secretFrom) = secret { loaded.origins["vault.auth.secret_id"] = .environment(secretFrom) }
        } else if let (_, from) = secret {
            fail(from, "vault.auth.secret_id", "\(from) is set but no AppRole role_id: set VAULT_ROLE_ID or VAULT_ROLE_ID_FILE too")
        } else if let sink = value("LIFEBOAT_VAULT_AGENT_TOKEN_FILE") {
            loaded.replaceAuth(.init(method: .agentSink, sinkPath: absolute(sink), mount: mount),
                origin: .environment("LIFEBOAT_VAULT_AGENT_TOKEN_FILE"))
            loaded.origins["vault.auth.sink_path"] = .environment("LIFEBOAT_VAULT_AGENT_TOKEN_FILE")
        } else if let (_, from) = vaultVariable("TOKEN") {
            loaded.replaceAuth(.init(method: .token, token: .environment(from), mount: mount), origin: .environment(from))
            loaded.origins["vault.auth.token"] = .environment(from)
        }
    }
}
