// S3's XML reader refuses documents nested deeper than S3XML.maximumDepth instead of recursing until the stack
// overflows (issue 15: a hostile endpoint or proxy controls the body).

import Testing
@testable import LifeboatS3

@Suite("S3 XML nesting limit")
struct S3XMLDepthTests {
    static func nested(_ depth: Int, selfClosingLeaf: Bool = false) -> [UInt8] {
        var doc = Array("<?xml version=\"1.0\"?>".utf8)
        doc.reserveCapacity(doc.count + depth * 7)
        for _ in 0..<(selfClosingLeaf ? depth - 1 : depth) { doc += Array("<a>".utf8) }
        if selfClosingLeaf { doc += Array("<b/>".utf8) }
        for _ in 0..<(selfClosingLeaf ? depth - 1 : depth) { doc += Array("</a>".utf8) }
        return doc
    }

    @Test("a document exactly at the limit parses, one level deeper is refused with a clear reason")
    func limit() throws {
        var root = try S3XML.parse(Self.nested(S3XML.maximumDepth))
        var levels = 1
        while let child = root.children.first {
            root = child
            levels += 1
        }
        #expect(levels == S3XML.maximumDepth)
        #expect(try S3XML.parse(Self.nested(S3XML.maximumDepth, selfClosingLeaf: true)).name == "a")

        for doc in [Self.nested(S3XML.maximumDepth + 1), Self.nested(S3XML.maximumDepth + 1, selfClosingLeaf: true)] {
            let error = try #require(throws: S3XML.ParseError.self) { try S3XML.parse(doc) }
            #expect(error.reason == "elements nested deeper than \(S3XML.maximumDepth) levels")
        }
    }

    @Test("a million nested open tags fail fast instead of overflowing the stack")
    func hostileDepth() throws {
        var doc = [UInt8]()
        doc.reserveCapacity(3_000_000)
        for _ in 0..<1_000_000 { doc += [0x3c, 0x61, 0x3e] }  // "<a>"
        let error = try #require(throws: S3XML.ParseError.self) { try S3XML.parse(doc) }
        #expect(error.description.contains("nested deeper than \(S3XML.maximumDepth)"))
        // The offset names the start of the first element past the limit.
        #expect(error.offset == 3 * S3XML.maximumDepth)
    }
}

/// Crashers found by `fuzz-s3-xml` (docs/fuzzing.md), kept as regression tests.
@Suite("S3 XML fuzz regressions")
struct S3XMLFuzzRegressionTests {
    /// `<\u{E3}:/>`: the name was only a namespace prefix; the reader returned an element without a name.
    @Test("a tag that is only a namespace prefix is refused", arguments: ["<\u{E3}:/>", "<s3:></s3:>", "<a><b:/></a>"])
    func prefixOnlyName(_ document: String) throws {
        let error = try #require(throws: S3XML.ParseError.self) { try S3XML.parse(Array(document.utf8)) }
        #expect(error.reason.hasPrefix("empty tag name after the namespace prefix"), "\(error.reason)")
        // A prefixed name still parses to its local part.
        #expect(try S3XML.parse(Array("<s3:Error><s3:Code>x</s3:Code></s3:Error>".utf8)).child("Code")?.text == "x")
    }
}
