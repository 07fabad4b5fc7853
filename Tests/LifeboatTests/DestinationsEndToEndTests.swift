// `lifeboat backup --config` with several destinations, as processes: a local directory and an S3 bucket on moto
// receive the same backup in one run, each with its own retention; `list` says where each backup is and `verify`
// re-reads a destination; a destination that fails leaves the others stored, exit 3, and is never pruned; a failed
// backup prunes nothing anywhere.

import Foundation
import Testing

@Suite(.serialized) struct DestinationsEndToEndTests {
    /// A configuration file in `workspace` naming the simulator, the workspace key and `destinations` (YAML list
    /// items, already indented by two spaces).
    func writeConfiguration(_ workspace: E2EWorkspace, sim: VaultSimProcess, destinations: String, name: String = "lifeboat.yaml") throws -> String {
        let addresses = sim.nodes.map(\.api_addr)
        let text = """
            vault:
              address: \(addresses[0])
              addresses: [\(addresses.dropFirst().joined(separator: ", "))]
              auth:
                token: env:LB_TEST_VAULT_TOKEN
            keys:
              key_files: [\(workspace.keyFile)]
            destinations:
            \(destinations)
            agent:
              state_file: \(workspace.directory)/state/agent-state.json

            """
        let path = workspace.directory + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func environment(_ sim: VaultSimProcess) -> [String: String] {
        ["LB_TEST_VAULT_TOKEN": sim.rootToken, "LB_TEST_S3_KEY": "AKIAMOTOTESTKEY", "LB_TEST_S3_SECRET": "moto-test-secret"]
    }

    /// `lifeboat list --json` entries (manifest fields plus `destinations`).
    func listed(_ config: String, _ extra: [String] = [], environment: [String: String]) async throws -> [[String: Any]] {
        let result = try await lifeboat(["list", "--config", config, "--json"] + extra, environment: environment)
        guard result.status == 0 else { throw E2EError("list failed: \(result.stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return object?["backups"] as? [[String: Any]] ?? []
    }

    @Test func oneRunStoresOnLocalAndS3EachWithItsOwnRetention() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await S3TestEnvironment.with { s3 in
            let config = try writeConfiguration(workspace, sim: sim, destinations: """
                  - name: local
                    type: local
                    path: \(workspace.repository)
                    retention:
                      keep_last: 2
                  - name: offsite
                    type: s3
                    endpoint: \(s3.endpoint)
                    bucket: \(s3.bucket)
                    prefix: vault/prod
                    path_style: true
                    access_key_id: env:LB_TEST_S3_KEY
                    secret_access_key: env:LB_TEST_S3_SECRET
                    retention:
                      keep_last: 3
                """)
            let env = environment(sim)
            for run in 1...4 {
                let result = try await lifeboat(["backup", "--config", config], environment: env)
                #expect(result.status == 0, "run \(run): \(result.stderr)")
                #expect(result.stdout.contains("local: stored"), "\(result.stdout)")
                #expect(result.stdout.contains("offsite: stored"), "\(result.stdout)")
                #expect(!result.stderr.contains(sim.rootToken), "the token must never be printed")
            }
            // Retention ran per destination: two kept locally, three in the bucket.
            let local = try await listed(config, ["--destination", "local"], environment: env)
            let offsite = try await listed(config, ["--destination", "offsite"], environment: env)
            #expect(local.count == 2)
            #expect(offsite.count == 3)
            // The same backups (same ids) on both; list says where each one is.
            let all = try await listed(config, environment: env)
            #expect(all.count == 3)
            #expect(all.last?["destinations"] as? [String] == ["local", "offsite"])
            #expect(all.first?["destinations"] as? [String] == ["offsite"])
            #expect(Set(local.compactMap { $0["id"] as? String }).isSubset(of: Set(offsite.compactMap { $0["id"] as? String })))

            // Verify re-reads the copy in the bucket and records the result there.
            let verify = try await lifeboat(["verify", "--latest", "--destination", "offsite", "--config", config], environment: env)
            #expect(verify.status == 0, "\(verify.stderr)")
            #expect(verify.stdout.hasPrefix("ok"), "\(verify.stdout)")
            let verified = try await listed(config, ["--destination", "offsite"], environment: env).last
            #expect((verified?["verifications"] as? [[String: Any]])?.last?["result"] as? String == "ok",
                    "\(String(describing: verified))")

            // A restore source can come from the bucket alone: export the newest backup from there.
            let snap = workspace.directory + "/exported.snap"
            let export = try await lifeboat(["export", "latest", "--destination", "offsite", "--output", snap, "--config", config], environment: env)
            #expect(export.status == 0, "\(export.stderr)")
            #expect((try FileManager.default.attributesOfItem(atPath: snap)[.size] as? Int ?? 0) > 0)
        }
    }

    @Test func aFailingDestinationLeavesTheOthersStoredExitsThreeAndIsNotPruned() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let second = workspace.directory + "/second"
        let config = try writeConfiguration(workspace, sim: sim, destinations: """
              - name: first
                type: local
                path: \(workspace.repository)
                retention:
                  keep_last: 1
              - name: second
                type: local
                path: \(second)
                retention:
                  keep_last: 1
            """)
        let env = environment(sim)
        // Two backups on both, without retention.
        for _ in 1...2 {
            let result = try await lifeboat(["backup", "--config", config, "--no-prune"], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
        }
        // The second destination breaks: its data directory is replaced by a file, so no object can be written.
        try FileManager.default.removeItem(atPath: second + "/data")
        try Data("not a directory".utf8).write(to: URL(fileURLWithPath: second + "/data"))
        let partial = try await lifeboat(["backup", "--config", config], environment: env)
        #expect(partial.status == 3, "\(partial.stdout)\n\(partial.stderr)")
        #expect(partial.stdout.contains("first: stored"), "\(partial.stdout)")
        #expect(partial.stdout.contains("second: NOT stored"), "\(partial.stdout)")
        #expect(partial.stderr.contains("NOT on second"), "\(partial.stderr)")
        // The first destination holds the new backup and applied its retention; the failed one pruned nothing.
        let first = try FileManager.default.contentsOfDirectory(atPath: workspace.repository + "/manifests")
        #expect(first.count == 1)
        let untouched = try FileManager.default.contentsOfDirectory(atPath: second + "/manifests")
        #expect(untouched.count == 2)
        // Nothing half-written on the failed destination: no temporary objects beside the manifests.
        #expect(untouched.allSatisfy { $0.hasSuffix(".json") }, "\(untouched)")

        // --json says the same per destination.
        try FileManager.default.removeItem(atPath: second + "/data")
        try FileManager.default.createDirectory(atPath: second + "/data", withIntermediateDirectories: false)
        let json = try await lifeboat(["backup", "--config", config, "--json", "--no-prune"], environment: env)
        #expect(json.status == 0, "\(json.stderr)")
        let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let reports = object?["destinations"] as? [[String: Any]] ?? []
        #expect(reports.map { $0["destination"] as? String } == ["first", "second"])
        #expect(reports.allSatisfy { $0["stored"] as? Bool == true })
        #expect(object?["id"] as? String != nil)
    }

    @Test func aFailedBackupPrunesNothing() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let keepAll = try writeConfiguration(workspace, sim: sim, destinations: """
              - name: local
                type: local
                path: \(workspace.repository)
            """)
        let env = environment(sim)
        for _ in 1...3 {
            let result = try await lifeboat(["backup", "--config", keepAll], environment: env)
            #expect(result.status == 0, "\(result.stderr)")
        }
        let keepOne = try writeConfiguration(workspace, sim: sim, destinations: """
              - name: local
                type: local
                path: \(workspace.repository)
                retention:
                  keep_last: 1
            """, name: "keep-one.yaml")
        // Every node sealed: the backup fails, and the retention that would remove two backups does not run.
        for node in sim.nodes { try await sim.control(["node", "seal", node.id]) }
        let failed = try await lifeboat(["backup", "--config", keepOne], environment: env)
        #expect(failed.status == 1, "\(failed.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.repository + "/manifests").count == 3)
        // prune with the configured policy (no --keep-* flags) does remove them.
        let pruned = try await lifeboat(["prune", "--config", keepOne], environment: env)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.repository + "/manifests").count == 1)
    }

    @Test func anUnreachableBucketDoesNotHideTheLocalBackups() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        // A bound port that never listens: the bucket refuses connections for the whole test.
        try await withRefusingLoopbackPort { closedPort in
            let config = try writeConfiguration(workspace, sim: sim, destinations: """
                  - name: local
                    type: local
                    path: \(workspace.repository)
                  - name: offsite
                    type: s3
                    endpoint: http://127.0.0.1:\(closedPort)
                    bucket: vault-backups
                    path_style: true
                    access_key_id: env:LB_TEST_S3_KEY
                    secret_access_key: env:LB_TEST_S3_SECRET
                """)
            let env = environment(sim)
            let backup = try await lifeboat(["backup", "--config", config], environment: env)
            #expect(backup.status == 3, "\(backup.stdout)\n\(backup.stderr)")
            #expect(backup.stdout.contains("local: stored"))
            #expect(backup.stdout.contains("offsite: NOT stored"))

            // list shows what the local destination holds, names the unreachable one, and exits 74.
            let list = try await lifeboat(["list", "--config", config], environment: env)
            #expect(list.status == 74, "\(list.stderr)")
            #expect(list.stdout.contains("local"), "\(list.stdout)")
            #expect(list.stdout.split(separator: "\n").count == 2, "a header and the one backup: \(list.stdout)")
            #expect(list.stderr.contains("could not read offsite"), "\(list.stderr)")

            // verify checks the local copy (ok) and reports the bucket as unreadable, not as damaged.
            let verify = try await lifeboat(["verify", "--latest", "--config", config], environment: env)
            #expect(verify.status == 74, "\(verify.stderr)")
            #expect(verify.stdout.hasPrefix("ok"), "\(verify.stdout)")
            #expect(!verify.stdout.contains("DAMAGED"))
        }
    }

    @Test func aDrillFromTheConfigurationRestoresIntoAnInProcessSimulator() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let keys = workspace.directory + "/unseal-keys.json"
        try Data(contentsOf: URL(fileURLWithPath: sim.directory + "/keys.json")).write(to: URL(fileURLWithPath: keys))
        chmod(keys, 0o600)
        let config = try writeConfiguration(workspace, sim: sim, destinations: """
              - name: local
                type: local
                path: \(workspace.repository)
            drill:
              simulator: true
              unseal_keys_file: \(keys)
              report_directory: \(workspace.directory)/reports
            """)
        let env = environment(sim)
        let backup = try await lifeboat(["backup", "--config", config], environment: env)
        #expect(backup.status == 0, "\(backup.stderr)")
        let drill = try await lifeboat(["drill", "latest", "--config", config, "--json"], environment: env)
        #expect(drill.status == 0, "\(drill.stdout)\n\(drill.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(drill.stdout.utf8)) as? [String: Any]
        #expect(report?["passed"] as? Bool == true, "\(drill.stdout)")
        let written = (try? FileManager.default.contentsOfDirectory(atPath: workspace.directory + "/reports")) ?? []
        #expect(written.contains { $0.hasSuffix(".json") } && written.contains { $0.hasSuffix(".md") }, "\(written)")
    }
}
