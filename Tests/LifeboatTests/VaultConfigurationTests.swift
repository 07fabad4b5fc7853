// The Vault client settings as every command builds them (ConfigurationLoader -> ConfigurationEnvironment ->
// LifeboatConfiguration.Vault.clientConfiguration): environment names (VAULT_* and BAO_*), precedence, defaults,
// the token file under $HOME, AppRole sources, validation errors, and that no secret ever appears when printed.

import Foundation
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

@Suite struct VaultConfigurationTests {
    let home: String

    init() throws {
        home = NSTemporaryDirectory() + "lifeboat-vault-home-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
    }

    /// Loads an empty configuration file under `env` (flags as `overrides`) and builds the Vault client settings.
    func loaded(_ env: [String: String], _ overrides: ConfigurationOverrides = ConfigurationOverrides()) throws
        -> (configuration: VaultClientConfiguration, origins: [String: ConfigurationOrigin])
    {
        var e = env
        if e["HOME"] == nil { e["HOME"] = home }
        let loaded = try ConfigurationLoader(environment: e, currentDirectory: home, isRoot: false)
            .load(yaml: "", file: "lifeboat.yaml", overrides: overrides)
        return (try loaded.configuration.vault.clientConfiguration(environment: e), loaded.origins)
    }

    func config(_ env: [String: String], _ overrides: ConfigurationOverrides = ConfigurationOverrides()) throws -> VaultClientConfiguration {
        try loaded(env, overrides).configuration
    }

    @Test func defaultsWhenNothingIsSet() throws {
        let c = try config([:])
        #expect(c.addresses == ["https://127.0.0.1:8200"])
        #expect(c.authentication == .none)
        #expect(c.tls == VaultClientConfiguration.TLS())
        #expect(c.tls.skipVerify == false)
        #expect(c.namespace == nil)
        #expect(c.timeouts.snapshotStall == .seconds(60))
        #expect(c.timeouts.snapshotTotal == .seconds(6 * 3600))
    }

    @Test func vaultVariables() throws {
        let c = try config([
            "VAULT_ADDR": "https://vault-1.example:8200/", "VAULT_TOKEN": "hvs.abc", "VAULT_CACERT": "/etc/ca.pem",
            "VAULT_CAPATH": "/etc/cas", "VAULT_CLIENT_CERT": "/c.pem", "VAULT_CLIENT_KEY": "/c.key",
            "VAULT_TLS_SERVER_NAME": "vault.example", "VAULT_SKIP_VERIFY": "false", "VAULT_NAMESPACE": "admin",
            "VAULT_CLIENT_TIMEOUT": "90s",
        ])
        #expect(c.addresses == ["https://vault-1.example:8200"])
        #expect(c.authentication == .token(VaultSecret("hvs.abc")))
        #expect(c.tls == VaultClientConfiguration.TLS(caCertFile: "/etc/ca.pem", caPath: "/etc/cas", clientCertFile: "/c.pem",
                                                       clientKeyFile: "/c.key", serverName: "vault.example", skipVerify: false))
        #expect(c.namespace == "admin")
        #expect(c.timeouts.request == .seconds(90))
        let origins = try loaded(["VAULT_ADDR": "https://vault-1.example:8200/", "VAULT_TOKEN": "hvs.abc"]).origins
        #expect(origins["vault.address"] == .environment("VAULT_ADDR"))
        #expect(origins["vault.auth.token"] == .environment("VAULT_TOKEN"))
    }

    @Test func baoVariablesWinOverVaultVariables() throws {
        let c = try config([
            "VAULT_ADDR": "https://vault:8200", "BAO_ADDR": "https://bao:8200",
            "VAULT_TOKEN": "vault-token", "BAO_TOKEN": "bao-token",
            "VAULT_CACERT": "/vault-ca.pem", "BAO_CACERT": "/bao-ca.pem", "VAULT_NAMESPACE": "ns-from-vault",
        ])
        #expect(c.addresses == ["https://bao:8200"])
        #expect(c.authentication == .token(VaultSecret("bao-token")))
        #expect(c.tls.caCertFile == "/bao-ca.pem")
        // A BAO_ name that is not set falls back to the VAULT_ one.
        #expect(c.namespace == "ns-from-vault")
        #expect(try loaded(["VAULT_ADDR": "https://vault:8200", "BAO_ADDR": "https://bao:8200"]).origins["vault.address"] == .environment("BAO_ADDR"))
    }

    @Test func emptyVariablesCountAsUnset() throws {
        let c = try config(["BAO_ADDR": "", "VAULT_ADDR": "http://10.1.2.3:8200", "VAULT_TOKEN": "  "])
        #expect(c.addresses == ["http://10.1.2.3:8200"])
        #expect(c.authentication == .none)
    }

    @Test func addressListFollowsTheLocalNode() throws {
        let c = try config(["VAULT_ADDR": "https://node1:8200", "LIFEBOAT_VAULT_ADDRS": " https://node2:8200, https://node1:8200 ,https://node3:8200"])
        #expect(c.addresses == ["https://node1:8200", "https://node2:8200", "https://node3:8200"])
        #expect(c.localAddress == "https://node1:8200")
        // vault.address keeps its default (the local node) when only the other nodes are given.
        let onlyList = try config(["LIFEBOAT_VAULT_ADDRS": "https://a:8200,https://b:8200"])
        #expect(onlyList.addresses == ["https://127.0.0.1:8200", "https://a:8200", "https://b:8200"])
    }

    @Test func flagsWin() throws {
        var o = ConfigurationOverrides()
        o.vaultAddress = "http://127.0.0.1:1234"
        o.tokenFile = "/run/agent/token"
        o.caCert = "/override-ca.pem"
        o.tlsSkipVerify = false
        o.namespace = "ops"
        let c = try config(["VAULT_ADDR": "https://x:8200", "VAULT_TOKEN": "t", "VAULT_CACERT": "/env-ca.pem",
                            "VAULT_SKIP_VERIFY": "true", "VAULT_NAMESPACE": "env"], o)
        #expect(c.addresses == ["http://127.0.0.1:1234"])
        #expect(c.authentication == .tokenFile("/run/agent/token"))
        #expect(c.tls.caCertFile == "/override-ca.pem")
        #expect(c.tls.skipVerify == false)
        #expect(c.namespace == "ops")
    }

    @Test(arguments: [("1", true), ("t", true), ("TRUE", true), ("True", true), ("0", false), ("f", false), ("False", false)])
    func skipVerifyUsesGoBooleans(value: String, expected: Bool) throws {
        #expect(try config(["VAULT_SKIP_VERIFY": value]).tls.skipVerify == expected)
    }

    @Test func badValuesAreConfigurationErrors() throws {
        for env in [["VAULT_SKIP_VERIFY": "yes please"], ["VAULT_ADDR": "vault.example.com:8200"], ["VAULT_ADDR": "ftp://x"],
                    ["VAULT_ADDR": "https://x:8200/v1"], ["VAULT_CLIENT_TIMEOUT": "soon"],
                    ["VAULT_CLIENT_CERT": "/c.pem"], ["VAULT_CLIENT_KEY": "/c.key"],
                    ["VAULT_ROLE_ID": "r", "VAULT_ROLE_ID_FILE": "/r"], ["VAULT_SECRET_ID": "s"]] {
            #expect(throws: (any Error).self, "\(env)") { try config(env) }
            do { _ = try config(env) } catch {
                #expect(!"\(error)".isEmpty)
            }
        }
    }

    @Test func tokenFileUnderHomeIsUsedWhenPresent() throws {
        #expect(try config([:]).authentication == .none)
        try "hvs.fromfile\n".write(toFile: home + "/.vault-token", atomically: true, encoding: .utf8)
        #expect(try config([:]).authentication == .tokenFile(home + "/.vault-token"))
        // VAULT_TOKEN wins over the file; BAO_TOKEN_PATH replaces the file's path.
        #expect(try config(["VAULT_TOKEN": "hvs.env"]).authentication == .token(VaultSecret("hvs.env")))
        let other = home + "/bao-token"
        try "x".write(toFile: other, atomically: true, encoding: .utf8)
        #expect(try config(["BAO_TOKEN_PATH": other]).authentication == .tokenFile(other))
    }

    @Test func authenticationPrecedence() throws {
        let sid = home + "/sid"
        try "secret-id".write(toFile: sid, atomically: true, encoding: .utf8)
        chmod(sid, 0o600)
        let all = ["VAULT_TOKEN": "hvs.t", "LIFEBOAT_VAULT_AGENT_TOKEN_FILE": "/sink", "VAULT_ROLE_ID": "role", "VAULT_SECRET_ID_FILE": sid]
        guard case .appRole(let a) = try config(all).authentication else {
            Issue.record("AppRole should win")
            return
        }
        #expect(a.mountPath == "approle")
        #expect(a.roleID == .value(VaultSecret("role")))
        #expect(a.secretID == .file(sid))
        var noRole = all
        noRole["VAULT_ROLE_ID"] = nil
        noRole["VAULT_SECRET_ID_FILE"] = nil
        #expect(try config(noRole).authentication == .agentSink("/sink"))
        let roleFile = home + "/role"
        try "role".write(toFile: roleFile, atomically: true, encoding: .utf8)
        chmod(roleFile, 0o600)
        let mount = try config(["BAO_ROLE_ID_FILE": roleFile, "VAULT_APPROLE_MOUNT": "/ci-approle/"])
        #expect(mount.authentication == .appRole(.init(mountPath: "ci-approle", roleID: .file(roleFile), secretID: nil)))
    }

    @Test func secretsNeverPrinted() throws {
        let token = "hvs.SUPERSECRETTOKEN"
        let c = try config(["VAULT_TOKEN": token])
        let role = try config(["VAULT_ROLE_ID": "ROLE-ID-SECRET", "VAULT_SECRET_ID": "SECRET-ID-SECRET"])
        for text in [c.description, c.debugDescription, "\(c)", String(reflecting: c), String(describing: c.authentication),
                     role.description, role.debugDescription, "\(role.authentication)", String(reflecting: role.authentication)] {
            #expect(!text.contains("SUPERSECRET"))
            #expect(!text.contains("SECRET-ID-SECRET"))
            #expect(!text.contains("ROLE-ID-SECRET"))
        }
        let s = VaultSecret(token)
        #expect("\(s)" == "<redacted>")
        #expect(String(reflecting: s) == "VaultSecret(<redacted>)")
        var dumped = ""
        dump(s, to: &dumped)
        #expect(!dumped.contains("SUPERSECRET"))
        #expect(s.exposedValue == token)
    }
}
