// Errors about manifests and backup ids: unreadable or future-version manifests, malformed ids, missing backups.

/// A manifest or backup id problem.
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

public enum ManifestError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    /// The text is not a backup id.
    case invalidBackupID(String)
    /// The manifest is not valid JSON or lacks a required field.
    case unreadable(object: String, reason: String)
    /// The manifest was written by a newer Lifeboat.
    case unsupportedVersion(object: String, version: Int, supported: Int)
    /// No manifest exists for the id.
    case backupNotFound(BackupID, store: String)
    /// The manifest names a data object that does not belong to its id, or sizes that contradict the stored object.
    case inconsistent(object: String, reason: String)

    public var description: String {
        switch self {
        case .invalidBackupID(let text):
            return "\"\(text)\" is not a backup id; ids look like 20261128T231500Z-7f3a (see `lifeboat list`)"
        case .unreadable(let object, let reason):
            return "manifest \(object) is unreadable: \(reason); the backup cannot be used until it is repaired or removed"
        case .unsupportedVersion(let object, let version, let supported):
            return "manifest \(object) has manifest_version \(version), this Lifeboat reads up to \(supported); upgrade Lifeboat to use it"
        case .backupNotFound(let id, let store):
            return "no backup \(id) in \(store); run `lifeboat list` to see the backups there"
        case .inconsistent(let object, let reason):
            return "manifest \(object) is inconsistent: \(reason)"
        }
    }

    public var exitStatus: ExitStatus {
        switch self {
        case .invalidBackupID: return .usage
        case .backupNotFound: return .failure
        case .unreadable, .unsupportedVersion, .inconsistent: return .dataError
        }
    }
}
