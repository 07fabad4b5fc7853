// The module graph as docs/architecture.md states it: each source file imports only the Lifeboat modules its
// module may import (the table "What each module may import"), and Package.swift declares exactly those.
// SwiftPM lets a module import a transitive dependency it never declared, so the compiler alone does not hold
// the line: this test does.

import Foundation
import Testing

@Suite struct ArchitectureTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The project's own modules (directories under Sources/ with Swift files).
    static func ownModules() throws -> Set<String> {
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("Sources").path)
        return Set(names.filter { !$0.hasPrefix(".") })
    }

    /// `module -> modules it may import`, read from docs/architecture.md.
    static func documentedGraph() throws -> [String: Set<String>] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        guard let start = text.range(of: "## What each module may import") else {
            Issue.record("docs/architecture.md has no section \"What each module may import\"")
            return [:]
        }
        var graph: [String: Set<String>] = [:]
        for line in text[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("## ") { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 3, cells[1].hasPrefix("`") else { continue }
            let module = cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            let allowed = cells[2].split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "` ")) }
                .filter { !$0.isEmpty && $0 != "-" }
            graph[module] = Set(allowed)
        }
        return graph
    }

    @Test func everyModuleIsDocumented() throws {
        let graph = try Self.documentedGraph()
        let own = try Self.ownModules()
        #expect(Set(graph.keys) == own, "docs/architecture.md lists \(graph.keys.sorted()), Sources/ has \(own.sorted())")
        for (module, allowed) in graph {
            #expect(allowed.isSubset(of: own), "\(module) may import \(allowed.subtracting(own).sorted()), which are not modules of this package")
        }
    }

    @Test func sourcesImportOnlyWhatTheirModuleMay() throws {
        let graph = try Self.documentedGraph()
        let own = try Self.ownModules()
        let sources = Self.root.appendingPathComponent("Sources")
        for module in own.sorted() {
            let allowed = graph[module] ?? []
            let dir = sources.appendingPathComponent(module)
            guard let files = FileManager.default.enumerator(atPath: dir.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: dir.appendingPathComponent(file), encoding: .utf8)
                for line in text.split(separator: "\n") {
                    let words = line.split(separator: " ")
                    guard let i = words.firstIndex(of: "import"), words[..<i].allSatisfy({ ["@testable", "public", "internal", "package", "@_exported"].contains($0) }),
                          i + 1 < words.count else { continue }
                    let imported = String(words[i + 1])
                    guard own.contains(imported), imported != module else { continue }
                    #expect(allowed.contains(imported), "Sources/\(module)/\(file) imports \(imported), which docs/architecture.md does not allow \(module) to import")
                }
            }
        }
    }

    /// Package.swift's target dependencies on the package's own modules equal the documented table, so the graph the
    /// compiler enforces and the one the document shows are the same.
    @Test func packageManifestMatchesTheDocument() throws {
        let graph = try Self.documentedGraph()
        let own = try Self.ownModules()
        let manifest = try String(contentsOf: Self.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        // Each target declaration runs from `.target(` (or executableTarget/systemLibrary) to the next one; its own
        // modules named in quotes after `name:` are its dependencies.
        var declared: [String: Set<String>] = [:]
        let marker = /\.(target|executableTarget|systemLibrary|testTarget)\(/
        let starts = manifest.matches(of: marker).map(\.range.lowerBound) + [manifest.endIndex]
        for (start, end) in zip(starts, starts.dropFirst()) {
            let quoted = manifest[start..<end].split(separator: "\"").enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) }
            guard let name = quoted.first, own.contains(name), !manifest[start..<end].hasPrefix(".testTarget") else { continue }
            declared[name] = Set(quoted.dropFirst().filter { own.contains($0) && $0 != name })
        }
        for module in own.sorted() {
            guard let documented = graph[module], let inManifest = declared[module] else {
                Issue.record("\(module): not found in Package.swift or docs/architecture.md")
                continue
            }
            #expect(inManifest == documented, "\(module): Package.swift depends on \(inManifest.sorted()), docs/architecture.md allows \(documented.sorted())")
        }
    }

    /// Shared state sits behind PThreadLocked (a pthread mutex), never `Synchronization.Mutex`: on Linux Mutex locks
    /// with raw futex calls that ThreadSanitizer cannot see, so it reports the guarded accesses as races and the suite
    /// could not run clean under `--sanitize=thread` (docs/sanitizers.md).
    @Test func sharedStateUsesTheOneLockType() throws {
        var definitions: [String] = []
        for directory in ["Sources", "Tests", "Fuzz/Sources"] {
            let base = Self.root.appendingPathComponent(directory)
            guard let files = FileManager.default.enumerator(atPath: base.path) else { continue }
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: base.appendingPathComponent(file), encoding: .utf8)
                let uses = text.matches(of: /(^|[^A-Za-z_.])Mutex\s*[<(]|import\s+Synchronization\b.*\n(?s:.*)[^A-Za-z_]Mutex\b/)
                #expect(uses.isEmpty, "\(directory)/\(file) uses Synchronization.Mutex; use PThreadLocked (LifeboatArchive)")
                if text.contains(/(?m)^\s*(?:\w+\s+)*(?:class|struct|enum|actor)\s+PThreadLocked\b/) {
                    definitions.append("\(directory)/\(file)")
                }
            }
        }
        #expect(definitions == ["Sources/LifeboatArchive/PThreadLocked.swift"], "PThreadLocked is defined in \(definitions)")
    }
}
