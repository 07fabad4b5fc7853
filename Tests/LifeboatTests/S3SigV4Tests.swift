// SigV4 known-answer tests: AWS's published vectors (the SigV4 test suite's get-vanilla cases and the S3
// header-based authentication examples) and one vector computed once with botocore for session tokens, a
// non-default port, query encoding and SSE headers.

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

@Suite("S3 SigV4 signing")
struct S3SigV4Tests {
    // AWS SigV4 test suite credentials and date.
    static let suiteSigner = SigV4Signer(
        credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    static let suiteDate = SigV4Timestamp(amzDate: "20150830T123600Z")!

    // S3 documentation examples ("Signature Calculations for the Authorization Header").
    static let s3Signer = SigV4Signer(
        credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1")
    static let s3Date = SigV4Timestamp(amzDate: "20130524T000000Z")!
    static let s3Host = ("host", "examplebucket.s3.amazonaws.com")

    @Test("get-vanilla: canonical request, string to sign and signature")
    func getVanilla() {
        let sig = Self.suiteSigner.sign(
            .init(method: "GET", encodedPath: "/", headers: [("Host", "example.amazonaws.com")],
                  payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.suiteDate)
        #expect(sig.canonicalRequest == """
            GET
            /

            host:example.amazonaws.com
            x-amz-date:20150830T123600Z

            host;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(sig.stringToSign == """
            AWS4-HMAC-SHA256
            20150830T123600Z
            20150830/us-east-1/service/aws4_request
            bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63
            """)
        #expect(sig.authorization == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
    }

    @Test("get-vanilla-query-order-key-case: query parameters are sorted")
    func getVanillaQueryOrder() {
        let sig = Self.suiteSigner.sign(
            .init(method: "GET", encodedPath: "/", query: [("Param2", "value2"), ("Param1", "value1")],
                  headers: [("host", "example.amazonaws.com")], payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.suiteDate)
        #expect(sig.signature == "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500")
    }

    @Test("S3 example: GET object with Range bytes=0-9")
    func s3GetObjectRange() {
        let sig = Self.s3Signer.sign(
            .init(method: "GET", encodedPath: "/test.txt",
                  headers: [Self.s3Host, ("Range", "bytes=0-9"), ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)],
                  payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.s3Date)
        #expect(sig.canonicalRequest == """
            GET
            /test.txt

            host:examplebucket.s3.amazonaws.com
            range:bytes=0-9
            x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            x-amz-date:20130524T000000Z

            host;range;x-amz-content-sha256;x-amz-date
            e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
            """)
        #expect(sig.stringToSign.hasSuffix("\n7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"))
        #expect(sig.signature == "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        #expect(sig.signedHeaders == "host;range;x-amz-content-sha256;x-amz-date")
    }

    @Test("S3 example: PUT object with a payload hash, Date header and an encoded key")
    func s3PutObject() {
        let payload = Array("Welcome to Amazon S3.".utf8)
        let hash = Hex.encode(SHA256Digest.hash(payload))
        #expect(hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072")
        let sig = Self.s3Signer.sign(
            .init(method: "PUT", encodedPath: "/" + SigV4Signer.encodePath("test$file.text"),
                  headers: [Self.s3Host, ("Date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                            ("x-amz-content-sha256", hash)],
                  payloadHash: hash),
            at: Self.s3Date)
        #expect(sig.canonicalRequest.hasPrefix("PUT\n/test%24file.text\n\n"))
        #expect(sig.signedHeaders == "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class")
        #expect(sig.signature == "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")
    }

    @Test("S3 example: GET bucket lifecycle (a value-less query parameter)")
    func s3Lifecycle() {
        let sig = Self.s3Signer.sign(
            .init(method: "GET", encodedPath: "/", query: [("lifecycle", "")],
                  headers: [Self.s3Host, ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)],
                  payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.s3Date)
        #expect(sig.canonicalRequest.contains("\nlifecycle=\n"))
        #expect(sig.signature == "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543")
    }

    @Test("S3 example: list objects (max-keys=2, prefix=J)")
    func s3ListObjects() {
        let sig = Self.s3Signer.sign(
            .init(method: "GET", encodedPath: "/", query: [("prefix", "J"), ("max-keys", "2")],
                  headers: [Self.s3Host, ("x-amz-content-sha256", SigV4Signer.emptyPayloadHash)],
                  payloadHash: SigV4Signer.emptyPayloadHash),
            at: Self.s3Date)
        #expect(sig.signature == "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7")
    }

    /// Computed once with botocore 1.43 (`S3SigV4Auth(creds, "s3", "eu-central-1").add_auth(req)`): session token,
    /// non-default port, encoded space in the key, `/` and `=` in a query value, an SSE header.
    @Test("botocore vector: session token, port, query encoding, SSE header")
    func botocoreSessionTokenVector() {
        let signer = SigV4Signer(
            credentials: S3Credentials(accessKeyID: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       sessionToken: "IQoJb3JpZ2luX2VjEXAMPLETOKEN//session=="),
            region: "eu-central-1")
        let body = Array("hello part".utf8)
        let hash = Hex.encode(SHA256Digest.hash(body))
        let sig = signer.sign(
            .init(method: "PUT", encodedPath: "/lifeboat-test/" + SigV4Signer.encodePath("backups/2026 11/part.bin"),
                  query: [("partNumber", "3"), ("uploadId", "abc/def=")],
                  headers: [("host", "127.0.0.1:9000"), ("x-amz-server-side-encryption", "aws:kms"),
                            ("x-amz-content-sha256", hash)],
                  payloadHash: hash),
            at: SigV4Timestamp(amzDate: "20261128T235050Z")!)
        #expect(sig.canonicalRequest.hasPrefix("PUT\n/lifeboat-test/backups/2026%2011/part.bin\npartNumber=3&uploadId=abc%2Fdef%3D\n"))
        #expect(sig.signedHeaders == "host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-server-side-encryption")
        #expect(sig.signature == "4bbca2ee332a6118dfe7176e656c3cda8a2bd8cfd7d13b45828e6ff146b6073f")
        #expect(sig.addedHeaders.contains { $0.0 == "x-amz-security-token" && $0.1 == "IQoJb3JpZ2luX2VjEXAMPLETOKEN//session==" })
    }

    @Test("the signing key follows the documented derivation")
    func signingKeyDerivation() {
        // From AWS's SigV4 documentation example (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam).
        let key = SigV4Signer.signingKey(secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", dateStamp: "20120215",
                                         region: "us-east-1", service: "iam")
        #expect(Hex.encode(key) == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d")
    }

    @Test("a different payload hash or secret changes the signature")
    func signatureDependsOnInputs() {
        let request = SigV4Signer.Request(method: "PUT", encodedPath: "/b/k", headers: [("host", "h")], payloadHash: SigV4Signer.unsignedPayload)
        let a = Self.s3Signer.sign(request, at: Self.s3Date).signature
        var other = request
        other.payloadHash = SigV4Signer.emptyPayloadHash
        #expect(Self.s3Signer.sign(other, at: Self.s3Date).signature != a)
        let wrongSecret = SigV4Signer(credentials: S3Credentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "x"), region: "us-east-1")
        #expect(wrongSecret.sign(request, at: Self.s3Date).signature != a)
    }

    @Test("timestamps from epoch seconds", arguments: [
        (Int64(0), "19700101T000000Z"),
        (Int64(1_369_353_600), "20130524T000000Z"),
        (Int64(1_440_938_160), "20150830T123600Z"),
        (Int64(951_782_400), "20000229T000000Z"),
        (Int64(4_102_444_799), "20991231T235959Z"),
    ])
    func timestamps(seconds: Int64, expected: String) {
        let t = SigV4Timestamp(secondsSince1970: seconds)
        #expect(t.amzDate == expected)
        #expect(t.dateStamp == String(expected.prefix(8)))
    }

    @Test("URI encoding keeps unreserved characters and encodes the rest as uppercase UTF-8")
    func uriEncoding() {
        #expect(SigV4Signer.uriEncode("a b+c", encodeSlash: true) == "a%20b%2Bc")
        #expect(SigV4Signer.uriEncode("A-z_0.9~", encodeSlash: true) == "A-z_0.9~")
        #expect(SigV4Signer.uriEncode("a/b", encodeSlash: true) == "a%2Fb")
        #expect(SigV4Signer.encodePath("a/b c/ü") == "a/b%20c/%C3%BC")
        #expect(SigV4Signer.canonicalQuery([("b", "2"), ("a", "x y"), ("A", "0")]) == "A=0&a=x%20y&b=2")
    }

    @Test("header values are trimmed and inner whitespace collapsed; repeated names joined")
    func headerCanonicalisation() {
        let (block, signed) = SigV4Signer.canonicalHeaders([("X-Amz-Meta-A", "  one   two  "), ("host", "h"), ("x-amz-meta-a", "three")])
        #expect(block == "host:h\nx-amz-meta-a:one two,three\n")
        #expect(signed == "host;x-amz-meta-a")
    }

    @Test("malformed amz dates are rejected")
    func malformedDates() {
        #expect(SigV4Timestamp(amzDate: "2013-05-24T00:00:00Z") == nil)
        #expect(SigV4Timestamp(amzDate: "20130524T000000") == nil)
    }
}
