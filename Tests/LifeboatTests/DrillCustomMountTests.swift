// A drill whose canary lives on a custom KV v2 mount (kv/prod/), enabled through sys/mounts as real clusters do:
// the mount table travels in the snapshot, so the scratch cluster serves the canary after the restore.

import Foundation
import LifeboatArchive
import NIOHTTP1
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
import VaultSim

@Suite("Drill with a canary on a custom mount (vault-sim)", .serialized)
struct DrillCustomMountTests {
    func post(_ f: RecoveryFixture, _ path: String, _ json: [String: Any]) async throws -> Int {
        var headers = HTTPHeaders()
        headers.add(name: "X-Vault-Token", value: f.rootToken.exposedValue)
        let address = try await f.leaderAddress
        let body = try JSONSerialization.data(withJSONObject: json)
        return try await f.client.transport.send(.POST, url: address + "/v1/" + path, headers: headers, body: Array(body),
                                                 timeout: .seconds(10), address: address, path: path).status
    }

    @Test("a drill reads a canary on kv/prod/ (a mount the backup carries) and fails on a missing one")
    func drillCanaryOnACustomMount() async throws {
        try await RecoveryFixture.with { f in
            #expect(try await post(f, "sys/mounts/kv/prod", ["type": "kv-v2"]) == 204)
            #expect(try await post(f, "kv/prod/data/lifeboat/canary/drill", ["data": ["value": "alive"]]) == 200)
            try await f.backup()
            let scratch = SimScratchCluster()
            let options = DrillOptions(scratch: scratch, unsealKeys: try f.keys(3), keyRing: KeyRing(keys: [f.archiveKey]),
                                       stateDirectory: f.directory + "/drill-state", reportDirectory: f.directory + "/drill-reports",
                                       canaries: [CanarySecret(mount: "kv/prod", path: "lifeboat/canary/drill", requiredKey: "value",
                                                               expectedValue: "alive"),
                                                  CanarySecret(mount: "kv/prod", path: "lifeboat/canary/never-written")],
                                       timeouts: .fast, originalToken: { f.rootToken })
            let report = try await DrillRunner(vault: f.vault, options: options)
                .run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(report.canaries.map(\.readable) == [true, false])
            #expect(!report.passed)
            #expect(report.reasons.count == 1)
            #expect(report.reasons.first?.contains("kv/prod/data/lifeboat/canary/never-written") == true, "\(report.reasons)")
            #expect(report.tornDown)
        }
    }
}
