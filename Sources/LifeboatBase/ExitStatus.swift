// Lifeboat's documented exit codes (README "Exit codes") and the mapping from errors to them.

import LifeboatArchive
import LifeboatSnapshot

/// Exit codes a cron line or a script can rely on. Values follow BSD sysexits where one fits.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    case success = 0
    /// Anything not covered below.
    case failure = 1
    /// A backup is stored on some destinations but not on all (the output names which hold it).
    case partial = 3
    /// Wrong flags or arguments.
    case usage = 64
    /// Data failed authentication or verification: wrong key, tampered, truncated or incomplete input.
    case dataError = 65
    /// `--only-if-leader`: the local Vault node is sealed, uninitialized or unreachable, or its cluster has no
    /// working active node (nothing proves another node backs up).
    case unavailable = 69
    /// Reading or writing a file failed: missing file, permission denied, disk full.
    case ioError = 74
    /// Another run holds the repository lock.
    case lockHeld = 75
    /// A configuration problem: bad config file, key file with open permissions, missing secret.
    case configuration = 78

    /// The exit code for an error raised by Lifeboat's libraries.
    public static func forError(_ error: any Error) -> ExitStatus {
        switch error {
        case is ArchiveError, is SnapshotError: return .dataError
        case is KeyFileError: return .configuration
        case is FileIOError: return .ioError
        case let coded as any ExitCodeProviding: return coded.exitStatus
        default: return .failure
        }
    }
}

/// Errors that know their exit code.
public protocol ExitCodeProviding: Error {
    var exitStatus: ExitStatus { get }
}
