// The fuzz targets are listed in three places that must agree: Fuzz/Package.swift (what is built),
// scripts/fuzz.sh (what is run, with its options) and docs/fuzzing.md (what each feeds and its oracles).

import Foundation
import Testing

@Suite struct FuzzTargetsDocumentedTests {
    static let root = coreTestsDirectory.deletingLastPathComponent().deletingLastPathComponent()

    static func names(in text: String, matching pattern: Regex<(Substring, Substring)>) -> Set<String> {
        Set(text.matches(of: pattern).map { String($0.output.1) })
    }

    @Test func everyTargetIsBuiltRunAndDocumented() throws {
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Fuzz/Package.swift"), encoding: .utf8)
        let script = try String(contentsOf: Self.root.appendingPathComponent("scripts/fuzz.sh"), encoding: .utf8)
        let document = try String(contentsOf: Self.root.appendingPathComponent("docs/fuzzing.md"), encoding: .utf8)
        let built = Self.names(in: manifest, matching: #/\("(fuzz-[a-z0-9-]+)", \[/#)
        let run = Self.names(in: script, matching: #/\n  "(fuzz-[a-z0-9-]+)[ "]/#)
        let documented = Self.names(in: document, matching: #/\n\| `(fuzz-[a-z0-9-]+)` \|/#)
        #expect(built.count >= 9, "Fuzz/Package.swift: \(built.sorted())")
        #expect(run == built, "scripts/fuzz.sh runs \(run.sorted()), Fuzz/Package.swift builds \(built.sorted())")
        #expect(documented == built, "docs/fuzzing.md describes \(documented.sorted()), Fuzz/Package.swift builds \(built.sorted())")
        for target in built {
            #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent("Fuzz/Sources/\(target)").path),
                    "no harness in Fuzz/Sources/\(target)")
        }
    }
}
