// Minimal protobuf wire-format encoding and decoding for the three messages Lifeboat touches:
// pb.StorageEntry (state.bin), wrapping.BlobInfo and wrapping.KeyInfo (SHA256SUMS.sealed, barrier-unseal-keys).

/// Unsigned LEB128 varints as protobuf and Go's `binary.PutUvarint` write them.
public enum Uvarint {
    /// Number of bytes `value` takes as a varint (1...10).
    @inline(__always)
    public static func length(_ value: UInt64) -> Int {
        var v = value
        var n = 1
        while v >= 0x80 {
            v >>= 7
            n += 1
        }
        return n
    }

    /// Appends `value` as a varint.
    public static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    /// Reads a varint at `offset`, advancing it; nil when the buffer ends first or the value exceeds 64 bits.
    public static func read(_ bytes: UnsafeRawBufferPointer, at offset: inout Int) -> UInt64? {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        var i = offset
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            if shift == 63 && b > 1 { return nil }
            result |= UInt64(b & 0x7f) << shift
            if b < 0x80 {
                offset = i
                return result
            }
            shift += 7
            if shift > 63 { return nil }
        }
        return nil
    }
}

/// Reads protobuf fields from a complete message held in memory.
struct ProtobufReader {
    enum Value {
        case varint(UInt64)
        case bytes(Range<Int>)
        case fixed
    }

    let bytes: [UInt8]
    let messageName: String
    var offset = 0

    init(_ bytes: [UInt8], messageName: String) {
        self.bytes = bytes
        self.messageName = messageName
    }

    /// The next field number and value, or nil at the end of the message.
    mutating func next() throws -> (field: UInt64, value: Value)? {
        guard offset < bytes.count else { return nil }
        return try bytes.withUnsafeBytes { p -> (UInt64, Value) in
            guard let tag = Uvarint.read(p, at: &offset) else { throw malformed("truncated field tag") }
            let field = tag >> 3
            guard field > 0 else { throw malformed("field number 0") }
            switch tag & 7 {
            case 0:
                guard let v = Uvarint.read(p, at: &offset) else { throw malformed("truncated varint in field \(field)") }
                return (field, .varint(v))
            case 1, 5:
                let width = tag & 7 == 1 ? 8 : 4
                guard bytes.count - offset >= width else { throw malformed("truncated fixed field \(field)") }
                offset += width
                return (field, .fixed)
            case 2:
                guard let n = Uvarint.read(p, at: &offset), n <= UInt64(bytes.count - offset) else {
                    throw malformed("length of field \(field) runs past the end of the message")
                }
                let start = offset
                offset += Int(n)
                return (field, .bytes(start..<offset))
            default:
                throw malformed("unsupported wire type \(tag & 7) in field \(field)")
            }
        }
    }

    func malformed(_ what: String) -> SnapshotError {
        SnapshotError(.protobuf, "\(messageName) is not a valid protobuf message: \(what) at byte \(offset) of \(bytes.count)")
    }
}

private func appendTag(_ field: UInt64, _ wireType: UInt64, to out: inout [UInt8]) {
    Uvarint.append(field << 3 | wireType, to: &out)
}

private func appendBytesField(_ field: UInt64, _ value: [UInt8], to out: inout [UInt8], always: Bool = false) {
    guard always || !value.isEmpty else { return }
    appendTag(field, 2, to: &out)
    Uvarint.append(UInt64(value.count), to: &out)
    out.append(contentsOf: value)
}

private func appendVarintField(_ field: UInt64, _ value: UInt64, to out: inout [UInt8]) {
    guard value != 0 else { return }
    appendTag(field, 0, to: &out)
    Uvarint.append(value, to: &out)
}

/// `pb.StorageEntry` (Vault `sdk/plugin/pb/backend.proto`): one key/value of state.bin.
public struct StorageEntry: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    public var sealWrap: Bool

    public init(key: String, value: [UInt8], sealWrap: Bool = false) {
        self.key = key
        self.value = value
        self.sealWrap = sealWrap
    }

    /// proto3 encoding (empty fields omitted), as Go's `proto.Marshal` produces it.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        appendBytesField(1, Array(key.utf8), to: &out)
        appendBytesField(2, value, to: &out)
        appendVarintField(3, sealWrap ? 1 : 0, to: &out)
        return out
    }

    /// `uvarint(len) || message`, the framing of each state.bin record.
    public func delimited() -> [UInt8] {
        let message = encoded()
        var out: [UInt8] = []
        out.reserveCapacity(message.count + 5)
        Uvarint.append(UInt64(message.count), to: &out)
        out.append(contentsOf: message)
        return out
    }

    public init(decoding bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes, messageName: "StorageEntry")
        var key = ""
        var value: [UInt8] = []
        var sealWrap = false
        while let (field, v) = try reader.next() {
            switch (field, v) {
            case (1, .bytes(let r)): key = String(decoding: bytes[r], as: UTF8.self)
            case (2, .bytes(let r)): value = Array(bytes[r])
            case (3, .varint(let x)): sealWrap = x != 0
            default: continue
            }
        }
        self.init(key: key, value: value, sealWrap: sealWrap)
    }
}

/// go-kms-wrapping `KeyInfo` (fields 1-6; others are skipped on decode).
public struct KeyInfo: Sendable, Equatable {
    public var mechanism: UInt64
    public var hmacMechanism: UInt64
    public var keyID: String
    public var hmacKeyID: String
    public var wrappedKey: [UInt8]
    public var flags: UInt64

    public init(mechanism: UInt64 = 0, hmacMechanism: UInt64 = 0, keyID: String = "", hmacKeyID: String = "",
                wrappedKey: [UInt8] = [], flags: UInt64 = 0) {
        self.mechanism = mechanism
        self.hmacMechanism = hmacMechanism
        self.keyID = keyID
        self.hmacKeyID = hmacKeyID
        self.wrappedKey = wrappedKey
        self.flags = flags
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        appendVarintField(1, mechanism, to: &out)
        appendVarintField(2, hmacMechanism, to: &out)
        appendBytesField(3, Array(keyID.utf8), to: &out)
        appendBytesField(4, Array(hmacKeyID.utf8), to: &out)
        appendBytesField(5, wrappedKey, to: &out)
        appendVarintField(6, flags, to: &out)
        return out
    }

    public init(decoding bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes, messageName: "KeyInfo")
        self.init()
        while let (field, v) = try reader.next() {
            switch (field, v) {
            case (1, .varint(let x)): mechanism = x
            case (2, .varint(let x)): hmacMechanism = x
            case (3, .bytes(let r)): keyID = String(decoding: bytes[r], as: UTF8.self)
            case (4, .bytes(let r)): hmacKeyID = String(decoding: bytes[r], as: UTF8.self)
            case (5, .bytes(let r)): wrappedKey = Array(bytes[r])
            case (6, .varint(let x)): flags = x
            default: continue
            }
        }
    }
}

/// go-kms-wrapping `BlobInfo`: the seal-encrypted form of SHA256SUMS.sealed and `core/hsm/barrier-unseal-keys`.
///
/// Vault 1.14 with a Shamir seal writes `0a <len> <ciphertext> 2a 00`: the ciphertext (12-byte nonce || AES-GCM output)
/// and an empty `key_info`. `BlobInfo(ciphertext: c, keyInfo: KeyInfo()).encoded()` reproduces that form.
public struct BlobInfo: Sendable, Equatable {
    public var ciphertext: [UInt8]
    public var iv: [UInt8]
    public var hmac: [UInt8]
    /// Deprecated field 4; Vault ≥1.15 sets it for single-seal values.
    public var wrapped: Bool
    /// nil omits field 5; an empty `KeyInfo()` writes `2a 00` as Vault 1.14 does.
    public var keyInfo: KeyInfo?
    public var valuePath: String
    public var plaintext: [UInt8]

    public init(ciphertext: [UInt8], iv: [UInt8] = [], hmac: [UInt8] = [], wrapped: Bool = false,
                keyInfo: KeyInfo? = KeyInfo(), valuePath: String = "", plaintext: [UInt8] = []) {
        self.ciphertext = ciphertext
        self.iv = iv
        self.hmac = hmac
        self.wrapped = wrapped
        self.keyInfo = keyInfo
        self.valuePath = valuePath
        self.plaintext = plaintext
    }

    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        appendBytesField(1, ciphertext, to: &out)
        appendBytesField(2, iv, to: &out)
        appendBytesField(3, hmac, to: &out)
        appendVarintField(4, wrapped ? 1 : 0, to: &out)
        if let keyInfo { appendBytesField(5, keyInfo.encoded(), to: &out, always: true) }
        appendBytesField(6, Array(valuePath.utf8), to: &out)
        appendBytesField(7, plaintext, to: &out)
        return out
    }

    /// Decodes a BlobInfo; throws a `protobuf` SnapshotError when the bytes are not one.
    public init(decoding bytes: [UInt8]) throws {
        var reader = ProtobufReader(bytes, messageName: "BlobInfo")
        self.init(ciphertext: [], keyInfo: nil)
        while let (field, v) = try reader.next() {
            switch (field, v) {
            case (1, .bytes(let r)): ciphertext = Array(bytes[r])
            case (2, .bytes(let r)): iv = Array(bytes[r])
            case (3, .bytes(let r)): hmac = Array(bytes[r])
            case (4, .varint(let x)): wrapped = x != 0
            case (5, .bytes(let r)): keyInfo = try KeyInfo(decoding: Array(bytes[r]))
            case (6, .bytes(let r)): valuePath = String(decoding: bytes[r], as: UTF8.self)
            case (7, .bytes(let r)): plaintext = Array(bytes[r])
            default: continue
            }
        }
    }
}
