// VaultClientConfiguration: where Vault is and how to authenticate and verify it, built from the environment
// with Vault's and OpenBao's conventions plus explicit overrides (command-line flags, the config file).
//
// Precedence, for every setting: an `Overrides` field that is set, then `BAO_<NAME>`, then `VAULT_<NAME>`, then
// the default. An empty variable counts as unset. (OpenBao's own client reads BAO_<NAME> and, in the releases
// that kept compatibility, falls back to VAULT_<NAME>; Vault reads VAULT_<NAME> only.)
//
// Addresses: BAO_ADDR/VAULT_ADDR (default https://127.0.0.1:8200) is the local node and comes first; then the
// comma-separated LIFEBOAT_VAULT_ADDRS (duplicates dropped). When only LIFEBOAT_VAULT_ADDRS is set, its first
// entry is the local node and the default address is not added.
//
// Authentication, first match wins:
//   1. AppRole: BAO_/VAULT_ROLE_ID or ..._ROLE_ID_FILE (required), BAO_/VAULT_SECRET_ID or ..._SECRET_ID_FILE
//      (optional, for roles with bind_secret_id=false), mount BAO_/VAULT_APPROLE_MOUNT (default "approle").
//      Files are re-read at every login. Setting both a value and a _FILE for one credential is an error.
//   2. Vault Agent sink: LIFEBOAT_VAULT_AGENT_TOKEN_FILE (re-read every time a token is needed).
//   3. BAO_TOKEN / VAULT_TOKEN.
//   4. A token file: BAO_TOKEN_PATH, else $HOME/.vault-token (both the vault and bao CLIs write this file
//      after `login`; OpenBao has no ~/.bao-token). Used only when the file exists.
//
// TLS: BAO_/VAULT_CACERT (a PEM file; wins over CAPATH, as in Vault), _CAPATH (a directory of PEM files),
// _CLIENT_CERT and _CLIENT_KEY (both or neither), _TLS_SERVER_NAME, _SKIP_VERIFY (Go boolean syntax).
// Verification is on unless skip-verify is explicitly true; the client logs a warning when it is off.
// Namespace: BAO_/VAULT_NAMESPACE. Request timeout: BAO_/VAULT_CLIENT_TIMEOUT (seconds or "90s", "5m").

import Foundation
import LifeboatSnapshot

/// Where a credential comes from. Files are read at the moment the credential is needed.
public enum VaultCredentialSource: Sendable, Equatable, CustomStringConvertible {
    /// A value given directly (environment or flag).
    case value(VaultSecret)
    /// A file holding the value (surrounding whitespace ignored); re-read at every use.
    case file(String)

    /// Reads the credential now.
    public func read(what: String) throws -> VaultSecret {
        switch self {
        case .value(let s):
            guard !s.isEmpty else { throw VaultError(kind: .authentication, message: "the \(what) is empty") }
            return s
        case .file(let path):
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw VaultError(kind: .authentication, message: "cannot read the \(what) from \(path): \(VaultClientConfiguration.fileErrorReason(error))")
            }
            let s = VaultSecret(String(decoding: data, as: UTF8.self))
            guard !s.isEmpty else { throw VaultError(kind: .authentication, message: "the \(what) file \(path) is empty") }
            return s
        }
    }

    public var description: String {
        switch self {
        case .value: return "a value (redacted)"
        case .file(let p): return "file \(p)"
        }
    }
}

/// Where Vault is, how to authenticate to it and how to verify its TLS certificate.
public struct VaultClientConfiguration: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// AppRole login settings.
    public struct AppRole: Sendable, Equatable {
        /// The auth mount path, without slashes (default "approle"): logins go to `auth/<mount>/login`.
        public var mountPath: String
        public var roleID: VaultCredentialSource
        /// Nil for roles created with bind_secret_id=false.
        public var secretID: VaultCredentialSource?

        public init(mountPath: String = "approle", roleID: VaultCredentialSource, secretID: VaultCredentialSource?) {
            self.mountPath = mountPath.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            self.roleID = roleID
            self.secretID = secretID
        }
    }

    /// How the client obtains its token.
    public enum Authentication: Sendable, Equatable, CustomStringConvertible {
        /// No token: only unauthenticated endpoints (sys/health, sys/leader, sys/seal-status, sys/init, unseal) work.
        case none
        /// A fixed token.
        case token(VaultSecret)
        /// A token file written once (e.g. ~/.vault-token); re-read when a request is refused with 403.
        case tokenFile(String)
        /// A file a Vault Agent sink rewrites when it rotates the token; re-read every time a token is needed.
        case agentSink(String)
        /// AppRole login with renewal at half the TTL and re-login when renewal fails.
        case appRole(AppRole)

        public var description: String {
            switch self {
            case .none: return "none"
            case .token: return "static token (redacted)"
            case .tokenFile(let p): return "token file \(p)"
            case .agentSink(let p): return "Vault Agent sink file \(p)"
            case .appRole(let a):
                return "AppRole at auth/\(a.mountPath) (role_id: \(a.roleID), secret_id: \(a.secretID?.description ?? "none"))"
            }
        }
    }

    /// TLS settings (the VAULT_CACERT family).
    public struct TLS: Sendable, Equatable {
        /// A PEM file of CA certificates to trust instead of the system store.
        public var caCertFile: String?
        /// A directory of PEM CA certificates (ignored when `caCertFile` is set, as in Vault).
        public var caPath: String?
        /// Client certificate (PEM) for Vault listeners that require one; needs `clientKeyFile`.
        public var clientCertFile: String?
        public var clientKeyFile: String?
        /// The host name the server certificate must carry (and SNI), instead of the address's host.
        public var serverName: String?
        /// Turns certificate verification off. Dangerous; a warning is logged.
        public var skipVerify: Bool

        public init(caCertFile: String? = nil, caPath: String? = nil, clientCertFile: String? = nil, clientKeyFile: String? = nil,
                    serverName: String? = nil, skipVerify: Bool = false) {
            self.caCertFile = caCertFile
            self.caPath = caPath
            self.clientCertFile = clientCertFile
            self.clientKeyFile = clientKeyFile
            self.serverName = serverName
            self.skipVerify = skipVerify
        }

        /// How the server certificate is checked, for error messages.
        public var trustDescription: String {
            if skipVerify { return "nothing (verification is disabled by VAULT_SKIP_VERIFY)" }
            if let f = caCertFile { return "the CA file \(f) (VAULT_CACERT)" }
            if let d = caPath { return "the CA directory \(d) (VAULT_CAPATH)" }
            return "the system trust store (no VAULT_CACERT or VAULT_CAPATH set)"
        }
    }

    /// Timeouts (all generous by default: large snapshots take minutes).
    public struct Timeouts: Sendable, Equatable {
        /// Establishing a TCP (and TLS) connection.
        public var connect: Duration = .seconds(10)
        /// An ordinary API request, until its whole (small) body has arrived.
        public var request: Duration = .seconds(60)
        /// Until a snapshot download's response headers arrive (Vault scans its database first).
        public var snapshotFirstByte: Duration = .seconds(15 * 60)
        /// A whole snapshot download.
        public var snapshotTotal: Duration = .seconds(6 * 3600)
        /// A snapshot download that delivers no byte for this long is cut.
        public var snapshotStall: Duration = .seconds(60)
        /// A whole restore upload, until Vault answers.
        public var restoreTotal: Duration = .seconds(6 * 3600)

        public init() {}
    }

    /// Explicit settings that win over the environment (from flags or the config file). Nil means "not set".
    public struct Overrides: Sendable {
        /// Replaces the whole address list (first = local node).
        public var addresses: [String]?
        public var authentication: Authentication?
        public var caCertFile: String?
        public var caPath: String?
        public var clientCertFile: String?
        public var clientKeyFile: String?
        public var serverName: String?
        public var skipVerify: Bool?
        public var namespace: String?
        public var timeouts: Timeouts?

        public init(addresses: [String]? = nil, authentication: Authentication? = nil, caCertFile: String? = nil, caPath: String? = nil,
                    clientCertFile: String? = nil, clientKeyFile: String? = nil, serverName: String? = nil, skipVerify: Bool? = nil,
                    namespace: String? = nil, timeouts: Timeouts? = nil) {
            self.addresses = addresses
            self.authentication = authentication
            self.caCertFile = caCertFile
            self.caPath = caPath
            self.clientCertFile = clientCertFile
            self.clientKeyFile = clientKeyFile
            self.serverName = serverName
            self.skipVerify = skipVerify
            self.namespace = namespace
            self.timeouts = timeouts
        }
    }

    /// The default address when none is configured (Vault's default).
    public static let defaultAddress = "https://127.0.0.1:8200"

    /// Node API addresses, normalized (`scheme://host:port`, no trailing slash). The first is the local node.
    public var addresses: [String]
    public var authentication: Authentication
    public var tls: TLS
    /// Sent as X-Vault-Namespace when set (Enterprise; ignored by Vault CE and OpenBao).
    public var namespace: String?
    public var timeouts: Timeouts
    /// Where each setting came from, e.g. `["address": "VAULT_ADDR", "authentication": "VAULT_ROLE_ID_FILE"]`.
    public var origins: [String: String]

    /// The local node (the first address): what `--only-if-leader` asks about.
    public var localAddress: String { addresses[0] }

    /// A configuration from explicit values (no environment).
    public init(addresses: [String], authentication: Authentication = .none, tls: TLS = TLS(), namespace: String? = nil,
                timeouts: Timeouts = Timeouts()) throws {
        guard !addresses.isEmpty else { throw VaultError.configuration("no Vault address configured: set VAULT_ADDR") }
        var seen = Set<String>()
        var list: [String] = []
        for a in addresses {
            let n = try Self.normalizeAddress(a, origin: "address")
            if seen.insert(n).inserted { list.append(n) }
        }
        self.addresses = list
        self.authentication = authentication
        self.tls = tls
        self.namespace = namespace
        self.timeouts = timeouts
        self.origins = [:]
        try validateTLSPairs()
    }

    /// Builds the configuration from environment variables (see the file header for names and precedence)
    /// and `overrides`, which win.
    public init(environment: [String: String], overrides: Overrides = Overrides()) throws {
        var origins: [String: String] = [:]
        func lookup(_ name: String) -> (value: String, from: String)? {
            for prefix in ["BAO_", "VAULT_"] {
                let key = prefix + name
                if let v = environment[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty { return (v, key) }
            }
            return nil
        }

        // Addresses.
        var addresses: [String] = []
        if let o = overrides.addresses, !o.isEmpty {
            addresses = o
            origins["address"] = "override"
        } else {
            let list = (environment["LIFEBOAT_VAULT_ADDRS"] ?? "").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if let (addr, from) = lookup("ADDR") {
                addresses = [addr] + list
                origins["address"] = list.isEmpty ? from : from + " + LIFEBOAT_VAULT_ADDRS"
            } else if !list.isEmpty {
                addresses = list
                origins["address"] = "LIFEBOAT_VAULT_ADDRS"
            } else {
                addresses = [Self.defaultAddress]
                origins["address"] = "default"
            }
        }

        // TLS.
        var tls = TLS()
        func tlsValue(_ override: String?, _ name: String, _ key: String) -> String? {
            if let o = override, !o.isEmpty { origins[key] = "override"; return o }
            if let (v, from) = lookup(name) { origins[key] = from; return v }
            return nil
        }
        tls.caCertFile = tlsValue(overrides.caCertFile, "CACERT", "caCert")
        tls.caPath = tlsValue(overrides.caPath, "CAPATH", "caPath")
        tls.clientCertFile = tlsValue(overrides.clientCertFile, "CLIENT_CERT", "clientCert")
        tls.clientKeyFile = tlsValue(overrides.clientKeyFile, "CLIENT_KEY", "clientKey")
        tls.serverName = tlsValue(overrides.serverName, "TLS_SERVER_NAME", "serverName")
        if let o = overrides.skipVerify {
            tls.skipVerify = o
            origins["skipVerify"] = "override"
        } else if let (v, from) = lookup("SKIP_VERIFY") {
            guard let b = Self.parseGoBool(v) else {
                throw VaultError.configuration("\(from)=\(v) is not a boolean: use true or false (1/0, t/f also work)")
            }
            tls.skipVerify = b
            origins["skipVerify"] = from
        }

        // Namespace and timeouts.
        var namespace: String?
        if let o = overrides.namespace, !o.isEmpty { namespace = o; origins["namespace"] = "override" }
        else if let (v, from) = lookup("NAMESPACE") { namespace = v; origins["namespace"] = from }
        var timeouts = overrides.timeouts ?? Timeouts()
        if overrides.timeouts == nil, let (v, from) = lookup("CLIENT_TIMEOUT") {
            guard let d = Self.parseDuration(v), d > .zero else {
                throw VaultError.configuration("\(from)=\(v) is not a duration: use seconds (60) or a Go duration (90s, 5m)")
            }
            timeouts.request = d
            origins["requestTimeout"] = from
        }

        // Authentication.
        let authentication: Authentication
        if let o = overrides.authentication {
            authentication = o
            origins["authentication"] = "override"
        } else {
            func credential(_ name: String, _ what: String) throws -> (VaultCredentialSource, String)? {
                let direct = lookup(name), file = lookup(name + "_FILE")
                switch (direct, file) {
                case let (d?, f?):
                    throw VaultError.configuration("both \(d.from) and \(f.from) are set: keep only one source for the \(what)")
                case let (d?, nil): return (.value(VaultSecret(d.value)), d.from)
                case let (nil, f?): return (.file(f.value), f.from)
                case (nil, nil): return nil
                }
            }
            let role = try credential("ROLE_ID", "AppRole role_id")
            let secret = try credential("SECRET_ID", "AppRole secret_id")
            if let (roleID, from) = role {
                let mount = lookup("APPROLE_MOUNT")?.value ?? "approle"
                authentication = .appRole(AppRole(mountPath: mount, roleID: roleID, secretID: secret?.0))
                origins["authentication"] = from + (secret.map { " + " + $0.1 } ?? "")
            } else if let (_, from) = secret {
                throw VaultError.configuration("\(from) is set but no AppRole role_id: set VAULT_ROLE_ID or VAULT_ROLE_ID_FILE too")
            } else if let sink = environment["LIFEBOAT_VAULT_AGENT_TOKEN_FILE"], !sink.isEmpty {
                authentication = .agentSink(sink)
                origins["authentication"] = "LIFEBOAT_VAULT_AGENT_TOKEN_FILE"
            } else if let (v, from) = lookup("TOKEN") {
                authentication = .token(VaultSecret(v))
                origins["authentication"] = from
            } else {
                let path: String
                if let p = environment["BAO_TOKEN_PATH"], !p.isEmpty {
                    path = p
                    origins["authentication"] = "BAO_TOKEN_PATH"
                } else {
                    path = Self.homeDirectory(environment) + "/.vault-token"
                    origins["authentication"] = "~/.vault-token"
                }
                if FileManager.default.fileExists(atPath: path) {
                    authentication = .tokenFile(path)
                } else {
                    authentication = .none
                    origins["authentication"] = "none"
                }
            }
        }

        try self.init(addresses: addresses, authentication: authentication, tls: tls, namespace: namespace, timeouts: timeouts)
        self.origins = origins
    }

    private func validateTLSPairs() throws {
        switch (tls.clientCertFile, tls.clientKeyFile) {
        case (.some, nil): throw VaultError.configuration("VAULT_CLIENT_CERT is set without VAULT_CLIENT_KEY: both client certificate and key are needed")
        case (nil, .some): throw VaultError.configuration("VAULT_CLIENT_KEY is set without VAULT_CLIENT_CERT: both client certificate and key are needed")
        default: break
        }
    }

    /// `$HOME`, else the account's home directory.
    static func homeDirectory(_ environment: [String: String]) -> String {
        if let h = environment["HOME"], !h.isEmpty { return h.hasSuffix("/") && h.count > 1 ? String(h.dropLast()) : h }
        return NSHomeDirectory()
    }

    /// Checks and normalizes an address: `http(s)://host[:port]`, no path, no trailing slash.
    static func normalizeAddress(_ raw: String, origin: String) throws -> String {
        var a = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        while a.hasSuffix("/") { a.removeLast() }
        guard let url = URL(string: a), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw VaultError.configuration("invalid Vault address \"\(raw)\": use http://host:port or https://host:port (e.g. https://vault.example.com:8200)")
        }
        guard url.path.isEmpty || url.path == "/" else {
            throw VaultError.configuration("invalid Vault address \"\(raw)\": give only scheme, host and port, no path")
        }
        return a
    }

    /// Go's strconv.ParseBool.
    package static func parseGoBool(_ s: String) -> Bool? {
        switch s {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }

    /// Seconds ("60") or a Go duration made of h/m/s/ms parts ("1h30m", "90s", "500ms").
    static func parseDuration(_ s: String) -> Duration? {
        if let secs = Int(s) { return .seconds(secs) }
        var total = Duration.zero
        var number = ""
        var chars = Array(s)[...]
        guard !chars.isEmpty else { return nil }
        while let c = chars.first {
            if c.isNumber || c == "." {
                number.append(c)
                chars = chars.dropFirst()
                continue
            }
            var unit = ""
            while let u = chars.first, u.isLetter { unit.append(u); chars = chars.dropFirst() }
            guard let v = Double(number) else { return nil }
            number = ""
            switch unit {
            case "h": total += .milliseconds(Int64(v * 3_600_000))
            case "m": total += .milliseconds(Int64(v * 60_000))
            case "s": total += .milliseconds(Int64(v * 1000))
            case "ms": total += .milliseconds(Int64(v))
            default: return nil
            }
        }
        return number.isEmpty ? total : nil
    }

    static func fileErrorReason(_ error: any Error) -> String {
        let ns = error as NSError
        if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(posix.code)))
        }
        if ns.domain == NSCocoaErrorDomain {
            switch ns.code {
            case NSFileReadNoSuchFileError: return "no such file"
            case NSFileReadNoPermissionError: return "permission denied"
            default: break
            }
        }
        return ns.localizedDescription
    }

    // MARK: Printing (never shows a secret)

    public var description: String {
        var lines = ["addresses: \(addresses.joined(separator: ", "))" + (origins["address"].map { " (from \($0))" } ?? "")]
        lines.append("authentication: \(authentication)" + (origins["authentication"].map { " (from \($0))" } ?? ""))
        lines.append("TLS: verify against \(tls.trustDescription)"
                     + (tls.clientCertFile.map { ", client certificate \($0)" } ?? "")
                     + (tls.serverName.map { ", server name \($0)" } ?? ""))
        if let ns = namespace { lines.append("namespace: \(ns)") }
        lines.append("timeouts: request \(timeouts.request), snapshot \(timeouts.snapshotTotal) (stall \(timeouts.snapshotStall))")
        return lines.joined(separator: "\n")
    }

    public var debugDescription: String { "VaultClientConfiguration(\(description.replacingOccurrences(of: "\n", with: "; ")))" }
}
