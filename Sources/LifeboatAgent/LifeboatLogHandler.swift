// Lifeboat's swift-log handler: one line per event, human-readable on a terminal or JSON lines for log shippers
// (`--log-format json`), with secrets redacted on the way out: values of metadata keys that name a token,
// secret, key, password or credential are replaced, and Vault tokens are masked inside messages too.

import Foundation
import Logging
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// How log lines look.
public enum LogFormat: String, Sendable, Equatable, CaseIterable {
    /// `2025-01-02T03:04:05.678Z info  backup stored group=hourly bytes=1234`
    case human
    /// `{"level":"info","message":"backup stored","metadata":{...},"timestamp":"..."}`
    case json
}

/// What never reaches a log line.
public enum LogRedaction {
    /// The replacement for a redacted value.
    public static let placeholder = "<redacted>"

    /// Words that mark a metadata key as sensitive when they appear as a component of the key (split at `_`, `-`,
    /// `.` and case changes: `vault_token`, `secretID`, `X-Vault-Token`, `encryption.key`) or anywhere in it for
    /// the unambiguous ones (`password`, `passphrase`, `secret`, `token`).
    static let sensitiveComponents: Set<String> = [
        "token", "tokens", "secret", "secrets", "key", "keys", "password", "passwd", "passphrase", "credential",
        "credentials", "authorization", "auth", "cookie", "apikey", "pin", "unseal", "shares", "signature",
    ]
    static let sensitiveSubstrings = ["password", "passphrase", "secret", "token", "apikey", "privatekey"]

    /// Whether values under `key` must be hidden.
    public static func isSensitive(key: String) -> Bool {
        let lower = key.lowercased()
        if sensitiveSubstrings.contains(where: { lower.contains($0) }) { return true }
        return components(of: key).contains { sensitiveComponents.contains($0) }
    }

    /// `metadata` with sensitive values replaced, recursively.
    public static func redact(_ metadata: Logger.Metadata) -> Logger.Metadata {
        var result = Logger.Metadata()
        for (key, value) in metadata {
            result[key] = isSensitive(key: key) ? .string(placeholder) : redact(value)
        }
        return result
    }

    static func redact(_ value: Logger.MetadataValue) -> Logger.MetadataValue {
        switch value {
        case .dictionary(let dictionary): return .dictionary(redact(dictionary))
        case .array(let array): return .array(array.map(redact))
        case .string(let string): return .string(scrub(string))
        case .stringConvertible(let convertible): return .string(scrub(convertible.description))
        }
    }

    /// Masks Vault tokens (`hvs.`, `hvb.`, `hvr.` followed by 20 or more token characters) in free text.
    public static func scrub(_ text: String) -> String {
        guard text.contains("hv") else { return text }
        let scalars = Array(text.unicodeScalars)
        var output = String.UnicodeScalarView()
        var index = 0
        func isTokenScalar(_ s: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s) || s == "_" || s == "-" || s == "."
        }
        while index < scalars.count {
            if index + 4 <= scalars.count, scalars[index] == "h", scalars[index + 1] == "v",
                "sbr".unicodeScalars.contains(scalars[index + 2]), scalars[index + 3] == ".",
                index == 0 || !isTokenScalar(scalars[index - 1])
            {
                var end = index + 4
                while end < scalars.count, isTokenScalar(scalars[end]) { end += 1 }
                if end - (index + 4) >= 20 {
                    output.append(contentsOf: "\(Character(scalars[index]))\(Character(scalars[index + 1]))\(Character(scalars[index + 2])).\(placeholder)".unicodeScalars)
                    index = end
                    continue
                }
            }
            output.append(scalars[index])
            index += 1
        }
        return String(output)
    }

    private static func components(of key: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var previousLower = false
        for character in key {
            if character == "_" || character == "-" || character == "." || character == " " || character == "/" {
                if !current.isEmpty { parts.append(current) }
                current = ""
                previousLower = false
                continue
            }
            if character.isUppercase && previousLower {
                parts.append(current)
                current = ""
            }
            current.append(character)
            previousLower = character.isLowercase || character.isNumber
        }
        if !current.isEmpty { parts.append(current) }
        return parts.map { $0.lowercased() }
    }
}

/// A swift-log handler writing one line per event to a sink (standard error by default).
public struct LifeboatLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let format: LogFormat
    private let sink: @Sendable (String) -> Void

    /// - Parameters:
    ///   - label: the logger's label (shown in JSON as `logger`).
    ///   - format: human or JSON lines.
    ///   - level: the minimum level.
    ///   - sink: receives each finished line, newline included (tests capture it).
    public init(
        label: String, format: LogFormat, level: Logger.Level = .info,
        metadataProvider: Logger.MetadataProvider? = nil,
        sink: @escaping @Sendable (String) -> Void = LifeboatLogHandler.standardError
    ) {
        self.label = label
        self.format = format
        self.logLevel = level
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    /// Installs Lifeboat's handler as the process's logging backend. Call once, early in `main`.
    public static func bootstrap(format: LogFormat, level: Logger.Level = .info) {
        LoggingSystem.bootstrap { label in
            LifeboatLogHandler(label: label, format: format, level: level)
        }
    }

    /// Writes to standard error in one `write(2)` so concurrent lines do not interleave.
    public static let standardError: @Sendable (String) -> Void = { line in
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { break }
                offset += n
            }
        }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = .string(String(describing: error)) }
        let clean = LogRedaction.redact(merged)
        let message = LogRedaction.scrub(event.message.description)
        sink(Self.render(
            format: format, timestamp: Date(), level: event.level, label: label, message: message, metadata: clean))
    }

    /// Renders one line (metadata must already be redacted).
    static func render(
        format: LogFormat, timestamp: Date, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata
    ) -> String {
        let time = timestamp.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
        switch format {
        case .human:
            var line = "\(time) \(level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0))\(message)"
            for key in metadata.keys.sorted() {
                line += " \(key)=\(humanValue(metadata[key]!))"
            }
            return line + "\n"
        case .json:
            var object: [String: Any] = [
                "timestamp": time, "level": level.rawValue, "message": message, "logger": label,
            ]
            if !metadata.isEmpty { object["metadata"] = jsonValue(.dictionary(metadata)) }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]))
                ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
    }

    private static func humanValue(_ value: Logger.MetadataValue) -> String {
        let text = value.description
        let needsQuotes = text.isEmpty || text.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline })
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            .replacingOccurrences(of: "\n", with: "\\n") + "\""
    }

    private static func jsonValue(_ value: Logger.MetadataValue) -> Any {
        switch value {
        case .string(let string): return string
        case .stringConvertible(let convertible): return convertible.description
        case .array(let array): return array.map(jsonValue)
        case .dictionary(let dictionary): return dictionary.mapValues(jsonValue)
        }
    }
}
