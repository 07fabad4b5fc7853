// VaultAuth: supplies the token for each request, by the configured method: a static token, a token file, a
// Vault Agent sink file (re-read every time: agents rotate it), or AppRole (login, renew-self once half the TTL
// has passed, re-login when renewal fails, the token expired, or max_ttl is near). Renewal is done lazily, when a
// token is asked for, against an injected clock, so tests move time instead of sleeping.
// A 403 on a request calls `invalidate`, which tells the caller whether one re-auth and retry can help.

import Foundation
import Logging
import LifeboatSnapshot

/// The two Vault calls AppRole authentication needs; the client implements it, tests may fake it.
public protocol VaultAuthBackend: Sendable {
    /// `POST auth/<mount>/login` with role_id and secret_id.
    func appRoleLogin(mount: String, roleID: VaultSecret, secretID: VaultSecret?) async throws -> VaultAuthInfo
    /// `POST auth/token/renew-self` with `token`.
    func renewSelf(token: VaultSecret) async throws -> VaultAuthInfo
}

/// Supplies tokens according to the configured authentication method.
public actor VaultAuth {
    /// A token obtained by AppRole login and when to renew or replace it.
    struct TokenState {
        var token: VaultSecret
        var expiresAt: Date?
        var renewAt: Date?
        var renewable: Bool
        /// The TTL the login granted (renewals capped by max_ttl shrink below it).
        var loginTTL: Int
        /// Renewal no longer extends the token usefully (max_ttl reached): log in again at the next renewal point.
        var exhausted: Bool
    }

    /// Counters, for tests and diagnostics.
    public struct Statistics: Sendable, Equatable {
        public var logins = 0
        public var renewals = 0
        public var failedRenewals = 0
        public var fileReads = 0
    }

    public nonisolated let method: VaultClientConfiguration.Authentication
    private let clock: any VaultClock
    private let logger: Logger
    private var backend: (any VaultAuthBackend)?
    private var state: TokenState?
    private var cachedFileToken: VaultSecret?
    private var inflight: Task<VaultSecret, any Error>?
    /// What happened so far.
    public private(set) var statistics = Statistics()

    /// A token is considered expired this long before its real expiry (requests take time).
    static let expirySafety: TimeInterval = 2

    public init(method: VaultClientConfiguration.Authentication, clock: any VaultClock = SystemVaultClock(),
                backend: (any VaultAuthBackend)? = nil, logger: Logger = Logger(label: "lifeboat.vault.auth")) {
        self.method = method
        self.clock = clock
        self.backend = backend
        self.logger = logger
    }

    func attach(_ backend: any VaultAuthBackend) {
        if self.backend == nil { self.backend = backend }
    }

    /// True when a 403 can be cured by re-authenticating (AppRole, agent sink, token file).
    public nonisolated var refreshesOnPermissionDenied: Bool {
        switch method {
        case .appRole, .agentSink, .tokenFile: return true
        case .none, .token: return false
        }
    }

    /// The token to send now (nil when no authentication is configured). For AppRole this logs in, renews or
    /// logs in again as needed.
    public func token() async throws -> VaultSecret? {
        switch method {
        case .none:
            return nil
        case .token(let t):
            guard !t.isEmpty else { throw VaultError(kind: .authentication, message: "VAULT_TOKEN is empty") }
            return t
        case .tokenFile(let path):
            if let t = cachedFileToken { return t }
            let t = try readTokenFile(path, what: "Vault token file")
            cachedFileToken = t
            return t
        case .agentSink(let path):
            return try readTokenFile(path, what: "Vault Agent sink token file")
        case .appRole(let settings):
            return try await appRoleToken(settings)
        }
    }

    /// Called after `token` was refused with 403. Returns true when asking for a token again may give a
    /// different one (then the caller retries once).
    public func invalidate(_ token: VaultSecret) -> Bool {
        switch method {
        case .none, .token:
            return false
        case .tokenFile:
            cachedFileToken = nil
            return true
        case .agentSink:
            return true
        case .appRole:
            if state?.token == token {
                logger.info("Vault refused the AppRole token; logging in again")
                state = nil
            }
            return true
        }
    }

    private func readTokenFile(_ path: String, what: String) throws -> VaultSecret {
        statistics.fileReads += 1
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            let hint = what.contains("Agent") ? " (is Vault Agent running with a file sink writing there?)" : ""
            throw VaultError(kind: .authentication, message: "cannot read the \(what) \(path): \(VaultClientConfiguration.fileErrorReason(error))\(hint)")
        }
        let t = VaultSecret(String(decoding: data, as: UTF8.self))
        guard !t.isEmpty else { throw VaultError(kind: .authentication, message: "the \(what) \(path) is empty") }
        return t
    }

    // MARK: AppRole

    private func appRoleToken(_ settings: VaultClientConfiguration.AppRole) async throws -> VaultSecret {
        if let task = inflight { return try await task.value }
        let now = clock.now()
        if let s = state {
            let expired = s.expiresAt.map { now >= $0.addingTimeInterval(-Self.expirySafety) } ?? false
            let dueForRenewal = s.renewAt.map { now >= $0 } ?? false
            if !expired && !dueForRenewal { return s.token }
        }
        let task = Task { try await self.refresh(settings) }
        inflight = task
        do {
            let token = try await task.value
            inflight = nil
            return token
        } catch {
            inflight = nil
            throw error
        }
    }

    /// Renews when possible, else logs in.
    private func refresh(_ settings: VaultClientConfiguration.AppRole) async throws -> VaultSecret {
        guard let backend else {
            throw VaultError(kind: .configuration, message: "AppRole authentication has no Vault client to log in through")
        }
        let now = clock.now()
        if var s = state, s.renewable, !s.exhausted, let exp = s.expiresAt, now < exp.addingTimeInterval(-Self.expirySafety) {
            do {
                let info = try await backend.renewSelf(token: s.token)
                statistics.renewals += 1
                let after = clock.now()
                let ttl = info.leaseDuration
                s.expiresAt = ttl > 0 ? after.addingTimeInterval(TimeInterval(ttl)) : nil
                s.renewAt = ttl > 0 ? after.addingTimeInterval(TimeInterval(ttl) / 2) : nil
                s.renewable = info.renewable
                s.exhausted = ttl * 2 < s.loginTTL
                state = s
                logger.debug("renewed the AppRole token", metadata: ["ttl": "\(ttl)s"])
                return s.token
            } catch {
                statistics.failedRenewals += 1
                logger.warning("renewing the AppRole token failed (\(error)); logging in again")
            }
        } else if state != nil {
            logger.info("the AppRole token expired or reached its max TTL; logging in again")
        }
        state = nil
        let roleID = try settings.roleID.read(what: "AppRole role_id")
        let secretID = try settings.secretID?.read(what: "AppRole secret_id")
        let info: VaultAuthInfo
        do {
            info = try await backend.appRoleLogin(mount: settings.mountPath, roleID: roleID, secretID: secretID)
        } catch let e as VaultError where e.statusCode == 400 || e.kind == .permissionDenied || e.statusCode == 404 {
            throw VaultError(kind: .authentication,
                             message: "AppRole login at auth/\(settings.mountPath)/login was refused (\(e.vaultErrors.joined(separator: "; "))): check the role_id and secret_id (a secret_id can expire or run out of uses) and that AppRole is enabled at \(settings.mountPath)/",
                             statusCode: e.statusCode, vaultErrors: e.vaultErrors, address: e.address, path: e.path)
        }
        statistics.logins += 1
        let after = clock.now()
        let ttl = info.leaseDuration
        state = TokenState(token: info.clientToken,
                           expiresAt: ttl > 0 ? after.addingTimeInterval(TimeInterval(ttl)) : nil,
                           renewAt: ttl > 0 && info.renewable ? after.addingTimeInterval(TimeInterval(ttl) / 2) : nil,
                           renewable: info.renewable, loginTTL: ttl, exhausted: false)
        if ttl > 0 && !info.renewable {
            // Not renewable: log in again when it expires (the expiry check above handles it).
            state?.renewAt = nil
        }
        logger.info("logged in to Vault with AppRole", metadata: ["mount": "\(settings.mountPath)", "ttl": "\(ttl)s"])
        return info.clientToken
    }
}
