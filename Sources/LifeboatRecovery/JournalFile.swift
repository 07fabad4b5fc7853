// JournalFile: how a journaled run (restore, the incident recoveries) keeps its journal: one small JSON file in the
// state directory, mode 0600, replaced atomically (temporary file, fsync, rename) after every change; a file from a
// newer Lifeboat or one that does not decode is refused with a message saying what to do. Journals never hold a key
// or a token.

import Foundation
import LifeboatArchive
import LifeboatBase

/// A journal's file: reading and writing it, shared by ``RestoreJournal`` and ``IncidentJournal``.
enum JournalFile {
    /// Decodes the journal at `path`; nil when there is none.
    /// - Parameters:
    ///   - what: the journal's name in messages, e.g. `restore journal`.
    ///   - startAgain: what the operator does when the file is unusable, e.g. `start the restore again without --resume`.
    static func load<T: Decodable>(_ type: T.Type, path: String, what: String, startAgain: String, currentVersion: Int,
                                   version: (T) -> Int) throws -> T? {
        guard let data = FileManager.default.contents(atPath: path) else {
            if FileManager.default.fileExists(atPath: path) {
                throw RecoveryError(.journal, "cannot read the \(what) \(path): check its permissions")
            }
            return nil
        }
        let value: T
        do {
            value = try decoder.decode(T.self, from: data)
        } catch {
            throw RecoveryError(.journal, "the \(what) \(path) is unreadable (\(error)); move it away and \(startAgain)")
        }
        guard version(value) <= currentVersion else {
            throw RecoveryError(.journal, "the \(what) \(path) was written by a newer Lifeboat (version \(version(value))); resume with that version")
        }
        return value
    }

    /// Writes `value` to `stateDirectory/fileName` atomically with mode 0600.
    static func save<T: Encodable>(_ value: T, stateDirectory: String, fileName: String, what: String) throws {
        try SnapshotStager.makePrivateDirectory(stateDirectory)
        do {
            let writer = try AtomicFileWriter(path: stateDirectory + "/" + fileName, mode: 0o600)
            try writer.write(try OutputJSON.encode(value))
            try writer.commit()
        } catch {
            throw RecoveryError(.journal, "cannot write the \(what) in \(stateDirectory): \(error)")
        }
    }

    static var decoder: JSONDecoder {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .iso8601
        return d
    }
}
