// The persistent key/value store behind one raft group: a base file in Vault's state.bin format (length-delimited
// StorageEntry protobufs) plus an append-only mutation log. Only the index (key -> file offset) lives in memory;
// values are read with pread, so a 1 GiB dataset costs little RAM and a restore swaps in the uploaded state.bin.

import Foundation
import LifeboatArchive

/// Encoding of Vault's state.bin framing: `uvarint(len) || StorageEntry{key=1, value=2}`.
enum StateBin {
    static func uvarint(_ value: UInt64, into out: inout [UInt8]) {
        var v = value
        while v >= 0x80 { out.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
        out.append(UInt8(v))
    }

    static func uvarintSize(_ value: UInt64) -> Int {
        var v = value, n = 1
        while v >= 0x80 { v >>= 7; n += 1 }
        return n
    }

    /// The bytes that precede the value bytes of one framed entry (frame length, key field, value tag + length).
    static func entryPrefix(key: String, valueLength: Int) -> [UInt8] {
        let k = Array(key.utf8)
        var msgLen = 1 + uvarintSize(UInt64(k.count)) + k.count
        if valueLength > 0 { msgLen += 1 + uvarintSize(UInt64(valueLength)) + valueLength }
        var out: [UInt8] = []
        out.reserveCapacity(msgLen - valueLength + 10)
        uvarint(UInt64(msgLen), into: &out)
        out.append(0x0a)
        uvarint(UInt64(k.count), into: &out)
        out.append(contentsOf: k)
        if valueLength > 0 {
            out.append(0x12)
            uvarint(UInt64(valueLength), into: &out)
        }
        return out
    }

    static func entrySize(key: String, valueLength: Int) -> Int {
        let kc = key.utf8.count
        var msgLen = 1 + uvarintSize(UInt64(kc)) + kc
        if valueLength > 0 { msgLen += 1 + uvarintSize(UInt64(valueLength)) + valueLength }
        return uvarintSize(UInt64(msgLen)) + msgLen
    }
}

struct StoreError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Where one value's bytes live.
struct ValueLocation: Sendable {
    var inLog: Bool
    var offset: Int64
    var length: Int
}

/// A consistent read-only view of a store (sorted keys plus duplicated file descriptors), for rendering snapshots
/// without holding the simulator lock.
final class StoreView: @unchecked Sendable {
    // Immutable after init; the descriptors are owned by this view and closed in deinit.
    let entries: [(String, ValueLocation)]
    private let baseFD: Int32
    private let logFD: Int32

    init(entries: [(String, ValueLocation)], baseFD: Int32, logFD: Int32) {
        self.entries = entries
        self.baseFD = dup(baseFD)
        self.logFD = dup(logFD)
    }

    deinit { close(baseFD); close(logFD) }

    /// The exact byte length of the state.bin these entries encode to.
    var stateSize: Int { entries.reduce(0) { $0 + StateBin.entrySize(key: $1.0, valueLength: $1.1.length) } }

    func read(_ loc: ValueLocation, into buffer: UnsafeMutableRawBufferPointer) throws {
        try ValueStore.preadAll(loc.inLog ? logFD : baseFD, buffer, offset: loc.offset)
    }

    func value(_ loc: ValueLocation) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: loc.length)
        try out.withUnsafeMutableBytes { try read(loc, into: $0) }
        return out
    }
}

/// The storage of one raft group. Not thread-safe: the simulator calls it under its lock.
final class ValueStore {
    let directory: String
    private(set) var generation: Int
    private var baseFD: Int32 = -1
    private var logFD: Int32 = -1
    private var logSize: Int64 = 0
    private(set) var index: [String: ValueLocation] = [:]
    private var sortedCache: [String]?

    init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let manifest = directory + "/store.json"
        if let data = FileManager.default.contents(atPath: manifest), let json = JSONValue.parse(Array(data)),
           let g = json["generation"]?.intValue {
            generation = g
        } else {
            generation = 0
            try ValueStore.createEmpty(directory + "/base-0.bin")
            try ValueStore.writeAtomically(path: manifest, bytes: JSONValue.object([("generation", .int(0))]).bytes)
        }
        try open()
    }

    deinit { closeFiles() }

    private var basePath: String { directory + "/base-\(generation).bin" }
    private var logPath: String { directory + "/log-\(generation).bin" }

    private func closeFiles() {
        if baseFD >= 0 { close(baseFD); baseFD = -1 }
        if logFD >= 0 { close(logFD); logFD = -1 }
    }

    private func open() throws {
        closeFiles()
        index = [:]
        sortedCache = nil
        baseFD = Glibc.open(basePath, O_RDONLY)
        guard baseFD >= 0 else { throw StoreError("cannot open \(basePath): errno \(errno)") }
        logFD = Glibc.open(logPath, O_RDWR | O_CREAT, 0o600)
        guard logFD >= 0 else { throw StoreError("cannot open \(logPath): errno \(errno)") }
        index = try ValueStore.indexStateFile(fd: baseFD)
        try replayLog()
    }

    /// Builds the key index of a state.bin-format file, validating its framing.
    static func indexStateFile(fd: Int32) throws -> [String: ValueLocation] {
        var result: [String: ValueLocation] = [:]
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError("stat failed") }
        let size = Int64(st.st_size)
        var window = [UInt8](repeating: 0, count: 64 * 1024)
        var wStart: Int64 = 0
        var wLen = 0
        func fill(_ at: Int64) throws {
            wStart = at
            wLen = Int(min(Int64(window.count), size - at))
            if wLen > 0 {
                try window.withUnsafeMutableBytes { try preadAll(fd, UnsafeMutableRawBufferPointer(rebasing: $0[0..<wLen]), offset: at) }
            }
        }
        var offset: Int64 = 0
        while offset < size {
            try fill(offset)
            var p = 0
            guard let msgLen = readUvarint(window, &p, limit: wLen) else { throw StoreError("bad frame length at offset \(offset)") }
            // Lengths come from uploaded bytes: compare them as unsigned before any signed conversion.
            guard msgLen <= UInt64(size - wStart - Int64(p)) else { throw StoreError("truncated entry at offset \(offset)") }
            let msgEnd = wStart + Int64(p) + Int64(msgLen)
            guard msgEnd <= size else { throw StoreError("truncated entry at offset \(offset)") }
            var key: String?
            var valueLoc = ValueLocation(inLog: false, offset: msgEnd, length: 0)
            while wStart + Int64(p) < msgEnd {
                if p + 20 > wLen { try fill(wStart + Int64(p)); p = 0 }
                let tag = window[p]; p += 1
                switch tag {
                case 0x0a, 0x12:
                    guard let l = readUvarint(window, &p, limit: wLen) else { throw StoreError("bad field length at offset \(offset)") }
                    let fieldStart = wStart + Int64(p)
                    guard fieldStart <= msgEnd, l <= UInt64(msgEnd - fieldStart) else { throw StoreError("field overruns entry at offset \(offset)") }
                    guard fieldStart + Int64(l) <= msgEnd else { throw StoreError("field overruns entry at offset \(offset)") }
                    if tag == 0x0a {
                        if p + Int(l) > wLen { try fill(fieldStart); p = 0 }
                        guard p + Int(l) <= wLen else { throw StoreError("key too long at offset \(offset)") }
                        key = String(decoding: window[p..<(p + Int(l))], as: UTF8.self)
                        p += Int(l)
                    } else {
                        valueLoc = ValueLocation(inLog: false, offset: fieldStart, length: Int(l))
                        let next = fieldStart + Int64(l)
                        if next - wStart > Int64(wLen) - 20 { try fill(next); p = 0 } else { p = Int(next - wStart) }
                    }
                case 0x18:
                    guard readUvarint(window, &p, limit: wLen) != nil else { throw StoreError("bad bool at offset \(offset)") }
                default:
                    throw StoreError("unexpected protobuf field tag \(tag) at offset \(offset)")
                }
            }
            guard wStart + Int64(p) == msgEnd else { throw StoreError("entry overruns its frame at offset \(offset)") }
            guard let k = key else { throw StoreError("entry without key at offset \(offset)") }
            result[k] = valueLoc
            offset = msgEnd
        }
        return result
    }

    static func readUvarint(_ b: [UInt8], _ p: inout Int, limit: Int) -> UInt64? {
        var v: UInt64 = 0, shift: UInt64 = 0
        while p < limit, shift < 64 {
            let c = b[p]; p += 1
            v |= UInt64(c & 0x7f) << shift
            if c < 0x80 { return v }
            shift += 7
        }
        return nil
    }

    private func replayLog() throws {
        var st = stat()
        fstat(logFD, &st)
        let size = Int64(st.st_size)
        var offset: Int64 = 0
        var hdr = [UInt8](repeating: 0, count: 9)
        while offset + 9 <= size {
            try hdr.withUnsafeMutableBytes { try ValueStore.preadAll(logFD, $0, offset: offset) }
            let op = hdr[0]
            let kl = Int(hdr[1]) | Int(hdr[2]) << 8 | Int(hdr[3]) << 16 | Int(hdr[4]) << 24
            let vl = Int(hdr[5]) | Int(hdr[6]) << 8 | Int(hdr[7]) << 16 | Int(hdr[8]) << 24
            let end = offset + 9 + Int64(kl) + Int64(vl)
            guard end <= size, op == 1 || op == 2 else { break }  // torn tail: drop it
            var k = [UInt8](repeating: 0, count: kl)
            try k.withUnsafeMutableBytes { try ValueStore.preadAll(logFD, $0, offset: offset + 9) }
            let key = String(decoding: k, as: UTF8.self)
            if op == 1 {
                index[key] = ValueLocation(inLog: true, offset: offset + 9 + Int64(kl), length: vl)
            } else {
                index[key] = nil
            }
            offset = end
        }
        if offset != size { ftruncate(logFD, off_t(offset)) }
        logSize = offset
    }

    // MARK: Reads and writes

    func get(_ key: String) -> [UInt8]? {
        guard let loc = index[key] else { return nil }
        var out = [UInt8](repeating: 0, count: loc.length)
        do {
            try out.withUnsafeMutableBytes { try ValueStore.preadAll(loc.inLog ? logFD : baseFD, $0, offset: loc.offset) }
        } catch { return nil }
        return out
    }

    func contains(_ key: String) -> Bool { index[key] != nil }

    func put(_ key: String, _ value: [UInt8]) throws { try apply([(key, value)]) }

    func delete(_ key: String) throws {
        guard index[key] != nil else { return }
        try apply([(key, nil)])
    }

    /// Appends a batch of puts (non-nil) and deletes (nil) with one write.
    func apply(_ batch: [(String, [UInt8]?)]) throws {
        var record: [UInt8] = []
        var pending: [(String, ValueLocation?)] = []
        for (key, value) in batch {
            let k = Array(key.utf8)
            let v = value ?? []
            let start = logSize + Int64(record.count)
            record.append(value == nil ? 2 : 1)
            for n in [k.count, v.count] {
                record.append(UInt8(n & 0xff)); record.append(UInt8(n >> 8 & 0xff))
                record.append(UInt8(n >> 16 & 0xff)); record.append(UInt8(n >> 24 & 0xff))
            }
            record.append(contentsOf: k)
            record.append(contentsOf: v)
            pending.append((key, value == nil ? nil : ValueLocation(inLog: true, offset: start + 9 + Int64(k.count), length: v.count)))
        }
        try record.withUnsafeBytes { try ValueStore.pwriteAll(logFD, $0, offset: logSize) }
        logSize += Int64(record.count)
        for (k, loc) in pending {
            if index[k] == nil || loc == nil { sortedCache = nil }
            index[k] = loc
        }
    }

    var sortedKeys: [String] {
        if let c = sortedCache { return c }
        let s = index.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        sortedCache = s
        return s
    }

    /// Keys directly or indirectly under `prefix`, sorted.
    func keys(withPrefix prefix: String) -> [String] { sortedKeys.filter { $0.hasPrefix(prefix) } }

    func view() -> StoreView {
        StoreView(entries: sortedKeys.map { ($0, index[$0]!) }, baseFD: baseFD, logFD: logFD)
    }

    var totalValueBytes: Int { index.values.reduce(0) { $0 + $1.length } }

    /// Replaces the whole contents with a state.bin-format file (moved into the store). Throws, leaving the
    /// store unchanged, when the file's framing is invalid.
    func replace(withStateFile path: String) throws {
        let fd = Glibc.open(path, O_RDONLY)
        guard fd >= 0 else { throw StoreError("cannot open \(path)") }
        do { _ = try ValueStore.indexStateFile(fd: fd) } catch { close(fd); throw error }
        close(fd)
        let next = generation + 1
        let newBase = directory + "/base-\(next).bin"
        if rename(path, newBase) != 0 {
            // Different filesystem: copy.
            try? FileManager.default.removeItem(atPath: newBase)
            try FileManager.default.copyItem(atPath: path, toPath: newBase)
            try? FileManager.default.removeItem(atPath: path)
        }
        let oldBase = basePath, oldLog = logPath
        try ValueStore.writeAtomically(path: directory + "/store.json", bytes: JSONValue.object([("generation", .int(next))]).bytes)
        generation = next
        try open()
        // Open views keep the old descriptors alive; unlinking is safe.
        unlink(oldBase); unlink(oldLog)
    }

    // MARK: File helpers

    static func createEmpty(_ path: String) throws {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreError("cannot create \(path)") }
        close(fd)
    }

    static func writeAtomically(path: String, bytes: [UInt8]) throws {
        let tmp = path + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = Glibc.open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StoreError("cannot create \(tmp): errno \(errno)") }
        do {
            try bytes.withUnsafeBytes { try pwriteAll(fd, $0, offset: 0) }
            fsync(fd)
            close(fd)
        } catch { close(fd); unlink(tmp); throw error }
        guard rename(tmp, path) == 0 else { unlink(tmp); throw StoreError("cannot rename \(tmp): errno \(errno)") }
    }

    static func preadAll(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int64) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 { if errno == EINTR { continue }; throw StoreError("read failed: errno \(errno)") }
            if n == 0 { throw StoreError("unexpected end of file") }
            done += n
        }
    }

    static func pwriteAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer, offset: Int64) throws {
        var done = 0
        while done < buffer.count {
            let n = pwrite(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 { if errno == EINTR { continue }; throw StoreError("write failed: errno \(errno)") }
            done += n
        }
    }
}
