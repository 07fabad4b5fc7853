// VaultSecret: a string that must never be printed (tokens, secret ids). Its description, debug description
// and mirror are redacted, so interpolating it into a log line or dumping a configuration shows no secret.

import Foundation
import LifeboatSnapshot

/// A secret string (a Vault token, an AppRole secret id). Printing it in any way shows `<redacted>`.
public struct VaultSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; only for putting it on the wire (a header or a request body).
    public let exposedValue: String

    /// Wraps a secret value (surrounding whitespace, as in a token file, is removed).
    public init(_ value: String) {
        exposedValue = value.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// True when the secret is the empty string.
    public var isEmpty: Bool { exposedValue.isEmpty }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "VaultSecret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
