// Issue 18, what a new operator runs into, as processes where the CLI is the subject: `key id`, `export` onto an
// existing file (and `--force`), a world-readable passphrase file, `config check` reporting everything at once,
// the Vault flags (--vault-addr, --token-file, --chunk-size) on a real backup, `/healthz`'s text, no flag taking a
// webhook URL, canary paths in one form, and the retry rule for a generic 500 and an empty snapshot (vault-sim
// fault injection).

import Foundation
import Testing
import LifeboatVault
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery

@Suite("Operator experience (issue 18)", .serialized)
struct OperatorExperienceTests {
    // MARK: keys and files

    @Test("key id prints the id key generate reported; a world-readable key is refused with chmod advice")
    func keyID() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let path = workspace.directory + "/second.key"
        let generated = try await lifeboat(["key", "generate", "--output", path])
        #expect(generated.status == 0, "\(generated.stderr)")
        let id = try #require(generated.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
        #expect(id.count == 16)
        let shown = try await lifeboat(["key", "id", path])
        #expect(shown.status == 0, "\(shown.stderr)")
        #expect(shown.stdout == id + "\n")
        #expect(try await lifeboat(["key", "id", workspace.keyFile]).stdout != shown.stdout)

        chmod(path, 0o644)
        let open = try await lifeboat(["key", "id", path])
        #expect(open.status == 78)
        #expect(open.stderr.contains("chmod 600"), "\(open.stderr)")
        let missing = try await lifeboat(["key", "id", workspace.directory + "/nope.key"])
        #expect(missing.status == 78)
        #expect(missing.stderr.contains("cannot read key file"), "\(missing.stderr)")
    }

    @Test("export onto an existing file fails clearly and leaves it; --force replaces it atomically")
    func exportForce() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let snapshot = fixturesDirectory.appendingPathComponent("backup.snap").path
        let imported = try await lifeboat(["import", snapshot, "--repo", workspace.repository, "--key-file", workspace.keyFile])
        #expect(imported.status == 0, "\(imported.stderr)")

        let output = workspace.directory + "/out/vault.snap"
        try FileManager.default.createDirectory(atPath: workspace.directory + "/out", withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: output))
        let refused = try await lifeboat(["export", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--output", output])
        #expect(refused.status == 74)
        #expect(refused.stderr.contains("already exists and was left as it is"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--force"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data("keep me".utf8))

        let forced = try await lifeboat(["export", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                                   "--output", output, "--force"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: URL(fileURLWithPath: snapshot)))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.directory + "/out") == ["vault.snap"],
                "no temporary file may be left beside the output")
        let mode = try FileManager.default.attributesOfItem(atPath: output)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    // MARK: prune flags

    @Test("prune: a misspelt --keep-tag is refused although a backup is verified; flags take the configuration's values; --json in RFC 3339")
    func pruneFlags() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let repo = ["--repo", workspace.repository, "--key-file", workspace.keyFile]
        for (file, tags) in [("backup.snap", ["--tag", "pre-upgrade"]), ("ellie.snap", []), ("backup.snap", [])] {
            let imported = try await lifeboat(["import", fixturesDirectory.appendingPathComponent(file).path] + repo + tags)
            #expect(imported.status == 0, "\(imported.stderr)")
        }
        #expect(try await lifeboat(["verify", "--latest"] + repo).status == 0)
        let listed = try await lifeboat(["list", "--repo", workspace.repository])
        let before = listed.stdout

        // The typo: without the rail order, the verified backup would be "kept" and the other two removed.
        let typo = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-tag", "pre-upgarde"])
        #expect(typo.status == 64, "\(typo.stderr)")
        #expect(typo.stderr.contains("keep none of the 3 backups"), "\(typo.stderr)")
        #expect(try await lifeboat(["list", "--repo", workspace.repository]).stdout == before, "a refused prune removes nothing")

        // restic's parsing: parts trimmed, "" keeps the untagged backups.
        let trimmed = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-tag", " pre-upgrade , ", "--dry-run"])
        #expect(trimmed.status == 64, "'pre-upgrade,' is [pre-upgrade, \"\"], which matches nothing, as in restic: \(trimmed.stderr)")
        let spaced = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-tag", " pre-upgrade ", "--dry-run"])
        #expect(spaced.status == 0, "\(spaced.stderr)")
        #expect(spaced.stdout.contains("tag pre-upgrade"), "\(spaced.stdout)")
        #expect(spaced.stdout.contains("1 of 3 backups would be removed"), "\(spaced.stdout)")
        let untagged = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-tag", "", "--dry-run"])
        #expect(untagged.stdout.contains("2 of 3") == false && untagged.stdout.contains("1 of 3 backups would be removed"), "\(untagged.stdout)")

        // -1 and keep-within-* are flags as they are configuration values.
        let unlimited = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-last", "-1", "--keep-within-daily", "7d", "--dry-run"])
        #expect(unlimited.status == 0, "\(unlimited.stderr)")
        #expect(unlimited.stdout.contains("0 of 3 backups would be removed"), "\(unlimited.stdout)")
        let negative = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-last", "-2"])
        #expect(negative.status == 64)
        #expect(negative.stderr.contains("--keep-last takes a number of 0 or more, -1 or `unlimited`"), "\(negative.stderr)")

        let json = try await lifeboat(["prune", "--repo", workspace.repository, "--keep-last", "1", "--dry-run", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        let groups = try #require(document.first?["groups"] as? [[String: Any]])
        let decisions = groups.flatMap { $0["decisions"] as? [[String: Any]] ?? [] }
        #expect(decisions.count == 3)
        let backup = try #require(decisions.first?["backup"] as? [String: Any])
        let time = try #require(backup["time"] as? String)
        #expect(time.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "RFC 3339, not seconds since 2001: \(time)")
        #expect(backup["utc_offset_seconds"] as? Int == 0)
        #expect(decisions.first?["future_dated"] as? Bool == false)
    }

    @Test("hook flags speak the configuration's placeholders: {addr} is refused before anything runs")
    func hookPlaceholders() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let marker = workspace.directory + "/created"
        let refused = try await lifeboat(["drill", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                                    "--scratch-node", "d1=http://127.0.0.1:9", "--create-command", "touch \(marker)",
                                    "--reset-command", "wipe {addr}", "--unseal-keys-file", workspace.directory + "/keys.json"])
        #expect(refused.status == 64, "\(refused.stderr)")
        #expect(refused.stderr.contains("unknown placeholder {addr} in --reset-command \"wipe {addr}\": use {node} or {api_addr}"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: marker), "nothing ran")
        let once = try await lifeboat(["drill", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                                 "--scratch-node", "d1=http://127.0.0.1:9", "--create-command", "make {node}",
                                 "--reset-command", "wipe {node}", "--unseal-keys-file", workspace.directory + "/keys.json"])
        #expect(once.status == 64)
        #expect(once.stderr.contains("it runs once, so no placeholders are available"), "\(once.stderr)")
    }

    @Test("a world-readable passphrase file is reported as a passphrase file")
    func passphraseFileMessage() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let passphrase = workspace.directory + "/passphrase"
        try Data("correct horse battery staple\n".utf8).write(to: URL(fileURLWithPath: passphrase))
        chmod(passphrase, 0o644)
        let input = workspace.directory + "/plain"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: input))
        let result = try await lifeboat(["encrypt", "--passphrase-file", passphrase, "--input", input, "--output", workspace.directory + "/x.lbk"])
        #expect(result.status == 78)
        #expect(result.stderr.contains("passphrase file \(passphrase) has mode 644"), "\(result.stderr)")
        #expect(!result.stderr.contains("key file"), "\(result.stderr)")
        chmod(passphrase, 0o600)
        try Data("\n".utf8).write(to: URL(fileURLWithPath: passphrase))
        chmod(passphrase, 0o600)
        let empty = try await lifeboat(["encrypt", "--passphrase-file", passphrase, "--input", input, "--output", workspace.directory + "/x.lbk"])
        #expect(empty.stderr.contains("passphrase file \(passphrase) is empty"), "\(empty.stderr)")
    }

    // MARK: config check

    @Test("config check reports a missing key file together with the mistakes in the file")
    func configCheckReportsEverything() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let config = workspace.directory + "/lifeboat.yaml"
        try """
            vault:
              addres: http://127.0.0.1:8200
            keys:
              key_files: [\(workspace.directory)/missing.key]
            backup:
              chunk_size: 12
            repository: \(workspace.repository)

            """.write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await lifeboat(["config", "check", "--config", config])
        #expect(result.status == 78)
        #expect(result.stderr.contains("did you mean `address`"), "\(result.stderr)")
        #expect(result.stderr.contains("chunk_size must be between"), "\(result.stderr)")
        #expect(result.stderr.contains("missing.key"), "the missing key file must be reported at once:\n\(result.stderr)")
        let connect = try await lifeboat(["config", "check", "--config", config, "--connect"])
        #expect(connect.status == 78)
        #expect(connect.stderr.contains("connection checks skipped"))
    }

    @Test("a flag's value is checked like the file's: --chunk-size takes sizes and is range-checked")
    func chunkSizeFlag() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let tiny = try await lifeboat(["import", fixturesDirectory.appendingPathComponent("backup.snap").path, "--repo", workspace.repository,
                                 "--key-file", workspace.keyFile, "--chunk-size", "12"])
        #expect(tiny.status == 78)
        #expect(tiny.stderr.contains("flag --chunk-size"), "\(tiny.stderr)")
        let words = try await lifeboat(["import", "x.snap", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--chunk-size", "big"])
        #expect(words.status == 64)
        #expect(words.stderr.contains("1MiB"), "\(words.stderr)")
        let fine = try await lifeboat(["import", fixturesDirectory.appendingPathComponent("backup.snap").path, "--repo", workspace.repository,
                                 "--key-file", workspace.keyFile, "--chunk-size", "64KiB", "--no-compression"])
        #expect(fine.status == 0, "\(fine.stderr)")
    }

    @Test("config check --connect tries Vault (health, token, capabilities per policies/) and every destination")
    func configCheckConnect() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let address = sim.nodes[0].api_addr
        // A token carrying the repository's own backup policy, and one whose policy forgot the snapshot.
        let backupPolicy = try String(contentsOf: DocumentedFlagsTests.root.appendingPathComponent("policies/lifeboat-backup.hcl"), encoding: .utf8)
        try await vaultAPI(address, sim.rootToken, "PUT", "sys/policy/lifeboat-backup", ["policy": backupPolicy])
        try await vaultAPI(address, sim.rootToken, "PUT", "sys/policy/too-little", ["policy": #"path "sys/storage/raft/configuration" { capabilities = ["read"] }"#])
        let good = try await createToken(address, sim.rootToken, policies: ["lifeboat-backup"])
        let poor = try await createToken(address, sim.rootToken, policies: ["too-little"])

        try FileManager.default.createDirectory(atPath: workspace.repository, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try await S3TestEnvironment.with { s3 in
            func check(token: String, bucket: String) async throws -> ProcessResult {
                let tokenFile = workspace.directory + "/token-\(UUID().uuidString)"
                try Data(token.utf8).write(to: URL(fileURLWithPath: tokenFile))
                chmod(tokenFile, 0o600)
                let config = workspace.directory + "/connect.yaml"
                try """
                    vault:
                      address: \(address)
                      addresses: [\(sim.nodes.dropFirst().map { $0.api_addr }.joined(separator: ", "))]
                    keys:
                      key_files: [\(workspace.keyFile)]
                    destinations:
                      - name: local
                        type: local
                        path: \(workspace.repository)
                        retention: {keep_last: 3}
                      - name: offsite
                        type: s3
                        endpoint: \(s3.endpoint)
                        bucket: \(bucket)
                        path_style: true
                        access_key_id: env:LB_TEST_S3_KEY
                        secret_access_key: env:LB_TEST_S3_SECRET
                        retention: {keep_last: 3}
                    restore:
                      canaries:
                        - path: secret/data/lifeboat/canary/restore

                    """.write(toFile: config, atomically: true, encoding: .utf8)
                return try await lifeboat(["config", "check", "--config", config, "--token-file", tokenFile, "--connect"],
                                    environment: ["LB_TEST_S3_KEY": "AKIAMOTOTESTKEY", "LB_TEST_S3_SECRET": "moto-test-secret"])
            }
            let ok = try await check(token: good, bucket: s3.bucket)
            #expect(ok.status == 0, "\(ok.stdout)\n\(ok.stderr)")
            #expect(ok.stdout.contains("ok      vault \(address): "), "\(ok.stdout)")
            #expect(ok.stdout.contains("ok      token: valid (policies: "), "\(ok.stdout)")
            #expect(ok.stdout.contains("ok      capabilities: the token may do everything backups need"), "\(ok.stdout)")
            #expect(ok.stdout.contains("warning capabilities: the token lacks read on secret/data/lifeboat/canary/restore"), "\(ok.stdout)")
            #expect(ok.stdout.contains("ok      destination local: local directory \(workspace.repository): wrote, read back and deleted a probe object"), "\(ok.stdout)")
            #expect(ok.stdout.contains("ok      destination offsite: s3://"), "\(ok.stdout)")
            #expect(!ok.stdout.contains(good) && !ok.stderr.contains(good), "the token must never be printed")
            // Nothing was backed up and the probes are gone.
            #expect(workspace.repositoryFiles().filter { !$0.hasPrefix(".") }.isEmpty, "\(workspace.repositoryFiles())")
            let store = try s3.makeStore(prefix: "")
            #expect(try await store.list(prefix: "").isEmpty)

            let bad = try await check(token: poor, bucket: s3.bucket + "-missing")
            #expect(bad.status == 1, "\(bad.stdout)\n\(bad.stderr)")
            #expect(bad.stdout.contains("error   capabilities: the token lacks read on sys/storage/raft/snapshot (to download snapshots): attach a policy like policies/lifeboat-backup.hcl"), "\(bad.stdout)")
            #expect(bad.stdout.contains("error   destination offsite: "), "\(bad.stdout)")
            #expect(bad.stdout.contains("ok      destination local: "), "every check runs after one failed: \(bad.stdout)")
            #expect(bad.stderr.contains("connection checks failed"), "\(bad.stderr)")

            // Another node that is down is a warning (backups go to the leader); the local node down is an error.
            let activeID = try await sim.activeNode()
            let other = try #require(sim.nodes.dropFirst().first { $0.id != activeID })
            try await sim.control(["node", "stop", other.id])
            let down = try await check(token: good, bucket: s3.bucket)
            #expect(down.status == 0, "\(down.stdout)")
            #expect(down.stdout.contains("warning vault \(other.api_addr): cannot reach Vault"), "\(down.stdout)")
            #expect(down.stdout.contains("ok      token: "), "\(down.stdout)")
        }
    }

    // MARK: Vault flags and the retry rule

    @Test("backup with --vault-addr and --token-file only, retried through a generic 500 and an empty snapshot")
    func retryRuleAndVaultFlags() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let tokenFile = workspace.directory + "/token"
        try Data(sim.rootToken.utf8).write(to: URL(fileURLWithPath: tokenFile))
        chmod(tokenFile, 0o600)
        let active = try await #require(try sim.activeNode())
        let arguments = try ["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                         "--vault-addr", sim.address(active), "--token-file", tokenFile, "--no-prune"]

        // One generic 500, as Vault answers a request caught in a leader election: retried, then stored.
        try await sim.control(["fault", "fail", "--path", "sys/storage/raft/snapshot", "--status", "500", "--count", "1", "--message", "internal error"])
        let afterError = try await lifeboat(arguments)
        #expect(afterError.status == 0, "\(afterError.stderr)")
        #expect(afterError.stderr.contains("attempt 1 failed"), "\(afterError.stderr)")
        #expect(afterError.stdout.contains("stored backup"))

        // A 200 that ends before the first byte (the leader stepping down): retried, then stored.
        try await sim.control(["fault", "truncate-next-snapshot", "--after-bytes", "0"])
        let afterEmpty = try await lifeboat(arguments)
        #expect(afterEmpty.status == 0, "\(afterEmpty.stderr)")
        #expect(afterEmpty.stderr.contains("without sending a byte"), "\(afterEmpty.stderr)")

        // A 400 is Vault's verdict, not a transient state: not retried.
        try await sim.control(["fault", "fail", "--path", "sys/storage/raft/snapshot", "--status", "400", "--count", "1", "--message", "bad request"])
        let refused = try await lifeboat(arguments)
        #expect(refused.status == 1)
        #expect(!refused.stderr.contains("attempt 1 failed"), "\(refused.stderr)")
    }

    @Test("the retry rule, by what Vault answers")
    func retryRuleUnits() {
        func error(_ status: Int, _ message: String, method: String = "GET", path: String = "sys/storage/raft/snapshot") -> VaultError {
            VaultError.fromResponse(status: status, body: Array(#"{"errors":["\#(message)"]}"#.utf8), method: method, path: path, address: "a")
        }
        for status in [500, 502, 503, 504] { #expect(error(status, "internal error").suggestsLeaderChange, "\(status)") }
        for status in [400, 403, 404, 405, 412, 429] { #expect(!error(status, "nope").suggestsLeaderChange, "\(status)") }
        #expect(error(503, "Vault is sealed").suggestsLeaderChange)
        #expect(!error(501, "Vault is not initialized").suggestsLeaderChange)
        #expect(!error(500, "hash check failed", method: "POST").suggestsLeaderChange, "a refused restore is Vault's verdict")
    }

    // MARK: agent and canaries

    @Test("/healthz says how old the last good backup is")
    func healthText() {
        let now = Date(timeIntervalSince1970: 1_750_000_000)
        var status = AgentStatus()
        status.schedulerRunning = true
        status.startedAt = now.addingTimeInterval(-7200)
        #expect(status.health(now: now).reason == "scheduler running, no good backup yet")
        status.jobs = [AgentStatus.Job(name: "backup:default", kind: "backup", schedule: "every 1h", nextRun: nil, running: false,
                                       record: .init(lastSuccess: now.addingTimeInterval(-720), lastResult: .success))]
        #expect(status.health(now: now) == HealthVerdict(healthy: true, reason: "scheduler running, last good backup 12m ago"))
        status.healthMaxAge = .seconds(3600)
        #expect(status.health(now: now) == HealthVerdict(healthy: true, reason: "scheduler running, last good backup 12m ago"))
        let board = AgentStatusBoard()
        board.update { $0 = status }
        let routes = TelemetryRoutes(metrics: AgentMetrics(), status: board, clock: ManualAgentClock(start: now))
        #expect(String(decoding: routes.respond(method: "GET", uri: "/healthz").body, as: UTF8.self)
                == "ok: scheduler running, last good backup 12m ago\n")
    }

    @Test("the agent takes webhook URLs from a file or a variable, never as a flag value")
    func webhookFlags() async throws {
        let help = try await lifeboat(["agent", "--help"])
        #expect(help.stdout.contains("--webhook-file <path>"))
        #expect(help.stdout.contains("--webhook-env <name>"))
        #expect(!help.stdout.contains("--webhook <"))
        let old = try await lifeboat(["agent", "--webhook", "https://hooks.slack.com/services/T/B/secret"])
        #expect(old.status == 64)
        // No option takes a token, secret, password or passphrase; the only URL is Vault's address.
        for command in ["backup", "agent", "restore", "drill", "config check", "prune", "export", "import", "encrypt", "decrypt"] {
            let text = try await lifeboat(command.split(separator: " ").map(String.init) + ["--help"]).stdout
            for line in text.split(separator: "\n") where line.trimmingCharacters(in: .whitespaces).hasPrefix("--") {
                let option = line.trimmingCharacters(in: .whitespaces).components(separatedBy: "  ")[0]
                for word in ["<token>", "<secret>", "<password>", "<passphrase>"] {
                    #expect(!option.contains(word), "`lifeboat \(command)` has an option taking \(word): \(option)")
                }
                #expect(!option.contains("<url>") || option.hasPrefix("--vault-addr"), "`lifeboat \(command)`: \(option)")
            }
        }
    }

    @Test("canaries: the API path is the one form; the vault kv form is read the same, with a warning in the file")
    func canaryForms() throws {
        let api = try CanarySecret(parsing: "secret/data/lifeboat/canary/prod")
        #expect(try CanarySecret(parsing: "secret/lifeboat/canary/prod") == api)
        #expect(try CanarySecret(parsing: "secret:lifeboat/canary/prod") == api)
        #expect(api.description == "secret/data/lifeboat/canary/prod")

        let loader = ConfigurationLoader(environment: [:], currentDirectory: "/tmp", isRoot: false)
        let short = ConfigurationCheck.run(loader: loader, yaml: """
            repository: /tmp/lifeboat-canary-test
            restore:
              canaries:
                - path: secret/lifeboat/canary/prod
                - path: secret/data/lifeboat/canary/other

            """, file: "/tmp/lifeboat.yaml")
        #expect(short.isValid)
        let warnings = short.warnings.map { "\($0)" }.filter { $0.contains("canaries") }
        #expect(warnings.count == 1, "\(warnings)")
        #expect(warnings.first?.contains("is read as the KV v2 API path secret/data/lifeboat/canary/prod") == true, "\(warnings)")
    }

    // MARK: helpers

    /// Calls the Vault API with curl (the token goes in a header, never in the arguments' values that tests print).
    @discardableResult
    func vaultAPI(_ address: String, _ token: String, _ method: String, _ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        let data = try JSONSerialization.data(withJSONObject: body)
        let result = try await runProcess(URL(fileURLWithPath: "/usr/bin/curl"),
                                    ["-sS", "-X", method, "-H", "X-Vault-Token: \(token)", "--data-binary", String(decoding: data, as: UTF8.self),
                                     "-w", "\n%{http_code}", address + "/v1/" + path])
        let lines = result.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        guard let code = lines.last, code.hasPrefix("2") else { throw E2EError("\(method) \(path): \(result.stdout) \(result.stderr)") }
        let json = lines.dropLast().joined(separator: "\n")
        return (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
    }

    func createToken(_ address: String, _ root: String, policies: [String]) async throws -> String {
        let answer = try await vaultAPI(address, root, "POST", "auth/token/create", ["policies": policies])
        guard let token = (answer["auth"] as? [String: Any])?["client_token"] as? String else { throw E2EError("no token in \(answer)") }
        return token
    }
}
