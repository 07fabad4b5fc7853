// A small XML reader for S3's response bodies (errors, listings, multipart results). It builds an element tree
// and handles what S3 sends: a prolog, attributes (ignored), self-closing tags, CDATA, comments and the five
// predefined entities plus numeric character references. No DTDs, no namespaces beyond dropping a prefix.

/// One XML element: its local name, its child elements and its text content (concatenated, entity-decoded).
public struct S3XMLElement: Sendable, Equatable {
    public var name: String
    public var children: [S3XMLElement]
    public var text: String

    /// The first child element named `name`.
    public func child(_ name: String) -> S3XMLElement? { children.first { $0.name == name } }

    /// All child elements named `name`, in document order.
    public func children(_ name: String) -> [S3XMLElement] { children.filter { $0.name == name } }
}

/// Parses S3 XML documents.
public enum S3XML {
    public struct ParseError: Error, Sendable, CustomStringConvertible {
        public let offset: Int
        public let reason: String
        public var description: String { "malformed XML at byte \(offset): \(reason)" }
    }

    /// Deepest element nesting accepted. S3's documents nest 4 levels; the limit keeps a hostile body (a proxy, a
    /// fake endpoint) from exhausting the stack through the recursive element parser.
    public static let maximumDepth = 64

    /// Parses a document and returns its root element.
    public static func parse(_ bytes: [UInt8]) throws -> S3XMLElement {
        var parser = Parser(bytes: bytes)
        return try parser.document()
    }

    /// Escapes text for element content.
    public static func escape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.append(ch)
            }
        }
        return out
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

        func starts(with s: String) -> Bool {
            let u = Array(s.utf8)
            guard i + u.count <= bytes.count else { return false }
            return Array(bytes[i..<(i + u.count)]) == u
        }

        mutating func skip(past terminator: String) throws {
            let u = Array(terminator.utf8)
            while i + u.count <= bytes.count {
                if Array(bytes[i..<(i + u.count)]) == u { i += u.count; return }
                i += 1
            }
            throw fail("unterminated construct, expected \(terminator)")
        }

        mutating func skipMisc() throws {
            while i < bytes.count {
                if isSpace(bytes[i]) { i += 1 }
                else if starts(with: "<?") { try skip(past: "?>") }
                else if starts(with: "<!--") { try skip(past: "-->") }
                else if starts(with: "<!DOCTYPE") { try skip(past: ">") }
                else { return }
            }
        }

        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0a || b == 0x0d }

        mutating func document() throws -> S3XMLElement {
            // A UTF-8 byte order mark may precede the prolog.
            if starts(with: "\u{FEFF}") { i += 3 }
            try skipMisc()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "<") else { throw fail("no root element") }
            let root = try element(depth: 1)
            try skipMisc()
            guard i == bytes.count else { throw fail("content after the root element") }
            return root
        }

        mutating func name() throws -> String {
            let start = i
            while i < bytes.count, !isSpace(bytes[i]), bytes[i] != UInt8(ascii: ">"), bytes[i] != UInt8(ascii: "/"),
                  bytes[i] != UInt8(ascii: "=") {
                i += 1
            }
            guard i > start else { throw fail("empty tag name") }
            let full = String(decoding: bytes[start..<i], as: UTF8.self)
            // A namespace prefix is dropped; what remains must be a name (`<s3:>` is not an element).
            let local = full.lastIndex(of: ":").map { String(full[full.index(after: $0)...]) } ?? full
            guard !local.isEmpty else { throw fail("empty tag name after the namespace prefix in <\(full)>") }
            return local
        }

        /// Parses `<name attrs>content</name>` or `<name attrs/>` starting at `<`; `depth` is 1 for the root.
        mutating func element(depth: Int) throws -> S3XMLElement {
            guard depth <= S3XML.maximumDepth else {
                throw fail("elements nested deeper than \(S3XML.maximumDepth) levels")
            }
            i += 1
            let tag = try name()
            // Attributes: skipped, honouring quotes so a `>` inside a value does not end the tag.
            while true {
                guard i < bytes.count else { throw fail("unterminated start tag <\(tag)>") }
                let b = bytes[i]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "'") {
                    i += 1
                    while i < bytes.count, bytes[i] != b { i += 1 }
                    guard i < bytes.count else { throw fail("unterminated attribute value in <\(tag)>") }
                    i += 1
                } else if b == UInt8(ascii: "/") {
                    guard i + 1 < bytes.count, bytes[i + 1] == UInt8(ascii: ">") else { throw fail("stray / in <\(tag)>") }
                    i += 2
                    return S3XMLElement(name: tag, children: [], text: "")
                } else if b == UInt8(ascii: ">") {
                    i += 1
                    break
                } else {
                    i += 1
                }
            }
            var children: [S3XMLElement] = []
            var text: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("element <\(tag)> is not closed") }
                if bytes[i] == UInt8(ascii: "<") {
                    if starts(with: "</") {
                        i += 2
                        let closing = try name()
                        guard closing == tag else { throw fail("</\(closing)> closes <\(tag)>") }
                        while i < bytes.count, isSpace(bytes[i]) { i += 1 }
                        guard i < bytes.count, bytes[i] == UInt8(ascii: ">") else { throw fail("malformed end tag") }
                        i += 1
                        return S3XMLElement(name: tag, children: children, text: String(decoding: text, as: UTF8.self))
                    } else if starts(with: "<!--") {
                        try skip(past: "-->")
                    } else if starts(with: "<![CDATA[") {
                        i += 9
                        let start = i
                        try skip(past: "]]>")
                        text.append(contentsOf: bytes[start..<(i - 3)])
                    } else if starts(with: "<?") {
                        try skip(past: "?>")
                    } else {
                        children.append(try element(depth: depth + 1))
                    }
                } else if bytes[i] == UInt8(ascii: "&") {
                    text.append(contentsOf: try entity())
                } else {
                    text.append(bytes[i])
                    i += 1
                }
            }
        }

        mutating func entity() throws -> [UInt8] {
            let start = i
            while i < bytes.count, bytes[i] != UInt8(ascii: ";"), i - start < 12 { i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: ";") else { throw fail("unterminated entity") }
            let body = String(decoding: bytes[(start + 1)..<i], as: UTF8.self)
            i += 1
            switch body {
            case "amp": return [UInt8(ascii: "&")]
            case "lt": return [UInt8(ascii: "<")]
            case "gt": return [UInt8(ascii: ">")]
            case "quot": return [UInt8(ascii: "\"")]
            case "apos": return [UInt8(ascii: "'")]
            default:
                var value: UInt32?
                if body.hasPrefix("#x") || body.hasPrefix("#X") { value = UInt32(body.dropFirst(2), radix: 16) }
                else if body.hasPrefix("#") { value = UInt32(body.dropFirst(1)) }
                guard let v = value, let scalar = Unicode.Scalar(v) else { throw fail("unknown entity &\(body);") }
                return Array(String(Character(scalar)).utf8)
            }
        }
    }
}
