// The 512-byte ustar header: parsing with checksum validation, and Go archive/tar's exact layout for writing (docs/vault-behaviour.md §8.2).

/// A parsed ustar member header, with the raw 512 bytes kept for byte-level comparisons.
public struct TarMemberHeader: Sendable, Equatable {
    public static let blockSize = 512

    /// Full name (`prefix/name` when the ustar prefix is set).
    public var name: String
    public var mode: Int64
    public var uid: Int64
    public var gid: Int64
    public var size: Int64
    /// Seconds since the Unix epoch.
    public var modificationTime: Int64
    public var typeflag: UInt8
    public var linkname: String
    /// Bytes 257..<263 and 263..<265.
    public var magic: [UInt8]
    public var version: [UInt8]
    public var uname: String
    public var gname: String
    /// The raw header block.
    public var raw: [UInt8]

    /// Parses and validates one header block (not the all-zero end-of-archive block).
    ///
    /// Accepts what Go's `archive/tar` reader accepts for plain files: a checksum matching the unsigned or signed sum,
    /// octal numeric fields padded with spaces or NULs, POSIX (`ustar\0` `00`) or GNU (`ustar ` ` \0`) magic.
    public static func parse(_ block: UnsafeRawBufferPointer, memberNumber: Int) throws -> TarMemberHeader {
        guard block.count == blockSize else {
            throw SnapshotError(.tarHeader, "tar header of member #\(memberNumber) is \(block.count) bytes, not \(blockSize). The snapshot is corrupt: take a new one")
        }
        func field(_ range: Range<Int>) -> UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: block[range]) }
        func fail(_ what: String) -> SnapshotError {
            SnapshotError(.tarHeader, "tar header of member #\(memberNumber) is invalid: \(what). The snapshot is corrupt: take a new one")
        }
        func octal(_ range: Range<Int>, _ name: String) throws -> Int64 {
            let f = field(range)
            if let first = f.first, first & 0x80 != 0 {
                throw fail("\(name) uses base-256 encoding, which Vault never writes")
            }
            var start = 0
            var end = f.count
            while start < end, f[start] == 0x20 || f[start] == 0 { start += 1 }
            while end > start, f[end - 1] == 0x20 || f[end - 1] == 0 { end -= 1 }
            var value: Int64 = 0
            for i in start..<end {
                let c = f[i]
                guard c >= 0x30 && c <= 0x37 else { throw fail("\(name) field is not octal") }
                guard value < (Int64.max >> 3) else { throw fail("\(name) field overflows") }
                value = value << 3 | Int64(c - 0x30)
            }
            return value
        }
        func string(_ range: Range<Int>) -> String {
            let f = field(range)
            let end = f.firstIndex(of: 0) ?? f.count
            return String(decoding: UnsafeRawBufferPointer(rebasing: f[0..<end]), as: UTF8.self)
        }

        let recorded = try octal(148..<156, "checksum")
        var unsigned: Int64 = 0
        var signed: Int64 = 0
        for i in 0..<blockSize {
            let b = (148..<156).contains(i) ? UInt8(0x20) : block[i]
            unsigned += Int64(b)
            signed += Int64(Int8(bitPattern: b))
        }
        guard recorded == unsigned || recorded == signed else {
            throw fail("checksum \(recorded) does not match the computed \(unsigned)")
        }

        let magic = Array(field(257..<263))
        let version = Array(field(263..<265))
        let posix = magic == Array("ustar\0".utf8) && version == Array("00".utf8)
        let gnu = magic == Array("ustar ".utf8) && version == [0x20, 0]
        guard posix || gnu else { throw fail("not a ustar header (magic \(magic))") }

        var name = string(0..<100)
        let prefix = posix ? string(345..<500) : ""
        if !prefix.isEmpty { name = prefix + "/" + name }

        return TarMemberHeader(
            name: name, mode: try octal(100..<108, "mode"), uid: try octal(108..<116, "uid"),
            gid: try octal(116..<124, "gid"), size: try octal(124..<136, "size"),
            modificationTime: try octal(136..<148, "mtime"), typeflag: block[156], linkname: string(157..<257),
            magic: magic, version: version, uname: string(265..<297), gname: string(297..<329), raw: Array(block))
    }

    /// True for a regular file (`'0'` or the pre-POSIX NUL type).
    public var isRegularFile: Bool { typeflag == UInt8(ascii: "0") || typeflag == 0 }

    /// The header Go's `archive/tar` writes for `tar.Header{Name: name, Mode: mode, Size: size, ModTime: mtime}`
    /// in USTAR format: NUL-padded name, zero-padded octal fields each ending in NUL, checksum as 6 octal digits + NUL +
    /// space, typeflag '0', magic "ustar\0", version "00", empty uname/gname, devmajor/devminor "0000000\0".
    public static func goUSTAR(name: String, size: Int64, modificationTime: Int64, mode: Int64 = 0o600) -> [UInt8] {
        var block = [UInt8](repeating: 0, count: blockSize)
        func put(_ text: [UInt8], at offset: Int, width: Int) {
            for (i, b) in text.prefix(width).enumerated() { block[offset + i] = b }
        }
        /// Go's formatOctal: leading zeros, room left for the NUL terminator.
        func octal(_ value: Int64, at offset: Int, width: Int) {
            var digits = Array(String(value, radix: 8).utf8)
            if digits.count < width - 1 {
                digits = [UInt8](repeating: UInt8(ascii: "0"), count: width - 1 - digits.count) + digits
            }
            put(digits, at: offset, width: width)
        }
        put(Array(name.utf8), at: 0, width: 100)
        octal(mode, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(size, at: 124, width: 12)
        octal(modificationTime, at: 136, width: 12)
        block[156] = UInt8(ascii: "0")
        put(Array("ustar\0".utf8), at: 257, width: 6)
        put(Array("00".utf8), at: 263, width: 2)
        octal(0, at: 329, width: 8)
        octal(0, at: 337, width: 8)
        var sum = 0
        for (i, b) in block.enumerated() { sum += (148..<156).contains(i) ? 0x20 : Int(b) }
        octal(Int64(sum), at: 148, width: 7)
        block[155] = 0x20
        return block
    }

    /// Bytes of zero padding after `size` bytes of member data.
    @inline(__always)
    public static func padding(forSize size: Int64) -> Int {
        Int((Int64(blockSize) - size % Int64(blockSize)) % Int64(blockSize))
    }
}
