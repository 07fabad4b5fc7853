// The conditions of scripts/kubernetes/lifeboat-backup-cronjob.yaml (and a hardened systemd unit), as far as this
// machine allows: a non-root uid (setpriv), HOME that does not exist, no writable local directory, an S3-only
// configuration on moto, and the key file as Kubernetes mounts a Secret with fsGroup (mode 0440, group = a
// supplementary group of the process). World-readable keys are still refused.

import Foundation
import Testing
@testable import LifeboatArchive
@testable import LifeboatRepository
@testable import LifeboatS3

@Suite(.serialized) struct KubernetesConditionsTests {
    static let setpriv = "/usr/bin/setpriv"
    static var canSwitchUser: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: setpriv) }

    @Test func theSecretFileRuleAcceptsOnlyOurOwnGroupAndNeverOthers() throws {
        let directory = NSTemporaryDirectory() + "lifeboat-k8s-mode-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/backup.key"
        try ArchiveKey.generate().write(to: path)
        func load(mode: mode_t, group: gid_t = getegid()) -> Bool {
            chmod(path, mode)
            _ = chown(path, geteuid(), group)
            return (try? ArchiveKey.load(path: path)) != nil
        }
        #expect(load(mode: 0o600))
        #expect(load(mode: 0o400))
        #expect(load(mode: 0o440))         // fsGroup: group = our own group
        #expect(load(mode: 0o640))
        #expect(!load(mode: 0o444))        // world-readable: never
        #expect(!load(mode: 0o604))
        #expect(!load(mode: 0o460))        // group-writable: never
        #expect(!load(mode: 0o660))
        if geteuid() == 0 {
            // A group this process is not in: refused even at 0440.
            var other: gid_t = 54_321
            while SecretFileMode.isOwnGroup(other) { other += 1 }
            #expect(!load(mode: 0o440, group: other))
        }
        chmod(path, 0o444)
        #expect(throws: KeyFileError.self) { _ = try ArchiveKey.load(path: path) }
    }

    @Test(.enabled(if: canSwitchUser, "needs root and setpriv to run as another uid"))
    func aNonRootRunWithAnUnwritableHomeAndAGroupReadableKeyBacksUpToS3() async throws {
        let directory = NSTemporaryDirectory() + "lifeboat-k8s-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        chmod(directory, 0o755)
        let uid: uid_t = 10_001, fsGroup: gid_t = 10_001
        // The Secret volume: root-owned, group fsGroup, 0440, in a directory only root writes.
        let secrets = directory + "/secrets"
        try FileManager.default.createDirectory(atPath: secrets, withIntermediateDirectories: true)
        chmod(secrets, 0o755)
        let keyPath = secrets + "/backup.key"
        try ArchiveKey.generate().write(to: keyPath)
        _ = chown(keyPath, 0, fsGroup)
        chmod(keyPath, 0o440)
        let worldReadable = secrets + "/world.key"
        try ArchiveKey.generate().write(to: worldReadable)
        chmod(worldReadable, 0o444)
        try await S3TestEnvironment.with { s3 in
            func config(_ key: String) throws -> String {
                let path = directory + "/lifeboat-\(UUID().uuidString.prefix(6)).yaml"
                try """
                    keys:
                      key_files: [\(key)]
                    destinations:
                      - name: offsite
                        type: s3
                        endpoint: \(s3.endpoint)
                        bucket: \(s3.bucket)
                        prefix: k8s
                        path_style: true
                        access_key_id: env:LB_TEST_S3_KEY
                        secret_access_key: env:LB_TEST_S3_SECRET
                        retention:
                          keep_last: 3

                    """.write(toFile: path, atomically: true, encoding: .utf8)
                chmod(path, 0o644)
                return path
            }
            let good = try config(keyPath), open = try config(worldReadable)
            let snap = directory + "/vault.snap"
            try FileManager.default.copyItem(atPath: fixturesDirectory.appendingPathComponent("backup.snap").path, toPath: snap)
            chmod(snap, 0o644)
            func run(_ arguments: [String]) async throws -> ProcessResult {
                try await runProcess(URL(fileURLWithPath: Self.setpriv),
                               ["--reuid", String(uid), "--regid", String(uid), "--groups", String(fsGroup), "--",
                                productsDirectory.appendingPathComponent("lifeboat").path] + arguments,
                               environment: ["HOME": "/nonexistent", "LB_TEST_S3_KEY": "AKIAMOTOTESTKEY",
                                             "LB_TEST_S3_SECRET": "moto-test-secret"],
                               removing: ["LIFEBOAT_REPO", "LIFEBOAT_CONFIG", "XDG_STATE_HOME", "XDG_DATA_HOME"])
            }
            let imported = try await run(["import", snap, "--config", good, "--cluster", "prod"])
            #expect(imported.status == 0, "\(imported.stdout)\n\(imported.stderr)")
            #expect(!imported.stderr.contains("NSCocoaErrorDomain"), "\(imported.stderr)")
            let listed = try await run(["list", "--config", good])
            #expect(listed.status == 0, "\(listed.stderr)")
            let verified = try await run(["verify", "--latest", "--config", good])
            #expect(verified.status == 0, "\(verified.stderr)")
            let pruned = try await run(["prune", "--config", good])
            #expect(pruned.status == 0, "\(pruned.stderr)")
            // World-readable: refused with the configuration exit code and what to do.
            let refused = try await run(["import", snap, "--config", open])
            #expect(refused.status == 78, "\(refused.stderr)")
            #expect(refused.stderr.contains("chmod 600"), "\(refused.stderr)")
            // No lock or state was left anywhere local: the locks are objects in the bucket, and released.
            #expect(try await StoreLock.holders(in: try s3.makeStore(prefix: "k8s/")).isEmpty)
        }
    }
}
