// The synchronous half of a snapshot restore, with Vault's messages (docs/vault-behaviour.md §6.2, §8.8): gunzip, read the
// tar members, spool state.bin to disk while hashing it, check SHA256SUMS and (unless forced) open
// SHA256SUMS.sealed with the cluster's unseal key.

import Foundation
import LifeboatArchive
import LifeboatSnapshot

/// The meta.json fields the apply phase needs.
struct UploadMeta: Sendable {
    var version: Int
    var index: UInt64
    var size: Int64
}

enum UploadValidation {
    case success(UploadMeta, stateBytes: Int64)
    case failure(status: Int, message: String)
}

enum SnapshotUploadValidator {
    static let sealedHashesMessage = "could not verify hash file, possibly the snapshot is using a different set of unseal keys; use the snapshot-force API to bypass this check"

    private struct Failure: Error { var status: Int; var message: String }

    /// Decompressed bytes read on demand from a gzip file.
    private final class GunzipReader {
        let fd: Int32
        var inflater: Inflater
        var pending: [UInt8] = []
        var pendingOffset = 0
        var input = [UInt8](repeating: 0, count: 256 * 1024)
        var inputStart = 0
        var inputEnd = 0
        var sawEOF = false
        var consumedCompressed = 0

        init(fd: Int32) throws {
            self.fd = fd
            inflater = try Inflater(format: .gzip)
        }

        /// Reads exactly `count` bytes; throws "unexpected EOF" when the stream ends first.
        func read(_ count: Int) throws -> [UInt8] {
            var out: [UInt8] = []
            out.reserveCapacity(count)
            while out.count < count {
                if pendingOffset < pending.count {
                    let take = min(count - out.count, pending.count - pendingOffset)
                    out.append(contentsOf: pending[pendingOffset..<(pendingOffset + take)])
                    pendingOffset += take
                    continue
                }
                guard try refill() else {
                    throw Failure(status: 500, message: out.isEmpty && count == 512 ? "EOF" : "unexpected EOF")
                }
            }
            return out
        }

        /// Streams `count` bytes to `body` in pieces.
        func stream(_ count: Int64, _ body: (UnsafeRawBufferPointer) throws -> Void) throws {
            var left = count
            while left > 0 {
                if pendingOffset < pending.count {
                    let take = Int(min(left, Int64(pending.count - pendingOffset)))
                    try pending.withUnsafeBytes { try body(UnsafeRawBufferPointer(rebasing: $0[pendingOffset..<(pendingOffset + take)])) }
                    pendingOffset += take
                    left -= Int64(take)
                    continue
                }
                guard try refill() else { throw Failure(status: 500, message: "unexpected EOF") }
            }
        }

        private func refill() throws -> Bool {
            pending.removeAll(keepingCapacity: true)
            pendingOffset = 0
            while pending.isEmpty {
                if inflater.isFinished { return false }
                if inputStart == inputEnd {
                    if sawEOF { return false }
                    let n = input.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
                    if n <= 0 { sawEOF = true; return false }
                    inputStart = 0
                    inputEnd = n
                }
                do {
                    let used = try input.withUnsafeBytes {
                        try inflater.decompress(UnsafeRawBufferPointer(rebasing: $0[inputStart..<inputEnd]), into: &pending)
                    }
                    inputStart += used
                    consumedCompressed += used
                } catch {
                    throw Failure(status: 500, message: "flate: corrupt input before offset \(consumedCompressed + 10)")
                }
            }
            return true
        }
    }

    /// Validates the upload at `path`; state.bin is written to `stateOutput`. `seal` nil = force mode.
    static func validate(path: String, stateOutput: String, seal: SealAccess?) -> UploadValidation {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return .failure(status: 500, message: "failed to read snapshot file: cannot open upload") }
        defer { close(fd) }
        // gzip.NewReader: the 10-byte header.
        var header = [UInt8](repeating: 0, count: 10)
        let got = header.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, 10) }
        if got <= 0 { return .failure(status: 500, message: "failed to decompress snapshot: EOF") }
        if got < 10 { return .failure(status: 500, message: "failed to decompress snapshot: unexpected EOF") }
        guard header[0] == 0x1f, header[1] == 0x8b, header[2] == 0x08 else {
            return .failure(status: 500, message: "failed to decompress snapshot: gzip: invalid header")
        }
        lseek(fd, 0, SEEK_SET)
        let out = open(stateOutput, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard out >= 0 else { return .failure(status: 500, message: "failed to create temp snapshot file") }
        defer { close(out) }
        do {
            let reader = try GunzipReader(fd: fd)
            var metaBytes: [UInt8]?
            var sums: [UInt8] = []
            var sealed: [UInt8] = []
            var stateHasher = SHA256Digest()
            var stateWritten: Int64 = 0
            var meta: UploadMeta?
            readLoop: while true {
                let block: [UInt8]
                do { block = try reader.read(512) } catch let f as Failure {
                    if f.message == "EOF" { break readLoop }
                    throw Failure(status: 500, message: "failed to read snapshot file: failed reading snapshot: \(f.message)")
                }
                if block.allSatisfy({ $0 == 0 }) { break readLoop }
                // The one tar header parser (LifeboatSnapshot): it accepts what Go's archive/tar accepts for plain files.
                guard let header = try? block.withUnsafeBytes({ try TarMemberHeader.parse($0, memberNumber: 0) }) else {
                    throw Failure(status: 500, message: "failed to read snapshot file: failed reading snapshot: archive/tar: invalid tar header")
                }
                let (name, size, typeflag) = (header.name, header.size, header.typeflag)
                let padded = (size + 511) / 512 * 512
                func small() throws -> [UInt8] {
                    guard size < SnapshotMeta.maximumSmallMemberSize else {
                        throw Failure(status: 500, message: "failed to read snapshot file: read max specified bytes (8192) without EOF - possible truncation")
                    }
                    let b = try reader.read(Int(padded))
                    return Array(b[0..<Int(size)])
                }
                do {
                    guard typeflag == UInt8(ascii: "0") || typeflag == 0 else {
                        throw Failure(status: 500, message: "failed to read snapshot file: unexpected file \"\(name)\" in snapshot")
                    }
                    switch name {
                    case "meta.json":
                        let b = try small()
                        metaBytes = b
                        guard let j = JSONValue.parse(b) else {
                            throw Failure(status: 500, message: "failed to read snapshot file: failed to decode snapshot metadata: invalid character in meta.json")
                        }
                        meta = UploadMeta(version: j["Version"]?.intValue ?? 0, index: UInt64(max(0, j["Index"]?.intValue ?? 0)),
                                          size: Int64(j["Size"]?.intValue ?? 0))
                    case "state.bin":
                        try reader.stream(size) { piece in
                            stateHasher.update(bytes: piece)
                            try ValueStore.pwriteAll(out, piece, offset: stateWritten)
                            stateWritten += Int64(piece.count)
                        }
                        _ = try reader.read(Int(padded - size))
                    case "SHA256SUMS":
                        sums = try small()
                    case "SHA256SUMS.sealed":
                        sealed = try small()
                    default:
                        throw Failure(status: 500, message: "failed to read snapshot file: unexpected file \"\(name)\" in snapshot")
                    }
                } catch let f as Failure where f.message == "unexpected EOF" || f.message == "EOF" {
                    throw Failure(status: 500, message: "failed to read snapshot file: failed to read or write snapshot data: unexpected EOF")
                }
            }
            let hashes: [String: [UInt8]] = [
                "meta.json": SHA256Digest.hash(metaBytes ?? []),
                "state.bin": stateHasher.finalize(),
            ]
            if let err = verifySums(sums, hashes) {
                throw Failure(status: 500, message: "failed to read snapshot file: failed checking integrity of snapshot: \(err)")
            }
            if let seal {
                guard !sealed.isEmpty, let opened = try? seal.unwrap(sealed) else {
                    throw Failure(status: 400, message: sealedHashesMessage)
                }
                if let err = verifySums(opened, hashes) {
                    throw Failure(status: 500, message: "failed to read snapshot file: failed checking integrity of snapshot: \(err)")
                }
            }
            return .success(meta ?? UploadMeta(version: 0, index: 0, size: 0), stateBytes: stateWritten)
        } catch let f as Failure {
            return .failure(status: f.status, message: f.message)
        } catch {
            return .failure(status: 500, message: "failed to read snapshot file: \(error)")
        }
    }

    /// Go raft-snapshot's `hashList.DecodeAndVerify`; returns its error text or nil.
    static func verifySums(_ text: [UInt8], _ hashes: [String: [UInt8]]) -> String? {
        var seen = Set<String>()
        let lines = String(decoding: text, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for (i, raw) in lines.enumerated() {
            if raw.isEmpty && i == lines.count - 1 { continue }
            let line = raw.hasSuffix("\r") ? raw.dropLast() : raw
            guard let sep = line.range(of: "  ") else { return "input does not match format" }
            let hex = line[line.startIndex..<sep.lowerBound]
            let name = line[sep.upperBound...].split(separator: " ").first.map(String.init) ?? ""
            guard let digest = Hex.decode(hex), !name.isEmpty else { return "input does not match format" }
            guard let expected = hashes[name] else { return "list missing hash for \"\(name)\"" }
            guard digest == expected else { return "hash check failed for \"\(name)\"" }
            seen.insert(name)
        }
        for name in ["meta.json", "state.bin"] where !seen.contains(name) { return "file missing for \"\(name)\"" }
        return nil
    }
}
