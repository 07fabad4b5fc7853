// StoreObjectName: the grammar of object names every store accepts, so a name can never escape a local
// repository directory, collide with temporary files, or mean different things on different stores.

/// Rules for object names, shared by every ``BackupStore``.
///
/// A name is one or more segments separated by `/`; each segment is 1-255 characters from `A-Z a-z 0-9 . _ -`
/// and does not start with `.` (so `..`, hidden files and the `.lifeboat-tmp-` temporary names are never objects).
/// The whole name is at most 1024 bytes (S3's key limit).
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

public enum StoreObjectName {
    public static let maximumLength = 1024
    public static let maximumSegmentLength = 255

    /// True when `name` follows the rules.
    public static func isValid(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= maximumLength else { return false }
        var segmentLength = 0
        for byte in bytes {
            if byte == UInt8(ascii: "/") {
                guard segmentLength > 0 else { return false }
                segmentLength = 0
                continue
            }
            guard isAllowed(byte) else { return false }
            if segmentLength == 0 && byte == UInt8(ascii: ".") { return false }
            segmentLength += 1
            guard segmentLength <= maximumSegmentLength else { return false }
        }
        return segmentLength > 0
    }

    /// True when `prefix` can start a valid name: the empty prefix, or any run of allowed characters and `/` that does
    /// not itself break the rules (no `//`, no segment starting with `.`).
    public static func isValidPrefix(_ prefix: String) -> Bool {
        if prefix.isEmpty { return true }
        if prefix.hasSuffix("/") { return isValid(String(prefix.dropLast())) }
        return isValid(prefix)
    }

    /// Throws ``StoreError/Kind-swift.enum/invalidName`` unless `name` is valid.
    package static func validate(_ name: String, store: String, operation: String) throws {
        guard isValid(name) else {
            throw StoreError(.invalidName, store: store, operation: operation, object: "\"\(name)\"")
        }
    }

    /// Throws ``StoreError/Kind-swift.enum/invalidName`` unless `prefix` is a valid listing prefix.
    package static func validatePrefix(_ prefix: String, store: String) throws {
        guard isValidPrefix(prefix) else {
            throw StoreError(.invalidName, store: store, operation: "list", object: "prefix \"\(prefix)\"")
        }
    }

    private static func isAllowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }
}
