// The retry decorator with a scripted transport and a recording sleep: what is retried, how long it waits
// (exponential backoff with bounded jitter), and that the last failure surfaces as a mapped S3 error.

import AsyncHTTPClient
import NIOCore
import NIOHTTP1
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

/// A transport that answers from a script and records the requests it saw.
final class S3ScriptedTransport: S3Transport {
    enum Step: Sendable {
        case respond(Int, String)
        case fail(S3Error)
    }
    private let state: PThreadLocked<(steps: [Step], seen: [String])>

    init(_ steps: [Step]) { state = PThreadLocked((steps, [])) }

    var requests: [String] { state.withLock { $0.seen } }

    func send(_ request: S3Request) async throws -> S3Response {
        let step: Step = state.withLock { s in
            s.seen.append("\(request.method.rawValue) \(request.operation)")
            return s.steps.isEmpty ? .respond(200, "") : s.steps.removeFirst()
        }
        switch step {
        case .respond(let status, let body):
            var headers = HTTPHeaders()
            headers.add(name: "etag", value: "\"etag-\(status)\"")
            return S3Response(status: status, headers: headers, body: .bytes(ByteBuffer(string: body)))
        case .fail(let error):
            throw error
        }
    }
}

/// Records the delays a retrying transport asked to sleep.
final class S3SleepRecorder: Sendable {
    private let delays = PThreadLocked<[Duration]>([])
    var all: [Duration] { delays.withLock { $0 } }
    func sleep(_ d: Duration) async throws { delays.withLock { $0.append(d) } }
}

@Suite("S3 retries")
struct S3RetryTests {
    static let internalError = "<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>"

    func retrying(_ transport: S3ScriptedTransport, _ sleeper: S3SleepRecorder, attempts: Int = 4) -> S3Client {
        let policy = S3RetryPolicy(maxAttempts: attempts, baseDelay: .milliseconds(100), maxDelay: .seconds(1))
        let retrying = S3RetryingTransport(base: transport, policy: policy, bucket: "b",
                                           sleep: { try await sleeper.sleep($0) }, jitter: { 1.0 })
        return S3Client(transport: retrying, bucket: "b")
    }

    @Test("500, 503 SlowDown, 429 and a reset are retried with growing delays")
    func retriesTransientFailures() async throws {
        let transport = S3ScriptedTransport([
            .respond(500, Self.internalError),
            .respond(503, "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"),
            .respond(429, ""),
            .fail(S3Error(kind: .transport, detail: "connection reset by peer")),
            .respond(200, ""),
        ])
        let sleeper = S3SleepRecorder()
        let etag = try await retrying(transport, sleeper, attempts: 5).putObject(key: "k", body: ByteBuffer(string: "x"), ifNoneMatch: false)
        #expect(etag == "\"etag-200\"")
        #expect(transport.requests.count == 5)
        #expect(sleeper.all == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800)])
    }

    @Test("client errors are not retried and surface with their S3 code")
    func noRetryOnClientErrors() async {
        let transport = S3ScriptedTransport([
            .respond(403, "<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match</Message></Error>"),
        ])
        let sleeper = S3SleepRecorder()
        do {
            try await retrying(transport, sleeper).putObject(key: "k", body: ByteBuffer(string: "x"), ifNoneMatch: false)
            Issue.record("expected an error")
        } catch let error as S3Error {
            #expect(error.code == "SignatureDoesNotMatch")
            #expect(error.description.contains("check the secret key and the clock"))
        } catch { Issue.record("unexpected \(error)") }
        #expect(transport.requests.count == 1)
        #expect(sleeper.all.isEmpty)
    }

    @Test("after the last attempt the 5xx is reported with S3's message")
    func givesUp() async {
        let transport = S3ScriptedTransport(Array(repeating: .respond(500, Self.internalError), count: 3))
        let sleeper = S3SleepRecorder()
        do {
            _ = try await retrying(transport, sleeper, attempts: 3).uploadPart(key: "k", uploadID: "u", partNumber: 2, body: ByteBuffer(string: "x"))
            Issue.record("expected an error")
        } catch let error as S3Error {
            #expect(error.code == "InternalError" && error.httpStatus == 500 && error.operation == "UploadPart")
            #expect(error.message == "We encountered an internal error.")
        } catch { Issue.record("unexpected \(error)") }
        #expect(transport.requests.count == 3)
        #expect(sleeper.all.count == 2)
    }

    @Test("a 200 CompleteMultipartUpload carrying an <Error> body is a failure")
    func completeWithErrorBody() async {
        let transport = S3ScriptedTransport([.respond(200, Self.internalError)])
        do {
            try await S3Client(transport: transport, bucket: "b").completeMultipartUpload(
                key: "k", uploadID: "u", parts: [S3CompletedPart(partNumber: 1, etag: "\"e\"")], ifNoneMatch: false)
            Issue.record("expected an error")
        } catch let error as S3Error {
            #expect(error.code == "InternalError")
        } catch { Issue.record("unexpected \(error)") }
    }

    @Test("a truncated listing without a continuation token is an error, not an endless loop")
    func truncatedWithoutToken() async {
        let page = "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>a</Key><Size>1</Size></Contents></ListBucketResult>"
        let transport = S3ScriptedTransport([.respond(200, page)])
        await #expect(throws: S3Error.self) { try await S3Client(transport: transport, bucket: "b").listAllObjects(prefix: "") }
    }

    @Test("backoff doubles from the base, is capped, and jitter stays in the upper half", arguments: [
        (1, 0.0, Duration.milliseconds(100)), (1, 1.0, .milliseconds(200)), (2, 1.0, .milliseconds(400)),
        (3, 0.5, .milliseconds(600)), (10, 1.0, .seconds(5)), (40, 0.0, .milliseconds(2500)),
    ])
    func backoff(retry: Int, unit: Double, expected: Duration) {
        let policy = S3RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(200), maxDelay: .seconds(5))
        #expect(policy.delay(beforeRetry: retry, unit: unit) == expected)
    }
}
