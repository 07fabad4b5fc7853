// Byte-level comparison of a verified snapshot with what Vault itself writes (docs/vault-behaviour.md §8.1-§8.6): used to prove
// that vault-sim's snapshots and the real Vault 1.14.3 fixtures have the same structure.

import LifeboatArchive

/// Structural conformance of a snapshot to Vault's exact output format.
public enum SnapshotConformance {
    /// Every way `summary` differs from the layout Vault writes; empty when it matches.
    ///
    /// Beyond what `SnapshotVerifier` enforces, this checks: Go's gzip header bytes; each tar header byte for byte
    /// against Go's USTAR layout (mode 0600, uid/gid 0, one mtime for all members, empty uname/gname); the tar length
    /// (no record padding); meta.json equal to its Go re-encoding (key order, compact, trailing newline) and ID
    /// "bolt-snapshot"; SHA256SUMS as exactly two `%x  %s\n` lines with lowercase hex; state.bin keys ascending.
    public static func vaultFormatDeviations(of summary: SnapshotSummary) -> [String] {
        var problems: [String] = []
        let goHeader: [UInt8] = [0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff]
        if summary.gzipHeader != goHeader {
            problems.append("gzip header is \(Hex.encode(summary.gzipHeader)), Go writes \(Hex.encode(goHeader))")
        }

        let names = summary.members.map(\.name)
        let expectedNames = SnapshotMember.allCases.map(\.fileName)
        if names != expectedNames {
            problems.append("members are \(names), Vault writes \(expectedNames)")
        }
        let mtime = summary.members.first?.modificationTime ?? 0
        for header in summary.members {
            if header.modificationTime != mtime {
                problems.append("\(header.name) has mtime \(header.modificationTime), the first member \(mtime); Vault uses one time for all")
            }
            let expected = TarMemberHeader.goUSTAR(name: header.name, size: header.size, modificationTime: header.modificationTime)
            if header.raw != expected {
                let differing = (0..<TarMemberHeader.blockSize).filter { header.raw[$0] != expected[$0] }
                problems.append("\(header.name) tar header differs from Go's USTAR layout at byte offsets \(differing.prefix(12))")
            }
        }
        let expectedTar = summary.members.reduce(Int64(2 * TarMemberHeader.blockSize)) {
            $0 + Int64(TarMemberHeader.blockSize) + $1.size + Int64(TarMemberHeader.padding(forSize: $1.size))
        }
        if summary.tarByteCount != expectedTar {
            problems.append("tar is \(summary.tarByteCount) bytes, Go's layout gives \(expectedTar)")
        }

        if summary.metaJSON != summary.meta.goJSON() {
            problems.append("meta.json is not Go's encoding of its own fields (key order, spacing or trailing newline differ)")
        }
        if summary.meta.id != "bolt-snapshot" {
            problems.append("meta.json ID is \(summary.meta.id.debugDescription), Vault writes \"bolt-snapshot\"")
        }
        if summary.meta.peers != nil {
            problems.append("meta.json Peers is set; Vault writes null")
        }

        let sumsText = String(decoding: summary.sha256Sums, as: UTF8.self)
        let lines = sumsText.split(separator: "\n", omittingEmptySubsequences: false)
        let wellFormed = lines.count == 3 && lines[2].isEmpty && lines[0..<2].allSatisfy { line in
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            return line.utf8.count == 64 + 2 + 9 && parts.count == 2 && parts[1].hasPrefix(" ")
                && parts[0].utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        }
        let listed = Set(lines.prefix(2).map { $0.dropFirst(66) })
        if !wellFormed || listed != ["meta.json", "state.bin"] {
            problems.append("SHA256SUMS is not two \"%x  %s\\n\" lines for meta.json and state.bin: \(sumsText.debugDescription)")
        }
        if summary.sealedHashes.isEmpty {
            problems.append("SHA256SUMS.sealed is empty")
        }
        if !summary.keysAscending {
            problems.append("state.bin keys are not in ascending byte order (bolt cursor order)")
        }
        return problems
    }
}
