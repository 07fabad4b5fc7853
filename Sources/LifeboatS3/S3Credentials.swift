// S3 credentials and where they come from: the AWS environment variables or the shared credentials file
// (~/.aws/credentials, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE). The secret never appears in a description.

import Foundation
import LifeboatArchive
import LifeboatRepository

/// An access key pair, optionally with a session token (temporary credentials from STS).
///
/// `description` shows the access key id only; the secret key and the session token are never printed.
public struct S3Credentials: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible {
    public let accessKeyID: String
    public let secretAccessKey: String
    public let sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    public var description: String {
        "S3Credentials(accessKeyID: \(accessKeyID), secretAccessKey: <redacted>, sessionToken: "
            + (sessionToken == nil ? "none" : "<redacted>") + ")"
    }

    public var debugDescription: String { description }
}

/// Where `S3Store` takes its credentials from.
public enum S3CredentialSource: Sendable, CustomStringConvertible {
    /// Credentials given directly (from Lifeboat's configuration or a test).
    case explicit(S3Credentials)
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` only.
    case environment
    /// The shared credentials file; `path` nil means `AWS_SHARED_CREDENTIALS_FILE` or `~/.aws/credentials`,
    /// `profile` nil means `AWS_PROFILE` or `default`.
    case sharedFile(path: String?, profile: String?)
    /// The environment variables when both are set, otherwise the shared credentials file (the AWS CLI's order
    /// for these two sources).
    case defaultChain

    public var description: String {
        switch self {
        case .explicit(let c): return "explicit (\(c.accessKeyID))"
        case .environment: return "environment variables"
        case .sharedFile(let path, let profile):
            return "shared credentials file \(path ?? "(default path)") profile \(profile ?? "(default)")"
        case .defaultChain: return "environment variables, then the shared credentials file"
        }
    }
}

/// Resolves an `S3CredentialSource` to credentials. The environment and file reader are injectable for tests.
public struct S3CredentialResolver: Sendable {
    public var environment: [String: String]
    public var homeDirectory: String?
    public var readFile: @Sendable (String) throws -> String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                homeDirectory: String? = ProcessInfo.processInfo.environment["HOME"],
                readFile: @escaping @Sendable (String) throws -> String = { try String(contentsOfFile: $0, encoding: .utf8) }) {
        self.environment = environment
        self.homeDirectory = homeDirectory
        self.readFile = readFile
    }

    public func resolve(_ source: S3CredentialSource) throws -> S3Credentials {
        switch source {
        case .explicit(let credentials):
            return credentials
        case .environment:
            guard let c = fromEnvironment() else {
                throw S3Error.credentials("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set; "
                    + "export them or configure a shared credentials file")
            }
            return c
        case .sharedFile(let path, let profile):
            return try fromSharedFile(path: path, profile: profile)
        case .defaultChain:
            if let c = fromEnvironment() { return c }
            return try fromSharedFile(path: nil, profile: nil)
        }
    }

    private func fromEnvironment() -> S3Credentials? {
        guard let id = environment["AWS_ACCESS_KEY_ID"], !id.isEmpty,
              let secret = environment["AWS_SECRET_ACCESS_KEY"], !secret.isEmpty else { return nil }
        let token = environment["AWS_SESSION_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token)
    }

    /// The file that `.sharedFile(path: nil, …)` reads.
    public func defaultSharedFilePath() -> String? {
        if let p = environment["AWS_SHARED_CREDENTIALS_FILE"], !p.isEmpty { return expandTilde(p) }
        guard let home = homeDirectory, !home.isEmpty else { return nil }
        return home + "/.aws/credentials"
    }

    private func expandTilde(_ path: String) -> String {
        guard path.hasPrefix("~/"), let home = homeDirectory else { return path }
        return home + path.dropFirst(1)
    }

    private func fromSharedFile(path: String?, profile: String?) throws -> S3Credentials {
        guard let file = path.map(expandTilde) ?? defaultSharedFilePath() else {
            throw S3Error.credentials("no AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY are not set and "
                + "HOME is unknown, so ~/.aws/credentials cannot be found; set AWS_SHARED_CREDENTIALS_FILE")
        }
        let name = profile ?? environment["AWS_PROFILE"].flatMap { $0.isEmpty ? nil : $0 } ?? "default"
        let text: String
        do {
            text = try readFile(file)
        } catch {
            throw S3Error.credentials("cannot read the AWS shared credentials file \(file): \(error.localizedDescription); "
                + "set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or point AWS_SHARED_CREDENTIALS_FILE at a readable file")
        }
        return try SharedCredentialsFile.parse(text).credentials(profile: name, file: file)
    }
}

/// The AWS shared credentials file: INI sections `[profile-name]` with `key = value` lines; `#` and `;` start
/// comments at the start of a line only. Keys are case-insensitive here (the AWS CLI writes them lowercase).
public struct SharedCredentialsFile: Sendable, Equatable {
    /// Section name -> (lowercased key -> value).
    public var profiles: [String: [String: String]]

    public init(profiles: [String: [String: String]]) {
        self.profiles = profiles
    }

    /// Parses the file. Lines before the first section and lines without `=` are ignored, as the AWS CLI does.
    public static func parse(_ text: String) -> SharedCredentialsFile {
        var profiles: [String: [String: String]] = [:]
        var current: String?
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard let close = line.firstIndex(of: "]") else { current = nil; continue }
                var name = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
                // The credentials file names sections without the `profile ` prefix the config file uses;
                // accept both spellings.
                if name.hasPrefix("profile ") {
                    name = String(name.dropFirst("profile ".count)).trimmingCharacters(in: .whitespaces)
                }
                current = name
                if profiles[name] == nil { profiles[name] = [:] }
                continue
            }
            guard let section = current, let eq = line.firstIndex(of: "=") else { continue }
            let key = line[..<eq].trimmingCharacters(in: .whitespaces).lowercased()
            // No inline comments: like botocore's parser, everything after `=` is the value.
            let value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            profiles[section]![key] = value
        }
        return SharedCredentialsFile(profiles: profiles)
    }

    /// The credentials of `profile`; errors name the file and the profile, never a value.
    public func credentials(profile: String, file: String) throws -> S3Credentials {
        guard let values = profiles[profile] else {
            let known = profiles.keys.sorted().joined(separator: ", ")
            throw S3Error.credentials("profile [\(profile)] is not in \(file) (profiles there: \(known.isEmpty ? "none" : known)); "
                + "set AWS_PROFILE to one of them or add the section")
        }
        guard let id = values["aws_access_key_id"], !id.isEmpty else {
            throw S3Error.credentials("profile [\(profile)] in \(file) has no aws_access_key_id")
        }
        guard let secret = values["aws_secret_access_key"], !secret.isEmpty else {
            throw S3Error.credentials("profile [\(profile)] in \(file) has no aws_secret_access_key")
        }
        let token = values["aws_session_token"] ?? values["aws_security_token"]
        return S3Credentials(accessKeyID: id, secretAccessKey: secret, sessionToken: token.flatMap { $0.isEmpty ? nil : $0 })
    }
}
