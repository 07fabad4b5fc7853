// Streaming reader for the tar inside a Vault snapshot: exactly meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed,
// then two zero blocks. Each member is checked as soon as it ends (docs/vault-behaviour.md §8.2-§8.5, §8.8).

import LifeboatArchive

/// The four members of a Vault snapshot, in write order.
public enum SnapshotMember: Int, Sendable, CaseIterable {
    case meta, state, sums, sealed

    public var fileName: String {
        switch self {
        case .meta: return "meta.json"
        case .state: return "state.bin"
        case .sums: return "SHA256SUMS"
        case .sealed: return "SHA256SUMS.sealed"
        }
    }

    public init?(fileName: String) {
        guard let m = Self.allCases.first(where: { $0.fileName == fileName }) else { return nil }
        self = m
    }
}

struct SnapshotArchiveParser {
    private enum Phase {
        case header
        case data
        case padding
        case secondZeroBlock
        case done
    }

    private var phase = Phase.header
    private var block = [UInt8](repeating: 0, count: TarMemberHeader.blockSize)
    private var blockFill = 0
    private var member = SnapshotMember.meta
    private(set) var membersStarted = 0
    private(set) var membersCompleted = 0
    private var dataSize: Int64 = 0
    private var dataRemaining: Int64 = 0
    private var paddingRemaining = 0

    private var metaHasher = SHA256Digest()
    private var stateHasher = SHA256Digest()
    private(set) var metaBytes: [UInt8] = []
    private(set) var sumsBytes: [UInt8] = []
    private(set) var sealedBytes: [UInt8] = []
    private(set) var meta: SnapshotMeta?
    private(set) var metaDigest: [UInt8] = []
    private(set) var stateDigest: [UInt8] = []
    private(set) var state: StateBinParser
    private(set) var headers: [TarMemberHeader] = []
    private(set) var tarBytes: Int64 = 0

    init(state: StateBinParser) {
        self.state = state
    }

    var isComplete: Bool { phase == .done }

    mutating func consume(_ p: UnsafeRawBufferPointer) throws {
        let n = p.count
        var i = 0
        while i < n {
            switch phase {
            case .header, .secondZeroBlock:
                if blockFill == 0 && n - i >= TarMemberHeader.blockSize {
                    try handleBlock(UnsafeRawBufferPointer(rebasing: p[i..<(i + TarMemberHeader.blockSize)]))
                    i += TarMemberHeader.blockSize
                    tarBytes += Int64(TarMemberHeader.blockSize)
                } else {
                    let take = min(TarMemberHeader.blockSize - blockFill, n - i)
                    let fill = blockFill
                    let source = UnsafeRawBufferPointer(rebasing: p[i..<(i + take)])
                    block.withUnsafeMutableBytes { b in
                        UnsafeMutableRawBufferPointer(rebasing: b[fill..<(fill + take)]).copyMemory(from: source)
                    }
                    blockFill += take
                    i += take
                    tarBytes += Int64(take)
                    if blockFill == TarMemberHeader.blockSize {
                        blockFill = 0
                        let full = block
                        try full.withUnsafeBytes { try handleBlock($0) }
                    }
                }

            case .data:
                let take = Int(min(Int64(n - i), dataRemaining))
                try memberData(UnsafeRawBufferPointer(rebasing: p[i..<(i + take)]))
                i += take
                tarBytes += Int64(take)
                dataRemaining -= Int64(take)
                if dataRemaining == 0 { try endMember() }

            case .padding:
                let take = min(paddingRemaining, n - i)
                i += take
                tarBytes += Int64(take)
                paddingRemaining -= take
                if paddingRemaining == 0 { phase = .header }

            case .done:
                throw SnapshotError(.trailingData, "\(n - i) or more unexpected bytes follow the tar end-of-archive marker (Vault writes none; \"unread uncompressed bytes remain\"). The snapshot is corrupt: take a new one")
            }
        }
    }

    private static func isZero(_ b: UnsafeRawBufferPointer) -> Bool {
        var acc: UInt8 = 0
        for x in b { acc |= x }
        return acc == 0
    }

    private mutating func handleBlock(_ b: UnsafeRawBufferPointer) throws {
        if phase == .secondZeroBlock {
            guard Self.isZero(b) else {
                throw SnapshotError(.tarEnd, "the tar archive has a zero block followed by a non-zero block; Vault ends it with exactly two zero blocks. The snapshot is corrupt: take a new one")
            }
            phase = .done
            return
        }
        if Self.isZero(b) {
            if membersCompleted < SnapshotMember.allCases.count {
                throw missingMembersError(reason: "the tar archive ends")
            }
            phase = .secondZeroBlock
            return
        }
        let number = membersStarted + 1
        let header = try TarMemberHeader.parse(b, memberNumber: number)
        guard header.isRegularFile else {
            throw SnapshotError(.tarMember, "unexpected file \(header.name.debugDescription) in snapshot: member #\(number) is not a regular file (type \(String(UnicodeScalar(header.typeflag)).debugDescription)). The snapshot is corrupt: take a new one")
        }
        guard let expected = SnapshotMember(rawValue: membersStarted) else {
            throw SnapshotError(.tarMember, "unexpected file \(header.name.debugDescription) in snapshot after SHA256SUMS.sealed; Vault writes exactly meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed. The snapshot is not a Vault snapshot or was altered")
        }
        guard header.name == expected.fileName else {
            if let known = SnapshotMember(fileName: header.name) {
                let problem = known.rawValue < membersStarted ? "appears twice" : "comes before \(expected.fileName)"
                throw SnapshotError(.tarMember, "member \(header.name.debugDescription) \(problem) (member #\(number)); Vault writes meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed in that order. The snapshot was not written by Vault or was altered")
            }
            throw SnapshotError(.tarMember, "unexpected file \(header.name.debugDescription) in snapshot where \(expected.fileName) was expected (member #\(number)); Vault writes exactly meta.json, state.bin, SHA256SUMS, SHA256SUMS.sealed. The snapshot is not a Vault snapshot or was altered")
        }
        if expected == .state {
            let metaSize = meta?.size ?? 0
            guard header.size == metaSize else {
                throw SnapshotError(.metaSize, "state.bin is \(header.size) bytes but meta.json says Size \(metaSize); Vault would refuse it (size didn't match). The snapshot is corrupt: take a new one")
            }
        } else if header.size >= Int64(SnapshotMeta.maximumSmallMemberSize) {
            throw SnapshotError(.memberSize, "\(expected.fileName) is \(header.size) bytes; Vault reads at most \(SnapshotMeta.maximumSmallMemberSize - 1) (read max specified bytes without EOF - possible truncation). The snapshot is corrupt or not from Vault")
        }
        headers.append(header)
        member = expected
        membersStarted += 1
        dataSize = header.size
        dataRemaining = header.size
        phase = .data
        if dataRemaining == 0 { try endMember() }
    }

    private mutating func memberData(_ p: UnsafeRawBufferPointer) throws {
        switch member {
        case .meta:
            metaHasher.update(bytes: p)
            metaBytes.append(contentsOf: p)
        case .state:
            stateHasher.update(bytes: p)
            try state.consume(p)
        case .sums:
            sumsBytes.append(contentsOf: p)
        case .sealed:
            sealedBytes.append(contentsOf: p)
        }
    }

    private mutating func endMember() throws {
        switch member {
        case .meta:
            metaDigest = metaHasher.finalize()
            let parsed = try SnapshotMeta.parse(metaBytes)
            guard parsed.version == 1 else {
                throw SnapshotError(.metaVersion, "meta.json has Version \(parsed.version); Vault only restores version 1 snapshots (unsupported snapshot version). Use a snapshot taken by a Vault that writes version 1")
            }
            meta = parsed
        case .state:
            stateDigest = stateHasher.finalize()
            try state.finish()
        case .sums:
            let sums = try SHA256Sums.parse(sumsBytes)
            try sums.verify(metaJSON: metaDigest, stateBin: stateDigest)
        case .sealed:
            guard !sealedBytes.isEmpty else {
                throw SnapshotError(.sealedHashes, "incomplete snapshot: SHA256SUMS.sealed is empty, so Vault's client would reject it (unable to read SHA256SUMS.sealed); the leader probably failed mid-stream or lost seal access. Take a new snapshot")
            }
        }
        membersCompleted += 1
        paddingRemaining = TarMemberHeader.padding(forSize: dataSize)
        phase = paddingRemaining > 0 ? .padding : .header
    }

    /// Where the archive stopped, for truncation messages.
    var progressDescription: String {
        switch phase {
        case .header where blockFill == 0:
            guard let last = SnapshotMember(rawValue: membersCompleted - 1) else { return "before the first tar member" }
            return "after \(last.fileName)"
        case .header:
            return "inside the tar header of member #\(membersStarted + 1)"
        case .data:
            return "inside \(member.fileName) (byte \(dataSize - dataRemaining) of \(dataSize))"
        case .padding:
            return "in the padding after \(member.fileName)"
        case .secondZeroBlock:
            return "inside the end-of-archive marker"
        case .done:
            return "after the end of the tar archive"
        }
    }

    /// True once SHA256SUMS.sealed was read in full and is non-empty.
    var hasSealedHashes: Bool { membersCompleted == SnapshotMember.allCases.count }

    func missingMembersError(reason: String) -> SnapshotError {
        let missing = SnapshotMember.allCases.dropFirst(membersCompleted).map(\.fileName)
        if missing == [SnapshotMember.sealed.fileName] {
            return SnapshotError(.sealedHashes, "incomplete snapshot: SHA256SUMS.sealed missing (\(reason) after SHA256SUMS); the leader probably failed mid-stream. Take a new snapshot")
        }
        return SnapshotError(.tarMember, "incomplete snapshot: \(reason) \(progressDescription), so \(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") missing. The snapshot is not a complete Vault snapshot: take a new one")
    }

    /// Called once the gzip stream ended cleanly: the tar must be complete too.
    func finish() throws {
        guard phase == .done else {
            if membersCompleted < SnapshotMember.allCases.count {
                throw missingMembersError(reason: "the gzip stream is complete but the tar archive inside it ends")
            }
            throw SnapshotError(.tarEnd, "incomplete snapshot: the tar archive ends \(progressDescription) without the two zero blocks that end every Vault snapshot. The snapshot was not written by Vault or was cut: take a new one")
        }
    }
}
