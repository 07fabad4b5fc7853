// Every way reading or writing a Lifeboat archive can fail, each with its own message and fix.

/// A Lifeboat archive could not be read or written. Every case says what happened and what to do.
public enum ArchiveError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input does not start with Lifeboat's magic bytes.
    case notAnArchive
    /// The header names a format version this build cannot read.
    case unsupportedVersion(UInt8)
    /// The header names an algorithm this build does not implement.
    case unsupportedAlgorithm(field: String, value: UInt8)
    /// The header's fields are out of range.
    case malformedHeader(String)
    /// None of the configured keys has the key id the archive was written with.
    case wrongKey(archiveKeyID: String, configuredKeyIDs: [String])
    /// The archive was written with a passphrase and the passphrase given is not it.
    case wrongPassphrase
    /// The archive needs a passphrase (or a key file) that was not supplied.
    case missingSecret(String)
    /// The archive is encrypted to X25519 recipients and none of the configured identities is one of them.
    case wrongIdentity(archiveRecipients: [String], configuredRecipients: [String])
    /// The stanza for a configured identity does not authenticate: the header was changed.
    case recipientStanzaAuthenticationFailed(recipient: String)
    /// The header's MAC does not verify: a header byte was changed.
    case headerAuthenticationFailed
    /// The input ended before the final chunk.
    case truncated(offset: UInt64, detail: String)
    /// Bytes follow the final chunk.
    case trailingData(offset: UInt64)
    /// A chunk carries another position than the one it was read at.
    case chunkOutOfOrder(expected: UInt64, found: UInt64, offset: UInt64)
    /// A chunk belongs to another archive.
    case chunkFromAnotherArchive(index: UInt64, offset: UInt64)
    /// A chunk's ciphertext or framing does not authenticate.
    case chunkAuthenticationFailed(index: UInt64, offset: UInt64)
    /// A chunk's framing is impossible for this header (bad flags or length).
    case malformedChunk(index: UInt64, offset: UInt64, detail: String)

    public var description: String {
        switch self {
        case .notAnArchive:
            return "not a Lifeboat archive (the magic bytes are missing); check that the file is a Lifeboat backup object"
        case .unsupportedVersion(let version):
            return "unsupported archive format version \(version) (this Lifeboat reads version \(ArchiveHeader.currentVersion)); use a newer Lifeboat"
        case .unsupportedAlgorithm(let field, let value):
            return "unsupported \(field) id \(value) in the archive header; use a newer Lifeboat or check the file"
        case .malformedHeader(let detail):
            return "malformed archive header: \(detail); the file is damaged"
        case .wrongKey(let id, let configured):
            let have = configured.isEmpty ? "none" : configured.joined(separator: ", ")
            return "wrong key: the archive was encrypted with key id \(id), but the configured keys are \(have); supply the key file with id \(id)"
        case .wrongPassphrase:
            return "wrong passphrase: the archive was encrypted with a different passphrase; supply the passphrase used at backup time"
        case .missingSecret(let what):
            return "the archive was encrypted with \(what); supply it"
        case .wrongIdentity(let recipients, let configured):
            return "wrong identity: the archive is encrypted to recipients \(recipients.joined(separator: ", ")), but the configured "
                + "identities are for \(configured.joined(separator: ", ")); supply the identity file of one of those recipients"
        case .recipientStanzaAuthenticationFailed(let recipient):
            return "the archive header's stanza for recipient \(recipient) failed authentication (tampering or corruption); use another copy of this backup"
        case .headerAuthenticationFailed:
            return "archive header failed authentication: a header byte was changed (tampering or corruption); use another copy of this backup"
        case .truncated(let offset, let detail):
            return "archive is truncated at byte \(offset): \(detail); the copy is incomplete, use another copy of this backup"
        case .trailingData(let offset):
            return "unexpected data after the final chunk at byte \(offset): the file was appended to; use another copy of this backup"
        case .chunkOutOfOrder(let expected, let found, let offset):
            let what = found < expected ? "duplicated" : "reordered or missing"
            return "chunk \(expected) at byte \(offset) is chunk \(found) (\(what) chunks): the file was rearranged; use another copy of this backup"
        case .chunkFromAnotherArchive(let index, let offset):
            return "chunk \(index) at byte \(offset) belongs to another archive (spliced files); use another copy of this backup"
        case .chunkAuthenticationFailed(let index, let offset):
            return "chunk \(index) at byte \(offset) failed authentication (corrupted or tampered data); use another copy of this backup"
        case .malformedChunk(let index, let offset, let detail):
            return "chunk \(index) at byte \(offset) is malformed: \(detail); the file is damaged"
        }
    }
}
