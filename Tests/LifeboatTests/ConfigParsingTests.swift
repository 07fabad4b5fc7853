// Configuration parsing: the complete example becomes the expected model, the minimal example and the
// no-file defaults, shorthand forms, relative paths, merge keys and disabled schedules.

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

@Suite("Configuration parsing")
struct ConfigParsingTests {
    typealias C = LifeboatConfiguration

    @Test("the complete example parses into the expected model")
    func fullExample() throws {
        let loaded = try #require(ConfigTestSupport.load(ConfigTestSupport.fullExample))
        let c = loaded.configuration

        var expectedVault = C.Vault(
            address: "https://vault-1.example.com:8200",
            addresses: ["https://vault-2.example.com:8200", "https://vault-3.example.com:8200"],
            namespace: "ops",
            tls: C.TLS(caCert: "/etc/lifeboat/vault-ca.pem", serverName: "vault.example.com"),
            auth: C.Auth(method: .approle, roleID: .file("/etc/lifeboat/role-id"),
                secretID: .environment("LIFEBOAT_SECRET_ID"), mount: "ops/approle"),
            timeouts: C.Timeouts(request: .seconds(30), snapshot: .seconds(7200), stall: .seconds(90)))
        expectedVault.openbao = false
        #expect(c.vault == expectedVault)
        #expect(c.vault.allAddresses.count == 3)
        #expect(c.keys == C.Keys(keyFiles: ["/etc/lifeboat/backup-2025.key", "/etc/lifeboat/backup-2024.key"]))

        let local = C.Destination(
            name: "local", storage: .local(.init(path: "/var/lib/lifeboat/repository")),
            retention: RetentionPolicy(
                keepLast: 3, keepHourly: 24, keepDaily: 7, keepWeekly: 4, keepMonthly: 12, keepYearly: .unlimited,
                keepWithin: RetentionDuration(days: 2), keepTags: [["pre-upgrade"], ["weekly", "verified"]]),
            schedule: "@hourly")
        let offsite = C.Destination(
            name: "offsite",
            storage: .s3(C.S3Storage(
                endpoint: "https://minio.example.com:9000", region: "eu-central-1", bucket: "vault-backups",
                prefix: "prod/vault", pathStyle: true, caCert: "/etc/lifeboat/minio-ca.pem",
                accessKeyID: .environment("LIFEBOAT_S3_ACCESS_KEY"), secretAccessKey: .file("/etc/lifeboat/s3-secret"),
                sse: .init(type: .kms, kmsKeyID: "alias/lifeboat"))),
            retention: RetentionPolicy(keepDaily: 14, keepMonthly: 6, keepWithinDaily: RetentionDuration(days: 30)),
            schedule: "0 3 * * *")
        #expect(c.destinations == [local, offsite])
        #expect(loaded.destinationPath(1) == "destinations[1]")

        #expect(c.backup == C.Backup(compression: true, chunkSize: 4 * 1024 * 1024, tags: ["scheduled"], onlyIfLeader: true))
        #expect(c.agent == C.Agent(
            listen: "127.0.0.1:9731",
            schedules: C.Schedules(backup: "@hourly", verify: "30 4 * * *", drill: "0 5 * * 0"),
            timeZone: "Europe/Berlin", jitter: .seconds(120), logFormat: .json,
            stateFile: "/var/lib/lifeboat/agent-state.json", healthMaxAge: .seconds(3 * 3600),
            shutdownGracePeriod: .seconds(120)))
        #expect(c.notifications.webhooks == [
            C.Webhook(url: .environment("LIFEBOAT_SLACK_URL"), format: .slack, on: [.failure, .recovery]),
            C.Webhook(url: .literal("https://alerts.example.com/hooks/lifeboat"), on: [.failure, .recovery, .success],
                timeout: .seconds(5), retries: 5),
        ])

        #expect(c.restore.nodes.map(\.name) == ["vault-1", "vault-2", "vault-3"])
        #expect(c.restore.nodes[2].apiAddress == "https://vault-3.example.com:8200")
        #expect(c.restore.hooks.resetAll == [
            C.HookCommand(["docker", "compose", "-f", "/srv/vault/compose.yaml", "down"]),
            C.HookCommand(["sh", "-c", "rm -rf /srv/vault/data/vault-*/raft"]),
        ])
        #expect(c.restore.hooks.wipeNode == [C.HookCommand(["sh", "-c", "rm -rf /srv/vault/data/{node}/raft"])])
        #expect(c.restore.hooks.wipeNode[0].arguments.map { HookPlaceholders.substitute($0, node: c.restore.nodes[1].recoveryNode) }
            == ["sh", "-c", "rm -rf /srv/vault/data/vault-2/raft"])
        #expect(c.restore.hooks.start.count == 1)
        #expect(c.restore.hooks.timeout == .seconds(300))
        #expect(c.restore.unsealKeysFile == "/etc/lifeboat/unseal-keys.json")
        #expect(c.restore.canaries == [C.Canary(path: "secret/data/lifeboat/canary",
            fields: [.init(name: "value", expected: "alive"), .init(name: "owner")])])

        #expect(c.drill.isConfigured)
        #expect(c.drill.hooks.create == [C.HookCommand(["docker", "compose", "-p", "lifeboat-drill", "up", "-d"])])
        #expect(c.drill.canaries == [C.Canary(path: "secret/data/lifeboat/canary", fields: [.init(name: "value")])])
        #expect(c.drillUnsealKeysFile == "/etc/lifeboat/unseal-keys.json")
        #expect(c.drill.reportDirectory == "/var/lib/lifeboat/drills")

        // A literal webhook URL is normal (it is masked when printed, but not warned about); nothing else is risky.
        #expect(loaded.warnings == [])
    }

    @Test("schedules in the example parse with the schedule parser, in the configured zone and jitter")
    func schedulesParse() throws {
        let c = try #require(ConfigTestSupport.load(ConfigTestSupport.fullExample)).configuration
        let schedule = try c.agent.schedule(try #require(c.destinations[1].schedule))
        #expect(schedule.maxJitter == .seconds(120))
        guard case .cron(_, let zone) = schedule.trigger else {
            Issue.record("expected a cron schedule, got \(schedule)")
            return
        }
        #expect(zone.identifier == "Europe/Berlin")
    }

    @Test("the minimal example: a local repository and a key file")
    func minimalExample() throws {
        let loaded = try #require(ConfigTestSupport.load("""
            repository: /var/lib/lifeboat/repository
            keys:
              key_files: [/etc/lifeboat/backup.key]
            """))
        let c = loaded.configuration
        #expect(c.destinations == [C.Destination(name: "default", storage: .local(.init(path: "/var/lib/lifeboat/repository")))])
        #expect(c.keys.keyFiles == ["/etc/lifeboat/backup.key"])
        #expect(c.vault == C.Vault())
        #expect(c.agent.schedules == C.Schedules(backup: "@hourly", verify: "@daily", drill: nil))
        #expect(loaded.destinationPath(0) == "repository")
    }

    @Test("the repository shorthand also takes a mapping, with local as the default type")
    func repositoryMapping() throws {
        let c = try #require(ConfigTestSupport.load("""
            repository:
              path: /srv/backups
              retention: {keep_last: 10}
            """)).configuration
        #expect(c.destinations == [C.Destination(name: "default", storage: .local(.init(path: "/srv/backups")),
            retention: RetentionPolicy(keepLast: 10))])
    }

    @Test("with no file at all the built-in defaults apply, with a documented repository path")
    func defaultsWithoutFile() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        // Run in an empty directory so that ./lifeboat.yaml is absent; /etc/lifeboat/lifeboat.yaml does not
        // exist on the test machine (checked, so the test says why if it ever does).
        try #require(!FileManager.default.fileExists(atPath: "/etc/lifeboat/lifeboat.yaml"))
        let user = ConfigurationLoader(environment: ["HOME": "/home/op"], currentDirectory: directory, isRoot: false)
        let loaded = try user.load()
        #expect(loaded.file == nil)
        #expect(loaded.configuration.destinations == [
            C.Destination(name: "default", storage: .local(.init(path: "/home/op/.local/share/lifeboat/repository")))
        ])
        #expect(loaded.configuration.vault.address == "https://127.0.0.1:8200")
        #expect(loaded.configuration.agent.listen == "127.0.0.1:9731")
        #expect(loaded.configuration.backup.chunkSize == 1024 * 1024)
        #expect(loaded.configuration.agent.stateFile == "/home/op/.local/state/lifeboat/agent-state.json")

        let root = ConfigurationLoader(environment: ["HOME": "/root"], currentDirectory: directory, isRoot: true)
        #expect(try root.load().configuration.destinations.first?.storage == .local(.init(path: "/var/lib/lifeboat/repository")))
        let xdg = ConfigurationLoader(environment: ["HOME": "/home/op", "XDG_DATA_HOME": "/data"], currentDirectory: directory, isRoot: false)
        #expect(try xdg.load().configuration.destinations.first?.storage == .local(.init(path: "/data/lifeboat/repository")))
    }

    @Test("file search: --config, then LIFEBOAT_CONFIG, then ./lifeboat.yaml; an explicit missing file is an error")
    func fileSearch() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        try ConfigTestSupport.write("repository: /srv/from-cwd\n", to: directory + "/lifeboat.yaml", mode: 0o644)
        try ConfigTestSupport.write("repository: /srv/from-env\n", to: directory + "/env.yaml", mode: 0o644)
        try ConfigTestSupport.write("repository: /srv/from-flag\n", to: directory + "/flag.yaml", mode: 0o644)
        func repository(_ loader: ConfigurationLoader, flag: String? = nil) throws -> String? {
            guard case .local(let local)? = try loader.load(configFlag: flag).configuration.destinations.first?.storage
            else { return nil }
            return local.path
        }
        let plain = ConfigurationLoader(environment: ["HOME": "/home/op"], currentDirectory: directory, isRoot: false)
        #expect(try repository(plain) == "/srv/from-cwd")
        #expect(try plain.locate(configFlag: nil)?.source == "./lifeboat.yaml")
        let withEnv = ConfigurationLoader(environment: ["HOME": "/home/op", "LIFEBOAT_CONFIG": "env.yaml"],
            currentDirectory: directory, isRoot: false)
        #expect(try repository(withEnv) == "/srv/from-env")
        #expect(try repository(withEnv, flag: "flag.yaml") == "/srv/from-flag")

        #expect(throws: ConfigurationError.self) { try plain.load(configFlag: "missing.yaml") }
        let missingEnv = ConfigurationLoader(environment: ["LIFEBOAT_CONFIG": "/nonexistent/lifeboat.yaml"],
            currentDirectory: directory, isRoot: false)
        do {
            _ = try missingEnv.load()
            Issue.record("a missing LIFEBOAT_CONFIG file must be an error")
        } catch {
            #expect(error.description.contains("LIFEBOAT_CONFIG"))
            #expect(error.issues.first?.origin == .environment("LIFEBOAT_CONFIG"))
        }
    }

    @Test("relative paths are resolved against the configuration file's directory, ~/ against HOME")
    func relativePaths() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        try ConfigTestSupport.write("""
            repository: data/repository
            keys:
              key_files: [keys/backup.key, ~/other.key]
              passphrase: file:secrets/passphrase
            """, to: directory + "/lifeboat.yaml", mode: 0o644)
        let loader = ConfigurationLoader(environment: ["HOME": "/home/op"], currentDirectory: "/", isRoot: false)
        let c = try loader.load(configFlag: directory + "/lifeboat.yaml").configuration
        #expect(c.destinations[0].storage == .local(.init(path: directory + "/data/repository")))
        #expect(c.keys.keyFiles == [directory + "/keys/backup.key", "/home/op/other.key"])
        #expect(c.keys.passphrase == .file(directory + "/secrets/passphrase"))
    }

    @Test("null or off disables a schedule; an absent key keeps the default")
    func disabledSchedules() throws {
        let c = try #require(ConfigTestSupport.load("""
            agent:
              schedules:
                verify: null
                drill: off
            """)).configuration
        #expect(c.agent.schedules == C.Schedules(backup: "@hourly", verify: nil, drill: nil))
    }

    @Test("YAML anchors and merge keys share settings between destinations")
    func mergeKeys() throws {
        let c = try #require(ConfigTestSupport.load("""
            destinations:
              - &base
                name: a
                type: local
                path: /srv/a
                retention: {keep_daily: 7}
              - <<: *base
                name: b
                path: /srv/b
            """)).configuration
        #expect(c.destinations.map(\.name) == ["a", "b"])
        #expect(c.destinations[1].retention == RetentionPolicy(keepDaily: 7))
        #expect(c.destinations[1].storage == .local(.init(path: "/srv/b")))
    }

    @Test("sizes, booleans and counts in their accepted spellings")
    func spellings() throws {
        let c = try #require(ConfigTestSupport.load("""
            repository:
              path: /srv/r
              retention: {keep_daily: -1, keep_weekly: 0, keep_last: 1_000}
            backup:
              chunk_size: 256KiB
              compression: off
            """)).configuration
        #expect(c.backup.chunkSize == 256 * 1024)
        #expect(c.backup.compression == false)
        #expect(c.destinations[0].retention == RetentionPolicy(keepLast: 1000, keepDaily: .unlimited, keepWeekly: 0))
    }
}

@Suite("Configuration documentation")
struct ConfigDocumentationTests {
    /// The YAML code blocks of docs/configuration.md, in order.
    static func yamlBlocks() throws -> [String] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```yaml" {
                current = []
            } else if let lines = current, line == "```" {
                blocks.append(lines.joined(separator: "\n"))
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    @Test("the minimal and the complete example in docs/configuration.md load without errors or warnings")
    func documentedExamplesLoad() throws {
        let blocks = try Self.yamlBlocks()
        try #require(blocks.count >= 3)
        let minimal = try #require(ConfigTestSupport.load(blocks[0]))
        #expect(minimal.configuration.keys.keyFiles == ["/etc/lifeboat/backup.key"])
        let complete = try #require(ConfigTestSupport.load(blocks[1]))
        let tested = try #require(ConfigTestSupport.load(ConfigTestSupport.fullExample))
        #expect(complete.configuration == tested.configuration)
        #expect(complete.warnings == [])
    }

    @Test("the documented config check excerpt is what config check prints")
    func documentedCheckOutput() throws {
        let directory = try ConfigTestSupport.temporaryDirectory()
        defer { ConfigTestSupport.cleanup(directory) }
        let excerpt = try #require(try Self.yamlBlocks().last)
        try ConfigTestSupport.write("role\n", to: directory + "/role-id", mode: 0o600)
        let yaml = """
            vault:
              auth:
                method: approle
                role_id: file:\(directory)/role-id
                secret_id: s3cr3t
            keys:
              key_files: [/etc/lifeboat/backup.key]
            """
        let result = ConfigurationCheck.run(
            loader: ConfigTestSupport.loader([
                "VAULT_ADDR": "https://vault.example.com:8200", "LIFEBOAT_PASSPHRASE": "passphrase-value",
            ]),
            yaml: yaml, file: "lifeboat.yaml")
        let lines = excerpt.split(separator: "\n").filter { !$0.hasPrefix("#") }
        try #require(lines.count > 5)
        for line in lines {
            let expected = line.replacingOccurrences(of: "/etc/lifeboat/role-id", with: directory + "/role-id")
            #expect(result.text.contains(expected + "\n"), "config check output lacks the documented line \(expected)")
        }
        #expect(!result.text.contains("s3cr3t"))
        #expect(!result.text.contains("passphrase-value"))
    }
}
