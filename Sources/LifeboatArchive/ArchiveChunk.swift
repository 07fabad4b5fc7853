// The 21-byte record header in front of every chunk, and the nonce and associated data built from it
// (docs/format.md §3).

struct ChunkRecordHeader {
    static let length = 21
    static let finalFlag: UInt8 = 0x01
    static let deflatedFlag: UInt8 = 0x02

    var archiveTag: ArraySlice<UInt8>
    var index: UInt64
    var flags: UInt8
    var bodyLength: Int

    var isFinal: Bool { flags & Self.finalFlag != 0 }
    var isDeflated: Bool { flags & Self.deflatedFlag != 0 }

    /// The header bytes; they are also the chunk's associated data.
    var encoded: [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(Self.length)
        out.append(contentsOf: archiveTag)
        out.appendBigEndian(index)
        out.append(flags)
        out.appendBigEndian(UInt32(bodyLength))
        return out
    }

    static func parse(_ bytes: ArraySlice<UInt8>) -> ChunkRecordHeader {
        var reader = ByteReader(bytes)
        let tag = ArraySlice(reader.bytes(8))
        let index = reader.u64()
        let flags = reader.u8()
        let length = Int(reader.u32())
        return ChunkRecordHeader(archiveTag: tag, index: index, flags: flags, bodyLength: length)
    }

    /// 3 zero bytes, the index as 8 bytes big-endian, then 0x01 for the final chunk or 0x00.
    static func nonce(index: UInt64, final: Bool) -> [UInt8] {
        var out: [UInt8] = [0, 0, 0]
        out.appendBigEndian(index)
        out.append(final ? 1 : 0)
        return out
    }
}
