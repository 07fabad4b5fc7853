// VaultError: every failure of the Vault client, typed. It keeps Vault's status code and `errors` messages and
// carries an operator message that says what happened and what to do ("the cluster is sealed: unseal it ...").
// Also the mapping from Vault's error envelope and from transport errors (refused, TLS, timeouts) to it.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOPosix
import NIOSSL
import LifeboatSnapshot

/// A failure talking to Vault, with a message for the operator.
public struct VaultError: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is; callers branch on it (retry, exit code, metric label).
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// A Vault API error response not covered by a more specific kind.
        case api
        /// 503 "Vault is sealed".
        case sealed
        /// 501 / "Vault is not initialized".
        case notInitialized
        /// 403 permission denied (missing capability, invalid or expired token).
        case permissionDenied
        /// The node is a standby or has no leader: 500 "local node not active but active cluster node not found",
        /// 503 "no active Vault instance found" / "node is not active", or sys/leader with an empty leader_address.
        case noLeader
        /// The TCP connection could not be made (refused, unreachable, DNS, connect timeout).
        case unreachable
        /// The TLS handshake failed (unknown CA, wrong host name, plain HTTP server, client certificate refused).
        case tls
        /// A request or the whole snapshot transfer took longer than its timeout.
        case timeout
        /// The snapshot stream delivered no bytes for the stall timeout.
        case stalled
        /// The connection was closed or reset in the middle of a response.
        case connectionLost
        /// A redirect that is not followed: https to http, too many hops, no Location.
        case redirect
        /// Restore refused: the snapshot was sealed with another cluster's keys (400 "different set of unseal keys").
        case snapshotKeyMismatch
        /// Restore refused: the snapshot failed Vault's integrity checks (500 on upload).
        case snapshotIntegrity
        /// The restore upload was cut before Vault answered.
        case uploadInterrupted
        /// No usable token: none configured, a token file missing or empty, an AppRole login refused.
        case authentication
        /// The client configuration is invalid (bad address, unreadable CA file, bad boolean).
        case configuration
        /// Vault answered something that could not be decoded.
        case unexpectedResponse
    }

    /// The kind of failure.
    public var kind: Kind
    /// One line for the operator: what happened and what to do.
    public var message: String
    /// The HTTP status Vault answered, when there was an answer.
    public var statusCode: Int?
    /// Vault's `errors` array, verbatim (may be empty).
    public var vaultErrors: [String]
    /// The node address the request went to, when known.
    public var address: String?
    /// The API path (without `/v1/`), when known.
    public var path: String?

    public init(kind: Kind, message: String, statusCode: Int? = nil, vaultErrors: [String] = [], address: String? = nil, path: String? = nil) {
        self.kind = kind
        self.message = message
        self.statusCode = statusCode
        self.vaultErrors = vaultErrors
        self.address = address
        self.path = path
    }

    public var description: String { message }

    /// The retry rule (docs/vault-behaviour.md §1.3): true for what Vault answers while leadership moves, after
    /// which the caller re-discovers the leader and tries again with bounded exponential backoff. That is: no
    /// active node, a sealed node, a connection that could not be made or was lost (including a snapshot stream
    /// that ended before its first byte: the leader stepping down), a stalled stream, and a 500, 502, 503 or 504
    /// that no more specific rule explains (Vault answers 500 for requests caught in a leader election). Never
    /// retried: 4xx answers (permission, bad request, rate limit), an uninitialized cluster, TLS and configuration
    /// problems, a refused restore, and answers that do not decode.
    public var suggestsLeaderChange: Bool {
        switch kind {
        case .noLeader, .unreachable, .connectionLost, .stalled, .sealed: return true
        case .api: return statusCode.map { [500, 502, 503, 504].contains($0) } ?? false
        default: return false
        }
    }
}

extension VaultError {
    /// The capability a method needs in a Vault policy.
    static func capability(for method: String) -> String {
        switch method.uppercased() {
        case "GET", "HEAD": return "read"
        case "LIST": return "list"
        case "DELETE": return "delete"
        default: return "update"
        }
    }

    /// Maps a non-success Vault response (status and body) to a typed error with an operator message.
    /// - Parameters:
    ///   - method: the HTTP method sent, to name the missing capability on 403.
    ///   - path: the API path without `/v1/`.
    ///   - address: the node the request went to.
    public static func fromResponse(status: Int, body: [UInt8], method: String, path: String, address: String) -> VaultError {
        let errors = decodeErrors(body)
        let joined = errors.joined(separator: "; ").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "\t", with: " ")
        let lower = joined.lowercased()
        let detail = joined.isEmpty ? "" : ": \(joined)"
        func make(_ kind: Kind, _ message: String) -> VaultError {
            VaultError(kind: kind, message: message, statusCode: status, vaultErrors: errors, address: address, path: path)
        }
        if lower.contains("vault is sealed") || (status == 503 && lower.contains("sealed")) {
            return make(.sealed, "the cluster is sealed (\(address) answered \(status) on \(path)): unseal it (vault operator unseal) and run again")
        }
        if status == 501 || lower.contains("vault is not initialized") {
            return make(.notInitialized, "Vault at \(address) is not initialized (\(status)\(detail)): initialize it (vault operator init) or point VAULT_ADDR at an initialized cluster")
        }
        if status == 403 || lower.contains("permission denied") {
            let cap = capability(for: method)
            let restoring = (path.hasPrefix("sys/storage/raft/snapshot") && cap == "update") || path.hasPrefix("sys/storage/raft/autopilot")
            let policy = restoring ? "policies/lifeboat-restore.hcl" : "policies/lifeboat-backup.hcl"
            return make(.permissionDenied, "permission denied: the token lacks \(cap) on \(path); see \(policy) (or the token is invalid or expired) [\(address) answered 403\(detail)]")
        }
        if lower.contains("local node not active but active cluster node not found") || lower.contains("no active vault instance found") {
            return make(.noLeader, "no active Vault node: \(address) is a standby and knows no leader (\(status)\(detail)); an election may be in progress or quorum is lost: check `vault operator raft list-peers` and run again")
        }
        if lower.contains("node is not active") {
            return make(.noLeader, "\(address) is not the active node (\(status)\(detail)); the leader probably changed: run again to re-discover it")
        }
        if path == "sys/storage/raft/snapshot" || path == "sys/storage/raft/snapshot-force" {
            if method != "GET" {
                if status == 400 && (lower.contains("different set of unseal keys") || lower.contains("different autoseal key") || lower.contains("could not verify hash file")) {
                    return make(.snapshotKeyMismatch, "Vault refused the snapshot: this snapshot comes from another cluster or an older key set: use --force to restore it anyway (Vault said: \(joined))")
                }
                if status == 500 {
                    return make(.snapshotIntegrity, "Vault rejected the snapshot as damaged or inconsistent (integrity check failed): \(joined.isEmpty ? "no details" : joined)")
                }
            }
        }
        var message = "Vault at \(address) answered \(status) to \(method) \(path)"
        message += joined.isEmpty ? " with no error message" : detail
        if status == 429 { message += " (rate limited: retry later)" }
        return make(.api, message)
    }

    /// Decodes `{"errors":[...]}`; a body that is not that envelope yields its text (at most 200 characters).
    static func decodeErrors(_ body: [UInt8]) -> [String] {
        if body.isEmpty { return [] }
        if let env = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)), let errors = env.errors {
            return errors
        }
        let text = String(decoding: body.prefix(200), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? [] : [text]
    }

    private struct ErrorEnvelope: Decodable { var errors: [String]? }

    /// Maps a transport error (from AsyncHTTPClient / NIO / NIOSSL) to a typed error.
    /// - Parameters:
    ///   - address: the node the request went to.
    ///   - trust: how the server certificate was checked (for TLS failures), e.g. "the CA file /etc/vault/ca.pem (VAULT_CACERT)".
    public static func fromTransport(_ error: any Error, address: String, path: String?, trust: String) -> VaultError {
        if let e = error as? VaultError { return e }
        let text = String(describing: error)
        func make(_ kind: Kind, _ message: String) -> VaultError {
            VaultError(kind: kind, message: message, address: address, path: path)
        }
        if error is NIOSSLError || error is BoringSSLError || text.contains("NIOSSL") || text.contains("handshakeFailed")
            || text.contains("CERTIFICATE_VERIFY_FAILED") || text.contains("unableToValidateCertificate") {
            let reason = tlsReason(text)
            var fix = "point VAULT_CACERT (BAO_CACERT) at the CA certificate that signed Vault's certificate, or VAULT_CAPATH at a directory of CA certificates"
            if text.contains("WRONG_VERSION_NUMBER") || text.contains("wrong version number") || text.contains("PACKET_LENGTH_TOO_LONG") {
                fix = "the server does not seem to speak TLS: if Vault listens with tls_disable, use an http:// address"
            } else if text.lowercased().contains("hostname") || text.contains("unableToValidateCertificate") {
                fix = "the certificate does not name this host: use an address whose host the certificate names, or set VAULT_TLS_SERVER_NAME to a name it does contain"
            }
            return make(.tls, "TLS handshake with Vault at \(address) failed (\(reason)); the server certificate was checked against \(trust): \(fix)")
        }
        if let h = error as? HTTPClientError {
            switch h {
            case .connectTimeout, .tlsHandshakeTimeout, .getConnectionFromPoolTimeout:
                return make(.unreachable, "cannot reach Vault at \(address): connection timed out (check the address, firewalls and that Vault is running)")
            case .deadlineExceeded, .readTimeout, .writeTimeout:
                return make(.timeout, "request to Vault at \(address)\(path.map { " (\($0))" } ?? "") timed out")
            case .remoteConnectionClosed:
                return make(.connectionLost, "Vault at \(address) closed the connection\(path.map { " during \($0)" } ?? "") (node restarted or leadership moved)")
            case .cancelled:
                return make(.connectionLost, "request to Vault at \(address) was cancelled")
            default:
                break
            }
        }
        if error is NIOConnectionError || text.contains("connectionRefused") || text.contains("Connection refused") || text.contains("ECONNREFUSED") {
            return make(.unreachable, "cannot reach Vault at \(address): connection refused (is Vault running and listening there? check VAULT_ADDR / LIFEBOAT_VAULT_ADDRS)")
        }
        if let io = error as? IOError {
            switch io.errnoCode {
            case ECONNREFUSED:
                return make(.unreachable, "cannot reach Vault at \(address): connection refused (is Vault running and listening there? check VAULT_ADDR / LIFEBOAT_VAULT_ADDRS)")
            case ECONNRESET, EPIPE:
                return make(.connectionLost, "the connection to Vault at \(address) was reset\(path.map { " during \($0)" } ?? "") (node restarted or leadership moved)")
            case EHOSTUNREACH, ENETUNREACH, ETIMEDOUT:
                return make(.unreachable, "cannot reach Vault at \(address): \(io.description)")
            default:
                return make(.connectionLost, "I/O error talking to Vault at \(address): \(io.description)")
            }
        }
        if error is ChannelError {
            return make(.connectionLost, "the connection to Vault at \(address) failed: \(text)")
        }
        if text.contains("NXDOMAIN") || text.lowercased().contains("name resolution") || text.contains("SocketAddressError") {
            return make(.unreachable, "cannot reach Vault at \(address): the host name does not resolve (\(text))")
        }
        return make(.connectionLost, "request to Vault at \(address) failed: \(text)")
    }

    private static func tlsReason(_ text: String) -> String {
        for marker in ["CERTIFICATE_VERIFY_FAILED", "WRONG_VERSION_NUMBER", "unableToValidateCertificate", "TLSV1_ALERT_UNKNOWN_CA",
                       "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_HANDSHAKE_FAILURE"] where text.contains(marker) {
            switch marker {
            case "CERTIFICATE_VERIFY_FAILED": return "certificate verify failed: the certificate is not signed by a trusted CA or names another host"
            case "WRONG_VERSION_NUMBER": return "the peer did not answer with TLS"
            case "unableToValidateCertificate": return "the certificate does not match the host name"
            case "TLSV1_ALERT_UNKNOWN_CA", "SSLV3_ALERT_BAD_CERTIFICATE", "TLSV1_ALERT_CERTIFICATE_REQUIRED":
                return "Vault refused our client certificate (check VAULT_CLIENT_CERT / VAULT_CLIENT_KEY)"
            default: return "handshake failure"
            }
        }
        return text.count > 160 ? String(text.prefix(160)) + "..." : text
    }

    /// A configuration error.
    static func configuration(_ message: String) -> VaultError { VaultError(kind: .configuration, message: message) }

    /// A response body that does not decode as expected.
    package static func unexpected(_ what: String, status: Int, body: [UInt8], address: String, path: String) -> VaultError {
        let snippet = String(decoding: body.prefix(200), as: UTF8.self)
        return VaultError(kind: .unexpectedResponse,
                          message: "unexpected answer from Vault at \(address) to \(path) (\(status)): \(what); body starts: \(snippet)",
                          statusCode: status, address: address, path: path)
    }
}
