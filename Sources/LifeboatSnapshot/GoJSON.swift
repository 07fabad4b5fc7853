// Byte-exact helpers reproducing Go's encoding/json output for the few documents Vault writes (meta.json, seal config).

/// Appends JSON text the way Go's `encoding/json` writes it (HTML-safe escaping, compact).
struct GoJSONWriter {
    var bytes: [UInt8] = []

    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
    }

    mutating func int<T: BinaryInteger>(_ value: T) {
        raw(String(value))
    }

    mutating func bool(_ value: Bool) {
        raw(value ? "true" : "false")
    }

    /// Go escapes `"`, `\`, control characters, `<`, `>`, `&`, U+2028 and U+2029; everything else is literal UTF-8.
    mutating func string(_ text: String) {
        let hex = Array("0123456789abcdef".utf8)
        bytes.append(UInt8(ascii: "\""))
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": raw("\\\"")
            case "\\": raw("\\\\")
            case "\n": raw("\\n")
            case "\r": raw("\\r")
            case "\t": raw("\\t")
            case "<", ">", "&", "\u{2028}", "\u{2029}":
                let v = scalar.value
                raw("\\u")
                bytes.append(hex[Int((v >> 12) & 0xf)])
                bytes.append(hex[Int((v >> 8) & 0xf)])
                bytes.append(hex[Int((v >> 4) & 0xf)])
                bytes.append(hex[Int(v & 0xf)])
            default:
                if scalar.value < 0x20 {
                    raw("\\u00")
                    bytes.append(hex[Int(scalar.value >> 4)])
                    bytes.append(hex[Int(scalar.value & 0xf)])
                } else {
                    bytes.append(contentsOf: String(scalar).utf8)
                }
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

/// Go's encoding/json string quoting, for other modules (vault-sim writes every response through it).
public enum GoJSON {
    /// `text` as a JSON string literal exactly as Go's `encoding/json` writes it.
    public static func quoted(_ text: String) -> String {
        var writer = GoJSONWriter()
        writer.string(text)
        return String(decoding: writer.bytes, as: UTF8.self)
    }
}
