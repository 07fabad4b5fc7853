// Precedence: built-in defaults < configuration file < environment variables < command-line flags, with the
// origin of each value recorded; plus the --repo / --destination selection rules.

import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import Testing

@Suite("Configuration precedence")
struct ConfigPrecedenceTests {
    private static let file = """
        vault:
          address: https://from-file:8200
          namespace: file-ns
          auth:
            token: env:FILE_TOKEN
        destinations:
          - {name: disk, type: local, path: /srv/disk, retention: {keep_last: 5}}
          - {name: cloud, type: s3, bucket: backups, region: eu-west-1}
        backup:
          chunk_size: 2MiB
          tags: [nightly]
        agent:
          log_format: human
        """

    @Test("file < environment < flags, each recorded as the origin")
    func layering() throws {
        // Defaults only.
        let bare = try #require(ConfigTestSupport.load(""))
        #expect(bare.configuration.vault.address == "https://127.0.0.1:8200")
        #expect(bare.origin(of: "vault.address") == .defaultValue)

        // The file over the defaults.
        let fromFile = try #require(ConfigTestSupport.load(Self.file))
        #expect(fromFile.configuration.vault.address == "https://from-file:8200")
        #expect(fromFile.origin(of: "vault.address") == .file(path: "lifeboat.yaml", line: 2, column: 3))

        // The environment over the file.
        let environment = ["VAULT_ADDR": "https://from-env:8200", "VAULT_NAMESPACE": "env-ns", "LIFEBOAT_LOG_FORMAT": "json"]
        let fromEnv = try #require(ConfigTestSupport.load(Self.file, environment: environment))
        #expect(fromEnv.configuration.vault.address == "https://from-env:8200")
        #expect(fromEnv.configuration.vault.namespace == "env-ns")
        #expect(fromEnv.configuration.agent.logFormat == .json)
        #expect(fromEnv.origin(of: "vault.address") == .environment("VAULT_ADDR"))
        #expect(fromEnv.configuration.backup.chunkSize == 2 * 1024 * 1024)

        // Flags over the environment.
        let flags = ConfigurationOverrides(vaultAddress: "https://from-flag:8200", tags: ["pre-upgrade"], chunkSize: 65536,
            logFormat: .human)
        let fromFlags = try #require(ConfigTestSupport.load(Self.file, environment: environment, overrides: flags))
        #expect(fromFlags.configuration.vault.address == "https://from-flag:8200")
        #expect(fromFlags.origin(of: "vault.address") == .flag("--vault-addr"))
        #expect(fromFlags.configuration.vault.namespace == "env-ns")
        #expect(fromFlags.configuration.backup.chunkSize == 65536)
        #expect(fromFlags.configuration.backup.tags == ["nightly", "pre-upgrade"])
        #expect(fromFlags.configuration.agent.logFormat == .human)
    }

    @Test("BAO_ names win over VAULT_ names")
    func openBaoNames() throws {
        let loaded = try #require(ConfigTestSupport.load("", environment: [
            "VAULT_ADDR": "https://vault:8200", "BAO_ADDR": "https://bao:8200", "BAO_SKIP_VERIFY": "true",
        ]))
        #expect(loaded.configuration.vault.address == "https://bao:8200")
        #expect(loaded.origin(of: "vault.address") == .environment("BAO_ADDR"))
        #expect(loaded.configuration.vault.tls.skipVerify)
        #expect(loaded.warnings.contains { $0.keyPath == "vault.tls.skip_verify" })
    }

    @Test("authentication from the environment replaces the file's method")
    func authFromEnvironment() throws {
        let token = try #require(ConfigTestSupport.load("""
            vault:
              auth: {method: approle, role_id: file:/etc/role, secret_id: env:SID, mount: ops}
            """, environment: ["VAULT_TOKEN": "hvs.x"]))
        #expect(token.configuration.vault.auth == .init(method: .token, token: .environment("VAULT_TOKEN"), mount: "ops"))
        #expect(token.origin(of: "vault.auth.method") == .environment("VAULT_TOKEN"))

        let approle = try #require(ConfigTestSupport.load("vault:\n  auth: {token: env:T}\n", environment: [
            "VAULT_ROLE_ID_FILE": "/run/role-id", "VAULT_SECRET_ID": "sid", "VAULT_TOKEN": "ignored",
        ]))
        #expect(approle.configuration.vault.auth == .init(
            method: .approle, roleID: .file("/run/role-id"), secretID: .environment("VAULT_SECRET_ID")))

        let errors = ConfigTestSupport.errors("", environment: ["VAULT_ROLE_ID": "a", "VAULT_ROLE_ID_FILE": "/b"])
        #expect(errors.first?.origin == .environment("VAULT_ROLE_ID"))

        let flag = try #require(ConfigTestSupport.load("", environment: ["VAULT_TOKEN": "x"],
            overrides: ConfigurationOverrides(tokenFile: "/home/op/.vault-token")))
        #expect(flag.configuration.vault.auth.effectiveMethod == .tokenFile)
        #expect(flag.configuration.vault.auth.token == nil)
    }

    @Test("the AWS variables fill in S3 credentials a destination leaves out, never over the file's")
    func awsFallback() throws {
        let environment = ["AWS_ACCESS_KEY_ID": "AKIA", "AWS_SECRET_ACCESS_KEY": "shh", "AWS_REGION": "us-west-2"]
        let loaded = try #require(ConfigTestSupport.load("""
            destinations:
              - {name: a, type: s3, bucket: one}
              - {name: b, type: s3, bucket: two, region: eu-west-1, access_key_id: env:B_KEY, secret_access_key: env:B_SECRET}
            """, environment: environment))
        guard case .s3(let a) = loaded.configuration.destinations[0].storage,
            case .s3(let b) = loaded.configuration.destinations[1].storage
        else {
            Issue.record("expected two s3 destinations")
            return
        }
        #expect(a.accessKeyID == .environment("AWS_ACCESS_KEY_ID"))
        #expect(a.secretAccessKey == .environment("AWS_SECRET_ACCESS_KEY"))
        #expect(a.region == "us-west-2")
        #expect(b.accessKeyID == .environment("B_KEY"))
        #expect(b.region == "eu-west-1")
    }

    @Test("--repo selects a destination by name, or replaces the destinations with a local directory")
    func repositorySelection() throws {
        let byName = try #require(ConfigTestSupport.load(Self.file, overrides: ConfigurationOverrides(repository: "cloud")))
        #expect(byName.configuration.destinations.map(\.name) == ["cloud"])
        #expect(byName.destinationPath(0) == "destinations[1]")

        let byPath = try #require(ConfigTestSupport.load(Self.file, overrides: ConfigurationOverrides(repository: "scratch/repo")))
        #expect(byPath.configuration.destinations == [
            .init(name: "default", storage: .local(.init(path: "/work/cfg/scratch/repo")))
        ])
        #expect(byPath.origin(of: "destinations[0]") == .flag("--repo"))

        let fromEnv = try #require(ConfigTestSupport.load(Self.file, environment: ["LIFEBOAT_REPO": "/mnt/usb"],
            overrides: ConfigurationOverrides(repository: "disk")))
        // The flag wins over LIFEBOAT_REPO: it is read as if the variable were not set.
        #expect(fromEnv.configuration.destinations.map(\.name) == ["disk"])
        let envOnly = try #require(ConfigTestSupport.load(Self.file, environment: ["LIFEBOAT_REPO": "/mnt/usb"]))
        #expect(envOnly.configuration.destinations == [.init(name: "default", storage: .local(.init(path: "/mnt/usb")))])
        #expect(envOnly.origin(of: "destinations[0]") == .environment("LIFEBOAT_REPO"))

        let unknown = ConfigTestSupport.errors(Self.file, overrides: ConfigurationOverrides(destinations: ["clod"]))
        #expect(unknown.first?.suggestion == "cloud")
        #expect(unknown.first?.origin == .flag("--destination"))
    }

    @Test("a flag value is validated like a file value and the error names the flag")
    func flagValidation() throws {
        let errors = ConfigTestSupport.errors("", overrides: ConfigurationOverrides(chunkSize: 100, timeZone: "Nowhere/Land"))
        #expect(errors.map(\.keyPath) == ["backup.chunk_size", "agent.time_zone"])
        #expect(errors.map(\.origin) == [.flag("--chunk-size"), .flag("--time-zone")])
        #expect(errors[0].description.hasPrefix("flag --chunk-size: backup.chunk_size: chunk_size must be between 1024"))

        let environmentErrors = ConfigTestSupport.errors("", environment: ["VAULT_ADDR": "vault:8200"])
        #expect(environmentErrors.first?.origin == .environment("VAULT_ADDR"))
        #expect(environmentErrors.first?.message.contains("https://host:port") == true)
    }
}
