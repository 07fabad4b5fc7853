// Every way a snapshot can be broken fails with its own check, and truncation never passes.

import LifeboatArchive
@testable import LifeboatSnapshot
import Testing

@Suite("SnapshotVerifier rejects broken snapshots")
struct SnapshotVerifierNegativeTests {
    typealias Check = SnapshotError.Check

    private func expectFailure(_ bytes: [UInt8], _ check: Check, containing text: String? = nil,
                               sourceLocation: SourceLocation = #_sourceLocation) {
        switch SnapshotBytes.verify(bytes) {
        case .success:
            Issue.record("a broken snapshot verified successfully", sourceLocation: sourceLocation)
        case .failure(let error):
            #expect(error.kind == check, "\(error)", sourceLocation: sourceLocation)
            if let text {
                #expect(error.detail.contains(text), "\(error.detail)", sourceLocation: sourceLocation)
            }
        }
    }

    private func rebuilt(_ parts: [TarPart], endBlocks: Int = 2) throws -> [UInt8] {
        try SnapshotBytes.gzip(SnapshotBytes.tar(parts, endBlocks: endBlocks))
    }

    @Test("the untouched fixture tar, re-gzipped, still verifies (control for the cases below)")
    func control() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        let summary = try SnapshotVerifier.verify(try rebuilt(parts))
        #expect(summary.entryCount == 30)
    }

    @Test("empty input")
    func emptyInput() throws {
        expectFailure([], .emptySnapshot, containing: "empty snapshot")
        var verifier = try SnapshotVerifier()
        try verifier.consume([UInt8]())
        #expect(throws: SnapshotError.self) { try verifier.finish() }
    }

    @Test("not gzip at all (a JSON error page)")
    func notGzip() {
        expectFailure(Array(#"{"errors":["permission denied"]}"#.utf8), .gzip, containing: "not a gzip stream")
    }

    @Test("corrupt gzip: CRC32 trailer and deflate data")
    func badGzip() throws {
        var crc = try Fixture.backup.bytes
        crc[crc.count - 6] ^= 0xff
        expectFailure(crc, .gzip)
        var isize = try Fixture.backup.bytes
        isize[isize.count - 2] ^= 0x01
        expectFailure(isize, .gzip)
        var header = try Fixture.backup.bytes
        header[2] = 0x07  // compression method other than deflate
        expectFailure(header, .gzip)
    }

    @Test("a flipped byte in state.bin fails the SHA256SUMS check")
    func flippedStateByte() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        // Byte 20 of state.bin is inside core/audit's 90-byte value: framing stays valid, the hash does not.
        parts[1].data[20] ^= 0x01
        expectFailure(try rebuilt(parts), .hashMismatch, containing: "hash check failed for \"state.bin\"")
    }

    @Test("a changed meta.json without new sums fails the SHA256SUMS check")
    func changedMeta() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        let text = String(decoding: parts[0].data, as: UTF8.self).replacingOccurrences(of: "\"Term\":3", with: "\"Term\":4")
        parts[0].data = Array(text.utf8)
        expectFailure(try rebuilt(parts), .hashMismatch, containing: "meta.json")
    }

    @Test("stream cut after SHA256SUMS (leader died): incomplete, SHA256SUMS.sealed missing")
    func missingSealedTruncated() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        let tar = SnapshotBytes.tar(Array(parts.prefix(3)), endBlocks: 0)
        expectFailure(try SnapshotBytes.gzip(tar, finish: false), .truncated, containing: "SHA256SUMS.sealed missing")
    }

    @Test("complete archive without SHA256SUMS.sealed")
    func missingSealedComplete() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        expectFailure(try rebuilt(Array(parts.prefix(3))), .sealedHashes, containing: "incomplete snapshot: SHA256SUMS.sealed missing")
        expectFailure(try rebuilt(Array(parts.prefix(3)), endBlocks: 0), .sealedHashes, containing: "SHA256SUMS.sealed missing")
    }

    @Test("empty SHA256SUMS.sealed")
    func emptySealed() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        parts[3].data = []
        expectFailure(try rebuilt(parts), .sealedHashes, containing: "empty")
    }

    @Test("an extra member after SHA256SUMS.sealed")
    func extraMember() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        expectFailure(try rebuilt(parts + [TarPart(name: "nope", data: Array("x".utf8))]), .tarMember, containing: "\"nope\"")
    }

    @Test("an unexpected member in place of a known one, and a ./-prefixed name")
    func unexpectedMember() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        parts[2].name = "SHA256SUMS.txt"
        expectFailure(try rebuilt(parts), .tarMember, containing: "unexpected file \"SHA256SUMS.txt\"")
        var dotted = try SnapshotBytes.fixtureParts(.backup)
        dotted[0].name = "./meta.json"
        expectFailure(try rebuilt(dotted), .tarMember, containing: "./meta.json")
    }

    @Test("members in the wrong order, and a duplicate")
    func wrongOrder() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        expectFailure(try rebuilt([parts[1], parts[0], parts[2], parts[3]]), .tarMember, containing: "in that order")
        expectFailure(try rebuilt([parts[0], parts[0], parts[1], parts[2], parts[3]]), .tarMember, containing: "appears twice")
    }

    @Test("a non-regular member (directory)")
    func directoryMember() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        var header = TarMemberHeader.goUSTAR(name: "meta.json", size: Int64(parts[0].data.count), modificationTime: 1)
        header[156] = UInt8(ascii: "5")
        var sum = 0
        for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        let digits = Array(String(sum, radix: 8).utf8)
        for i in 0..<6 { header[148 + i] = i < 6 - digits.count ? UInt8(ascii: "0") : digits[i - (6 - digits.count)] }
        parts[0].header = header
        expectFailure(try rebuilt(parts), .tarMember, containing: "not a regular file")
    }

    @Test("a tar header with a bad checksum")
    func badTarChecksum() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        var header = TarMemberHeader.goUSTAR(name: "state.bin", size: Int64(parts[1].data.count), modificationTime: 1)
        header[108] = UInt8(ascii: "1")  // uid changed, checksum not updated
        parts[1].header = header
        expectFailure(try rebuilt(parts), .tarHeader, containing: "checksum")
    }

    @Test("a tar size field that is not octal")
    func badOctal() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        var header = TarMemberHeader.goUSTAR(name: "SHA256SUMS", size: 152, modificationTime: 1)
        header[130] = UInt8(ascii: "9")
        header[148..<156] = [0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20]
        let sum = header.reduce(0) { $0 + Int($1) }
        let digits = Array(String(sum, radix: 8).utf8)
        for (i, d) in digits.enumerated() { header[148 + i] = d }
        header[148 + digits.count] = 0
        parts[2].header = header
        expectFailure(try rebuilt(parts), .tarHeader, containing: "not octal")
    }

    @Test("meta.json Size differs from state.bin's length")
    func metaSizeMismatch() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        var meta = try SnapshotMeta.parse(parts[0].data)
        meta.size += 1
        parts[0].data = meta.goJSON()
        SnapshotBytes.resum(&parts)
        expectFailure(try rebuilt(parts), .metaSize, containing: "16273")
    }

    @Test("meta.json Version 2")
    func metaVersion() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        var meta = try SnapshotMeta.parse(parts[0].data)
        meta.version = 2
        parts[0].data = meta.goJSON()
        SnapshotBytes.resum(&parts)
        expectFailure(try rebuilt(parts), .metaVersion, containing: "Version 2")
    }

    @Test("meta.json that is not JSON, and one of 8192 bytes")
    func metaNotJSON() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        parts[0].data = Array("{\"Version\":1,".utf8)
        expectFailure(try rebuilt(parts), .metaJSON)
        var big = try SnapshotBytes.fixtureParts(.backup)
        big[0].data += [UInt8](repeating: 0x20, count: 8192 - big[0].data.count)
        expectFailure(try rebuilt(big), .memberSize, containing: "8192")
    }

    @Test("SHA256SUMS malformed, missing a file, or listing an unknown one")
    func badSums() throws {
        let good = try SnapshotBytes.fixtureParts(.backup)
        let lines = String(decoding: good[2].data, as: UTF8.self).split(separator: "\n")

        var missing = good
        missing[2].data = Array((lines[0] + "\n").utf8)
        expectFailure(try rebuilt(missing), .sha256Sums, containing: "file missing for \"state.bin\"")

        var unknown = good
        unknown[2].data = Array((lines.joined(separator: "\n") + "\n" + String(repeating: "ab", count: 32) + "  other.bin\n").utf8)
        expectFailure(try rebuilt(unknown), .sha256Sums, containing: "other.bin")

        var garbage = good
        garbage[2].data = Array("not a hash list\n".utf8)
        expectFailure(try rebuilt(garbage), .sha256Sums, containing: "malformed")

        var swapped = good
        swapped[2].data = Array((lines[1] + "\n" + lines[0] + "\n").utf8)
        #expect(throws: Never.self) { try SnapshotVerifier.verify(try rebuilt(swapped)) }
    }

    @Test("state.bin framing broken while hashes and sizes agree")
    func brokenFraming() throws {
        var parts = try SnapshotBytes.fixtureParts(.backup)
        parts[1].data.removeLast()  // the last record now ends early
        var meta = try SnapshotMeta.parse(parts[0].data)
        meta.size -= 1
        parts[0].data = meta.goJSON()
        SnapshotBytes.resum(&parts)
        expectFailure(try rebuilt(parts), .stateFraming, containing: "ends inside a record")

        var overlong = try SnapshotBytes.fixtureParts(.backup)
        overlong[1].data[1] = 0x0a
        overlong[1].data[2] = 0x7f  // key length 127 > the 104-byte record
        SnapshotBytes.resum(&overlong)
        expectFailure(try rebuilt(overlong), .stateFraming, containing: "remain in the record")
    }

    @Test("trailing garbage after the gzip stream")
    func trailingAfterGzip() throws {
        expectFailure(try Fixture.backup.bytes + [0x00], .trailingData, containing: "gzip stream")
        expectFailure(try Fixture.ellie.bytes + Fixture.ellie.bytes, .trailingData)
    }

    @Test("bytes after the tar end marker, a non-zero second end block, no end marker")
    func tarEnd() throws {
        let parts = try SnapshotBytes.fixtureParts(.backup)
        expectFailure(try rebuilt(parts, endBlocks: 3), .trailingData, containing: "end-of-archive")
        expectFailure(try rebuilt(parts, endBlocks: 0), .tarEnd, containing: "two zero blocks")
        var tar = SnapshotBytes.tar(parts)
        tar[tar.count - 1] = 1
        expectFailure(try SnapshotBytes.gzip(tar), .tarEnd)
        expectFailure(try SnapshotBytes.gzip(Array(tar.dropLast(512))), .tarEnd)
    }

    @Test("truncation at every offset never verifies", arguments: Fixture.allCases)
    func truncationEverywhere(_ fixture: Fixture) throws {
        let bytes = try fixture.bytes
        var checked = 0
        for length in 0..<bytes.count {
            // Every offset in the first and last 600 bytes (headers, trailer), every 7th elsewhere.
            guard length < 600 || length > bytes.count - 600 || length % 7 == 0 else { continue }
            switch SnapshotBytes.verify(Array(bytes[0..<length]), chunkSize: 1000) {
            case .success:
                Issue.record("truncated to \(length) of \(bytes.count) bytes, yet verified")
            case .failure(let error):
                if length == 0 {
                    #expect(error.kind == .emptySnapshot)
                } else {
                    #expect(error.kind == .truncated, "at \(length): \(error)")
                    #expect(error.detail.hasPrefix("incomplete snapshot"))
                    if length < bytes.count - 1100 {
                        #expect(error.detail.contains("SHA256SUMS.sealed missing"), "at \(length): \(error.detail)")
                    }
                    #expect(error.isIncomplete)
                }
            }
            checked += 1
        }
        #expect(checked > 3000)
    }

    @Test("after a failure, every later call reports the same failure")
    func stickyFailure() throws {
        var bytes = try Fixture.backup.bytes
        bytes[bytes.count - 6] ^= 0xff
        var verifier = try SnapshotVerifier()
        let first = #expect(throws: SnapshotError.self) { try verifier.consume(bytes) }
        let again = #expect(throws: SnapshotError.self) { try verifier.consume([1, 2, 3]) }
        let final = #expect(throws: SnapshotError.self) { _ = try verifier.finish() }
        #expect(first == again)
        #expect(first == final)
    }

    /// A one-bit change anywhere in the tar is caught, except in member padding and inside the opaque
    /// SHA256SUMS.sealed ciphertext, which nothing can check without the cluster's seal key.
    @Test("a flipped bit anywhere in the tar fails unless it is in padding or the sealed ciphertext", arguments: Fixture.allCases)
    func bitFlipsEverywhere(_ fixture: Fixture) throws {
        let tar = try SnapshotBytes.gunzip(fixture.bytes)
        let parts = SnapshotBytes.members(ofTar: tar)
        var uncheckable: [Range<Int>] = []
        var offset = 0
        for part in parts {
            let dataStart = offset + 512
            let dataEnd = dataStart + part.data.count
            let paddingEnd = dataEnd + TarMemberHeader.padding(forSize: Int64(part.data.count))
            if part.name == "SHA256SUMS.sealed" { uncheckable.append(dataStart..<dataEnd) }
            uncheckable.append(dataEnd..<paddingEnd)
            offset = paddingEnd
        }
        #expect(offset + 1024 == tar.count)
        var random = SeededBytes(state: 99)
        var failures = 0
        var successes = 0
        for round in 0..<400 {
            // Every header and the end blocks are hit on purpose; the rest at random.
            let position = round < 8 ? [0, 148, 156, 257, 1024, 1024 + 124, tar.count - 1, tar.count - 600][round]
                                     : Int(random.next() % UInt64(tar.count))
            var damaged = tar
            damaged[position] ^= 0x01
            let expectSuccess = uncheckable.contains { $0.contains(position) }
            switch SnapshotBytes.verify(try SnapshotBytes.gzip(damaged), chunkSize: 8192) {
            case .success:
                successes += 1
                #expect(expectSuccess, "flip at tar offset \(position) was not detected")
            case .failure(let error):
                failures += 1
                #expect(!expectSuccess, "flip at uncheckable offset \(position) failed: \(error)")
            }
        }
        #expect(failures > 200)
        #expect(failures + successes == 400)
    }

    /// gzip's CRC32 covers all decompressed data, so a flipped bit in the raw file either fails verification or
    /// leaves the decompressed archive byte-identical (gzip header MTIME/XFL/OS/FTEXT, an unused deflate code).
    @Test("a flipped bit in the raw file fails or changes nothing that is decompressed", arguments: Fixture.allCases)
    func rawBitFlips(_ fixture: Fixture) throws {
        let raw = try fixture.bytes
        let tar = try SnapshotBytes.gunzip(raw)
        var random = SeededBytes(state: 5)
        var failures = 0
        for round in 0..<600 {
            let position = round < 64 ? round : Int(random.next() % UInt64(raw.count))
            var damaged = raw
            damaged[position] ^= 0x01
            if (try? SnapshotVerifier.verify(damaged, chunkSize: 4096)) != nil {
                #expect(try SnapshotBytes.gunzip(damaged) == tar, "flip at raw offset \(position) changed the content undetected")
            } else {
                failures += 1
                #expect(!(4..<10).contains(position), "flip in gzip's MTIME/XFL/OS at \(position) was rejected")
            }
        }
        #expect(failures > 550)
    }
}
