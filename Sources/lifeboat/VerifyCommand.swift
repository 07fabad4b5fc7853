// `lifeboat verify`: re-read stored backups, authenticate every chunk, re-verify the snapshot inside and its
// SHA-256 against the manifest; record the result in the manifest.

import ArgumentParser
import Foundation
import LifeboatArchive
import LifeboatCore

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove that stored backups still decrypt and restore: every byte is re-read and checked.",
        discussion: """
            Exit 0 when every backup checked is ok, 65 when any is damaged (each is reported with the reason).

            Example:
              lifeboat verify --latest --key-file /etc/lifeboat/backup.key
              lifeboat verify --all
            """
    )

    @OptionGroup var repository: RepositoryOptions
    @OptionGroup var secrets: SecretOptions

    @Argument(help: ArgumentHelp("A backup id (default: --latest).", valueName: "id"))
    var id: String?

    @Flag(help: "Verify the newest backup.")
    var latest = false

    @Flag(help: "Verify every backup.")
    var all = false

    @Flag(help: "Print the results as JSON.")
    var json = false

    struct Result: Encodable {
        var id: String
        var ok: Bool
        var detail: String?
    }

    func run() async throws {
        var results: [Result] = []
        do {
            let repo = try repository.open(create: false)
            let keyRing = try secrets.keyRing()
            let manifests: [BackupManifest]
            if all {
                manifests = try await repo.list().backups
            } else {
                manifests = [try await BackupSelector.resolve(id ?? "latest", in: repo)]
            }
            for manifest in manifests {
                var record: BackupManifest.Verification
                do {
                    try await BackupExporter.read(manifest, from: repo, keyRing: keyRing)
                    record = .init(verifiedAt: ManifestTimestamp(date: Date(), timeZone: .current), result: .ok)
                    results.append(Result(id: manifest.id.rawValue, ok: true, detail: nil))
                } catch let error as ArchiveError where error.isAboutTheSecret {
                    throw error  // the wrong key says nothing about the backup: record nothing
                } catch {
                    record = .init(verifiedAt: ManifestTimestamp(date: Date(), timeZone: .current), result: .damaged, detail: "\(error)")
                    results.append(Result(id: manifest.id.rawValue, ok: false, detail: "\(error)"))
                }
                _ = try? await repo.recordVerification(record, for: manifest.id)
            }
        } catch {
            throw fail(error)
        }
        if json {
            try printJSON(results)
        } else {
            for result in results { print("\(result.ok ? "ok     " : "DAMAGED") \(result.id)\(result.detail.map { ": \($0)" } ?? "")") }
        }
        if results.contains(where: { !$0.ok }) { throw ExitCode(ExitStatus.dataError.rawValue) }
    }
}

extension ArchiveError {
    /// The secret given does not open the archive (as opposed to the archive being damaged).
    var isAboutTheSecret: Bool {
        switch self {
        case .wrongKey, .wrongPassphrase, .missingSecret: return true
        default: return false
        }
    }
}
