// An ordered JSON value: the simulator writes objects with keys in Vault's struct-field order and reads request
// bodies with the package's one JSON parser, as Go's encoding/json reads them into map[string]interface{}.

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

    /// Parses JSON bytes; nil when they are not valid JSON (objects keep their key order). The package's one
    /// parser (JSONDocument), reading as Go's encoding/json does: unpaired surrogates become U+FFFD; integers that
    /// fit 64 bits stay integers, other numbers are doubles, and a number beyond Double's range is an error.
    static func parse(_ bytes: [UInt8]) -> JSONValue? {
        guard let document = try? JSONDocumentParser.parse(bytes, maximumDepth: 512, surrogates: .replaceAsGo) else { return nil }
        return JSONValue(document)
    }

    private init?(_ document: JSONDocument) {
        switch document {
        case .null: self = .null
        case .bool(let value): self = .bool(value)
        case .string(let text): self = .string(text)
        case .number(let text):
            if let integer = Int64(text) {
                self = .int(integer)
            } else if let value = Double(text), value.isFinite {
                self = .double(value)
            } else {
                return nil
            }
        case .array(let elements):
            var items: [JSONValue] = []
            items.reserveCapacity(elements.count)
            for element in elements {
                guard let item = JSONValue(element) else { return nil }
                items.append(item)
            }
            self = .array(items)
        case .object(let members):
            var pairs: [(String, JSONValue)] = []
            pairs.reserveCapacity(members.members.count)
            for member in members.members {
                guard let value = JSONValue(member.value) else { return nil }
                pairs.append((member.key, value))
            }
            self = .object(pairs)
        }
    }
}
