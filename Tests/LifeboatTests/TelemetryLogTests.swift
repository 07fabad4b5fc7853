// Structured logs: human and JSON-lines formats, and the redaction rule: values under keys naming a token,
// secret, key or password never reach the output, nor do Vault tokens inside messages.

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
import Logging
import LifeboatArchive
import Testing

@Suite("Telemetry logs")
struct TelemetryLogTests {
    final class Capture: Sendable {
        private let lines = PThreadLocked<[String]>([])
        var all: [String] { lines.withLock { $0 } }
        func append(_ line: String) { lines.withLock { $0.append(line) } }
    }

    func logger(_ format: LogFormat, _ capture: Capture) -> Logger {
        Logger(label: "lifeboat.test") { label in
            LifeboatLogHandler(label: label, format: format, level: .debug, sink: { capture.append($0) })
        }
    }

    static let secrets = [
        "hvs.CAESIJ1secretvaulttokenvalue0123456789", "s3cr3t-approle-secret-id", "aes-key-material-base64==",
        "hunter2-password", "AKIAEXAMPLESECRETKEY", "unseal-share-1",
    ]

    func logEverything(_ logger: Logger) {
        logger.info("authenticated to vault with token hvs.CAESIJ1secretvaulttokenvalue0123456789 at leader", metadata: [
            "token": "hvs.CAESIJ1secretvaulttokenvalue0123456789",
            "secret_id": "s3cr3t-approle-secret-id",
            "encryptionKey": "aes-key-material-base64==",
            "password": "hunter2-password",
            "X-Vault-Token": "hvs.CAESIJ1secretvaulttokenvalue0123456789",
            "s3": ["secret_access_key": "AKIAEXAMPLESECRETKEY", "bucket": "backups"],
            "unseal_keys": ["unseal-share-1"],
            "destination": "local",
            "bytes": "1234",
        ])
    }

    @Test("JSON lines: one object per line with timestamp, level, message and metadata; secrets redacted",
          arguments: [LogFormat.json, .human])
    func redaction(format: LogFormat) throws {
        let capture = Capture()
        logEverything(logger(format, capture))
        let lines = capture.all
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasSuffix("\n"))
        for secret in Self.secrets {
            #expect(!line.contains(secret), "secret \(secret) leaked in \(format) log: \(line)")
        }
        #expect(line.contains("local"))
        #expect(line.contains("backups"))
        #expect(line.contains(LogRedaction.placeholder))
        if format == .json {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(object["level"] as? String == "info")
            #expect((object["message"] as? String)?.hasPrefix("authenticated to vault with token hvs.") == true)
            #expect((object["timestamp"] as? String)?.hasSuffix("Z") == true)
            let metadata = try #require(object["metadata"] as? [String: Any])
            #expect(metadata["destination"] as? String == "local")
            #expect(metadata["token"] as? String == LogRedaction.placeholder)
            #expect((metadata["s3"] as? [String: Any])?["bucket"] as? String == "backups")
        } else {
            #expect(line.contains(" info "))
            #expect(line.contains("destination=local"))
        }
    }

    @Test("sensitive key names", arguments: [
        ("token", true), ("vault_token", true), ("X-Vault-Token", true), ("secretID", true), ("secret_id", true),
        ("encryption.key", true), ("keys", true), ("password", true), ("db_passwd", true), ("Authorization", true),
        ("destination", false), ("bytes", false), ("job", false), ("monkey", false), ("keyboard", false),
        ("reason", false),
    ])
    func sensitiveKeys(key: String, sensitive: Bool) {
        #expect(LogRedaction.isSensitive(key: key) == sensitive)
    }

    @Test("error metadata and levels below the threshold")
    func levels() {
        let capture = Capture()
        var logger = logger(.json, capture)
        logger.logLevel = .warning
        logger.info("quiet")
        logger.warning("loud", metadata: ["job": "backup:local"])
        #expect(capture.all.count == 1)
        #expect(capture.all.first?.contains("\"job\":\"backup:local\"") == true)
    }
}
