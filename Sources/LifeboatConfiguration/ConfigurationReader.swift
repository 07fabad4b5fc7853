// Typed reading of a Yams node tree with strict checks: every value is read through a MappingReader that knows
// its key path and file position, refuses unknown keys (suggesting near matches), reports wrong types with what was
// found, and records every problem instead of stopping at the first. No Codable: positions would be lost.

import Foundation
import Yams
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

/// Collects issues and the file position of every key path while a configuration file is read.
final class ConfigurationReader {
    /// The file name shown in messages.
    let file: String
    /// The directory relative paths are resolved against (the configuration file's directory).
    let directory: String?
    /// The home directory `~/` expands to.
    let home: String?
    private(set) var issues: [ConfigurationIssue] = []
    /// Where each key path was written (the key's position; for list items, the item's).
    private(set) var positions: [String: ConfigurationOrigin] = [:]

    init(file: String, directory: String?, home: String?) {
        self.file = file
        self.directory = directory
        self.home = home
    }

    func origin(_ mark: Mark?) -> ConfigurationOrigin? {
        mark.map { .file(path: file, line: $0.line, column: $0.column) }
    }

    func record(_ path: String, _ mark: Mark?) {
        if let origin = origin(mark), positions[path] == nil { positions[path] = origin }
    }

    func error(_ path: String, at mark: Mark?, _ message: String, suggestion: String? = nil) {
        issues.append(ConfigurationIssue(keyPath: path, message: message, suggestion: suggestion, origin: origin(mark)))
    }

    /// An error at a position that has no Yams `Mark` (YAML syntax errors).
    func error(_ path: String, line: Int, column: Int, _ message: String) {
        issues.append(ConfigurationIssue(
            keyPath: path, message: message, origin: .file(path: file, line: line, column: column)))
    }

    func warning(_ path: String, at mark: Mark?, _ message: String) {
        issues.append(ConfigurationIssue(severity: .warning, keyPath: path, message: message, origin: origin(mark)))
    }

    func warning(_ path: String, line: Int, column: Int, _ message: String) {
        issues.append(ConfigurationIssue(
            severity: .warning, keyPath: path, message: message, origin: .file(path: file, line: line, column: column)))
    }

    /// A path made absolute against the configuration file's directory (`~/` expands to the home directory).
    func absolutePath(_ path: String) -> String {
        ConfigurationPaths.absolute(path, relativeTo: directory, home: home)
    }

    // MARK: Node classification

    static func isNull(_ node: Node) -> Bool {
        guard case .scalar(let scalar) = node, scalar.style == .plain || scalar.style == .any else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// True for a scalar the author quoted (or wrote as a block): it is a string, even if it looks like a number.
    static func isQuoted(_ scalar: Node.Scalar) -> Bool {
        scalar.style == .singleQuoted || scalar.style == .doubleQuoted || scalar.style == .literal
            || scalar.style == .folded
    }

    /// "a mapping", "a list" or the scalar quoted, for "got ..." in messages.
    static func describe(_ node: Node) -> String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull(node) { return "nothing (null)" }
            let text = scalar.string.count > 60 ? String(scalar.string.prefix(57)) + "..." : scalar.string
            let quoted = "\"" + text.replacingOccurrences(of: "\"", with: "\\\"") + "\""
            return isQuoted(scalar) && looksLikeNumberOrBool(scalar.string) ? "the string \(quoted) (remove the quotes)" : quoted
        }
    }

    private static func looksLikeNumberOrBool(_ text: String) -> Bool {
        parseInteger(text) != nil || parseBool(text) != nil
    }

    /// A YAML integer written in decimal, with optional sign and `_` separators.
    static func parseInteger(_ text: String) -> Int? {
        var digits = text.replacingOccurrences(of: "_", with: "")
        if digits.hasPrefix("+") { digits.removeFirst() }
        guard !digits.isEmpty, digits != "-" else { return nil }
        let body = digits.hasPrefix("-") ? digits.dropFirst() : Substring(digits)
        guard body.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    static func parseBool(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    // MARK: Structure

    /// Reads `node` as a mapping whose keys must be in `allowed`. `misplaced` explains keys that exist elsewhere
    /// (e.g. an S3 key on a local destination). Returns nil (after recording an error) when it is not a mapping.
    func mapping(
        _ node: Node, at path: String, allowed: [String], misplaced: [String: String] = [:], example: String? = nil
    ) -> MappingReader? {
        guard case .mapping(let mapping) = node else {
            let hint = example.map { ", e.g. \($0)" } ?? ""
            error(path, at: node.mark, "expected a mapping of keys (\(allowed.prefix(4).joined(separator: ", "))"
                + (allowed.count > 4 ? ", ..." : "") + ")\(hint), got \(Self.describe(node))")
            return nil
        }
        var entries: [String: (key: Node, value: Node)] = [:]
        var order: [String] = []
        var merged: [(key: Node, value: Node)] = []
        for (key, value) in mapping {
            guard case .scalar(let keyScalar) = key else {
                error(path, at: key.mark, "a key must be a plain word, got \(Self.describe(key))")
                continue
            }
            if keyScalar.string == "<<" && !Self.isQuoted(keyScalar) {
                // YAML merge key: `<<: *defaults` (or a list of aliases) brings in keys not written here.
                let sources: [Node] = value.sequence.map { Array($0) } ?? [value]
                for source in sources {
                    guard case .mapping(let sourceMapping) = source else {
                        error(path, at: value.mark, "`<<` (merge) expects a mapping or a list of mappings, got \(Self.describe(source))")
                        continue
                    }
                    merged.append(contentsOf: sourceMapping.map { ($0.key, $0.value) })
                }
                continue
            }
            let name = keyScalar.string
            let childPath = Self.child(path, name)
            guard allowed.contains(name) else {
                if let explanation = misplaced[name] {
                    error(childPath, at: key.mark, "key `\(name)` \(explanation)")
                } else if let suggestion = KeySuggestion.nearest(to: name, in: allowed) {
                    error(childPath, at: key.mark, "unknown key `\(name)`" + (path.isEmpty ? "" : " in \(path)")
                        + "; did you mean `\(suggestion)`?", suggestion: suggestion)
                } else {
                    error(childPath, at: key.mark, "unknown key `\(name)`" + (path.isEmpty ? "" : " in \(path)")
                        + "; allowed here: \(allowed.joined(separator: ", "))")
                }
                continue
            }
            entries[name] = (key, value)
            order.append(name)
            record(childPath, key.mark)
        }
        for (key, value) in merged {
            guard let name = key.scalar?.string, entries[name] == nil else { continue }
            let childPath = Self.child(path, name)
            guard allowed.contains(name) else {
                error(childPath, at: key.mark, "unknown key `\(name)` (merged in with `<<`) in \(path.isEmpty ? "the file" : path); "
                    + "allowed here: \(allowed.joined(separator: ", "))")
                continue
            }
            entries[name] = (key, value)
            order.append(name)
            record(childPath, key.mark)
        }
        return MappingReader(reader: self, path: path, mark: node.mark, entries: entries, order: order)
    }

    /// Reads `node` as a list; nil (after an error) when it is not one.
    func sequence(_ node: Node, at path: String, example: String? = nil) -> [(node: Node, path: String)]? {
        guard case .sequence(let sequence) = node else {
            error(path, at: node.mark, "expected a list" + (example.map { ", e.g. \($0)" } ?? "") + ", got \(Self.describe(node))")
            return nil
        }
        return sequence.enumerated().map { index, item in
            let itemPath = "\(path)[\(index)]"
            record(itemPath, item.mark)
            return (item, itemPath)
        }
    }

    static func child(_ path: String, _ key: String) -> String {
        path.isEmpty ? key : path + "." + key
    }

    // MARK: Scalars

    func string(_ node: Node, at path: String) -> String? {
        guard case .scalar(let scalar) = node else {
            error(path, at: node.mark, "expected a string, got \(Self.describe(node))")
            return nil
        }
        return scalar.string
    }

    func nonEmptyString(_ node: Node, at path: String, what: String = "a value") -> String? {
        guard let text = string(node, at: path) else { return nil }
        guard !text.trimmingCharacters(in: .whitespaces).isEmpty else {
            error(path, at: node.mark, "is empty: give \(what) or leave the key out")
            return nil
        }
        return text
    }

    func integer(_ node: Node, at path: String) -> Int? {
        if case .scalar(let scalar) = node, !Self.isQuoted(scalar), let value = Self.parseInteger(scalar.string) {
            return value
        }
        error(path, at: node.mark, "expected an integer for \(Self.lastKey(path)), got \(Self.describe(node))")
        return nil
    }

    func bool(_ node: Node, at path: String) -> Bool? {
        if case .scalar(let scalar) = node, !Self.isQuoted(scalar), let value = Self.parseBool(scalar.string) {
            return value
        }
        error(path, at: node.mark, "expected true or false for \(Self.lastKey(path)), got \(Self.describe(node))")
        return nil
    }

    /// A duration: `30s`, `15m`, `1h30m`, `2d`, or a plain integer meaning seconds.
    func duration(_ node: Node, at path: String) -> Duration? {
        guard case .scalar(let scalar) = node else {
            error(path, at: node.mark, "expected a duration such as \"30s\", \"15m\" or \"1h30m\", got \(Self.describe(node))")
            return nil
        }
        if !Self.isQuoted(scalar), let seconds = Self.parseInteger(scalar.string) {
            return .seconds(seconds)
        }
        do {
            return try Schedule.parseDuration(scalar.string)
        } catch {
            self.error(path, at: node.mark, error.message)
            return nil
        }
    }

    func secret(_ node: Node, at path: String) -> SecretReference? {
        guard let text = string(node, at: path) else { return nil }
        switch SecretReference.parse(text, relativeTo: directory) {
        case .success(let reference): return reference
        case .failure(let failure):
            error(path, at: node.mark, failure.message)
            return nil
        }
    }

    func path(_ node: Node, at path: String) -> String? {
        nonEmptyString(node, at: path, what: "a path").map(absolutePath)
    }

    func choice<E: RawRepresentable & CaseIterable>(_ node: Node, at path: String, as type: E.Type) -> E?
    where E.RawValue == String {
        guard let text = string(node, at: path) else { return nil }
        if let value = E(rawValue: text) { return value }
        let allowed = E.allCases.map(\.rawValue)
        let suggestion = KeySuggestion.nearest(to: text, in: allowed)
        error(path, at: node.mark, "unknown value \"\(text)\" for \(Self.lastKey(path)); allowed: \(allowed.joined(separator: ", "))"
            + (suggestion.map { " (did you mean \"\($0)\"?)" } ?? ""), suggestion: suggestion)
        return nil
    }

    func stringList(_ node: Node, at path: String, example: String) -> [String]? {
        guard let items = sequence(node, at: path, example: example) else { return nil }
        var result: [String] = []
        var ok = true
        for (item, itemPath) in items {
            if let text = nonEmptyString(item, at: itemPath) { result.append(text) } else { ok = false }
        }
        return ok ? result : nil
    }

    /// The last component of a key path, for "expected an integer for keep_daily".
    static func lastKey(_ path: String) -> String {
        let last = path.split(separator: ".").last.map(String.init) ?? path
        return last.isEmpty ? "the value" : last
    }
}

/// The keys of one mapping, read with their key paths; every accessor records its own errors.
struct MappingReader {
    let reader: ConfigurationReader
    /// The mapping's key path.
    let path: String
    /// The mapping's position.
    let mark: Mark?
    let entries: [String: (key: Node, value: Node)]
    /// Keys in file order.
    let order: [String]

    func childPath(_ key: String) -> String { ConfigurationReader.child(path, key) }

    /// True when the key is written, even with a null value.
    func contains(_ key: String) -> Bool { entries[key] != nil }

    /// The value node, or nil when absent or null.
    func node(_ key: String) -> Node? {
        guard let value = entries[key]?.value, !ConfigurationReader.isNull(value) else { return nil }
        return value
    }

    /// True when the key is written with an explicit null (`key: null`, `key: ~` or `key:`).
    func isExplicitNull(_ key: String) -> Bool {
        entries[key].map { ConfigurationReader.isNull($0.value) } ?? false
    }

    /// Records "missing key" for each key that is absent or null; returns true when all are present.
    @discardableResult
    func require(_ keys: String..., context: String) -> Bool {
        var ok = true
        for key in keys where node(key) == nil {
            reader.error(childPath(key), at: mark, "missing key `\(key)` (\(context))")
            ok = false
        }
        return ok
    }

    func string(_ key: String) -> String? { node(key).flatMap { reader.nonEmptyString($0, at: childPath(key)) } }
    func int(_ key: String) -> Int? { node(key).flatMap { reader.integer($0, at: childPath(key)) } }
    func bool(_ key: String) -> Bool? { node(key).flatMap { reader.bool($0, at: childPath(key)) } }
    func duration(_ key: String) -> Duration? { node(key).flatMap { reader.duration($0, at: childPath(key)) } }
    func secret(_ key: String) -> SecretReference? { node(key).flatMap { reader.secret($0, at: childPath(key)) } }
    func path(_ key: String) -> String? { node(key).flatMap { reader.path($0, at: childPath(key)) } }

    func choice<E: RawRepresentable & CaseIterable>(_ key: String, as type: E.Type) -> E? where E.RawValue == String {
        node(key).flatMap { reader.choice($0, at: childPath(key), as: type) }
    }

    func stringList(_ key: String, example: String) -> [String]? {
        node(key).flatMap { reader.stringList($0, at: childPath(key), example: example) }
    }

    func mapping(_ key: String, allowed: [String], misplaced: [String: String] = [:], example: String? = nil) -> MappingReader? {
        node(key).flatMap { reader.mapping($0, at: childPath(key), allowed: allowed, misplaced: misplaced, example: example) }
    }

    func sequence(_ key: String, example: String? = nil) -> [(node: Node, path: String)]? {
        node(key).flatMap { reader.sequence($0, at: childPath(key), example: example) }
    }

    /// The key's own position (for errors about the value as a whole).
    func mark(of key: String) -> Mark? { entries[key]?.key.mark ?? mark }
}
