// `drill --scenario node-loss|quorum-loss`: after restoring into a scratch simulator, the drill causes the incident,
// checks that doctor classifies it and names the recovery, runs that recovery, and checks the cluster is healthy
// and the canary readable again.

import Foundation
import LifeboatArchive
import Testing
@testable import LifeboatRecovery
@testable import LifeboatVault
import LifeboatTesting
import VaultSim

@Suite("Drill scenarios (vault-sim)", .serialized)
struct DrillScenarioTests {
    @Test(arguments: [DrillScenario.nodeLoss, .quorumLoss])
    func scenarioIsRehearsed(_ scenario: DrillScenario) async throws {
        try await RecoveryFixture.with { f in
            try await f.writeSecret("lifeboat/canary/prod", ["value": "alive"])
            try await f.backup()
            let scratch = SimScratchCluster()
            let token = f.rootToken
            var options = DrillOptions(scratch: scratch, unsealKeys: try f.keys(3), keyRing: KeyRing(keys: [f.archiveKey]),
                                       stateDirectory: f.directory + "/drill-state", reportDirectory: f.directory + "/drill-reports",
                                       canaries: [CanarySecret(path: "lifeboat/canary/prod")], timeouts: .fast, originalToken: { token })
            options.scenario = scenario
            let report = try await DrillRunner(vault: f.vault, options: options).run(try await RestoreSource.resolve("latest", in: f.repository))
            #expect(report.passed, "reasons: \(report.reasons)")
            #expect(report.scenario == scenario)
            let expected = scenario == .nodeLoss ? "nodes-down -> lifeboat recover node vault_3" : "quorum-lost -> lifeboat recover quorum"
            #expect(report.diagnosed?.hasPrefix(expected) == true, "\(report.diagnosed ?? "nil")")
            #expect(report.recoverySteps?.last == "verify")
            #expect(report.markdown().contains("| Scenario | \(scenario.rawValue)"))
            #expect(report.tornDown)
            #expect(f.allUnsealed, "production is never touched")
        }
    }
}
