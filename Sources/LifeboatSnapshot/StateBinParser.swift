// Streaming parser for state.bin: length-delimited pb.StorageEntry messages (docs/vault-behaviour.md §8.6).
// Values are never buffered unless a caller asks for them; their bytes are skipped by slicing, so memory stays constant.

import Foundation

/// Receives each complete state.bin entry; both buffers are valid only during the call.
public typealias SnapshotEntryHandler = (_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) throws -> Void

/// Key count and total size for one group of keys (the first N path segments), as `vault operator raft snapshot inspect`
/// reports them. `size` sums the protobuf message lengths of the entries, like Vault's `GetLastReadSize`.
public struct KeyPrefixStatistic: Sendable, Equatable, Hashable {
    public var name: String
    public var count: Int
    public var size: Int64

    public init(name: String, count: Int, size: Int64) {
        self.name = name
        self.count = count
        self.size = size
    }

    /// Vault's order: count descending, then name ascending.
    public static func vaultOrder(_ a: KeyPrefixStatistic, _ b: KeyPrefixStatistic) -> Bool {
        a.count != b.count ? a.count > b.count : a.name < b.name
    }
}

struct StateBinParser {
    /// Bolt refuses keys longer than 32 KiB; anything far beyond that is not a Vault snapshot.
    static let maximumKeyLength = 64 * 1024
    /// Vault's delimited reader refuses messages longer than MaxInt32.
    static let maximumMessageLength = UInt64(Int32.max)
    /// core/seal-config is small JSON; a larger value is not captured.
    static let maximumSealConfigLength = 64 * 1024
    private static let sealConfigKey = Array(SealConfig.storageKey.utf8)

    private enum Phase {
        case messageLength
        case tag
        case fieldLength
        case varintValue
        case skip
        case key
        case value
    }

    private var phase = Phase.messageLength
    private var varint: UInt64 = 0
    private var varintShift: UInt64 = 0
    private var messageLength = 0
    private var messageRemaining = 0
    private var fieldNumber: UInt64 = 0
    private var fieldRemaining = 0
    private var key: [UInt8] = []
    private var previousKey: [UInt8] = []
    private var hasPreviousKey = false
    private var captureValue = false
    private var value: [UInt8] = []

    private let statisticsDepth: Int?
    private let statisticsFilter: [UInt8]
    private let entryHandler: SnapshotEntryHandler?

    private(set) var entryCount = 0
    /// Sum of message lengths (without the varint prefixes).
    private(set) var entryBytes: Int64 = 0
    private(set) var consumed: Int64 = 0
    private(set) var keysAscending = true
    private(set) var sealConfigJSON: [UInt8]?
    private(set) var statistics: [String: KeyPrefixStatistic] = [:]

    init(statisticsDepth: Int?, statisticsFilter: String, entryHandler: SnapshotEntryHandler?) {
        self.statisticsDepth = statisticsDepth
        self.statisticsFilter = Array(statisticsFilter.utf8)
        self.entryHandler = entryHandler
        key.reserveCapacity(256)
        previousKey.reserveCapacity(256)
    }

    private func framingError(_ what: String, at offset: Int64) -> SnapshotError {
        SnapshotError(.stateFraming, "state.bin is not a valid sequence of StorageEntry records: \(what) (entry #\(entryCount + 1), byte \(offset) of state.bin). The snapshot is corrupt: take a new one")
    }

    /// Adds one byte to the varint being read; true when it is complete (the value is then in `varint`).
    @inline(__always)
    private mutating func feedVarint(_ byte: UInt8, at offset: Int64) throws -> Bool {
        if varintShift == 63 && byte > 1 { throw framingError("varint overflows 64 bits", at: offset) }
        varint |= UInt64(byte & 0x7f) << varintShift
        if byte < 0x80 {
            varintShift = 0
            return true
        }
        varintShift += 7
        if varintShift > 63 { throw framingError("varint longer than 10 bytes", at: offset) }
        return false
    }

    @inline(__always)
    private mutating func takeVarint() -> UInt64 {
        let v = varint
        varint = 0
        return v
    }

    mutating func consume(_ p: UnsafeRawBufferPointer) throws {
        let base = consumed
        let n = p.count
        var i = 0
        defer { consumed = base + Int64(i) }
        while i < n {
            switch phase {
            case .messageLength:
                let b = p[i]
                i += 1
                if try feedVarint(b, at: base + Int64(i - 1)) {
                    let length = takeVarint()
                    guard length <= Self.maximumMessageLength else {
                        throw framingError("record length \(length) exceeds Vault's limit of \(Int32.max)", at: base + Int64(i))
                    }
                    messageLength = Int(length)
                    messageRemaining = messageLength
                    key.removeAll(keepingCapacity: true)
                    value.removeAll(keepingCapacity: true)
                    if messageRemaining == 0 {
                        try endEntry()
                    } else {
                        phase = .tag
                    }
                }

            case .tag, .fieldLength, .varintValue:
                let b = p[i]
                i += 1
                messageRemaining -= 1
                let offset = base + Int64(i)
                guard try feedVarint(b, at: offset - 1) else {
                    if messageRemaining == 0 { throw framingError("record ends inside a varint", at: offset) }
                    continue
                }
                let v = takeVarint()
                switch phase {
                case .tag:
                    fieldNumber = v >> 3
                    guard fieldNumber != 0 else { throw framingError("field number 0", at: offset) }
                    switch v & 7 {
                    case 0:
                        phase = .varintValue
                    case 1, 5:
                        fieldRemaining = v & 7 == 1 ? 8 : 4
                        phase = .skip
                    case 2:
                        phase = .fieldLength
                    default:
                        throw framingError("unsupported protobuf wire type \(v & 7)", at: offset)
                    }
                    guard messageRemaining >= (phase == .skip ? fieldRemaining : 1) else {
                        throw framingError("field \(fieldNumber) runs past the end of the record", at: offset)
                    }
                case .fieldLength:
                    guard v <= UInt64(messageRemaining) else {
                        throw framingError("field \(fieldNumber) is \(v) bytes long but only \(messageRemaining) remain in the record", at: offset)
                    }
                    fieldRemaining = Int(v)
                    if fieldNumber == 1 {
                        guard fieldRemaining <= Self.maximumKeyLength else {
                            throw framingError("key of \(fieldRemaining) bytes exceeds \(Self.maximumKeyLength)", at: offset)
                        }
                        key.removeAll(keepingCapacity: true)
                        phase = .key
                    } else if fieldNumber == 2 {
                        value.removeAll(keepingCapacity: true)
                        captureValue = entryHandler != nil
                            || (key.count == Self.sealConfigKey.count && key == Self.sealConfigKey
                                && fieldRemaining <= Self.maximumSealConfigLength)
                        phase = .value
                    } else {
                        phase = .skip
                    }
                    if fieldRemaining == 0 { try endField() }
                default:
                    // A varint field (seal_wrap or unknown): nothing to keep.
                    try endField()
                }

            case .skip, .key, .value:
                let take = min(fieldRemaining, n - i)
                if phase == .key {
                    key.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i..<(i + take)]))
                } else if phase == .value && captureValue {
                    value.append(contentsOf: UnsafeRawBufferPointer(rebasing: p[i..<(i + take)]))
                }
                i += take
                fieldRemaining -= take
                messageRemaining -= take
                if fieldRemaining == 0 { try endField() }
            }
        }
    }

    private mutating func endField() throws {
        phase = .tag
        if messageRemaining == 0 { try endEntry() }
    }

    private mutating func endEntry() throws {
        phase = .messageLength
        entryCount += 1
        entryBytes += Int64(messageLength)
        if hasPreviousKey && keysAscending {
            keysAscending = key.withUnsafeBytes { k in
                previousKey.withUnsafeBytes { p in
                    let common = min(k.count, p.count)
                    let c = common == 0 ? 0 : memcmp(k.baseAddress!, p.baseAddress!, common)
                    return c > 0 || (c == 0 && k.count > p.count)
                }
            }
        }
        if captureValue && key == Self.sealConfigKey {
            sealConfigJSON = value
        }
        if let depth = statisticsDepth { recordStatistics(depth: depth) }
        if let entryHandler {
            try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try entryHandler(k, v) } }
        }
        captureValue = false
        swap(&key, &previousKey)
        hasPreviousKey = true
        key.removeAll(keepingCapacity: true)
    }

    /// Groups like Vault's inspect: skip empty keys, apply the prefix filter, keep the first `depth` `/`-separated
    /// segments (all of them when depth is 0).
    private mutating func recordStatistics(depth: Int) {
        guard !key.isEmpty, key.starts(with: statisticsFilter) else { return }
        var end = key.count
        if depth > 0 {
            var slashes = 0
            for (i, b) in key.enumerated() where b == UInt8(ascii: "/") {
                slashes += 1
                if slashes == depth {
                    end = i
                    break
                }
            }
        }
        let name = String(decoding: key[0..<end], as: UTF8.self)
        var statistic = statistics[name] ?? KeyPrefixStatistic(name: name, count: 0, size: 0)
        statistic.count += 1
        statistic.size += Int64(messageLength)
        statistics[name] = statistic
    }

    /// True when the bytes so far end exactly at a record boundary.
    var isAtRecordBoundary: Bool { phase == .messageLength && varintShift == 0 }

    /// Checks that state.bin ended on a record boundary.
    func finish() throws {
        guard isAtRecordBoundary else {
            throw framingError("state.bin ends inside a record", at: consumed)
        }
    }
}
