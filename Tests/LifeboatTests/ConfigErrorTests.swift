// Configuration errors: each kind carries file, line, key path and what is allowed (and a suggestion for a
// misspelt key); several errors in one file are reported together, in line order.

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

@Suite("Configuration errors")
struct ConfigErrorTests {
    /// The single error of loading `yaml`; records a test issue unless there is exactly one.
    private func onlyError(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationIssue? {
        let errors = ConfigTestSupport.errors(yaml)
        guard errors.count == 1 else {
            Issue.record("expected exactly one error, got \(errors.count):\n\(errors.map(\.description).joined(separator: "\n"))",
                sourceLocation: sourceLocation)
            return nil
        }
        return errors[0]
    }

    private static let twoDestinations = """
        destinations:
          - name: local
            type: local
            path: /srv/a
          - name: offsite
            type: local
            path: /srv/b
            retenton:
              keep_daily: 7
        """

    @Test("an unknown key names file, line, key path and the near match")
    func unknownKey() throws {
        let issue = try #require(onlyError(Self.twoDestinations))
        #expect(issue.file == "lifeboat.yaml")
        #expect(issue.line == 8)
        #expect(issue.keyPath == "destinations[1].retenton")
        #expect(issue.suggestion == "retention")
        #expect(issue.description.hasPrefix("lifeboat.yaml:8:5: "))
        #expect(issue.description.contains("unknown key `retenton` in destinations[1]; did you mean `retention`?"))
    }

    @Test("an unknown key without a near match lists the allowed keys")
    func unknownKeyWithoutSuggestion() throws {
        let issue = try #require(onlyError("""
            backup:
              frobnicate: true
            """))
        #expect(issue.line == 2)
        #expect(issue.suggestion == nil)
        #expect(issue.message.contains("allowed here: compression, chunk_size, tags, only_if_leader"))
    }

    @Test("unknown top-level keys are suggested too, with - and _ treated alike")
    func topLevelSuggestion() throws {
        let issue = try #require(onlyError("""
            destination:
              - {name: a, type: local, path: /srv/a}
            """))
        #expect(issue.keyPath == "destination")
        #expect(issue.suggestion == "destinations")
        let dashed = try #require(onlyError("""
            repository:
              path: /srv/a
              retention: {keep-daily: 7}
            """))
        #expect(dashed.suggestion == "keep_daily")
        #expect(dashed.line == 3)
    }

    @Test("a wrong type says what was expected and what was found")
    func wrongType() throws {
        let issue = try #require(onlyError("""
            repository:
              path: /srv/a
              retention:
                keep_daily: seven
            """))
        #expect(issue.line == 4)
        #expect(issue.keyPath == "repository.retention.keep_daily")
        #expect(issue.message == "expected an integer or \"unlimited\" for keep_daily, got \"seven\"")

        let chunk = try #require(onlyError("backup:\n  compression: maybe\n"))
        #expect(chunk.message == "expected true or false for compression, got \"maybe\"")
        let quoted = try #require(onlyError("backup:\n  chunk_size: \"1048576\"\n"))
        #expect(quoted.message.contains("the string \"1048576\" (remove the quotes)"))
        let mapping = try #require(onlyError("vault:\n  address:\n    host: a\n"))
        #expect(mapping.message == "expected a string, got a mapping")
        #expect(mapping.keyPath == "vault.address")
    }

    @Test("impossible values: negative counts, chunk size out of range, unknown enumerations")
    func impossibleValues() throws {
        let negative = try #require(onlyError("""
            repository:
              path: /srv/a
              retention: {keep_daily: -3, keep_last: 2}
            """))
        #expect(negative.keyPath == "repository.retention.keep_daily")
        #expect(negative.line == 3)
        #expect(negative.message.contains("keep_daily must be 0 or more"))

        let chunk = try #require(onlyError("backup:\n  chunk_size: 512\n"))
        #expect(chunk.line == 2)
        #expect(chunk.message.contains("chunk_size must be between 1024 and 16777216"))

        let format = try #require(onlyError("agent:\n  log_format: jsno\n"))
        #expect(format.message.contains("allowed: human, json"))
        #expect(format.suggestion == "json")
    }

    @Test("an unknown destination type lists the allowed types")
    func unknownDestinationType() throws {
        let issue = try #require(onlyError("""
            destinations:
              - name: cloud
                type: gcs
                bucket: b
            """))
        #expect(issue.keyPath == "destinations[0].type")
        #expect(issue.line == 3)
        #expect(issue.message.contains("unknown destination type \"gcs\"; allowed: local, s3"))
    }

    @Test("a key of the other destination type is explained, not just refused")
    func misplacedKey() throws {
        let issue = try #require(onlyError("""
            destinations:
              - name: a
                type: local
                path: /srv/a
                bucket: oops
            """))
        #expect(issue.keyPath == "destinations[0].bucket")
        #expect(issue.message.contains("belongs to s3 destinations"))
    }

    @Test("two destinations with the same name")
    func duplicateDestinationNames() throws {
        let issue = try #require(onlyError("""
            destinations:
              - {name: disk, type: local, path: /srv/a}
              - {name: disk, type: local, path: /srv/b}
            """))
        #expect(issue.keyPath == "destinations[1].name")
        #expect(issue.line == 3)
        #expect(issue.message.contains("already used by destinations[0]"))
    }

    @Test("a schedule that does not parse carries the schedule parser's message")
    func badSchedule() throws {
        let issue = try #require(onlyError("""
            repository:
              path: /srv/a
              schedule: "61 * * * *"
            """))
        #expect(issue.keyPath == "repository.schedule")
        #expect(issue.line == 3)
        let parserMessage = try #require(throwsScheduleError { () throws(ScheduleError) -> Schedule in try Schedule.parse("61 * * * *") })
        #expect(issue.message == parserMessage)

        let zone = try #require(onlyError("agent:\n  time_zone: Mars/Olympus\n"))
        #expect(zone.message.contains("unknown time zone"))
        let interval = try #require(onlyError("agent:\n  schedules:\n    verify: every 15x\n"))
        #expect(interval.keyPath == "agent.schedules.verify")
        #expect(interval.line == 3)
    }

    private func throwsScheduleError(_ body: () throws(ScheduleError) -> Schedule) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.message
        }
    }

    @Test("retention rules of the planner: an empty policy is refused")
    func emptyRetention() throws {
        let issue = try #require(onlyError("repository:\n  path: /srv/a\n  retention: {keep_daily: 0}\n"))
        #expect(issue.keyPath == "repository.retention")
        #expect(issue.message.contains("keeps nothing"))
        let duration = try #require(onlyError("repository:\n  path: /srv/a\n  retention: {keep_within: 2w}\n"))
        #expect(duration.keyPath == "repository.retention.keep_within")
        #expect(duration.message.contains("unknown unit \"w\""))
    }

    @Test("missing required keys, hooks written as strings, unknown placeholders")
    func structuralProblems() throws {
        let missing = ConfigTestSupport.errors("destinations:\n  - {type: s3}\n")
        #expect(Set(missing.map(\.keyPath)) == ["destinations[0].name", "destinations[0].bucket"])
        #expect(missing.allSatisfy { $0.line == 2 })

        let shell = try #require(onlyError("restore:\n  hooks:\n    reset_all: docker compose down\n"))
        #expect(shell.message.contains("list of arguments"))
        let placeholder = try #require(onlyError("restore:\n  hooks:\n    reset_all: [rm, -rf, \"/data/{node}\"]\n"))
        #expect(placeholder.message.contains("unknown placeholder {node}"))
        let typo = try #require(onlyError("restore:\n  hooks:\n    wipe_node: [rm, -rf, \"/data/{nodes}\"]\n"))
        #expect(typo.message.contains("allowed here: {node}, {api_addr}"))
    }

    @Test("YAML syntax errors and duplicate keys point at their line")
    func syntaxErrors() throws {
        let syntax = try #require(onlyError("vault:\n  address: \"unterminated\n  namespace: x\n"))
        #expect(syntax.message.contains("YAML syntax error"))
        #expect(syntax.line != nil)
        let duplicate = try #require(onlyError("backup:\n  compression: true\n  compression: false\n"))
        #expect(duplicate.message.contains("duplicate key `compression`"))
        #expect(duplicate.line == 2 || duplicate.line == 3)
    }

    @Test("several errors in one file are reported together, in line order")
    func multipleErrors() throws {
        let yaml = """
            vault:
              addres: https://vault:8200
            destinations:
              - name: a
                type: local
                path: /srv/a
                retention:
                  keep_daily: seven
              - name: a
                type: ftp
            backup:
              chunk_size: 12
            agent:
              schedules:
                backup: "every 0m"
            """
        let errors = ConfigTestSupport.errors(yaml)
        #expect(errors.map(\.line) == [2, 8, 10, 12, 15])
        #expect(errors.map(\.keyPath) == [
            "vault.addres", "destinations[0].retention.keep_daily", "destinations[1].type", "backup.chunk_size",
            "agent.schedules.backup",
        ])
        do {
            _ = try ConfigTestSupport.loader().load(yaml: yaml, file: "lifeboat.yaml")
            Issue.record("the configuration must be refused")
        } catch {
            #expect(error.issues.count == 5)
            #expect(error.description.hasPrefix("5 problems in the configuration:"))
            #expect(error.exitStatus == .configuration)
        }
    }

    @Test("cross-field rules: auth method without its credential, half a client certificate, drill schedule without a drill")
    func crossField() throws {
        let errors = ConfigTestSupport.errors("""
            vault:
              tls: {client_cert: /etc/c.pem}
              auth: {method: token, role_id: env:ROLE}
            agent:
              schedules: {drill: "@weekly"}
            """)
        #expect(Set(errors.map(\.keyPath)) == [
            "vault.tls.client_cert", "vault.auth.role_id", "vault.auth.token", "agent.schedules.drill",
        ])
    }
}
