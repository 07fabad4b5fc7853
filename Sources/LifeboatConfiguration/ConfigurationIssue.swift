// Problems found in a configuration: each one carries the file, line, column and key path it is about, the
// message (what is wrong and what is allowed) and, for misspelt keys, a suggestion. Errors are collected, never
// thrown one at a time, so an operator fixes a whole file in one pass.

/// Where a configuration value came from: the built-in defaults, a line of the file, an environment variable or a
/// command-line flag. `lifeboat config check` prints the origin of every value that did not come from the file.
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

public enum ConfigurationOrigin: Sendable, Hashable, CustomStringConvertible {
    /// The built-in default.
    case defaultValue
    /// A line of the configuration file.
    case file(path: String, line: Int, column: Int)
    /// An environment variable, e.g. `VAULT_ADDR`.
    case environment(String)
    /// A command-line flag, e.g. `--repo`.
    case flag(String)

    public var description: String {
        switch self {
        case .defaultValue: return "default"
        case .file(let path, let line, _): return "\(path):\(line)"
        case .environment(let name): return "environment \(name)"
        case .flag(let name): return "flag \(name)"
        }
    }
}

/// One problem (or warning) found while loading, validating or resolving a configuration.
///
/// `description` reads like a compiler diagnostic, so editors can jump to it:
/// `lifeboat.yaml:23:5: destinations[1].retenton: unknown key `retenton`; did you mean `retention`?`
public struct ConfigurationIssue: Sendable, Hashable, CustomStringConvertible {
    /// Whether the issue stops Lifeboat from using the configuration.
    public enum Severity: String, Sendable, Hashable {
        /// The configuration cannot be used until this is fixed.
        case error
        /// The configuration works, but something is risky or probably not what was meant.
        case warning
    }

    public var severity: Severity
    /// The key path the issue is about, e.g. `destinations[1].retention.keep_daily` (empty for the whole file).
    public var keyPath: String
    /// What is wrong and what is allowed.
    public var message: String
    /// For a misspelt key: the known key it probably meant.
    public var suggestion: String?
    /// Where the value came from (a file line, an environment variable, a flag), when known.
    public var origin: ConfigurationOrigin?

    public init(
        severity: Severity = .error, keyPath: String, message: String, suggestion: String? = nil,
        origin: ConfigurationOrigin? = nil
    ) {
        self.severity = severity
        self.keyPath = keyPath
        self.message = message
        self.suggestion = suggestion
        self.origin = origin
    }

    /// The file the issue is in, if it came from a file.
    public var file: String? {
        if case .file(let path, _, _)? = origin { return path }
        return nil
    }

    /// The 1-based line in ``file``, if the issue came from a file.
    public var line: Int? {
        if case .file(_, let line, _)? = origin { return line }
        return nil
    }

    /// The 1-based column in ``file``, if the issue came from a file.
    public var column: Int? {
        if case .file(_, _, let column)? = origin { return column }
        return nil
    }

    public var description: String {
        var text = ""
        switch origin {
        case .file(let path, let line, let column)?:
            text = "\(path):\(line):\(column): "
        case .environment(let name)?:
            text = "environment \(name): "
        case .flag(let name)?:
            text = "flag \(name): "
        case .defaultValue?, nil:
            break
        }
        if severity == .warning { text += "warning: " }
        if !keyPath.isEmpty { text += "\(keyPath): " }
        text += message
        return text
    }
}

/// A configuration that cannot be used, with every problem found (not just the first).
public struct ConfigurationError: Error, Sendable, Hashable, CustomStringConvertible, ExitCodeProviding {
    /// The problems, in file order (errors only; warnings travel separately).
    public var issues: [ConfigurationIssue]

    public init(issues: [ConfigurationIssue]) {
        self.issues = issues
    }

    /// A single problem without a file position.
    public init(keyPath: String = "", message: String, origin: ConfigurationOrigin? = nil) {
        self.issues = [ConfigurationIssue(keyPath: keyPath, message: message, origin: origin)]
    }

    public var exitStatus: ExitStatus { .configuration }

    public var description: String {
        if issues.count == 1 { return issues[0].description + fixHint }
        return "\(issues.count) problems in the configuration:\n"
            + issues.map { "  " + $0.description }.joined(separator: "\n") + fixHint
    }

    private var fixHint: String {
        "\n(fix the configuration, then run `lifeboat config check` to see the effective configuration)"
    }
}

/// Suggests the known key nearest to a misspelt one.
enum KeySuggestion {
    /// The candidate closest to `key` by edit distance, if it is close enough to be a plausible typo
    /// (at most 1 edit for short keys, 2 for keys of 5+ characters, 3 for keys of 10+), ignoring case and `-`/`_`.
    static func nearest(to key: String, in candidates: [String]) -> String? {
        let normalized = normalize(key)
        let limit = key.count >= 10 ? 3 : key.count >= 5 ? 2 : 1
        var best: (String, Int)?
        for candidate in candidates {
            let distance = editDistance(normalized, normalize(candidate))
            if distance <= limit, distance < (best?.1 ?? Int.max) {
                best = (candidate, distance)
            }
        }
        return best?.0
    }

    private static func normalize(_ text: String) -> [Character] {
        Array(text.lowercased().map { $0 == "-" ? "_" : $0 })
    }

    /// Damerau-Levenshtein distance (optimal string alignment): insertions, deletions, substitutions and
    /// transpositions of neighbours each cost 1.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previousPrevious = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    current[j] = min(current[j], previousPrevious[j - 2] + 1)
                }
            }
            previousPrevious = previous
            previous = current
        }
        return previous[b.count]
    }
}
