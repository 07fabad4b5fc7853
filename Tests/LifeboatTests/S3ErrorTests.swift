// S3 XML parsing and error mapping: S3's error bodies become errors that name the operation, bucket and key
// and say what to check; listing and multipart bodies parse; store errors get the right kind.

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

@Suite("S3 XML and errors")
struct S3ErrorTests {
    static func errorBody(_ code: String, _ message: String, extra: String = "") -> [UInt8] {
        Array("""
            <?xml version="1.0" encoding="UTF-8"?>
            <Error><Code>\(code)</Code><Message>\(message)</Message>\(extra)<RequestId>4442587FB7D0A2F9</RequestId></Error>
            """.utf8)
    }

    @Test("the XML reader handles prolog, attributes, entities, CDATA, comments and self-closing tags")
    func xmlReader() throws {
        let doc = """
            \u{FEFF}<?xml version="1.0" encoding="UTF-8"?>
            <!-- listing -->
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/" a='x>y'>
              <Name>bucket</Name><Prefix/>
              <Contents><Key>a&amp;b &lt;c&gt; &#233;&#x41;</Key><ETag>&quot;abc&quot;</ETag></Contents>
              <Contents><Key><![CDATA[raw <key> & more]]></Key></Contents>
            </ListBucketResult>
            """
        let root = try S3XML.parse(Array(doc.utf8))
        #expect(root.name == "ListBucketResult")
        #expect(root.child("Prefix")?.text == "")
        let keys = root.children("Contents").map { $0.child("Key")?.text }
        #expect(keys == ["a&b <c> éA", "raw <key> & more"])
        #expect(root.children("Contents")[0].child("ETag")?.text == "\"abc\"")
    }

    @Test("malformed XML is rejected with an offset", arguments: ["", "<a>", "<a></b>", "<a>&bogus;</a>", "<a/><b/>", "text"])
    func malformed(doc: String) {
        #expect(throws: S3XML.ParseError.self) { try S3XML.parse(Array(doc.utf8)) }
    }

    @Test("error codes map to kinds and hints", arguments: [
        ("NoSuchBucket", 404, "does not exist", StoreError.Kind.notFound),
        ("AccessDenied", 403, "bucket policy", .permissionDenied),
        ("SignatureDoesNotMatch", 403, "check the secret key and the clock", .permissionDenied),
        ("InvalidAccessKeyId", 403, "access key id is unknown", .permissionDenied),
        ("RequestTimeTooSkewed", 403, "NTP", .permissionDenied),
        ("ExpiredToken", 400, "AWS_SESSION_TOKEN", .permissionDenied),
        ("SlowDown", 503, "throttling", .unavailable),
        ("InternalError", 500, "retry later", .unavailable),
        ("NoSuchKey", 404, "not in bucket", .notFound),
        ("PreconditionFailed", 412, "never overwrites", .alreadyExists),
        ("EntityTooSmall", 400, "5 MiB", .ioFailure),
    ])
    func mapping(code: String, status: Int, hintFragment: String, kind: StoreError.Kind) throws {
        let error = S3Error.fromResponse(status: status, body: Self.errorBody(code, "server says so"),
                                         operation: "PutObject", bucket: "backups", key: "vault/x.lbk")
        #expect(error.code == code)
        #expect(error.requestID == "4442587FB7D0A2F9")
        #expect(error.hint.contains(hintFragment), "\(error.hint)")
        let text = error.description
        #expect(text.contains("PutObject") && text.contains("backups") && text.contains("vault/x.lbk") && text.contains(code))
        let storeError = try #require(S3Store.storeError(error, store: "s3://backups/", operation: "commit", object: "x.lbk") as? StoreError)
        #expect(storeError.kind == kind)
        #expect(storeError.detail.contains(code))
    }

    @Test("retryable: 5xx, 429, throttling and timeouts; not 4xx client errors")
    func retryable() {
        func err(_ status: Int, _ code: String?) -> S3Error {
            S3Error.fromResponse(status: status, body: code.map { Self.errorBody($0, "m") } ?? [], operation: "X", bucket: "b", key: nil)
        }
        #expect(err(500, nil).isRetryable)
        #expect(err(502, nil).isRetryable)
        #expect(err(503, "SlowDown").isRetryable)
        #expect(err(429, nil).isRetryable)
        #expect(err(400, "RequestTimeout").isRetryable)
        #expect(!err(400, "EntityTooSmall").isRetryable)
        #expect(!err(403, "AccessDenied").isRetryable)
        #expect(!err(404, nil).isRetryable)
        #expect(S3Error(kind: .transport, detail: "reset").isRetryable)
        #expect(!S3Error(kind: .configuration, detail: "tls").isRetryable)
    }

    @Test("a body-less HEAD answer still gets a code from its status")
    func headWithoutBody() {
        #expect(S3Error.fromResponse(status: 403, body: [], operation: "HeadObject", bucket: "b", key: "k").code == "AccessDenied")
        #expect(S3Error.fromResponse(status: 404, body: [], operation: "HeadObject", bucket: "b", key: "k").kind == .notFound)
        #expect(S3Error.fromResponse(status: 404, body: [], operation: "ListObjectsV2", bucket: "b", key: nil).code == "NoSuchBucket")
    }

    @Test("a wrong region names the bucket's region")
    func wrongRegion() {
        let error = S3Error.fromResponse(
            status: 400, body: Self.errorBody("AuthorizationHeaderMalformed", "the region 'us-east-1' is wrong", extra: "<Region>eu-west-1</Region>"),
            operation: "ListObjectsV2", bucket: "b", key: nil)
        #expect(error.hint.contains("eu-west-1"))
    }

    @Test("ISO 8601 and HTTP dates parse to the same instant")
    func dates() throws {
        let iso = try #require(S3Client.parseISO8601("2015-10-21T07:28:00.500Z"))
        let http = try #require(S3Store.parseHTTPDate("Wed, 21 Oct 2015 07:28:00 GMT"))
        #expect(iso.timeIntervalSince1970 == 1_445_412_480.5)
        #expect(http.timeIntervalSince1970 == 1_445_412_480)
        #expect(S3Client.parseISO8601("2024-02-29T00:00:00Z")?.timeIntervalSince1970 == 1_709_164_800)
        #expect(S3Client.parseISO8601("yesterday") == nil)
        #expect(S3Store.parseHTTPDate("21 Oct 2015") == nil)
    }

    @Test("configuration validation names the problem", arguments: [
        ("ftp://host", "b", S3AddressingStyle.pathStyle, "http(s) URL"),
        ("http://127.0.0.1:9000", "ab", .pathStyle, "bucket name"),
        ("https://s3.amazonaws.com", "my.bucket", .virtualHosted, "path-style"),
        ("https://s3.amazonaws.com", "My_Bucket", .virtualHosted, "bucket name"),
    ])
    func validation(endpoint: String, bucket: String, addressing: S3AddressingStyle, fragment: String) {
        let config = S3Configuration(endpoint: endpoint, bucket: bucket, addressing: addressing)
        do {
            _ = try config.validate()
            Issue.record("expected \(fragment)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }

    @Test("part size and CA file are checked")
    func partSizeAndCA() throws {
        var config = S3Configuration(endpoint: "http://127.0.0.1:9000", bucket: "backups", partSize: 1024)
        #expect(throws: S3Error.self) { try config.validate() }
        config.partSize = 5 * 1024 * 1024
        config.caFile = "/nonexistent/ca.pem"
        #expect(throws: S3Error.self) { try config.validate() }
        config.caFile = nil
        let endpoint = try config.validate()
        #expect(endpoint == .init(scheme: "http", host: "127.0.0.1", port: 9000, basePath: ""))
    }

    @Test("server-side encryption headers")
    func sse() {
        #expect(S3ServerSideEncryption.none.headers.isEmpty)
        #expect(S3ServerSideEncryption.s3Managed.headers.map { "\($0.0)=\($0.1)" } == ["x-amz-server-side-encryption=AES256"])
        #expect(S3ServerSideEncryption.kms(keyID: "arn:aws:kms:eu-west-1:1:key/k").headers.map { "\($0.0)=\($0.1)" }
            == ["x-amz-server-side-encryption=aws:kms", "x-amz-server-side-encryption-aws-kms-key-id=arn:aws:kms:eu-west-1:1:key/k"])
        #expect(S3ServerSideEncryption.kms(keyID: nil).headers.count == 1)
    }
}
