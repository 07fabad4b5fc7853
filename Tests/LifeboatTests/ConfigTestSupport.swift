// Helpers for the configuration tests: a loader with an injected environment, temporary directories with secret
// files of chosen modes, and the complete example configuration (the same one docs/configuration.md annotates).

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

enum ConfigTestSupport {
    /// A loader that sees only `environment` (HOME=/home/op unless given) and runs in `/work/cfg` as a non-root user.
    static func loader(_ environment: [String: String] = [:], currentDirectory: String = "/work/cfg", isRoot: Bool = false)
        -> ConfigurationLoader
    {
        var env = environment
        if env["HOME"] == nil { env["HOME"] = "/home/op" }
        return ConfigurationLoader(environment: env, currentDirectory: currentDirectory, isRoot: isRoot)
    }

    /// Loads `yaml` as `lifeboat.yaml`; records a test issue and returns nil if it fails.
    static func load(
        _ yaml: String, environment: [String: String] = [:], overrides: ConfigurationOverrides = ConfigurationOverrides(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> LoadedConfiguration? {
        do {
            return try loader(environment).load(yaml: yaml, file: "lifeboat.yaml", overrides: overrides)
        } catch {
            Issue.record("configuration did not load: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// The errors of loading `yaml` as `lifeboat.yaml` (empty if it loads).
    static func errors(
        _ yaml: String, environment: [String: String] = [:], overrides: ConfigurationOverrides = ConfigurationOverrides()
    ) -> [ConfigurationIssue] {
        loader(environment).evaluate(yaml: yaml, file: "lifeboat.yaml", fileSource: "test", overrides: overrides).errors
    }

    /// A fresh temporary directory, removed by the caller with `cleanup`.
    static func temporaryDirectory() throws -> String {
        let path = NSTemporaryDirectory() + "lifeboat-config-tests-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func cleanup(_ path: String) {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// Writes `contents` to `path` with permission bits `mode`.
    static func write(_ contents: String, to path: String, mode: Int) throws {
        try Data(contents.utf8).write(to: URL(fileURLWithPath: path))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// The complete example: every section, two destinations, secrets by reference only.
    static let fullExample = """
        version: 1
        vault:
          address: https://vault-1.example.com:8200
          addresses: [https://vault-2.example.com:8200, https://vault-3.example.com:8200]
          namespace: ops
          openbao: false
          tls:
            ca_cert: /etc/lifeboat/vault-ca.pem
            server_name: vault.example.com
          auth:
            method: approle
            role_id: file:/etc/lifeboat/role-id
            secret_id: env:LIFEBOAT_SECRET_ID
            mount: ops/approle
          timeouts:
            request: 30s
            snapshot: 2h
            stall: 90s
        keys:
          key_files: [/etc/lifeboat/backup-2025.key, /etc/lifeboat/backup-2024.key]
        destinations:
          - name: local
            type: local
            path: /var/lib/lifeboat/repository
            schedule: "@hourly"
            retention:
              keep_last: 3
              keep_hourly: 24
              keep_daily: 7
              keep_weekly: 4
              keep_monthly: 12
              keep_yearly: unlimited
              keep_within: 2d
              keep_tags: [pre-upgrade, "weekly,verified"]
          - name: offsite
            type: s3
            endpoint: https://minio.example.com:9000
            region: eu-central-1
            bucket: vault-backups
            prefix: prod/vault
            path_style: true
            ca_cert: /etc/lifeboat/minio-ca.pem
            access_key_id: env:LIFEBOAT_S3_ACCESS_KEY
            secret_access_key: file:/etc/lifeboat/s3-secret
            sse:
              type: aws:kms
              kms_key_id: alias/lifeboat
            schedule: "0 3 * * *"
            retention:
              keep_daily: 14
              keep_monthly: 6
              keep_within_daily: 30d
        backup:
          compression: true
          chunk_size: 4MiB
          tags: [scheduled]
          only_if_leader: true
        agent:
          listen: 127.0.0.1:9731
          schedules:
            backup: "@hourly"
            verify: "30 4 * * *"
            drill: "0 5 * * 0"
          time_zone: Europe/Berlin
          jitter: 2m
          log_format: json
          state_file: /var/lib/lifeboat/agent-state.json
          health_max_age: 3h
          shutdown_grace_period: 2m
        notifications:
          webhooks:
            - url: env:LIFEBOAT_SLACK_URL
              format: slack
              on: [failure, recovery]
            - url: https://alerts.example.com/hooks/lifeboat
              on: [failure, recovery, success]
              timeout: 5s
              retries: 5
        restore:
          nodes:
            - {name: vault-1, api_addr: "https://vault-1.example.com:8200"}
            - {name: vault-2, api_addr: "https://vault-2.example.com:8200"}
            - {name: vault-3, api_addr: "https://vault-3.example.com:8200"}
          hooks:
            reset_all:
              - [docker, compose, -f, /srv/vault/compose.yaml, down]
              - [sh, -c, "rm -rf /srv/vault/data/vault-*/raft"]
            wipe_node: [sh, -c, "rm -rf /srv/vault/data/{node}/raft"]
            start: [[docker, compose, -f, /srv/vault/compose.yaml, up, -d, "{node}"]]
            timeout: 5m
          unseal_keys_file: /etc/lifeboat/unseal-keys.json
          canaries:
            - path: secret/data/lifeboat/canary
              fields: {value: alive, owner: null}
        drill:
          nodes:
            - {name: drill-1, api_addr: "http://127.0.0.1:18200"}
          hooks:
            create: [[docker, compose, -p, lifeboat-drill, up, -d]]
            destroy: [[docker, compose, -p, lifeboat-drill, down, -v]]
          canaries:
            - path: secret/data/lifeboat/canary
              fields: [value]
          report_directory: /var/lib/lifeboat/drills
        """
}
