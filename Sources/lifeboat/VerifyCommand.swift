// `lifeboat verify`: re-read stored backups, authenticate every chunk, re-verify the snapshot inside and its
// SHA-256 against the manifest; record the result in the manifest.

import ArgumentParser
import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Prove that stored backups still decrypt and restore: every byte is re-read and checked.",
        discussion: """
            Every configured destination is checked (or those named with --destination): each stored copy is re-read \
            from its destination. Exit 0 when every backup checked is ok, 65 when any is damaged (each is reported \
            with the reason). With --structure-only no key is needed (a host that only holds recipients' public \
            keys): the archive's header and the framing of every chunk are checked, nothing is decrypted or \
            authenticated, and no verification is recorded (docs/format.md §5.1). Each backup's Object Lock state is \
            reported where the destination has one.

            Example:
              lifeboat verify --latest --key-file /etc/lifeboat/backup.key
              lifeboat verify --all
              lifeboat verify --latest --destination offsite --config /etc/lifeboat/lifeboat.yaml
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

    @Flag(name: .customLong("structure-only"), help: "Check the archives' structure without a key: nothing is decrypted (docs/format.md §5.1).")
    var structureOnly = false

    struct Result: Encodable {
        var id: String
        var destination: String
        var ok: Bool
        var detail: String?
        /// The store's write-once lock on the backup now (`compliance until T`); nil when it is not locked.
        var lock: String?
    }

    func run() async throws {
        var results: [Result] = []
        var several = false
        var unreadable: [DestinationFailure] = []
        do {
            let context = try repository.context(secrets: secrets)
            let keyRing = structureOnly ? KeyRing() : try context.keyRing()
            try await context.withDestinations(create: false) { destinations in
                several = destinations.count > 1
                for destination in destinations {
                    // A shared lock for the whole check: prune cannot remove a backup while it is read, so a verdict
                    // is only ever recorded in a manifest that still exists.
                    let lock: (any DestinationLock)?
                    let manifests: [BackupManifest]
                    do {
                        lock = try await destination.readLock(operation: "verify")
                    } catch where several {
                        unreadable.append(DestinationFailure(destination: destination.name, error: error))
                        continue
                    }
                    do {
                        manifests = try await selection(on: destination, several: several)
                    } catch where several {
                        // An unreachable destination is not a damaged backup: report it and check the others.
                        await lock?.release()
                        unreadable.append(DestinationFailure(destination: destination.name, error: error))
                        continue
                    } catch {
                        await lock?.release()
                        throw error
                    }
                    do {
                        for manifest in manifests {
                            results.append(try await verify(manifest, on: destination, keyRing: keyRing))
                        }
                        await lock?.release()
                    } catch {
                        await lock?.release()
                        throw error
                    }
                }
            }
            if results.isEmpty, let id { throw ManifestError.backupNotFound(try BackupID(parsing: id), store: "any configured destination") }
        } catch {
            throw fail(error)
        }
        if json {
            try printJSON(results)
        } else {
            for result in results {
                let place = several ? "  (\(result.destination))" : ""
                let lock = result.lock.map { "  [object lock: \($0)]" } ?? ""
                print("\(result.ok ? "ok     " : "DAMAGED") \(result.id)\(place)\(lock)\(result.detail.map { ": \($0)" } ?? "")")
            }
        }
        if results.contains(where: { !$0.ok }) { throw ExitCode(ExitStatus.dataError.rawValue) }
        if !unreadable.isEmpty { throw fail(DestinationsUnreadableError(failures: unreadable)) }
    }

    /// The backups to check on `destination`. With several destinations, one that lacks an explicit id or has no
    /// backups yet is skipped.
    private func selection(on destination: OpenedDestination, several: Bool) async throws -> [BackupManifest] {
        if all { return try await destination.repository.list().backups }
        if several {
            if let id, id != "latest" {
                guard let manifest = try? await destination.repository.manifest(try BackupID(parsing: id)) else { return [] }
                return [manifest]
            }
            return try await destination.repository.list().backups.last.map { [$0] } ?? []
        }
        return [try await BackupSelector.resolve(id ?? "latest", in: destination.repository)]
    }

    /// Re-reads one backup completely and records the verdict in its manifest on that destination.
    private func verify(_ manifest: BackupManifest, on destination: OpenedDestination, keyRing: KeyRing) async throws -> Result {
        if structureOnly {
            var result: Result
            do {
                let records = try await BackupExporter.checkStructure(manifest, from: destination.repository)
                result = Result(id: manifest.id.rawValue, destination: destination.name, ok: true,
                                detail: "structure only: header and \(records) chunk records well formed (not decrypted)")
            } catch {
                result = Result(id: manifest.id.rawValue, destination: destination.name, ok: false, detail: "\(error)")
            }
            if let lock = try? await destination.repository.objectLock(of: manifest) {
                result.lock = lock.holds(at: Date()) ? lock.description : "expired (was \(lock.description))"
            }
            return result
        }
        let progress = TransferProgress.forTerminal(label: "verify \(manifest.id)", total: manifest.storedSize, enabled: !json)
        let store = progress.map { ProgressStore(destination.repository.store, progress: $0) } ?? destination.repository.store
        let record: BackupManifest.Verification
        let result: Result
        do {
            try await BackupExporter.read(manifest, from: BackupRepository(store: store), keyRing: keyRing)
            progress?.finish()
            record = .init(verifiedAt: ManifestTimestamp(date: Date(), timeZone: .current), result: .ok)
            result = Result(id: manifest.id.rawValue, destination: destination.name, ok: true, detail: nil)
        } catch let error as ArchiveError where error.isAboutTheSecret {
            progress?.finish()
            throw error  // the wrong key says nothing about the backup: record nothing
        } catch {
            progress?.finish()
            record = .init(verifiedAt: ManifestTimestamp(date: Date(), timeZone: .current), result: .damaged, detail: "\(error)")
            result = Result(id: manifest.id.rawValue, destination: destination.name, ok: false, detail: "\(error)")
        }
        _ = try? await destination.repository.recordVerification(record, for: manifest.id)
        var reported = result
        // Object Lock state as the store reports it now (HeadObject on S3); nothing on stores that cannot lock.
        if let lock = try? await destination.repository.objectLock(of: manifest) {
            reported.lock = lock.holds(at: Date()) ? lock.description : "expired (was \(lock.description))"
        }
        return reported
    }
}

extension ArchiveError {
    /// The secret given does not open the archive (as opposed to the archive being damaged).
    var isAboutTheSecret: Bool {
        switch self {
        case .wrongKey, .wrongPassphrase, .missingSecret, .wrongIdentity: return true
        default: return false
        }
    }
}
