// The package's one JSON parser: strict RFC 8259, numbers as text, member order kept, unpaired surrogates refused
// for Lifeboat's own documents and replaced (as Go does) for what vault-sim reads from clients.

import Testing
@testable import LifeboatSnapshot

@Suite("JSONDocument")
struct JSONDocumentTests {
    @Test("numbers keep their text, members their order, the last of a repeated name wins")
    func shape() throws {
        let document = try JSONDocumentParser.parse(Array(#"{"b": 18446744073709551615, "a": [1.50, null, true], "b": "x"}"#.utf8))
        guard case .object(let members) = document else { Issue.record("not an object"); return }
        #expect(members.members.map(\.key) == ["b", "a", "b"])
        #expect(members["b"] == .string("x"))
        #expect(members["a"] == .array([.number("1.50"), .null, .bool(true)]))
        #expect(members.members[0].value == .number("18446744073709551615"))
    }

    @Test("surrogates: pairs decode; a lone one is an error or U+FFFD as Go's encoding/json makes it")
    func surrogates() throws {
        #expect(try JSONDocumentParser.parse(Array(#""\uD83D\uDE00""#.utf8)) == .string("😀"))
        for lone in [#""\uD800""#, #""\uDC00""#, #""\uD800\u0041""#] {
            #expect(throws: JSONDocumentParser.SyntaxError.self) { try JSONDocumentParser.parse(Array(lone.utf8)) }
        }
        #expect(try JSONDocumentParser.parse(Array(#""\uD800\u0041""#.utf8), surrogates: .replaceAsGo) == .string("\u{FFFD}A"))
        #expect(try JSONDocumentParser.parse(Array(#""\uDC00x""#.utf8), surrogates: .replaceAsGo) == .string("\u{FFFD}x"))
        #expect(try JSONDocumentParser.parse(Array(#""\uD800""#.utf8), surrogates: .replaceAsGo) == .string("\u{FFFD}"))
    }

    @Test("hostile input is an error with its offset, never a trap", arguments: [
        "", "{", "[1,]", "01", "1.", "-", "\"\\q\"", "\"\u{01}\"", "tru", "{\"a\" 1}", "[1] 2", String(repeating: "[", count: 100),
    ])
    func refused(_ text: String) {
        #expect(throws: JSONDocumentParser.SyntaxError.self) { try JSONDocumentParser.parse(Array(text.utf8)) }
    }
}
