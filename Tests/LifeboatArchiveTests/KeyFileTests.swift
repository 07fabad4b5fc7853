// Key files: 0600 on write, never overwritten, refused when others can read them, parsed strictly.

import Foundation
import Testing
@testable import LifeboatArchive

@Suite struct KeyFileTests {
    @Test func generateWritesMode0600AndReloads() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/backup.key"
        let key = ArchiveKey.generate()
        try key.write(to: path)
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let loaded = try ArchiveKey.load(path: path)
        #expect(loaded.id == key.id)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("key id: \(key.idString)"))
    }

    @Test func refusesToOverwrite() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/backup.key"
        try ArchiveKey.generate().write(to: path)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(throws: KeyFileError.exists(path: path)) { try ArchiveKey.generate().write(to: path) }
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    /// 0640 is accepted only from one of the process's own groups (a Kubernetes Secret with fsGroup): with a foreign
    /// group it is refused like any mode others can read.
    @Test func groupReadableKeyFilesNeedTheProcessesGroup() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/backup.key"
        try ArchiveKey.generate().write(to: path)
        chmod(path, 0o640)
        _ = try ArchiveKey.load(path: path)
        if chown(path, getuid(), getgid() &+ 4242) == 0 {  // root can give the file a foreign group
            #expect(throws: KeyFileError.tooOpen(path: path, mode: 0o640)) { try ArchiveKey.load(path: path) }
        }
    }

    @Test(arguments: [0o644, 0o604, 0o660, 0o602])
    func refusesKeyFilesOthersCanAccess(mode: Int) throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/backup.key"
        try ArchiveKey.generate().write(to: path)
        chmod(path, mode_t(mode))
        let error = #expect(throws: KeyFileError.self) { try ArchiveKey.load(path: path) }
        #expect(error == .tooOpen(path: path, mode: UInt32(mode)))
        #expect(error?.description.contains("chmod 600") == true)
    }

    @Test func malformedKeyFilesAreRefused() throws {
        #expect(throws: KeyFileError.self) { try ArchiveKey.parse(fileContents: "lifeboat-key-1:abcd", path: "k") }
        #expect(throws: KeyFileError.self) { try ArchiveKey.parse(fileContents: "# only a comment\n", path: "k") }
        let hex = String(repeating: "ab", count: 32)
        #expect(throws: KeyFileError.self) {
            try ArchiveKey.parse(fileContents: "lifeboat-key-1:\(hex)\nlifeboat-key-1:\(hex)\n", path: "k")
        }
        #expect(throws: KeyFileError.self) { try ArchiveKey.parse(fileContents: "lifeboat-key-1:" + String(repeating: "zz", count: 32), path: "k") }
        let ok = try ArchiveKey.parse(fileContents: "# comment\n\nlifeboat-key-1:\(hex.uppercased())\n", path: "k")
        #expect(try ok.id == ArchiveKey(material: SecureBytes([UInt8](repeating: 0xab, count: 32))).id)
    }

    @Test func keyIDIsStableAndDistinguishesKeys() {
        #expect(testKey(1).id == testKey(1).id)
        #expect(testKey(1).id != testKey(2).id)
        #expect(testKey(1).id.count == 8)
    }

    @Test func passphraseFileFollowsTheSameRules() throws {
        let dir = try makeTemporaryDirectory()
        let path = dir + "/pass"
        FileManager.default.createFile(atPath: path, contents: Data("s3cret phrase\nignored\n".utf8), attributes: [.posixPermissions: 0o600])
        let passphrase = try PassphraseFile.load(path: path)
        #expect(passphrase.withUnsafeBytes { Array($0) } == Array("s3cret phrase".utf8))
        chmod(path, 0o644)
        #expect(throws: KeyFileError.self) { try PassphraseFile.load(path: path) }
    }

    @Test func secureBytesCompareInConstantTime() {
        #expect(SecureBytes([1, 2, 3]).constantTimeEquals(SecureBytes([1, 2, 3])))
        #expect(!SecureBytes([1, 2, 3]).constantTimeEquals(SecureBytes([1, 2, 4])))
        #expect(!SecureBytes([1, 2]).constantTimeEquals(SecureBytes([1, 2, 3])))
    }
}
