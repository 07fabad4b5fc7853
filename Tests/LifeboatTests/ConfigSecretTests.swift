// Secret references: env: and file: resolution, files with open permissions refused, literal values warned
// about, and resolution kept separate from parsing so `config check` reports unresolved references.

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

@Suite("Configuration secrets")
struct ConfigSecretTests {
    @Test("env: reads the environment; unset or empty is an error naming the variable")
    func environmentReferences() throws {
        let resolver = SecretResolver(environment: ["VAULT_TOKEN": "hvs.secret-token\n", "EMPTY": "  "])
        #expect(try resolver.resolve(.environment("VAULT_TOKEN"), keyPath: "vault.auth.token").exposedValue == "hvs.secret-token")
        #expect(resolver.status(of: .environment("VAULT_TOKEN")) == .environmentSet)
        #expect(resolver.status(of: .environment("EMPTY")) == .environmentUnset)
        do {
            _ = try resolver.resolve(.environment("MISSING"), keyPath: "vault.auth.token")
            Issue.record("an unset variable must not resolve")
        } catch {
            #expect(error.issues[0].keyPath == "vault.auth.token")
            #expect(error.description.contains("MISSING"))
        }
    }

    @Test("file: reads a 0600 file without surrounding whitespace; open permissions, missing and empty files are refused")
    func fileReferences() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        let resolver = SecretResolver(environment: [:])
        try ConfigTestSupport.write("s3cr3t-value\n", to: directory + "/ok", mode: 0o600)
        try ConfigTestSupport.write("s3cr3t-value\n", to: directory + "/open", mode: 0o644)
        try ConfigTestSupport.write("s3cr3t-value\n", to: directory + "/group", mode: 0o640)
        try ConfigTestSupport.write(" \n", to: directory + "/empty", mode: 0o600)
        try ConfigTestSupport.write("x", to: directory + "/readonly", mode: 0o400)

        #expect(try resolver.resolve(.file(directory + "/ok"), keyPath: "k").exposedValue == "s3cr3t-value")
        #expect(resolver.status(of: .file(directory + "/ok")) == .fileOK)
        #expect(resolver.status(of: .file(directory + "/readonly")) == .fileOK)
        #expect(resolver.status(of: .file(directory + "/open")) == .fileTooOpen(mode: 0o644))
        // 0640 is accepted only when the file's group is the process's own (a Kubernetes Secret with fsGroup);
        // the same mode with another group is refused.
        #expect(resolver.status(of: .file(directory + "/group")) == .fileOK)
        if chown(directory + "/group", getuid(), getgid() &+ 4242) == 0 {  // root can give the file a foreign group
            #expect(resolver.status(of: .file(directory + "/group")) == .fileTooOpen(mode: 0o640))
        }
        #expect(resolver.status(of: .file(directory + "/empty")) == .fileEmpty)
        #expect(resolver.status(of: .file(directory + "/absent")) == .fileMissing)
        do {
            _ = try resolver.resolve(.file(directory + "/open"), keyPath: "keys.passphrase")
            Issue.record("a secret file readable by others must be refused")
        } catch {
            #expect(error.description.contains("chmod 600 \(directory)/open"))
            #expect(!error.description.contains("s3cr3t-value"))
        }
    }

    @Test("the configuration syntax: env:NAME, file:/path, literal; invalid references are parse errors")
    func syntax() throws {
        let c = try #require(ConfigTestSupport.load("""
            vault:
              auth:
                token: env:MY_TOKEN
            keys:
              passphrase: file:/etc/lifeboat/passphrase
            """)).configuration
        #expect(c.vault.auth.token == .environment("MY_TOKEN"))
        #expect(c.vault.auth.effectiveMethod == .token)
        #expect(c.keys.passphrase == .file("/etc/lifeboat/passphrase"))

        let errors = ConfigTestSupport.errors("""
            vault:
              auth:
                token: "env:1BAD"
            keys:
              passphrase: "file:"
            """)
        #expect(errors.map(\.keyPath) == ["vault.auth.token", "keys.passphrase"])
        #expect(errors.map(\.line) == [3, 5])
    }

    @Test("literal secrets are accepted, warned about, and never printed")
    func literals() throws {
        let loaded = try #require(ConfigTestSupport.load("""
            vault:
              auth:
                token: hvs.LITERAL-TOKEN-123
            """))
        #expect(loaded.configuration.vault.auth.token == .literal("hvs.LITERAL-TOKEN-123"))
        let warning = try #require(loaded.warnings.first { $0.keyPath == "vault.auth.token" })
        #expect(warning.line == 3)
        #expect(warning.message.contains("literal secret"))
        let reference = try #require(loaded.configuration.vault.auth.token)
        #expect("\(reference)" == "****")
        #expect(String(reflecting: reference) == "SecretReference(****)")
        #expect(!"\(loaded.configuration)".contains("LITERAL-TOKEN"))
        #expect(!String(reflecting: loaded.configuration).contains("LITERAL-TOKEN"))
        let resolved = try SecretResolver(environment: [:]).resolve(reference, keyPath: "vault.auth.token")
        #expect("\(resolved)" == "<redacted>")
        #expect(resolved.exposedValue == "hvs.LITERAL-TOKEN-123")
    }

    @Test("config check reports unresolved references and too-open files without failing to parse")
    func checkReportsReferences() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        try ConfigTestSupport.write("role-id-value", to: directory + "/role-id", mode: 0o644)
        try ConfigTestSupport.write("{\"keys\": []}", to: directory + "/unseal.json", mode: 0o666)
        let yaml = """
            repository: \(directory)/repo
            vault:
              auth:
                role_id: file:\(directory)/role-id
                secret_id: env:LIFEBOAT_SECRET_ID
            restore:
              unseal_keys_file: \(directory)/unseal.json
            keys:
              key_files: [\(directory)/missing.key]
            """
        let result = ConfigurationCheck.run(loader: ConfigTestSupport.loader(), yaml: yaml, file: "lifeboat.yaml")
        #expect(!result.isValid)
        let byPath = Dictionary(grouping: result.errors, by: \.keyPath)
        #expect(byPath["vault.auth.role_id"]?.first?.message.contains("mode 644") == true)
        #expect(byPath["vault.auth.role_id"]?.first?.line == 4)
        #expect(byPath["vault.auth.secret_id"]?.first?.message.contains("LIFEBOAT_SECRET_ID") == true)
        #expect(byPath["restore.unseal_keys_file"]?.first?.message.contains("chmod 600") == true)
        #expect(byPath["keys.key_files[0]"] != nil)
        #expect(!result.text.isEmpty)
        #expect(result.text.contains("secret_id: env:LIFEBOAT_SECRET_ID  # not set"))
        #expect(!result.text.contains("role-id-value"))
    }
}
