// VaultClientConfiguration: where Vault is and how to authenticate and verify it. Built by the configuration
// (LifeboatConfiguration.Vault.clientConfiguration), after the file, the environment (VAULT_*/BAO_* as Vault and
// OpenBao read them, see ConfigurationEnvironment) and the flags were applied. Verification is on unless
// skip-verify is explicitly true; the client logs a warning when it is off.

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

    /// The default address when none is configured (Vault's default).
    public static let defaultAddress = "https://127.0.0.1:8200"

    /// Node API addresses, normalized (`scheme://host:port`, no trailing slash). The first is the local node.
    public var addresses: [String]
    public var authentication: Authentication
    public var tls: TLS
    /// Sent as X-Vault-Namespace when set (Enterprise; ignored by Vault CE and OpenBao).
    public var namespace: String?
    public var timeouts: Timeouts

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
        try validateTLSPairs()
    }

    private func validateTLSPairs() throws {
        switch (tls.clientCertFile, tls.clientKeyFile) {
        case (.some, nil): throw VaultError.configuration("VAULT_CLIENT_CERT is set without VAULT_CLIENT_KEY: both client certificate and key are needed")
        case (nil, .some): throw VaultError.configuration("VAULT_CLIENT_KEY is set without VAULT_CLIENT_CERT: both client certificate and key are needed")
        default: break
        }
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
        var lines = ["addresses: \(addresses.joined(separator: ", "))"]
        lines.append("authentication: \(authentication)")
        lines.append("TLS: verify against \(tls.trustDescription)"
                     + (tls.clientCertFile.map { ", client certificate \($0)" } ?? "")
                     + (tls.serverName.map { ", server name \($0)" } ?? ""))
        if let ns = namespace { lines.append("namespace: \(ns)") }
        lines.append("timeouts: request \(timeouts.request), snapshot \(timeouts.snapshotTotal) (stall \(timeouts.snapshotStall))")
        return lines.joined(separator: "\n")
    }

    public var debugDescription: String { "VaultClientConfiguration(\(description.replacingOccurrences(of: "\n", with: "; ")))" }
}
