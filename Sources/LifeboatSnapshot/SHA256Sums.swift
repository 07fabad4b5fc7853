// SHA256SUMS: the `%x  %s\n` hash list of meta.json and state.bin, parsed and verified like raft-snapshot's
// `hashList.DecodeAndVerify` (docs/vault-behaviour.md §8.4).

import LifeboatArchive

/// The hash list stored as SHA256SUMS (and, sealed, as SHA256SUMS.sealed).
public struct SHA256Sums: Sendable, Equatable {
    /// One line: a 32-byte SHA-256 and a member name.
    public struct Line: Sendable, Equatable {
        public var digest: [UInt8]
        public var name: String

        public init(digest: [UInt8], name: String) {
            self.digest = digest
            self.name = name
        }
    }

    /// The names Vault hashes.
    public static let hashedMembers = ["meta.json", "state.bin"]

    public var lines: [Line]

    public init(lines: [Line]) {
        self.lines = lines
    }

    /// The list Vault writes: `meta.json` then `state.bin` (Vault's own order is random; either is valid).
    public init(metaJSON: [UInt8], stateBin: [UInt8]) {
        self.init(lines: [Line(digest: metaJSON, name: "meta.json"), Line(digest: stateBin, name: "state.bin")])
    }

    /// `%x  %s\n` per line.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        for line in lines {
            out.append(contentsOf: Hex.encode(line.digest).utf8)
            out.append(contentsOf: "  \(line.name)\n".utf8)
        }
        return out
    }

    /// Parses the text. Each line must be 64 hex digits, whitespace, a name without spaces; empty lines are rejected
    /// as Go's `fmt.Sscanf` rejects them.
    public static func parse(_ bytes: [UInt8]) throws -> SHA256Sums {
        var lines: [Line] = []
        var text = bytes[...]
        if text.last == UInt8(ascii: "\n") { text = text.dropLast() }
        guard !text.isEmpty else {
            throw SnapshotError(.sha256Sums, "SHA256SUMS is empty; the snapshot is corrupt: take a new one")
        }
        for (number, rawLine) in text.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            var line = rawLine
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            func fail(_ what: String) -> SnapshotError {
                SnapshotError(.sha256Sums, "SHA256SUMS line \(number + 1) is malformed (\(what)); expected \"<64 hex digits>  <name>\". The snapshot is corrupt: take a new one")
            }
            guard line.count > 64, let digest = Hex.decode(String(decoding: line.prefix(64), as: UTF8.self)) else {
                throw fail("no 64-digit hex SHA-256 at the start")
            }
            let rest = line.dropFirst(64)
            let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 }
            guard let first = rest.first, isSpace(first) else { throw fail("no space after the hash") }
            let afterSpaces = rest.drop(while: isSpace)
            let name = afterSpaces.prefix(while: { !isSpace($0) })
            guard !name.isEmpty, afterSpaces.dropFirst(name.count).allSatisfy(isSpace) else {
                throw fail("the name is missing or contains spaces")
            }
            lines.append(Line(digest: digest, name: String(decoding: name, as: UTF8.self)))
        }
        return SHA256Sums(lines: lines)
    }

    /// Checks every line against the actual hashes; both members must be listed and nothing else.
    public func verify(metaJSON: [UInt8], stateBin: [UInt8]) throws {
        var seen = Set<String>()
        for line in lines {
            let actual: [UInt8]
            switch line.name {
            case "meta.json": actual = metaJSON
            case "state.bin": actual = stateBin
            default:
                throw SnapshotError(.sha256Sums, "SHA256SUMS lists \(line.name.debugDescription), which is not a member Vault hashes (list missing hash for \(line.name.debugDescription)); the snapshot is corrupt: take a new one")
            }
            guard line.digest == actual else {
                throw SnapshotError(.hashMismatch, "hash check failed for \(line.name.debugDescription): SHA256SUMS says \(Hex.encode(line.digest)) but the member hashes to \(Hex.encode(actual)). The snapshot was corrupted in transit or storage: take a new one")
            }
            seen.insert(line.name)
        }
        for name in Self.hashedMembers where !seen.contains(name) {
            throw SnapshotError(.sha256Sums, "SHA256SUMS has no hash for \(name.debugDescription) (file missing for \(name.debugDescription)); the snapshot is corrupt: take a new one")
        }
    }
}
