// Credentials: the shared credentials file parser, the environment/file resolution order, AWS_PROFILE and
// AWS_SHARED_CREDENTIALS_FILE, errors that name the file and profile, and secrets kept out of descriptions.

import LifeboatArchive
import Testing
@testable import LifeboatConfiguration
@testable import LifeboatAgent
@testable import LifeboatRecovery
@testable import LifeboatBackup
@testable import LifeboatS3
@testable import LifeboatRepository
@testable import LifeboatRetention
@testable import LifeboatVault
@testable import LifeboatSchedule
@testable import LifeboatBase
import LifeboatTesting

@Suite("S3 credentials")
struct S3CredentialsTests {
    static let file = """
        # written by aws configure
        [default]
        aws_access_key_id = AKIADEFAULT
        aws_secret_access_key = defaultSecret/with+chars=
        ; a comment
        [backup]
        aws_access_key_id=AKIABACKUP
        aws_secret_access_key=backupSecret
        aws_session_token = FwoGZXIvYXdzE#not-a-comment
        [profile legacy]
        AWS_ACCESS_KEY_ID = AKIALEGACY
        aws_secret_access_key = legacySecret

        [broken]
        aws_access_key_id = AKIABROKEN
        """

    @Test("parses profiles, keys case-insensitively, with # inside values kept")
    func parsesProfiles() throws {
        let parsed = SharedCredentialsFile.parse(Self.file)
        #expect(Set(parsed.profiles.keys) == ["default", "backup", "legacy", "broken"])
        let d = try parsed.credentials(profile: "default", file: "f")
        #expect(d == S3Credentials(accessKeyID: "AKIADEFAULT", secretAccessKey: "defaultSecret/with+chars="))
        let b = try parsed.credentials(profile: "backup", file: "f")
        #expect(b.sessionToken == "FwoGZXIvYXdzE#not-a-comment")
        #expect(try parsed.credentials(profile: "legacy", file: "f").accessKeyID == "AKIALEGACY")
    }

    @Test("CRLF line endings are accepted")
    func crlf() throws {
        let parsed = SharedCredentialsFile.parse("[default]\r\naws_access_key_id = A\r\naws_secret_access_key = S\r\n")
        #expect(try parsed.credentials(profile: "default", file: "f") == S3Credentials(accessKeyID: "A", secretAccessKey: "S"))
    }

    @Test("a missing profile or key is an error naming the file and profile, never a secret")
    func missingProfile() {
        let parsed = SharedCredentialsFile.parse(Self.file)
        do {
            _ = try parsed.credentials(profile: "nope", file: "/home/op/.aws/credentials")
            Issue.record("expected an error")
        } catch {
            let text = "\(error)"
            #expect(text.contains("[nope]") && text.contains("/home/op/.aws/credentials") && text.contains("backup"))
            #expect(!text.contains("defaultSecret"))
        }
        #expect(throws: S3Error.self) { try parsed.credentials(profile: "broken", file: "f") }
    }

    @Test("environment variables win over the file in the default chain")
    func environmentFirst() throws {
        let resolver = S3CredentialResolver(
            environment: ["AWS_ACCESS_KEY_ID": "AKIAENV", "AWS_SECRET_ACCESS_KEY": "envSecret", "AWS_SESSION_TOKEN": "tok"],
            homeDirectory: "/home/op", readFile: { _ in Self.file })
        #expect(try resolver.resolve(.defaultChain) == S3Credentials(accessKeyID: "AKIAENV", secretAccessKey: "envSecret", sessionToken: "tok"))
    }

    @Test("without environment variables the chain reads ~/.aws/credentials, profile from AWS_PROFILE")
    func fileFallback() throws {
        let paths = S3PathRecorder()
        let resolver = S3CredentialResolver(environment: ["AWS_PROFILE": "backup"], homeDirectory: "/home/op",
                                            readFile: { paths.record($0); return Self.file })
        #expect(try resolver.resolve(.defaultChain).accessKeyID == "AKIABACKUP")
        #expect(paths.all == ["/home/op/.aws/credentials"])
    }

    @Test("AWS_SHARED_CREDENTIALS_FILE overrides the path; an explicit profile overrides AWS_PROFILE")
    func pathOverride() throws {
        let paths = S3PathRecorder()
        let resolver = S3CredentialResolver(
            environment: ["AWS_SHARED_CREDENTIALS_FILE": "~/secrets/aws", "AWS_PROFILE": "backup"], homeDirectory: "/home/op",
            readFile: { paths.record($0); return Self.file })
        #expect(try resolver.resolve(.sharedFile(path: nil, profile: "default")).accessKeyID == "AKIADEFAULT")
        #expect(paths.all == ["/home/op/secrets/aws"])
    }

    @Test("an unreadable file and an empty environment are clear errors")
    func unreadable() {
        struct NoFile: Error {}
        let resolver = S3CredentialResolver(environment: [:], homeDirectory: "/home/op", readFile: { _ in throw NoFile() })
        do {
            _ = try resolver.resolve(.defaultChain)
            Issue.record("expected an error")
        } catch let error as S3Error {
            #expect(error.kind == .credentials)
            #expect(error.description.contains("/home/op/.aws/credentials"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(throws: S3Error.self) { try resolver.resolve(.environment) }
    }

    @Test("descriptions never show the secret key or the session token")
    func redaction() {
        let c = S3Credentials(accessKeyID: "AKIAVISIBLE", secretAccessKey: "topSecretValue", sessionToken: "sessionTokenValue")
        for text in ["\(c)", String(reflecting: c), "\(S3CredentialSource.explicit(c))"] {
            #expect(text.contains("AKIAVISIBLE"))
            #expect(!text.contains("topSecretValue"))
            #expect(!text.contains("sessionTokenValue"))
        }
        let config = S3Configuration(endpoint: "http://127.0.0.1:9000", bucket: "b", credentials: .explicit(c))
        #expect(!"\(config)".contains("topSecretValue"))
    }
}

/// Records the paths a resolver reads (the resolver's reader is `@Sendable`).
final class S3PathRecorder: Sendable {
    private let paths = PThreadLocked<[String]>([])
    func record(_ p: String) { paths.withLock { $0.append(p) } }
    var all: [String] { paths.withLock { $0 } }
}
