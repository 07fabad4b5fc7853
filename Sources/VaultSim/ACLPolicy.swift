// Vault ACL policies: the HCL subset operators write (`path "glob" { capabilities = [...] }`), and the matching
// rules Vault applies (exact path, `*` suffix glob, `+` single-segment wildcard, most specific rule wins,
// capabilities of the same path in several policies are unioned, `deny` overrides).

/// A capability named in a policy rule.
enum Capability: String, CaseIterable, Sendable {
    case create, read, update, delete, list, sudo, deny, patch
}

/// One `path` block of a policy.
struct PolicyRule: Equatable, Sendable {
    var path: String
    var capabilities: Set<String>
}

/// A parsed ACL policy.
struct ACLPolicy: Equatable, Sendable {
    var name: String
    var rules: [PolicyRule]

    /// Parses Vault HCL policy text. Throws a message in Vault's style when the text is not valid.
    static func parse(name: String, text: String) throws(PolicyParseError) -> ACLPolicy {
        var lexer = HCLLexer(text: text)
        var rules: [PolicyRule] = []
        while let token = try lexer.next() {
            guard case .ident(let word) = token else { throw PolicyParseError("failed to parse policy: unexpected token") }
            if word == "name" {
                // Some policies carry a top-level `name = "..."`; ignore it.
                guard case .equals = try lexer.next(), case .string = try lexer.next() else {
                    throw PolicyParseError("failed to parse policy: bad name")
                }
                continue
            }
            guard word == "path" else { throw PolicyParseError("failed to parse policy: invalid key \"\(word)\" on line \(lexer.line)") }
            guard case .string(let path) = try lexer.next() else { throw PolicyParseError("failed to parse policy: path must be a string") }
            guard case .lbrace = try lexer.next() else { throw PolicyParseError("failed to parse policy: expected {") }
            var caps = Set<String>()
            while true {
                guard let t = try lexer.next() else { throw PolicyParseError("failed to parse policy: unterminated path block") }
                if case .rbrace = t { break }
                guard case .ident(let key) = t else { throw PolicyParseError("failed to parse policy: unexpected token in path block") }
                guard case .equals = try lexer.next() else { throw PolicyParseError("failed to parse policy: expected =") }
                let value = try lexer.parseValue()
                switch key {
                case "capabilities":
                    guard case .list(let items) = value else { throw PolicyParseError("failed to parse policy: capabilities must be a list") }
                    for item in items {
                        guard Capability(rawValue: item) != nil else {
                            throw PolicyParseError("failed to parse policy: path \"\(path)\": invalid capability \"\(item)\"")
                        }
                        caps.insert(item)
                    }
                case "policy":
                    guard case .string(let p) = value else { throw PolicyParseError("failed to parse policy: policy must be a string") }
                    switch p {
                    case "deny": caps.insert("deny")
                    case "read": caps.formUnion(["read", "list"])
                    case "write": caps.formUnion(["create", "read", "update", "delete", "list"])
                    case "sudo": caps.formUnion(["create", "read", "update", "delete", "list", "sudo"])
                    default: throw PolicyParseError("failed to parse policy: path \"\(path)\": invalid policy \"\(p)\"")
                    }
                default:
                    // allowed_parameters, denied_parameters, min/max_wrapping_ttl, required_parameters: not enforced.
                    break
                }
            }
            rules.append(PolicyRule(path: path.hasPrefix("/") ? String(path.dropFirst()) : path, capabilities: caps))
        }
        return ACLPolicy(name: name, rules: rules)
    }
}

struct PolicyParseError: Error, Equatable {
    var message: String
    init(_ m: String) { message = m }
}

/// The merged view of all policies attached to a token (Vault's `ACL`).
struct ACL {
    var isRoot: Bool
    /// Pattern -> union of capabilities over all policies.
    var rules: [String: Set<String>]

    init(policies: [ACLPolicy], isRoot: Bool) {
        self.isRoot = isRoot
        var merged: [String: Set<String>] = [:]
        for p in policies {
            for r in p.rules { merged[r.path, default: []].formUnion(r.capabilities) }
        }
        rules = merged.mapValues { $0.contains("deny") ? ["deny"] : $0 }
    }

    /// Capabilities granted on `path` (no leading slash).
    func capabilities(for path: String) -> Set<String> {
        if isRoot { return Set(Capability.allCases.map(\.rawValue)).subtracting(["deny"]) }
        if let exact = rules[path] { return exact.contains("deny") ? [] : exact }
        var best: String?
        for pattern in rules.keys where ACL.matches(pattern: pattern, path: path) {
            if let b = best {
                if ACL.hasHigherPriority(pattern, than: b) { best = pattern }
            } else {
                best = pattern
            }
        }
        guard let b = best, let caps = rules[b] else { return [] }
        return caps.contains("deny") ? [] : caps
    }

    func allows(_ capability: String, on path: String) -> Bool { capabilities(for: path).contains(capability) }

    /// `+` matches exactly one path segment; a trailing `*` matches any suffix.
    static func matches(pattern: String, path: String) -> Bool {
        var pattern = Substring(pattern)
        let glob = pattern.hasSuffix("*")
        if glob { pattern = pattern.dropLast() }
        if !pattern.contains("+") {
            return glob ? path.hasPrefix(pattern) : path == pattern
        }
        let pSegs = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let segs = path.split(separator: "/", omittingEmptySubsequences: false)
        if glob {
            guard segs.count >= pSegs.count else { return false }
        } else {
            guard segs.count == pSegs.count else { return false }
        }
        for (k, ps) in pSegs.enumerated() {
            let s = segs[k]
            let isLast = k == pSegs.count - 1
            if ps == "+" { if s.isEmpty && !(glob && isLast) { return false }; continue }
            if isLast && glob {
                // The last pattern segment is a prefix of the rest of the path.
                let rest = segs[k...].joined(separator: "/")
                return rest.hasPrefix(ps)
            }
            if ps != s { return false }
        }
        return true
    }

    /// Vault's ordering for competing matches (docs: "priority matching").
    static func hasHigherPriority(_ a: String, than b: String) -> Bool {
        func firstWildcard(_ s: String) -> Int {
            let idx = s.firstIndex(where: { $0 == "+" || $0 == "*" })
            return idx.map { s.distance(from: s.startIndex, to: $0) } ?? s.count
        }
        let fa = firstWildcard(a), fb = firstWildcard(b)
        if fa != fb { return fa > fb }
        let ga = a.hasSuffix("*"), gb = b.hasSuffix("*")
        if ga != gb { return !ga }
        let pa = a.filter { $0 == "+" }.count, pb = b.filter { $0 == "+" }.count
        if pa != pb { return pa < pb }
        if a.count != b.count { return a.count > b.count }
        return a > b
    }
}

/// Tokens of the HCL subset used by policies.
enum HCLToken: Equatable {
    case ident(String), string(String), equals, lbrace, rbrace, lbracket, rbracket, comma
}

enum HCLValue {
    case string(String), list([String]), other
}

struct HCLLexer {
    let chars: [Character]
    var i = 0
    var line = 1
    private var peeked: HCLToken??

    init(text: String) { chars = Array(text) }

    mutating func next() throws(PolicyParseError) -> HCLToken? {
        if let p = peeked { peeked = nil; return p }
        while i < chars.count {
            let c = chars[i]
            if c == "\n" { line += 1; i += 1; continue }
            if c.isWhitespace { i += 1; continue }
            if c == "#" || (c == "/" && i + 1 < chars.count && chars[i + 1] == "/") {
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            if c == "/" && i + 1 < chars.count && chars[i + 1] == "*" {
                i += 2
                while i + 1 < chars.count && !(chars[i] == "*" && chars[i + 1] == "/") { if chars[i] == "\n" { line += 1 }; i += 1 }
                i += 2
                continue
            }
            switch c {
            case "=": i += 1; return .equals
            case "{": i += 1; return .lbrace
            case "}": i += 1; return .rbrace
            case "[": i += 1; return .lbracket
            case "]": i += 1; return .rbracket
            case ",": i += 1; return .comma
            case "\"":
                i += 1
                var s = ""
                while i < chars.count && chars[i] != "\"" {
                    if chars[i] == "\\" && i + 1 < chars.count { i += 1 }
                    if chars[i] == "\n" { throw PolicyParseError("failed to parse policy: newline in string on line \(line)") }
                    s.append(chars[i]); i += 1
                }
                guard i < chars.count else { throw PolicyParseError("failed to parse policy: unterminated string") }
                i += 1
                return .string(s)
            default:
                guard c.isLetter || c == "_" || c.isNumber else {
                    throw PolicyParseError("failed to parse policy: illegal char \"\(c)\" on line \(line)")
                }
                var s = ""
                while i < chars.count && (chars[i].isLetter || chars[i].isNumber || chars[i] == "_" || chars[i] == "-") {
                    s.append(chars[i]); i += 1
                }
                return .ident(s)
            }
        }
        return nil
    }

    mutating func parseValue() throws(PolicyParseError) -> HCLValue {
        guard let t = try next() else { throw PolicyParseError("failed to parse policy: missing value") }
        switch t {
        case .string(let s): return .string(s)
        case .ident: return .other
        case .lbracket:
            var items: [String] = []
            while true {
                guard let t = try next() else { throw PolicyParseError("failed to parse policy: unterminated list") }
                switch t {
                case .rbracket: return .list(items)
                case .comma: continue
                case .string(let s): items.append(s)
                default: throw PolicyParseError("failed to parse policy: unexpected token in list")
                }
            }
        case .lbrace:
            // Nested objects (allowed_parameters = { ... }): skip balanced braces.
            var depth = 1
            while depth > 0 {
                guard let t = try next() else { throw PolicyParseError("failed to parse policy: unterminated block") }
                if t == .lbrace { depth += 1 } else if t == .rbrace { depth -= 1 }
            }
            return .other
        default: throw PolicyParseError("failed to parse policy: unexpected value")
        }
    }
}
