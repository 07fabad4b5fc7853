// Every duration has an upper bound (issue 15): values that once overflowed a timer (`timeouts.request: 999999999d`,
// VAULT_CLIENT_TIMEOUT=99999999999) are configuration errors, exit 78, as processes (an exit status, not a signal).

import Foundation
import Testing
import LifeboatConfiguration
import LifeboatSchedule

struct DurationBoundsProcessTests {
    func configuration(_ workspace: E2EWorkspace, timeouts: String) throws -> String {
        let path = workspace.directory + "/lifeboat.yaml"
        let text = """
            version: 1
            vault:
              address: http://127.0.0.1:1
              timeouts:
            \(timeouts)
            keys:
              key_files: [\(workspace.keyFile)]
            destinations:
              - name: local
                type: local
                path: \(workspace.repository)

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        chmod(path, 0o600)
        return path
    }

    @Test("timeouts.request: 999999999d is a configuration error (78) naming the key, in config check and backup")
    func hugeRequestTimeoutInTheFile() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let config = try configuration(workspace, timeouts: "    request: 999999999d")
        for arguments in [["config", "check", "--config", config], ["backup", "--config", config]] {
            let result = try await lifeboat(arguments, environment: ["VAULT_TOKEN": "t"])
            #expect(result.status == 78, "\(arguments[0]): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("request"), "\(result.stderr)")
        }
        // Large but within the parser's range, and unquoted whole seconds: the per-key bound.
        for value in ["3000d", "99999999999"] {
            let config = try configuration(workspace, timeouts: "    request: \(value)")
            let result = try await lifeboat(["config", "check", "--config", config], environment: ["VAULT_TOKEN": "t"])
            #expect(result.status == 78, "\(value): \(result.status) \(result.stderr)")
            #expect(result.stderr.contains("at most 1d"), "\(value): \(result.stderr)")
        }
    }

    @Test("VAULT_CLIENT_TIMEOUT=99999999999 is a configuration error (78), not a trap")
    func hugeClientTimeoutInTheEnvironment() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                                  environment: ["VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t", "VAULT_CLIENT_TIMEOUT": "99999999999"])
        #expect(result.status == 78, "\(result.status) \(result.stderr)")
        #expect(result.stderr.contains("VAULT_CLIENT_TIMEOUT") || result.stderr.contains("request"), "\(result.stderr)")
    }

    @Test("flags: --first-byte-timeout and --snapshot-timeout beyond their bounds are usage errors (64)")
    func hugeFlags() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        for flags in [["--first-byte-timeout", "999999999d"], ["--first-byte-timeout", "2d"], ["--snapshot-timeout", "30d"]] {
            let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile] + flags,
                                      environment: ["VAULT_ADDR": "http://127.0.0.1:1", "VAULT_TOKEN": "t"])
            #expect(result.status == 64, "\(flags): \(result.status) \(result.stderr)")
        }
    }

    @Test("every duration key has a bound, and the parser refuses more than 3650d")
    func everyDurationIsBounded() throws {
        #expect(throws: ScheduleError.self) { try Schedule.parseDuration("3651d") }
        #expect(throws: ScheduleError.self) { try Schedule.parse("every 400d") }
        #expect(try Schedule.parseDuration("3650d") == .seconds(3650 * 86_400))
        for key in ["vault.timeouts.request", "vault.timeouts.snapshot", "vault.timeouts.stall", "agent.jitter",
                    "agent.health_max_age", "agent.shutdown_grace_period", "notifications.webhooks[3].timeout",
                    "restore.hooks.timeout", "drill.hooks.timeout"] {
            #expect(DurationLimits.problem(.seconds(3650 * 86_400), key: key) != nil, "\(key) has no bound")
            #expect(DurationLimits.problem(.seconds(1), key: key) == nil)
        }
    }
}
