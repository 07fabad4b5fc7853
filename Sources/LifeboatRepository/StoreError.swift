// StoreError: the one error type every BackupStore throws, with the failing operation, the object and a hint
// that says what to do. Mapped to exit codes through ExitCodeProviding.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatRetention

/// A failure of a ``BackupStore`` operation.
///
/// Every store implementation (local directory, S3, in memory) maps its native failures onto these kinds, so the
/// callers (backup, prune, verify, the CLI) can act on `kind` without knowing which store they talk to.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible, ExitCodeProviding {
    /// What went wrong, independent of the store implementation.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// The object (or the store's directory/bucket) does not exist.
        case notFound = "not_found"
        /// A create-new commit found an object already published under that name.
        case alreadyExists = "already_exists"
        /// The store refused the operation: file permissions, a read-only file system, credentials or a bucket policy.
        case permissionDenied = "permission_denied"
        /// The disk or quota is full. The pending object was removed: nothing partial was kept.
        case noSpace = "no_space"
        /// The store could not be reached or answered with a temporary failure; retrying later may succeed.
        case unavailable = "unavailable"
        /// The object name is not valid (see ``StoreObjectName``).
        case invalidName = "invalid_name"
        /// The store's own structure is wrong: a path component is a file where a directory is expected, an
        /// object that is not a regular file, a size that does not match.
        case corrupt = "corrupt"
        /// Any other I/O failure; `detail` carries the system's reason.
        case ioFailure = "io_failure"
        /// A conditional replace found the object changed (or gone) since its version was read; nothing was written.
        case changed = "changed"
    }

    /// What went wrong.
    public let kind: Kind
    /// The store, as ``BackupStore/displayName`` describes it (e.g. `local directory /var/lib/lifeboat`).
    public let store: String
    /// The operation that failed (`create`, `write`, `commit`, `read`, `stat`, `list`, `delete`, `cleanup`, `open`).
    public let operation: String
    /// The object name or path concerned, when there is one.
    public let object: String?
    /// The underlying reason (e.g. the system's `strerror` text or the server's message).
    public let detail: String

    public init(_ kind: Kind, store: String, operation: String, object: String? = nil, detail: String = "") {
        self.kind = kind
        self.store = store
        self.operation = operation
        self.object = object
        self.detail = detail
    }

    /// What the operator should do next.
    public var hint: String {
        switch kind {
        case .notFound: return "check the name and the repository path"
        case .alreadyExists: return "an object with that name was already stored; nothing was replaced"
        case .permissionDenied: return "check ownership, permissions and that the file system is writable (or the credentials)"
        case .noSpace: return "free space on that file system; nothing partial was kept"
        case .unavailable: return "the store could not be reached; retry later"
        case .invalidName: return "object names are '/'-separated segments of letters, digits, '.', '_' and '-', not starting with '.'"
        case .corrupt: return "the repository's layout is damaged; inspect it by hand"
        case .ioFailure: return "see the system error above"
        case .changed: return "another run changed the object meanwhile; nothing was replaced"
        }
    }

    public var description: String {
        var text = "\(store): \(operation)"
        if let object { text += " \(object)" }
        text += " failed: "
        switch kind {
        case .notFound: text += "not found"
        case .alreadyExists: text += "already exists"
        case .permissionDenied: text += "permission denied"
        case .noSpace: text += "no space left"
        case .unavailable: text += "store unavailable"
        case .invalidName: text += "invalid object name"
        case .corrupt: text += "unexpected repository layout"
        case .ioFailure: text += "I/O error"
        case .changed: text += "changed since it was read"
        }
        if !detail.isEmpty { text += " (\(detail))" }
        return text + "; " + hint
    }

    /// Every store failure is an I/O failure for the exit code (74), so cron and scripts see one code.
    public var exitStatus: ExitStatus { .ioError }

    /// Maps a POSIX errno to a store error.
    public static func posix(_ code: Int32, store: String, operation: String, object: String?) -> StoreError {
        let reason = String(cString: strerror(code))
        let kind: Kind
        switch code {
        case ENOENT: kind = .notFound
        case EEXIST: kind = .alreadyExists
        case EACCES, EPERM, EROFS: kind = .permissionDenied
        case ENOSPC, EDQUOT: kind = .noSpace
        case ENOTDIR, EISDIR: kind = .corrupt
        case EIO, ENXIO, ESTALE, ETIMEDOUT, EHOSTDOWN, EHOSTUNREACH, ENETDOWN, ENETUNREACH: kind = .unavailable
        default: kind = .ioFailure
        }
        return StoreError(kind, store: store, operation: operation, object: object, detail: reason)
    }

    /// Maps a `FileIOError` raised by LifeboatArchive's file helpers.
    static func file(_ error: FileIOError, store: String, operation: String, object: String?) -> StoreError {
        posix(error.code, store: store, operation: operation, object: object)
    }
}
