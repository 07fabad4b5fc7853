// From the configuration file to what runs: agent backup groups per destination schedule, the Vault client's
// authentication, S3 credentials, keys, restore hooks; and the progress line's rendering with an injected clock.

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

@Suite struct RuntimeConfigurationTests {
    let destinations = """
        destinations:
          - name: local
            type: local
            path: /var/lib/lifeboat/repository
          - name: nearline
            type: local
            path: /mnt/backup/lifeboat
          - name: offsite
            type: s3
            bucket: vault-backups
            schedule: "0 3 * * *"
        """

    @Test func destinationsWithTheirOwnScheduleGetTheirOwnBackupGroup() throws {
        let loaded = try #require(ConfigTestSupport.load(destinations + """

            agent:
              schedules:
                backup: every 15m
                verify: "@daily"
              listen: 127.0.0.1:9800
            """))
        let agent = try loaded.configuration.agentConfiguration(statePath: "/tmp/state.json", environment: [:])
        #expect(agent.backupGroups.map(\.name) == ["default", "offsite"])
        #expect(agent.backupGroups[0].destinations == ["local", "nearline"])
        #expect(agent.backupGroups[0].schedule == (try Schedule.parse("every 15m", timeZone: "UTC")))
        #expect(agent.backupGroups[1].destinations == ["offsite"])
        #expect(agent.destinations == ["local", "nearline", "offsite"])
        #expect(agent.verify != nil)
        #expect(agent.listen == ListenAddress(host: "127.0.0.1", port: 9800))
        try agent.validate()
    }

    @Test func aDrillScheduleWithoutAScratchClusterIsAConfigurationError() throws {
        let errors = ConfigTestSupport.errors(destinations + """

            agent:
              schedules:
                drill: "@weekly"
            """)
        #expect(errors.map(\.keyPath).contains("agent.schedules.drill"), "\(errors)")
        // `lifeboat agent --drill-schedule` with drill flags: the flags supply the scratch cluster.
        var configuration = try #require(ConfigTestSupport.load(destinations)).configuration
        configuration.agent.schedules.drill = "@weekly"
        #expect(throws: ConfigurationError.self) {
            try configuration.agentConfiguration(statePath: nil, environment: [:])
        }
        let agent = try configuration.agentConfiguration(statePath: nil, environment: [:], drillAvailable: true)
        #expect(agent.drill != nil)
    }

    @Test func webhookURLsAreResolvedFromTheirReferences() throws {
        let loaded = try #require(ConfigTestSupport.load(destinations + """

            notifications:
              webhooks:
                - url: env:LB_HOOK
                  format: slack
                  on: [failure, recovery, success]
                  retries: 2
            """, environment: ["LB_HOOK": "https://hooks.example.com/T0/B0/secret"]))
        let agent = try loaded.configuration.agentConfiguration(
            statePath: nil, environment: ["LB_HOOK": "https://hooks.example.com/T0/B0/secret"])
        #expect(agent.webhooks.count == 1)
        #expect(agent.webhooks[0].url == "https://hooks.example.com/T0/B0/secret")
        #expect(agent.webhooks[0].format == .slack)
        #expect(agent.webhooks[0].events == [.failure, .recovery, .success])
        #expect(agent.webhooks[0].maxAttempts == 3)
    }

    @Test func vaultAuthenticationFollowsTheConfiguredMethod() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let roleFile = directory + "/role-id"
        try "role-123".write(toFile: roleFile, atomically: true, encoding: .utf8)
        chmod(roleFile, 0o600)
        let environment = ["LB_SECRET_ID": "secret-456", "HOME": directory]

        let approle = try #require(ConfigTestSupport.load("""
            vault:
              address: https://vault-1:8200
              addresses: [https://vault-2:8200]
              auth:
                role_id: file:\(roleFile)
                secret_id: env:LB_SECRET_ID
                mount: ops/approle
              timeouts:
                snapshot: 2h
            """, environment: environment))
        let client = try approle.configuration.vault.clientConfiguration(environment: environment)
        #expect(client.addresses == ["https://vault-1:8200", "https://vault-2:8200"])
        #expect(client.timeouts.snapshotTotal == .seconds(7200))
        guard case .appRole(let role) = client.authentication else {
            Issue.record("expected AppRole, got \(client.authentication)")
            return
        }
        #expect(role.mountPath == "ops/approle")
        #expect(role.roleID == .file(roleFile))  // re-read at every login
        #expect(role.secretID == .value(VaultSecret("secret-456")))

        // No auth at all: Vault's ~/.vault-token convention when the file exists, else no token.
        let none = try #require(ConfigTestSupport.load("vault:\n  address: http://127.0.0.1:8200\n", environment: environment))
        #expect(try none.configuration.vault.clientConfiguration(environment: environment).authentication == .none)
        try "tok".write(toFile: directory + "/.vault-token", atomically: true, encoding: .utf8)
        #expect(try none.configuration.vault.clientConfiguration(environment: environment).authentication
                == .tokenFile(directory + "/.vault-token"))

        // A token in an unset variable is a configuration error naming the key.
        let unset = try #require(ConfigTestSupport.load("vault:\n  auth:\n    token: env:LB_NOT_SET\n", environment: environment))
        let error = #expect(throws: ConfigurationError.self) {
            try unset.configuration.vault.clientConfiguration(environment: environment)
        }
        #expect(error?.description.contains("LB_NOT_SET") == true)
    }

    @Test func s3CredentialsComeFromTheDestinationThenTheProfileThenTheChain() throws {
        let explicit = LifeboatConfiguration.S3Storage(
            endpoint: "http://127.0.0.1:9000", bucket: "vault-backups", pathStyle: true, accessKeyID: .environment("K"),
            secretAccessKey: .environment("S"))
        let configuration = try explicit.storeConfiguration(environment: ["K": "AKIA1", "S": "shh"])
        guard case .explicit(let credentials) = configuration.credentials else {
            Issue.record("expected explicit credentials")
            return
        }
        #expect(credentials.accessKeyID == "AKIA1")
        #expect(configuration.addressing == .pathStyle)

        var profile = LifeboatConfiguration.S3Storage(region: "eu-west-1", bucket: "vault-backups")
        profile.profile = "backup"
        let aws = try profile.storeConfiguration(environment: [:])
        #expect(aws.endpoint == "https://s3.eu-west-1.amazonaws.com")
        #expect(aws.addressing == .virtualHosted)
        guard case .sharedFile(nil, "backup") = aws.credentials else {
            Issue.record("expected the shared file's profile, got \(aws.credentials)")
            return
        }
    }

    @Test func missingKeysSayHowToMakeOne() throws {
        let keys = LifeboatConfiguration.Keys()
        let error = #expect(throws: MissingKeyError.self) { try keys.encryptionSecret(environment: [:]) }
        #expect(error?.description.contains("lifeboat key generate") == true)
        #expect(ExitStatus.forError(MissingKeyError()) == .configuration)
    }

    @Test func restoreHooksRunResetAllOnceThenThePerNodeCommands() async throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let log = directory + "/hooks.log"
        let restore = LifeboatConfiguration.Restore(hooks: .init(
            resetAll: [.init(["sh", "-c", "echo all >> \(log)"])],
            wipeNode: [.init(["sh", "-c", "echo wipe {node} {api_addr} >> \(log)"])],
            start: [.init(["sh", "-c", "echo start {node} >> \(log)"])]))
        let hook = try #require(restore.resetHook)
        _ = try await hook.reset(RecoveryNode(name: "vault_1", apiAddress: "http://a:8200"))
        _ = try await hook.reset(RecoveryNode(name: "vault_2", apiAddress: "http://b:8200"))
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(lines == ["all", "wipe vault_1 http://a:8200", "start vault_1", "wipe vault_2 http://b:8200", "start vault_2"])
        #expect(LifeboatConfiguration.Restore().resetHook == nil)
    }
}

@Suite struct TransferProgressTests {
    @Test func aLineWithAKnownSizeShowsPercentageRateAndTimeLeft() {
        let line = TransferProgress.render(label: "verify", bytes: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, elapsed: 4)
        #expect(line == "verify  512.0 MiB of 1.0 GiB (50%)  134.2 MB/s  0:04 elapsed  0:04 left")
    }

    @Test func anUnknownSizeShowsBytesAndRateOnly() {
        let line = TransferProgress.render(label: "backup", bytes: 3 * 1024 * 1024, total: nil, elapsed: 3725)
        #expect(line == "backup  3.0 MiB  0.0 MB/s  1:02:05 elapsed")
        #expect(TransferProgress.render(label: "backup", bytes: 0, total: nil, elapsed: 0) == "backup  0 B  - MB/s  0:00 elapsed")
    }

    @Test func redrawsAreThrottledAndTheFinalLineEnds() {
        let now = PThreadLocked(100.0)
        let output = PThreadLocked<[String]>([])
        let progress = TransferProgress(label: "export", total: 1000, clock: { now.withLock { $0 } }, interval: 0.5) { text in
            output.withLock { $0.append(text) }
        }
        progress.update(100)   // drawn (first)
        progress.update(200)   // too soon
        now.withLock { $0 = 100.6 }
        progress.update(600)   // drawn
        progress.finish()
        progress.update(900)   // after finish: ignored
        let lines = output.withLock { $0 }
        #expect(lines.count == 3)
        #expect(lines.allSatisfy { $0.hasPrefix("\r") })
        #expect(lines[1].contains("600 B of 1000 B (60%)"))
        #expect(lines[2].hasSuffix("\n"))
        #expect(!lines[0].hasSuffix("\n"))
    }
}
