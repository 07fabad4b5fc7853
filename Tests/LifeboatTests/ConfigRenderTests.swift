// The effective configuration printed by `config check`: secrets masked with their state, origins in comments,
// no secret value anywhere, and the text parses back into the same configuration.

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

@Suite("Configuration rendering")
struct ConfigRenderTests {
    @Test("secrets are masked with their state and no secret value appears")
    func masking() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        try ConfigTestSupport.write("SECRET-FROM-FILE-42\n", to: directory + "/token", mode: 0o600)
        let yaml = """
            vault:
              auth:
                method: approle
                role_id: file:\(directory)/token
                secret_id: LITERAL-SECRET-ID-77
            keys:
              passphrase: env:LB_PASSPHRASE
            destinations:
              - name: cloud
                type: s3
                bucket: backups
                access_key_id: AKIA-LITERAL-KEY
                secret_access_key: env:S3_SECRET
                retention: {keep_daily: 7}
            notifications:
              webhooks:
                - url: https://hooks.slack.com/services/T000/B000/SLACK-URL-TOKEN
                  format: slack
            """
        let environment = [
            "LB_PASSPHRASE": "PASSPHRASE-FROM-ENV-99", "S3_SECRET": "S3-SECRET-FROM-ENV-55",
            "VAULT_TOKEN_UNUSED": "nothing",
        ]
        let result = ConfigurationCheck.run(loader: ConfigTestSupport.loader(environment), yaml: yaml, file: "lifeboat.yaml")
        let text = result.text
        for secret in ["SECRET-FROM-FILE-42", "LITERAL-SECRET-ID-77", "PASSPHRASE-FROM-ENV-99", "S3-SECRET-FROM-ENV-55",
            "AKIA-LITERAL-KEY", "SLACK-URL-TOKEN", "T000"]
        {
            #expect(!text.contains(secret), "the rendered configuration contains \(secret)")
            #expect(!result.warnings.map(\.description).joined().contains(secret))
            #expect(!result.errors.map(\.description).joined().contains(secret))
        }
        #expect(text.contains("role_id: file:\(directory)/token  # ok"))
        #expect(text.contains("secret_id: \"****\""))
        #expect(text.contains("passphrase: env:LB_PASSPHRASE  # set"))
        #expect(text.contains("secret_access_key: env:S3_SECRET  # set"))
        #expect(text.contains("access_key_id: \"****\""))
        #expect(text.contains("url: https://hooks.slack.com/****  # path and query masked"))
        // Literal secrets are warned about (the webhook URL is not: URLs are written literally as a rule).
        #expect(Set(result.warnings.filter { $0.message.contains("literal secret") }.map(\.keyPath))
            == ["vault.auth.secret_id", "destinations[0].access_key_id"])
    }

    @Test("origins other than the file are shown as comments")
    func origins() throws {
        let result = ConfigurationCheck.run(
            loader: ConfigTestSupport.loader(["VAULT_ADDR": "https://vault.example.com:8200", "VAULT_TOKEN": "t0k3n-value"]),
            yaml: "repository: /srv/r\nbackup: {chunk_size: 2048}\n", file: "lifeboat.yaml",
            overrides: ConfigurationOverrides(onlyIfLeader: true))
        #expect(result.isValid, "\(result.errors)")
        let text = result.text
        #expect(text.contains("address: https://vault.example.com:8200  # from environment VAULT_ADDR"))
        #expect(text.contains("token: env:VAULT_TOKEN  # from environment VAULT_TOKEN; set"))
        #expect(text.contains("only_if_leader: true  # from flag --only-if-leader"))
        #expect(text.contains("chunk_size: 2048\n"))
        #expect(text.contains("compression: true  # default"))
        #expect(!text.contains("t0k3n-value"))
    }

    @Test("the rendered configuration parses back into the same configuration")
    func roundTrip() throws {
        let original = try #require(ConfigTestSupport.load(ConfigTestSupport.fullExample))
        let result = ConfigurationCheck.run(loader: ConfigTestSupport.loader(), yaml: ConfigTestSupport.fullExample,
            file: "lifeboat.yaml")
        // The example's literal webhook URL is masked, so compare everything else.
        let reparsed = try #require(ConfigTestSupport.load(result.text))
        var expected = original.configuration
        var actual = reparsed.configuration
        expected.notifications.webhooks[1].url = .literal("masked")
        actual.notifications.webhooks[1].url = .literal("masked")
        #expect(actual == expected)
        let defaults = try #require(ConfigTestSupport.load(""))
        let defaultsText = ConfigurationCheck.run(loader: ConfigTestSupport.loader(), yaml: "", file: "lifeboat.yaml").text
        #expect(try #require(ConfigTestSupport.load(defaultsText)).configuration == defaults.configuration)
    }

    @Test("a configuration with errors renders nothing and reports them")
    func errorsRenderNothing() {
        let result = ConfigurationCheck.run(loader: ConfigTestSupport.loader(), yaml: "backup: {chunk_size: 1}\n", file: "lifeboat.yaml")
        #expect(!result.isValid)
        #expect(result.text.isEmpty)
        #expect(result.errors.first?.line == 1)
    }

    @Test("scalars that YAML would read differently are quoted, so they read back unchanged")
    func quoting() throws {
        let yaml = """
            backup:
              tags: ["123", "true", "a:b", "1.5"]
            restore:
              hooks:
                reset_all: [[sh, -c, "echo a: b # c, [d]"], ["-x", "@y", " padded ", "line\\nbreak"]]
              canaries:
                - path: secret/data/c
                  fields: {a: "null", b: "yes", c: "~", d: "0x1F"}
            """
        let original = try #require(ConfigTestSupport.load(yaml)).configuration
        #expect(original.restore.hooks.resetAll[1].arguments == ["-x", "@y", " padded ", "line\nbreak"])
        #expect(original.restore.canaries[0].fields.map(\.expected) == ["null", "yes", "~", "0x1F"])
        let text = ConfigurationCheck.run(loader: ConfigTestSupport.loader(), yaml: yaml, file: "lifeboat.yaml").text
        #expect(text.contains("tags: [\"123\", \"true\", a:b, \"1.5\"]"))
        #expect(try #require(ConfigTestSupport.load(text)).configuration == original)
    }
}
