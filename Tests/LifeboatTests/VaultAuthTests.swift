// Tests for VaultAuth without a network: a fake login/renew backend and a manual clock show renewal at half the
// TTL, re-login after expiry or a failed renewal or max_ttl, re-reading of agent sink and token files, AppRole
// credentials read from files at each login, one login for concurrent callers, and 403 invalidation.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting

/// A fake Vault for logins and renewals; records what it was asked.
final class VaultFakeAuthBackend: VaultAuthBackend {
    struct State {
        var logins: [(role: String, secret: String?)] = []
        var renewals: [String] = []
        var failRenewals = false
        var loginTTL = 3600
        /// TTL that renewals grant (nil: the login TTL).
        var renewTTL: Int?
        var issued = 0
    }
    let state = PThreadLocked(State())
    let loginDelay: Duration

    init(loginDelay: Duration = .zero) { self.loginDelay = loginDelay }

    func appRoleLogin(mount: String, roleID: VaultSecret, secretID: VaultSecret?) async throws -> VaultAuthInfo {
        if loginDelay > .zero { try await Task.sleep(for: loginDelay) }
        return state.withLock { s in
            s.logins.append((roleID.exposedValue, secretID?.exposedValue))
            s.issued += 1
            return VaultAuthInfo(clientToken: VaultSecret("hvs.token\(s.issued)"), leaseDuration: s.loginTTL, renewable: true)
        }
    }

    func renewSelf(token: VaultSecret) async throws -> VaultAuthInfo {
        try state.withLock { s in
            s.renewals.append(token.exposedValue)
            if s.failRenewals { throw VaultError(kind: .permissionDenied, message: "permission denied", statusCode: 403) }
            return VaultAuthInfo(clientToken: token, leaseDuration: s.renewTTL ?? s.loginTTL, renewable: true)
        }
    }

    var loginCount: Int { state.withLock { $0.logins.count } }
    var renewalCount: Int { state.withLock { $0.renewals.count } }
}

@Suite struct VaultAuthTests {
    let dir: String

    init() throws {
        dir = NSTemporaryDirectory() + "lifeboat-vault-auth-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    func appRole(_ backend: VaultFakeAuthBackend, clock: ManualVaultClock) -> VaultAuth {
        VaultAuth(method: .appRole(.init(roleID: .value(VaultSecret("role-1")), secretID: .value(VaultSecret("secret-1")))),
                  clock: clock, backend: backend)
    }

    @Test func staticTokenAndNone() async throws {
        #expect(try await VaultAuth(method: .none).token() == nil)
        #expect(try await VaultAuth(method: .token(VaultSecret("hvs.static"))).token() == VaultSecret("hvs.static"))
        let auth = VaultAuth(method: .token(VaultSecret("hvs.static")))
        #expect(await auth.invalidate(VaultSecret("hvs.static")) == false)
        #expect(auth.refreshesOnPermissionDenied == false)
    }

    @Test func agentSinkIsReadEveryTime() async throws {
        let sink = dir + "/sink"
        try "hvs.first\n".write(toFile: sink, atomically: true, encoding: .utf8)
        let auth = VaultAuth(method: .agentSink(sink))
        #expect(try await auth.token() == VaultSecret("hvs.first"))
        try "hvs.rotated".write(toFile: sink, atomically: true, encoding: .utf8)
        #expect(try await auth.token() == VaultSecret("hvs.rotated"))
        #expect(await auth.statistics.fileReads == 2)
        #expect(auth.refreshesOnPermissionDenied)
        try FileManager.default.removeItem(atPath: sink)
        await #expect {
            try await auth.token()
        } throws: { e in
            let v = e as? VaultError
            return v?.kind == .authentication && v!.message.contains(sink) && v!.message.contains("Vault Agent")
        }
    }

    @Test func tokenFileIsCachedAndReReadAfterADenial() async throws {
        let file = dir + "/.vault-token"
        try "hvs.one".write(toFile: file, atomically: true, encoding: .utf8)
        let auth = VaultAuth(method: .tokenFile(file))
        #expect(try await auth.token() == VaultSecret("hvs.one"))
        try "hvs.two".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await auth.token() == VaultSecret("hvs.one"))
        #expect(await auth.invalidate(VaultSecret("hvs.one")))
        #expect(try await auth.token() == VaultSecret("hvs.two"))
        try "  \n".write(toFile: file, atomically: true, encoding: .utf8)
        _ = await auth.invalidate(VaultSecret("hvs.two"))
        await #expect(throws: VaultError.self) { try await auth.token() }
    }

    @Test func appRoleLogsInOnceAndRenewsAtHalfTheTTL() async throws {
        let backend = VaultFakeAuthBackend()
        let clock = ManualVaultClock()
        let auth = appRole(backend, clock: clock)
        let first = try await auth.token()
        #expect(first == VaultSecret("hvs.token1"))
        #expect(backend.loginCount == 1)
        clock.advance(by: 1799)
        #expect(try await auth.token() == first)
        #expect(backend.renewalCount == 0)
        clock.advance(by: 1)
        #expect(try await auth.token() == first)
        #expect(backend.renewalCount == 1)
        #expect(backend.loginCount == 1)
        // The renewal granted a fresh hour: the next renewal is due half an hour after it.
        clock.advance(by: 1799)
        _ = try await auth.token()
        #expect(backend.renewalCount == 1)
        clock.advance(by: 1)
        _ = try await auth.token()
        #expect(backend.renewalCount == 2)
        #expect(backend.loginCount == 1)
        #expect(await auth.statistics.renewals == 2)
    }

    @Test func appRoleLogsInAgainWhenRenewalFails() async throws {
        let backend = VaultFakeAuthBackend()
        let clock = ManualVaultClock()
        let auth = appRole(backend, clock: clock)
        _ = try await auth.token()
        backend.state.withLock { $0.failRenewals = true }
        clock.advance(by: 2000)
        #expect(try await auth.token() == VaultSecret("hvs.token2"))
        #expect(backend.renewalCount == 1)
        #expect(backend.loginCount == 2)
        #expect(await auth.statistics.failedRenewals == 1)
    }

    @Test func appRoleLogsInAgainAfterExpiryWithoutRenewing() async throws {
        let backend = VaultFakeAuthBackend()
        let clock = ManualVaultClock()
        let auth = appRole(backend, clock: clock)
        _ = try await auth.token()
        clock.advance(by: 3600 + 5)
        #expect(try await auth.token() == VaultSecret("hvs.token2"))
        #expect(backend.renewalCount == 0)
        #expect(backend.loginCount == 2)
    }

    @Test func appRoleLogsInAgainWhenMaxTTLCapsRenewal() async throws {
        let backend = VaultFakeAuthBackend()
        backend.state.withLock { $0.renewTTL = 600 }
        let clock = ManualVaultClock()
        let auth = appRole(backend, clock: clock)
        _ = try await auth.token()
        clock.advance(by: 1800)
        _ = try await auth.token()
        #expect(backend.renewalCount == 1)
        // 600 s left after renewal (< half of 3600): at the next renewal point it logs in instead.
        clock.advance(by: 300)
        #expect(try await auth.token() == VaultSecret("hvs.token2"))
        #expect(backend.renewalCount == 1)
        #expect(backend.loginCount == 2)
    }

    @Test func appRoleInvalidationForcesALogin() async throws {
        let backend = VaultFakeAuthBackend()
        let auth = appRole(backend, clock: ManualVaultClock())
        let t = try #require(try await auth.token())
        #expect(await auth.invalidate(t))
        #expect(try await auth.token() == VaultSecret("hvs.token2"))
        // Invalidating a token that is no longer current changes nothing.
        #expect(await auth.invalidate(t))
        #expect(try await auth.token() == VaultSecret("hvs.token2"))
        #expect(backend.loginCount == 2)
    }

    @Test func appRoleCredentialsFromFilesAreReadAtEachLogin() async throws {
        let roleFile = dir + "/role-id", secretFile = dir + "/secret-id"
        try "role-from-file\n".write(toFile: roleFile, atomically: true, encoding: .utf8)
        try "secret-A".write(toFile: secretFile, atomically: true, encoding: .utf8)
        let backend = VaultFakeAuthBackend()
        let clock = ManualVaultClock()
        let auth = VaultAuth(method: .appRole(.init(mountPath: "ci", roleID: .file(roleFile), secretID: .file(secretFile))), clock: clock, backend: backend)
        _ = try await auth.token()
        try "secret-B".write(toFile: secretFile, atomically: true, encoding: .utf8)
        clock.advance(by: 4000)
        _ = try await auth.token()
        let logins = backend.state.withLock { $0.logins }
        #expect(logins.map(\.role) == ["role-from-file", "role-from-file"])
        #expect(logins.map(\.secret) == ["secret-A", "secret-B"])
        try FileManager.default.removeItem(atPath: secretFile)
        clock.advance(by: 4000)
        await #expect {
            try await auth.token()
        } throws: { e in
            (e as? VaultError)?.kind == .authentication && "\(e)".contains(secretFile)
        }
    }

    @Test func concurrentCallersShareOneLogin() async throws {
        let backend = VaultFakeAuthBackend(loginDelay: .milliseconds(50))
        let auth = appRole(backend, clock: ManualVaultClock())
        let tokens = try await withThrowingTaskGroup(of: VaultSecret?.self) { group in
            for _ in 0..<8 { group.addTask { try await auth.token() } }
            var all: [VaultSecret?] = []
            for try await t in group { all.append(t) }
            return all
        }
        #expect(Set(tokens.compactMap { $0 }) == [VaultSecret("hvs.token1")])
        #expect(backend.loginCount == 1)
    }
}
