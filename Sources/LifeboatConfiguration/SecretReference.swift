// Secret references in the configuration (`env:NAME`, `file:/path`, or a literal value) and their resolution,
// which is a separate step from parsing so that `lifeboat config check` can report an unset variable or a secret
// file with open permissions without failing to parse. Nothing here ever prints a secret value.

import Foundation
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

/// Where a secret (a token, an AppRole secret id, a passphrase, S3 credentials, a webhook URL) comes from.
///
/// Written in the configuration as `env:NAME` (read the environment variable `NAME`), `file:/path` (read the file,
/// which must not be readable by group or others; surrounding whitespace is removed) or a literal value (allowed,
/// but `config check` warns: anyone who can read the configuration can use it).
///
/// Printing a reference never shows a literal value: `description` is `env:NAME`, `file:/path` or `****`.
public enum SecretReference: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// `env:NAME`: the value of an environment variable.
    case environment(String)
    /// `file:/path`: the contents of a file (mode 0600 or stricter).
    case file(String)
    /// A value written directly in the configuration.
    case literal(String)

    /// Parses the configuration form. `relativeTo` is the directory relative `file:` paths are resolved against.
    /// - Returns: the reference, or a message saying what is wrong (an empty variable name, say).
    static func parse(_ text: String, relativeTo directory: String?) -> Result<SecretReference, SecretSyntaxError> {
        if text.hasPrefix("env:") {
            let name = String(text.dropFirst(4))
            guard isValidVariableName(name) else {
                return .failure(SecretSyntaxError(
                    message: "`\(text)` is not a valid environment reference: write env:NAME where NAME is letters, "
                        + "digits and underscores, not starting with a digit (e.g. env:VAULT_TOKEN)"))
            }
            return .success(.environment(name))
        }
        if text.hasPrefix("file:") {
            let path = String(text.dropFirst(5))
            guard !path.isEmpty else {
                return .failure(SecretSyntaxError(
                    message: "`file:` needs a path: write file:/etc/lifeboat/token"))
            }
            return .success(.file(ConfigurationPaths.absolute(path, relativeTo: directory)))
        }
        guard !text.isEmpty else {
            return .failure(SecretSyntaxError(message: "the value is empty: write env:NAME, file:/path or leave the key out"))
        }
        return .success(.literal(text))
    }

    static func isValidVariableName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, !("0"..."9").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy {
            ("A"..."Z").contains($0) || ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
        }
    }

    /// True for a value written directly in the configuration.
    public var isLiteral: Bool {
        if case .literal = self { return true }
        return false
    }

    /// The configuration form with a literal masked: `env:NAME`, `file:/path` or `****`.
    public var description: String {
        switch self {
        case .environment(let name): return "env:\(name)"
        case .file(let path): return "file:\(path)"
        case .literal: return "****"
        }
    }

    public var debugDescription: String { "SecretReference(\(description))" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .enum) }
}

/// A syntax problem in a secret reference (reported by the parser with the file position).
struct SecretSyntaxError: Error {
    let message: String
}

/// A resolved secret. Printing it in any way shows `<redacted>`; use ``exposedValue`` only to put it on the wire.
public struct ResolvedSecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself.
    public let exposedValue: String

    public init(_ value: String) {
        exposedValue = value
    }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "ResolvedSecret(<redacted>)" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}

/// The state of a secret reference, as `config check` reports it.
public enum SecretStatus: Sendable, Hashable, CustomStringConvertible {
    /// A literal value in the configuration (usable, but warned about).
    case literal
    /// The environment variable is set and not empty.
    case environmentSet
    /// The environment variable is not set, or empty.
    case environmentUnset
    /// The file exists, is readable, has safe permissions and is not empty.
    case fileOK
    /// The file does not exist.
    case fileMissing
    /// Group or others may read or write the file (`mode` is the permission bits).
    case fileTooOpen(mode: UInt32)
    /// The file exists but cannot be read (the reason from the system).
    case fileUnreadable(String)
    /// The file is empty (or only whitespace).
    case fileEmpty

    /// True when the secret can be read.
    public var isUsable: Bool {
        switch self {
        case .literal, .environmentSet, .fileOK: return true
        default: return false
        }
    }

    /// A short note for the rendered configuration: `set`, `not set`, `ok`, `missing`, `mode 644: too open`.
    public var description: String {
        switch self {
        case .literal: return "literal value"
        case .environmentSet: return "set"
        case .environmentUnset: return "not set"
        case .fileOK: return "ok"
        case .fileMissing: return "missing"
        case .fileTooOpen(let mode): return "mode \(String(mode, radix: 8)): too open"
        case .fileUnreadable(let reason): return "unreadable: \(reason)"
        case .fileEmpty: return "empty"
        }
    }
}

/// Reads secrets from the environment and from files. Files are read at the moment a secret is needed, so a
/// rotated token file is picked up; callers that must re-read (AppRole re-login, an agent sink) call
/// ``resolve(_:keyPath:)`` again.
public struct SecretResolver: Sendable {
    /// The environment `env:` references are read from.
    public var environment: [String: String]

    public init(environment: [String: String]) {
        self.environment = environment
    }

    /// The state of `reference` without returning its value.
    public func status(of reference: SecretReference) -> SecretStatus {
        switch reference {
        case .literal:
            return .literal
        case .environment(let name):
            guard let value = environment[name], !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                return .environmentUnset
            }
            return .environmentSet
        case .file(let path):
            switch Self.readSecretFile(path) {
            case .success: return .fileOK
            case .failure(let problem): return problem.status
            }
        }
    }

    /// The secret's value.
    /// - Parameter keyPath: the configuration key, for the error message (e.g. `vault.auth.token`).
    /// - Throws: ``ConfigurationError`` saying which variable is unset or what is wrong with the file.
    public func resolve(_ reference: SecretReference, keyPath: String) throws(ConfigurationError) -> ResolvedSecret {
        switch reference {
        case .literal(let value):
            return ResolvedSecret(value)
        case .environment(let name):
            let value = (environment[name] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            guard !value.isEmpty else {
                throw ConfigurationError(keyPath: keyPath, message: Self.problem(.environmentUnset, reference))
            }
            return ResolvedSecret(value)
        case .file(let path):
            switch Self.readSecretFile(path) {
            case .success(let value): return value
            case .failure(let problem):
                throw ConfigurationError(keyPath: keyPath, message: Self.problem(problem.status, reference))
            }
        }
    }

    /// What to do about an unusable reference, as a sentence.
    static func problem(_ status: SecretStatus, _ reference: SecretReference) -> String {
        switch (status, reference) {
        case (.environmentUnset, .environment(let name)):
            return "the environment variable \(name) (from `env:\(name)`) is not set or empty: export it, "
                + "or point the key at a file with file:/path"
        case (.fileMissing, .file(let path)):
            return "the secret file \(path) does not exist: create it (mode 0600) or fix the path"
        case (.fileTooOpen(let mode), .file(let path)):
            return "the secret file \(path) has mode \(String(mode, radix: 8)) and is readable or writable by other "
                + "users; run `chmod 600 \(path)` (a secret others can read is not secret)"
        case (.fileUnreadable(let reason), .file(let path)):
            return "cannot read the secret file \(path): \(reason); check its owner and permissions"
        case (.fileEmpty, .file(let path)):
            return "the secret file \(path) is empty: write the secret into it"
        default:
            return "the secret \(reference) is not usable (\(status))"
        }
    }

    /// Reads a secret file, refusing one that group or others may read or write (as key files are refused).
    static func readSecretFile(_ path: String) -> Result<ResolvedSecret, SecretFileProblem> {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT || errno == ENOTDIR { return .failure(.fileMissing) }
            return .failure(.fileUnreadable(String(cString: strerror(errno))))
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            return .failure(.fileUnreadable("not a regular file"))
        }
        guard SecretFileMode.isPrivate(info) else {
            return .failure(.fileTooOpen(mode: UInt32(info.st_mode & 0o777)))
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            return .failure(.fileUnreadable(String(cString: strerror(errno))))
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.readToEnd() ?? Data()
        } catch {
            return .failure(.fileUnreadable("\(error)"))
        }
        let value = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !value.isEmpty else { return .failure(.fileEmpty) }
        return .success(ResolvedSecret(value))
    }
}

/// Why a secret file could not be used (the failure side of reading one).
struct SecretFileProblem: Error {
    let status: SecretStatus
}

extension SecretFileProblem {
    static let fileMissing = SecretFileProblem(status: .fileMissing)
    static let fileEmpty = SecretFileProblem(status: .fileEmpty)
    static func fileUnreadable(_ reason: String) -> SecretFileProblem { SecretFileProblem(status: .fileUnreadable(reason)) }
    static func fileTooOpen(mode: UInt32) -> SecretFileProblem { SecretFileProblem(status: .fileTooOpen(mode: mode)) }
}

/// Path handling shared by the configuration code.
enum ConfigurationPaths {
    /// `path` made absolute: `~/` expands to `home`, a relative path is taken relative to `directory` (the
    /// configuration file's directory) when there is one.
    static func absolute(_ path: String, relativeTo directory: String?, home: String? = nil) -> String {
        if path.hasPrefix("/") { return path }
        if path == "~" || path.hasPrefix("~/"), let home = home ?? ProcessInfo.processInfo.environment["HOME"] {
            return normalizeJoin(home, String(path.dropFirst(path == "~" ? 1 : 2)))
        }
        guard let directory else { return path }
        return normalizeJoin(directory, path)
    }

    private static func normalizeJoin(_ base: String, _ relative: String) -> String {
        var parts: [Substring] = []
        for part in (base + "/" + relative).split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// The directory holding `file`, made absolute against `currentDirectory`.
    static func directory(of file: String, currentDirectory: String) -> String {
        let absolute = file.hasPrefix("/") ? file : normalizeJoin(currentDirectory, file)
        guard let slash = absolute.lastIndex(of: "/") else { return currentDirectory }
        let directory = String(absolute[..<slash])
        return directory.isEmpty ? "/" : directory
    }
}
