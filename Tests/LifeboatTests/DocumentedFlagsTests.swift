// Every `--flag` that README.md and docs/**/*.md name must exist: on the command that names it (`lifeboat restore
// --plan`, `prune --dry-run`, `vault-sim fault fail --status`), checked against that command's real `--help` as the
// built binaries print it; a flag named without a command must exist on at least one command. Flags of other
// programs (curl, docker, restic, python3, ...) are recognised by the program named before them; a repository script
// (scripts/fuzz.sh, Tests/.../x.py) must mention the flag it is documented with.

import Foundation
import Testing

@Suite("Documented flags exist")
struct DocumentedFlagsTests {
    /// The repository root.
    static let root = coreTestsDirectory.appendingPathComponent("../..").standardized

    @Test("every --flag in README.md and docs/ is accepted by the command that names it")
    func documentedFlagsExist() async throws {
        let programs = try await HelpCatalog()
        var problems: [String] = []
        var checked = 0
        for file in try Self.documents() {
            let text = try String(contentsOf: file, encoding: .utf8)
            let name = file.path.replacingOccurrences(of: Self.root.path + "/", with: "")
            for mention in FlagMentions.extract(from: text, commands: programs.tree) {
                checked += 1
                if let problem = try programs.problem(with: mention) {
                    problems.append("\(name):\(mention.line): \(problem)")
                }
            }
        }
        #expect(checked > 100, "the extractor found only \(checked) flag mentions: is it still reading the docs?")
        #expect(problems.isEmpty, "\(problems.count) documented flags do not exist:\n\(problems.joined(separator: "\n"))")
    }

    @Test("the extractor attributes flags to the command that names them")
    func extractorAttributesFlags() {
        let text = """
            Run `lifeboat restore latest --force --plan`, then `prune --dry-run` (or `--keep-*`).
            ```
            lifeboat drill latest --key-file k \\
              --scratch-node a=http://x
            swift run vault-sim serve --nodes 3 && curl --data-binary @f http://x
            vault-sim fault fail --path p --status 500
            python3 Tests/x.py --vault-sim .build/debug/vault-sim --seed 1
            ```
            | `lifeboat verify --latest\\|--all\\|ID` | `--config PATH` |
            """
        let mentions = FlagMentions.extract(from: text, commands: .fixed).map { "\($0.line) \($0.program ?? "-") \($0.command.joined(separator: " ")) \($0.flag)" }
        #expect(mentions == [
            "1 lifeboat restore --force", "1 lifeboat restore --plan", "1 lifeboat prune --dry-run", "1 -  --keep-*",
            "3 lifeboat drill --key-file", "3 lifeboat drill --scratch-node",
            "5 vault-sim serve --nodes", "5 curl  --data-binary",
            "6 vault-sim fault --path", "6 vault-sim fault --status",
            "7 script:Tests/x.py  --vault-sim", "7 script:Tests/x.py  --seed",
            "9 lifeboat verify --latest", "9 lifeboat verify --all", "9 -  --config",
        ])
    }

    @Test("a flag that does not exist is reported, on the command and in general")
    func unknownFlagsAreReported() async throws {
        let programs = try await HelpCatalog()
        let text = """
            `lifeboat backup --no-such-flag`, `lifeboat drill latest --node a=b`, `--vault-adress URL`,
            `lifeboat backup --vault-addr URL --chunk-size 1MiB`, `restore --plan`, `lifeboat key id FILE`
            """
        let problems = try FlagMentions.extract(from: text, commands: programs.tree).compactMap { try programs.problem(with: $0) }
        #expect(problems.count == 3, "\(problems)")
        #expect(problems.contains { $0.contains("`lifeboat backup` has no --no-such-flag") })
        #expect(problems.contains { $0.contains("`lifeboat drill` has no --node") })
        #expect(problems.contains { $0.contains("no command has --vault-adress") })
    }

    static func documents() throws -> [URL] {
        var files = [root.appendingPathComponent("README.md")]
        let docs = root.appendingPathComponent("docs")
        let enumerator = FileManager.default.enumerator(at: docs, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if url.pathExtension == "md" { files.append(url) }
        }
        return files.sorted { $0.path < $1.path }
    }
}

/// One `--flag` named in a document, with the program and subcommand path named before it (if any).
struct FlagMention: Equatable {
    var line: Int
    /// `lifeboat`, `vault-sim`, another program (`curl`), or nil when no command is named.
    var program: String?
    var command: [String]
    var flag: String
}

/// Finds flags in Markdown: in code spans, and in every line of fenced code blocks (a line ending in `\` continues).
enum FlagMentions {
    /// Programs whose flags are not Lifeboat's.
    static let foreignPrograms: Set<String> = ["aws", "curl", "docker", "vault", "bao", "restic", "systemctl", "sh", "git", "jq", "swift", "kubectl", "openssl", "python3"]
    /// The subcommands of lifeboat and vault-sim: `"lifeboat"` -> its commands, `"lifeboat key"` -> `generate`, `id`.
    struct CommandTree {
        var children: [String: Set<String>]

        /// A fixed tree for the extractor's own test.
        static let fixed = CommandTree(children: [
            "lifeboat": ["demo", "backup", "agent", "restore", "drill", "verify", "prune", "list", "show", "inspect",
                         "export", "import", "key", "encrypt", "decrypt", "config"],
            "lifeboat key": ["generate", "id"], "lifeboat config": ["check"],
            "vault-sim": ["serve", "status", "node", "fault", "seed"],
        ])
    }

    static func extract(from text: String, commands: CommandTree) -> [FlagMention] {
        var mentions: [FlagMention] = []
        var inFence = false
        var pending = ""
        var pendingLine = 0
        for (index, rawLine) in text.components(separatedBy: "\n").enumerated() {
            let lineNumber = index + 1
            let trimmed = rawLine.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") {
                inFence.toggle()
                pending = ""
                continue
            }
            if inFence {
                if pending.isEmpty { pendingLine = lineNumber }
                if trimmed.hasSuffix("\\") {
                    pending += String(trimmed.dropLast()) + " "
                    continue
                }
                let logical = pending + trimmed
                pending = ""
                mentions += scan(logical, line: pendingLine, commands: commands)
            } else {
                for span in codeSpans(rawLine) { mentions += scan(span, line: lineNumber, commands: commands) }
            }
        }
        return mentions
    }

    /// The contents of the `code spans` on a line.
    static func codeSpans(_ line: String) -> [String] {
        let parts = line.components(separatedBy: "`")
        guard parts.count >= 3 else { return [] }
        return stride(from: 1, to: parts.count - 1, by: 2).map { parts[$0] }
    }

    /// The flags in one span or logical code line, each with the command named before it.
    static func scan(_ text: String, line: Int, commands: CommandTree) -> [FlagMention] {
        let separators = CharacterSet.whitespaces.union(CharacterSet(charactersIn: "[]()"))
        let tokens = text.replacingOccurrences(of: "\\|", with: " ").replacingOccurrences(of: "/--", with: " --")
            .components(separatedBy: separators).filter { !$0.isEmpty }
        var program: String?
        var command: [String] = []
        var mentions: [FlagMention] = []
        for (position, token) in tokens.enumerated() {
            if ["&&", "||", ";", "|", "#"].contains(token) {
                program = nil
                command = []
                continue
            }
            let previous = position > 0 ? tokens[position - 1] : ""
            let isValue = previous.hasPrefix("--") && !token.hasPrefix("-")  // `--vault-sim .build/debug/vault-sim`
            let base = token.split(separator: "/").last.map(String.init) ?? token
            if !isValue, base == "lifeboat" || base == "vault-sim" {  // also .build/debug/vault-sim
                program = base
                command = []
                continue
            }
            if !isValue, token.contains("/"), token.hasSuffix(".sh") || token.hasSuffix(".py") {
                program = "script:" + token  // a script in the repository: its flags are checked against its text
                command = []
                continue
            }
            if foreignPrograms.contains(token) || token.hasSuffix(".sh") || token.hasSuffix(".py") {
                program = token
                command = []
                continue
            }
            if position == 0, program == nil, commands.children["lifeboat", default: []].contains(token) {
                program = "lifeboat"
                command = [token]
                continue
            }
            if let program, program == "lifeboat" || program == "vault-sim" {
                let key = ([program] + command).joined(separator: " ")
                if commands.children[key, default: []].contains(token) {
                    command.append(token)
                    continue
                }
            }
            guard token.hasPrefix("--"), token.count > 2 else { continue }
            var flag = String(token.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "*" })
            if let equals = flag.firstIndex(of: "=") { flag = String(flag[..<equals]) }
            while flag.hasSuffix("-") && !flag.hasSuffix("--") { flag.removeLast() }
            if token.hasPrefix("--keep-") && token.contains("*") { flag = "--keep-*" }
            guard flag.count > 2 else { continue }
            mentions.append(FlagMention(line: line, program: program, command: command, flag: flag))
        }
        return mentions
    }
}

/// The options each lifeboat and vault-sim command accepts, read from the built binaries' `--help`.
final class HelpCatalog {
    /// "lifeboat restore" -> its options.
    private(set) var options: [String: Set<String>] = [:]

    init() async throws {
        for program in ["lifeboat", "vault-sim"] { try await load([program]) }
    }

    private var childrenByCommand: [String: Set<String>] = [:]

    /// The subcommands the binaries list.
    var tree: FlagMentions.CommandTree { FlagMentions.CommandTree(children: childrenByCommand) }

    private func load(_ path: [String]) async throws {
        let executable = productsDirectory.appendingPathComponent(path[0])
        let result = try await runProcess(executable, Array(path.dropFirst()) + ["--help"])
        guard result.status == 0 else { throw E2EError("\(path.joined(separator: " ")) --help failed: \(result.stderr)") }
        let (flags, children) = Self.parse(result.stdout)
        let key = path.joined(separator: " ")
        options[key] = flags.union(["--help"])
        childrenByCommand[key] = children
        for child in children where child != "help" { try await load(path + [child]) }
    }

    /// The option names and subcommands in an ArgumentParser help text.
    static func parse(_ help: String) -> (Set<String>, Set<String>) {
        var flags = Set<String>()
        var children = Set<String>()
        var inSubcommands = false
        for line in help.components(separatedBy: "\n") {
            if line.hasPrefix("SUBCOMMANDS:") { inSubcommands = true; continue }
            if !line.hasPrefix(" ") { inSubcommands = false }
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            // A subcommand's name is indented by two spaces; its wrapped abstract by more.
            if inSubcommands {
                if line.hasPrefix("  ") && !line.hasPrefix("   "), let first = trimmed.split(separator: " ").first {
                    children.insert(String(first))
                }
                continue
            }
            guard trimmed.hasPrefix("-") else { continue }
            // The option's names: the first word (`--vault-addr`, `--compression/--no-compression`), and the
            // second after a short name (`-h, --help`); the value placeholder and the description follow.
            let words = trimmed.split(separator: " ")
            let column = words.first.map { $0.hasSuffix(",") && words.count > 1 ? "\($0) \(words[1])" : String($0) } ?? ""
            var rest = Substring(column)
            while let range = rest.range(of: "--") {
                let name = rest[range.lowerBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
                if name.count > 2 { flags.insert(String(name)) }
                rest = rest[range.upperBound...]
            }
        }
        return (flags, children)
    }

    /// Flags that other branches of work are adding (issue 18), tolerated only on these commands until they land.
    static let awaited: [String: Set<String>] = [
        "lifeboat prune": ["--keep-within", "--keep-within-hourly", "--keep-within-daily", "--keep-within-weekly",
                           "--keep-within-monthly", "--keep-within-yearly"],
    ]

    /// Flags of other programs named in prose without their program.
    static let foreignFlags: Set<String> = [
        "--group-by",  // restic forget, compared in docs/retention.md
        "--defsym",  // the linker's, in docs/fuzzing.md
    ]

    /// Nil when the mention is fine, else what is wrong.
    func problem(with mention: FlagMention) throws -> String? {
        if mention.flag == "--help" { return nil }
        switch mention.program {
        case nil:
            if Self.foreignFlags.contains(mention.flag) { return nil }
            let all = options.values.reduce(into: Set<String>()) { $0.formUnion($1) }
                .union(Self.awaited.values.reduce(into: Set<String>()) { $0.formUnion($1) })
            if mention.flag == "--keep-*" { return all.contains { $0.hasPrefix("--keep-") } ? nil : "no command has --keep-* flags" }
            return all.contains(mention.flag) ? nil : "no command has \(mention.flag)"
        case "lifeboat"?, "vault-sim"?:
            let key = ([mention.program!] + mention.command).joined(separator: " ")
            guard let accepted = options[key] else { return "`\(key)` is not a command" }
            if mention.flag == "--keep-*" { return accepted.contains { $0.hasPrefix("--keep-") } ? nil : "`\(key)` has no --keep-* flags" }
            if accepted.contains(mention.flag) || Self.awaited[key]?.contains(mention.flag) == true { return nil }
            return "`\(key)` has no \(mention.flag) (it has \(accepted.sorted().joined(separator: " ")))"
        case let program? where program.hasPrefix("script:"):
            let path = String(program.dropFirst("script:".count))
            guard let text = try? String(contentsOf: DocumentedFlagsTests.root.appendingPathComponent(path), encoding: .utf8) else {
                return "\(path) does not exist in the repository"
            }
            return text.contains(mention.flag) ? nil : "\(path) does not handle \(mention.flag)"
        default:
            return nil  // another program's flag
        }
    }
}
