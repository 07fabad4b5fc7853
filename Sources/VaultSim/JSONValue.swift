// An ordered JSON value: the simulator writes objects with keys in Vault's struct-field order and parses request
// bodies leniently (like Go's encoding/json into map[string]interface{}).

import Foundation
import LifeboatSnapshot

/// A JSON document whose objects keep their key order when serialized.
enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    static func == (lhs: JSONValue, rhs: JSONValue) -> Bool { lhs.serialized() == rhs.serialized() }

    static func int(_ v: Int) -> JSONValue { .int(Int64(v)) }
    static func uint(_ v: UInt64) -> JSONValue { .int(Int64(clamping: v)) }
    static func strings(_ v: [String]) -> JSONValue { .array(v.map { .string($0) }) }
    static func optionalString(_ v: String?) -> JSONValue { v.map { .string($0) } ?? .null }

    subscript(key: String) -> JSONValue? {
        if case .object(let pairs) = self { return pairs.last(where: { $0.0 == key })?.1 }
        return nil
    }

    /// The member `key`, or `fallback` when absent.
    func get(_ key: String, _ fallback: JSONValue) -> JSONValue { self[key] ?? fallback }

    var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .string(let s): return ["1", "t", "T", "true", "TRUE", "True"].contains(s) ? true
            : (["0", "f", "F", "false", "FALSE", "False", ""].contains(s) ? false : nil)
        case .int(let i): return i != 0
        default: return nil
        }
    }
    var intValue: Int? {
        switch self {
        case .int(let i): return Int(exactly: i)
        case .double(let d): return JSONValue.integer(d)
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    /// The integer part of `d` when it fits in an `Int` (nil for 1e19, infinities and NaN: never a trap).
    static func integer(_ d: Double) -> Int? {
        guard d.isFinite else { return nil }
        return Int(exactly: d.rounded(.towardZero))
    }
    var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }
    var objectValue: [(String, JSONValue)]? { if case .object(let o) = self { return o }; return nil }

    /// A list of strings given either as a JSON array or a comma-separated string (Vault accepts both).
    var stringList: [String]? {
        switch self {
        case .array(let a): return a.compactMap { $0.stringValue }
        case .string(let s): return s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        default: return nil
        }
    }

    /// The value as an untyped Foundation object (for TTL parsing of number-or-string fields).
    var any: Any? {
        switch self {
        case .null: return nil
        case .bool(let b): return b
        case .int(let i): return Int(i)
        case .double(let d): return d
        case .string(let s): return s
        case .array(let a): return a.map { $0.any as Any }
        case .object(let o): return Dictionary(o.map { ($0.0, $0.1.any as Any) }, uniquingKeysWith: { $1 })
        }
    }

    func serialized() -> String {
        var out = ""
        write(into: &out)
        return out
    }

    var bytes: [UInt8] { Array(serialized().utf8) }

    private func write(into out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            if !d.isFinite { out += "null" }  // JSON has no infinities (a parsed 1e400 is one)
            else { out += d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : String(d) }
        case .string(let s): JSONValue.writeString(s, into: &out)
        case .array(let a):
            out += "["
            for (i, v) in a.enumerated() { if i > 0 { out += "," }; v.write(into: &out) }
            out += "]"
        case .object(let o):
            out += "{"
            for (i, (k, v)) in o.enumerated() {
                if i > 0 { out += "," }
                JSONValue.writeString(k, into: &out)
                out += ":"
                v.write(into: &out)
            }
            out += "}"
        }
    }

    /// Go's encoding/json string escaping (including HTML escaping of <, > and &): LifeboatSnapshot's, the one
    /// implementation.
    static func writeString(_ s: String, into out: inout String) {
        out += GoJSON.quoted(s)
    }

    /// Parses JSON bytes; nil when they are not valid JSON (objects keep their key order).
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        var p = JSONParser(bytes: bytes)
        guard let v = p.value() else { return nil }
        p.skipSpace()
        return p.i == bytes.count ? v : nil
    }
}

/// A small strict JSON parser (RFC 8259) producing `JSONValue`.
struct JSONParser {
    let bytes: [UInt8]
    var i = 0
    var depth = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    mutating func skipSpace() {
        while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 }
    }

    mutating func value() -> JSONValue? {
        skipSpace()
        guard i < bytes.count, depth < 512 else { return nil }
        switch bytes[i] {
        case UInt8(ascii: "{"):
            i += 1; depth += 1; defer { depth -= 1 }
            var pairs: [(String, JSONValue)] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard let k = string() else { return nil }
                skipSpace()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let v = value() else { return nil }
                pairs.append((k, v))
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                return nil
            }
        case UInt8(ascii: "["):
            i += 1; depth += 1; defer { depth -= 1 }
            var items: [JSONValue] = []
            skipSpace()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                guard let v = value() else { return nil }
                items.append(v)
                skipSpace()
                guard i < bytes.count else { return nil }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                return nil
            }
        case UInt8(ascii: "\""):
            return string().map { .string($0) }
        case UInt8(ascii: "t"): return literal("true", .bool(true))
        case UInt8(ascii: "f"): return literal("false", .bool(false))
        case UInt8(ascii: "n"): return literal("null", .null)
        default: return number()
        }
    }

    mutating func literal(_ word: String, _ v: JSONValue) -> JSONValue? {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w else { return nil }
        i += w.count
        return v
    }

    mutating func number() -> JSONValue? {
        let start = i
        var isInt = true
        while i < bytes.count {
            let c = bytes[i]
            if (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") { i += 1; continue }
            if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") || c == UInt8(ascii: "+") {
                isInt = false; i += 1; continue
            }
            break
        }
        guard i > start, let text = String(bytes: bytes[start..<i], encoding: .utf8) else { return nil }
        if isInt, let n = Int64(text) { return .int(n) }
        // Out of Double's range (1e999) is an error, as in Go; infinity would serialize as `inf`, which is not JSON.
        return Double(text).flatMap { $0.isFinite ? .double($0) : nil }
    }

    mutating func string() -> String? {
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out = [UInt8]()
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
            if c == UInt8(ascii: "\\") {
                guard i < bytes.count else { return nil }
                let e = bytes[i]; i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0a)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0d)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0c)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    // Go's encoding/json: a high surrogate followed by an escaped low surrogate is one rune; any
                    // other surrogate is U+FFFD and the following escape is decoded on its own ("\uD800\u0041").
                    if scalar >= 0xD800 && scalar < 0xDC00, i + 5 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                       bytes[i + 1] == UInt8(ascii: "u") {
                        let save = i
                        i += 2
                        if let low = hex4(), low >= 0xDC00 && low < 0xE000 {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else {
                            i = save
                        }
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map { Character($0) } ?? "\u{FFFD}").utf8))
                default: out.append(e)
                }
            } else {
                out.append(c)
            }
        }
        return nil
    }

    mutating func hex4() -> UInt32? {
        guard i + 4 <= bytes.count, let s = String(bytes: bytes[i..<(i + 4)], encoding: .ascii), let v = UInt32(s, radix: 16)
        else { return nil }
        i += 4
        return v
    }
}
