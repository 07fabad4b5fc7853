// `object_lock` through the CLI, as processes against vault-sim and moto: `config check --connect` and `backup` refuse a
// bucket without Object Lock and say how to enable it; on a locked bucket every backup is locked, `prune` keeps a
// backup its policy would remove with "locked until T", and `verify` reports each backup's lock.

import Foundation
import Testing
@testable import LifeboatS3

@Suite(.serialized) struct ObjectLockEndToEndTests {
    @Test func lockedDestinationThroughTheCLI() async throws {
        let sim = try await VaultSimProcess.start()
        defer { sim.stop() }
        let workspace = try await E2EWorkspace()
        defer { workspace.remove() }
        let helper = DestinationsEndToEndTests()
        try await S3TestEnvironment.with { s3 in
            let locked = s3.bucket + "-locked"
            try await s3.makeStore(direct: true, retry: .none, bucket: locked).client.createBucket(region: "us-east-1", objectLockEnabled: true)
            func destination(_ bucket: String) -> String {
                """
                  - name: offsite
                    type: s3
                    endpoint: \(s3.endpoint)
                    bucket: \(bucket)
                    path_style: true
                    access_key_id: env:LB_TEST_S3_KEY
                    secret_access_key: env:LB_TEST_S3_SECRET
                    object_lock: {mode: compliance, days: 1}
                    retention:
                      keep_last: 1
                """
            }
            let env = helper.environment(sim)

            // A bucket without Object Lock: refused before anything is written, with the fix.
            let plain = try helper.writeConfiguration(workspace, sim: sim, destinations: destination(s3.bucket), name: "plain.yaml")
            let check = try await lifeboat(["config", "check", "--connect", "--config", plain], environment: env)
            #expect(check.status != 0)
            #expect(check.stdout.contains("does not have Object Lock enabled"), "\(check.stdout) \(check.stderr)")
            let refused = try await lifeboat(["backup", "--config", plain], environment: env)
            #expect(refused.status != 0)
            #expect((refused.stdout + refused.stderr).contains("--object-lock-enabled-for-bucket"), "\(refused.stdout) \(refused.stderr)")
            #expect(try await s3.makeStore(direct: true, prefix: "", bucket: s3.bucket).list(prefix: "manifests/").isEmpty)

            // A locked bucket: two backups; keep_last 1 would remove the first, the lock keeps it.
            let config = try helper.writeConfiguration(workspace, sim: sim, destinations: destination(locked), name: "locked.yaml")
            let connected = try await lifeboat(["config", "check", "--connect", "--config", config], environment: env)
            #expect(connected.stdout.contains("versioning and Object Lock are enabled"), "\(connected.stdout) \(connected.stderr)")
            for run in 1...2 {
                let backup = try await lifeboat(["backup", "--config", config], environment: env)
                #expect(backup.status == 0, "run \(run): \(backup.stderr)")
            }
            let prune = try await lifeboat(["prune", "--config", config], environment: env)
            #expect(prune.status == 0, "\(prune.stderr)")
            #expect(prune.stdout.contains("locked until"), "\(prune.stdout)")
            #expect(prune.stdout.contains("removed 0 of 2"), "\(prune.stdout)")
            let verify = try await lifeboat(["verify", "--all", "--config", config], environment: env)
            #expect(verify.status == 0, "\(verify.stderr)")
            let lines = verify.stdout.split(separator: "\n").filter { $0.hasPrefix("ok") }
            #expect(lines.count == 2, "\(verify.stdout)")
            #expect(lines.allSatisfy { $0.contains("[object lock: compliance until ") }, "\(verify.stdout)")
        }
    }
}
