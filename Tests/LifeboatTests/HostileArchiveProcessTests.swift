// Issue 15 as a process: the built `lifeboat decrypt` reads planted archives that used to abort it (SIGABRT, heap
// corruption in scrypt's error path) and must exit 65 with a message instead, leaving no file behind.

import Foundation
import Testing

@Suite("lifeboat decrypt on hostile archives (process)")
struct HostileArchiveProcessTests {
    /// The reproducer of issue 15: `LIFEBOAT 01 01 02 01`, chunk size 1 MiB, 40 random bytes (key id, salt),
    /// scrypt log2N / r / p, 32 random bytes (MAC).
    static func passphraseHeader(log2N: UInt8, r: UInt32, p: UInt32) -> [UInt8] {
        var out = Array("LIFEBOAT".utf8) + [0x01, 0x01, 0x02, 0x01, 0x00, 0x10, 0x00, 0x00]
        out += (0..<40).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        out.append(log2N)
        for value in [r, p] { out += [24, 16, 8, 0].map { UInt8(truncatingIfNeeded: value >> $0) } }
        out += (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 91 &+ 5) }
        return out
    }

    /// Runs `lifeboat decrypt --passphrase-env` on `archive` in a fresh directory and returns the result and what
    /// the directory holds afterwards besides the input.
    static func decrypt(_ archive: [UInt8]) async throws -> (ProcessResult, [String]) {
        let directory = NSTemporaryDirectory() + "lifeboat-hostile-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Data(archive).write(to: URL(fileURLWithPath: directory + "/c.lbk"))
        let result = try await runProcess(productsDirectory.appendingPathComponent("lifeboat"),
                                    ["decrypt", "--passphrase-env", "LIFEBOAT_HOSTILE_PW", "--input", directory + "/c.lbk",
                                     "--output", directory + "/o"],
                                    environment: ["LIFEBOAT_HOSTILE_PW": "x"])
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0 != "c.lbk" }
        return (result, left)
    }

    @Test("scrypt r = 1 with log2N 16...21 (RFC 7914 forbids it): exit 65, a malformed-header message, no output",
          arguments: Array(UInt8(16)...21))
    func rfc7914Header(log2N: UInt8) async throws {
        let (result, left) = try await Self.decrypt(Self.passphraseHeader(log2N: log2N, r: 1, p: 1))
        // 65 is EX_DATAERR; a process killed by a signal (the old SIGABRT) reports the signal number (<= 64) instead.
        #expect(result.status == 65, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("malformed archive header: scrypt parameters log2N=\(log2N) r=1 p=1"), "stderr: \(result.stderr)")
        #expect(result.stderr.contains("RFC 7914"), "stderr: \(result.stderr)")
        #expect(left.isEmpty, "left behind: \(left)")
    }

    @Test("the reproducer followed by junk, and a truncated one, also exit 65 without a signal")
    func variants() async throws {
        let header = Self.passphraseHeader(log2N: 20, r: 1, p: 1)
        for archive in [header + [UInt8](repeating: 0x41, count: 5000), Array(header.prefix(60))] {
            let (result, left) = try await Self.decrypt(archive)
            #expect(result.status == 65, "stderr: \(result.stderr)")
            #expect(result.stderr.contains("malformed archive header") || result.stderr.contains("truncated"),
                    "stderr: \(result.stderr)")
            #expect(left.isEmpty, "left behind: \(left)")
        }
    }

    @Test("a passphrase header inside the bounds runs scrypt and says the passphrase is wrong (exit 65)")
    func inBoundsHeader() async throws {
        let (result, left) = try await Self.decrypt(Self.passphraseHeader(log2N: 15, r: 1, p: 1))
        #expect(result.status == 65, "stderr: \(result.stderr)")
        #expect(result.stderr.contains("wrong passphrase"), "stderr: \(result.stderr)")
        #expect(left.isEmpty, "left behind: \(left)")
    }
}
