// `lifeboat backup`, `list`, `export` and `import` as processes against a Vault cluster: the leader-aware, fully
// verified path and every way it must refuse to store a backup. The tests that need only Vault's API start their
// cluster through `ClusterLaunchers.selected` (vault-sim, or real Vault with LIFEBOAT_TEST_VAULT_BIN); the ones that
// inject faults, seal every node or seed bulk data through vault-sim's control API stay on vault-sim.

import Foundation
import Testing

@Suite(.serialized) struct BackupEndToEndTests {
    func backupEnvironment(_ sim: any LaunchedCluster, addresses: [String], token: String? = nil) -> [String: String] {
        ["VAULT_ADDR": addresses[0], "LIFEBOAT_VAULT_ADDRS": addresses.joined(separator: ","), "VAULT_TOKEN": token ?? sim.rootToken]
    }

    /// Parses `lifeboat list --json`.
    func listedBackups(_ workspace: E2EWorkspace) async throws -> [[String: Any]] {
        let result = try await lifeboat(["list", "--repo", workspace.repository, "--json"])
        guard result.status == 0 else { throw E2EError("list failed: \(result.stderr)") }
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        return object?["backups"] as? [[String: Any]] ?? []
    }

    @Test func backupWhenTheFirstAddressIsAStandby() async throws {
        let sim = try await ClusterLaunchers.selected.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let active = try await #require(try sim.activeNode())
        let standbys = sim.nodes.map(\.id).filter { $0 != active }
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--json"],
                                  environment: backupEnvironment(sim, addresses: standbys.map { try sim.address($0) } + [sim.address(active)]))
        #expect(result.status == 0, "\(result.stderr)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let leader = try #require(manifest["leader"] as? [String: Any])
        #expect(try leader["address"] as? String == sim.address(active))
        #expect(leader["node_id"] as? String == active)
        #expect((manifest["raft"] as? [String: Any])?["index"] as? Int ?? 0 > 0)
        await #expect(try listedBackups(workspace).count == 1)
    }

    @Test func onlyIfLeaderSkipsOnAStandbyAndTouchesNothing() async throws {
        let sim = try await ClusterLaunchers.selected.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let active = try await sim.activeNode()
        let standby = try #require(sim.nodes.map(\.id).first { $0 != active })
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--only-if-leader"],
                                  environment: backupEnvironment(sim, addresses: [sim.address(standby)]))
        #expect(result.status == 0)
        #expect(result.stdout.contains("skipped: this node is a standby"))
        #expect(!FileManager.default.fileExists(atPath: workspace.repository))
    }

    @Test func aTruncatedStreamIsRetriedAndNeverStoredHalf() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await sim.control(["fault", "truncate-next-snapshot", "--after-bytes", "1500"])
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                                  environment: backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr)))
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("SHA256SUMS.sealed missing"))
        let backups = try await listedBackups(workspace)
        #expect(backups.count == 1)
        // The stored one is whole: it exports and re-verifies.
        let exported = try await lifeboat(["export", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile,
                                     "--output", workspace.directory + "/out.snap"])
        #expect(exported.status == 0, "\(exported.stderr)")
    }

    @Test func aForbiddenTokenStoresNothing() async throws {
        let sim = try await ClusterLaunchers.selected.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                                  environment: backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr), token: "hvs.not-a-token"))
        #expect(result.status == 1)
        #expect(result.stderr.contains("permission denied"))
        #expect(result.stderr.contains("nothing was stored") || result.stderr.contains("403"))
        #expect(workspace.repositoryFiles().filter { $0.hasSuffix(".lbk") || $0.hasSuffix(".json") }.isEmpty)
    }

    @Test func aSealedClusterIsReportedAndNothingStored() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        for node in sim.nodes { try await sim.control(["node", "seal", node.id]) }
        let result = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile],
                                  environment: backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr)))
        #expect(result.status == 1)
        #expect(result.stderr.lowercased().contains("sealed"), "\(result.stderr)")
        #expect(workspace.repositoryFiles().filter { $0.hasSuffix(".lbk") }.isEmpty)
    }

    @Test func theLeaderStoppedMidStreamIsRetriedOnTheNewLeader() async throws {
        let sim = try await VaultSimProcess.start(electionDelayMilliseconds: 200)
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await sim.control(["seed", "--bytes", "4MiB"])
        // Slow enough (about 10 s) that the leader is stopped mid-stream even when a loaded machine starts processes slowly.
        try await sim.control(["fault", "throttle", "--bytes-per-second", "400000"])
        let leader = try await #require(try sim.activeNode())
        let environment = backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr))
        async let backup = Task.detached {
            try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        }.value
        // Stop the leader once the snapshot is streaming (its pending file exists), not after a guessed delay: a
        // loaded machine may start the process late.
        try await workspace.waitForPendingFile()
        try await sim.control(["node", "stop", leader])
        let result = try await backup
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("retrying"), "the first attempt should have failed: \(result.stderr)")
        let backups = try await listedBackups(workspace)
        #expect(backups.count == 1)
        let stored = try #require(backups.first?["leader"] as? [String: Any])
        #expect(stored["node_id"] as? String != leader)
    }

    @Test func killedBackupsLeaveOnlyCompleteBackups() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await sim.control(["seed", "--bytes", "2MiB"])
        try await sim.control(["fault", "throttle", "--bytes-per-second", "4000000"])
        let environment = backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr))
        // The repository exists from the start, so `list` reads it even when every run was killed before creating it
        // (a slow machine or a sanitizer build starts processes late).
        try FileManager.default.createDirectory(atPath: workspace.repository, withIntermediateDirectories: true)
        var generator = SplitMix(seed: 42)
        var completed = 0
        for _ in 0..<6 {
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent("lifeboat")
            process.arguments = ["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile]
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            try await Task.sleep(for: .milliseconds(50 + Int(generator.next() % 900)))
            kill(process.processIdentifier, SIGKILL)
            await process.exited()
            if process.terminationReason == .exit && process.terminationStatus == 0 { completed += 1 }
        }
        // Whatever was listed is complete: each one exports byte-exact against its manifest.
        let backups = try await listedBackups(workspace)
        #expect(backups.count == completed)
        for backup in backups {
            let id = try #require(backup["id"] as? String)
            let exported = try await lifeboat(["export", id, "--repo", workspace.repository, "--key-file", workspace.keyFile,
                                         "--output", workspace.directory + "/\(id).snap"])
            #expect(exported.status == 0, "\(exported.stderr)")
        }
        // The next run succeeds (the lock of a killed run is not held).
        try await sim.control(["fault", "clear"])
        let next = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        #expect(next.status == 0, "\(next.stderr)")
        await #expect(try listedBackups(workspace).count == completed + 1)
    }

    @Test func aSecondRunWhileTheLockIsHeldExits75() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await sim.control(["seed", "--bytes", "2MiB"])
        // Slow enough (about 10 s) that the first run still holds the lock when the second starts on a loaded machine
        // (under AddressSanitizer on two cores a 5 s window was missed: docs/sanitizers.md).
        try await sim.control(["fault", "throttle", "--bytes-per-second", "200000"])
        let environment = backupEnvironment(sim, addresses: sim.nodes.map(\.api_addr))
        async let first = Task.detached {
            try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        }.value
        try await workspace.waitForPendingFile()  // the first run holds the lock and is streaming
        let second = try await lifeboat(["backup", "--repo", workspace.repository, "--key-file", workspace.keyFile], environment: environment)
        #expect(second.status == 75, "\(second.stderr)")
        #expect(second.stderr.contains("pid"))
        #expect(try await first.status == 0)
    }

    @Test(arguments: ["backup.snap", "ellie.snap"])
    func importExportRoundTripIsByteExact(fixture: String) async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let source = fixturesDirectory.appendingPathComponent(fixture).path
        let imported = try await lifeboat(["import", source, "--repo", workspace.repository, "--key-file", workspace.keyFile, "--tag", "fixture"])
        #expect(imported.status == 0, "\(imported.stderr)")
        let output = workspace.directory + "/exported.snap"
        let exported = try await lifeboat(["export", "latest", "--repo", workspace.repository, "--key-file", workspace.keyFile, "--output", output])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == Data(contentsOf: URL(fileURLWithPath: source)))
    }

    @Test func importRefusesATruncatedSnapshotAndStoresNothing() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let whole = try Data(contentsOf: fixturesDirectory.appendingPathComponent("backup.snap"))
        let truncated = workspace.directory + "/truncated.snap"
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: truncated))
        let result = try await lifeboat(["import", truncated, "--repo", workspace.repository, "--key-file", workspace.keyFile])
        #expect(result.status == 65)
        #expect(result.stderr.contains("incomplete snapshot"))
        #expect(result.stderr.contains("nothing was stored"))
        #expect(workspace.repositoryFiles().filter { !$0.hasPrefix(".lifeboat.lock") && $0 != "data" && $0 != "manifests" }.isEmpty)
    }
}

/// Seeded randomness for kill timings.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
