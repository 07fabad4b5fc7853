// Finding a backup across the configured destinations: an id is taken from the first destination that holds it,
// `latest` is the newest backup on any of them (the first destination wins a tie). A destination that cannot be
// read is skipped as long as another one answers.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

public enum BackupLocator {
    /// The manifest `selector` (an id or `latest`) names, and the destination it was found on.
    public static func manifest(
        _ selector: String, in destinations: [OpenedDestination]
    ) async throws -> (destination: OpenedDestination, manifest: BackupManifest) {
        let located = try await locate(selector, in: destinations) {
            try await BackupSelector.resolve(selector, in: $0.repository)
        } date: { $0.createdAt.date }
        return (located.destination, located.found)
    }

    /// What a restore or drill reads for `selector`: by id, or the newest backup that is not known to be damaged.
    public static func restoreSource(_ selector: String = "latest", in destinations: [OpenedDestination]) async throws -> RestoreSource {
        try await locate(selector, in: destinations) { try await RestoreSource.resolve(selector, in: $0.repository) } date: {
            $0.createdAt ?? .distantPast
        }.found
    }

    private static func locate<Found: Sendable>(
        _ selector: String, in destinations: [OpenedDestination],
        _ find: (OpenedDestination) async throws -> Found, date: (Found) -> Date
    ) async throws -> (destination: OpenedDestination, found: Found) {
        var best: (destination: OpenedDestination, found: Found)?
        var firstError: (any Error)?
        for destination in destinations {
            do {
                let found = try await find(destination)
                if selector != "latest" { return (destination, found) }
                if best == nil || date(found) > date(best!.found) { best = (destination, found) }
            } catch {
                if firstError == nil { firstError = error }
            }
        }
        if let best { return best }
        throw firstError ?? NoBackupsError(store: "any destination")
    }
}
