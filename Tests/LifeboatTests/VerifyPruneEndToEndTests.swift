// `lifeboat verify` finds a flipped byte in stored data; `lifeboat prune` shows and applies restic-style decisions.

import Foundation
import Testing

@Suite struct VerifyPruneEndToEndTests {
    func importFixtures(_ workspace: E2EWorkspace) async throws {
        for fixture in ["backup.snap", "ellie.snap"] {
            let result = try await lifeboat(["import", fixturesDirectory.appendingPathComponent(fixture).path,
                                       "--repo", workspace.repository, "--key-file", workspace.keyFile])
            #expect(result.status == 0, "\(result.stderr)")
        }
    }

    @Test func aFlippedByteInStoredDataIsReportedAsDamaged() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await importFixtures(workspace)
        let clean = try await lifeboat(["verify", "--all", "--repo", workspace.repository, "--key-file", workspace.keyFile])
        #expect(clean.status == 0, "\(clean.stderr)")
        #expect(clean.stdout.components(separatedBy: "ok ").count - 1 == 2)

        let dataDirectory = workspace.repository + "/data"
        let victim = try #require(try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted().first)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: dataDirectory + "/" + victim))
        bytes[bytes.count / 2] ^= 0x20
        try bytes.write(to: URL(fileURLWithPath: dataDirectory + "/" + victim))

        let damaged = try await lifeboat(["verify", "--all", "--repo", workspace.repository, "--key-file", workspace.keyFile])
        #expect(damaged.status == 65)
        #expect(damaged.stdout.contains("DAMAGED \(victim.replacingOccurrences(of: ".lbk", with: ""))"))
        #expect(damaged.stdout.contains("failed authentication"))
        // The verdict is recorded in the manifest and shown by list.
        let listing = try await lifeboat(["list", "--repo", workspace.repository])
        #expect(listing.stdout.contains("damaged"))
    }

    @Test func pruneDryRunRemovesNothingAndPruneRemovesTheOldest() async throws {
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        try await importFixtures(workspace)
        let dry = try await lifeboat(["prune", "--keep-last", "1", "--dry-run", "--repo", workspace.repository])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("1 of 2 backups would be removed"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: workspace.repository + "/manifests").count == 2)
        let real = try await lifeboat(["prune", "--keep-last", "1", "--repo", workspace.repository])
        #expect(real.status == 0, "\(real.stderr)")
        let left = try FileManager.default.contentsOfDirectory(atPath: workspace.repository + "/manifests")
        #expect(left.count == 1)
        // The newest (ellie.snap, imported second) is the one kept.
        let shown = try await lifeboat(["show", "latest", "--repo", workspace.repository])
        #expect(shown.stdout.contains("index 45"))
        let refused = try await lifeboat(["prune", "--repo", workspace.repository])
        #expect(refused.status != 0, "an empty policy must be refused")
    }
}
