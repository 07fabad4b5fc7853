// AWS Signature Version 4, header-based: canonical request, string to sign, signing key derivation and the
// Authorization header. Pure functions over values; no clock and no I/O (the caller passes the timestamp).

import LifeboatArchive
import LifeboatBase
import LifeboatRepository

/// A UTC timestamp in the two forms SigV4 uses: `20130524T000000Z` (x-amz-date) and `20130524` (the scope date).
public struct SigV4Timestamp: Sendable, Hashable {
    /// `YYYYMMDDTHHMMSSZ`.
    public let amzDate: String
    /// `YYYYMMDD`.
    public let dateStamp: String

    /// Builds the timestamp from seconds since the Unix epoch (UTC); fractions of a second are dropped.
    public init(secondsSince1970: Int64) {
        let days = secondsSince1970 >= 0 ? secondsSince1970 / 86_400 : (secondsSince1970 - 86_399) / 86_400
        let secondsOfDay = secondsSince1970 - days * 86_400
        let (y, m, d) = CivilTime.date(days: days)
        func pad(_ v: Int64, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        dateStamp = pad(Int64(y), 4) + pad(Int64(m), 2) + pad(Int64(d), 2)
        amzDate = dateStamp + "T" + pad(secondsOfDay / 3600, 2) + pad(secondsOfDay / 60 % 60, 2) + pad(secondsOfDay % 60, 2) + "Z"
    }

    /// Parses `YYYYMMDDTHHMMSSZ`; nil when malformed.
    public init?(amzDate: String) {
        let u = Array(amzDate.utf8)
        guard u.count == 16, u[8] == UInt8(ascii: "T"), u[15] == UInt8(ascii: "Z"),
              u[0..<8].allSatisfy({ $0 >= 48 && $0 <= 57 }), u[9..<15].allSatisfy({ $0 >= 48 && $0 <= 57 })
        else { return nil }
        self.amzDate = amzDate
        self.dateStamp = String(amzDate.prefix(8))
    }
}

/// Signs requests with AWS Signature Version 4 (header-based authentication).
///
/// S3 rules apply to the canonical URI: the path is given already URI-encoded once (as sent on the wire) and is
/// neither normalised nor encoded a second time.
public struct SigV4Signer: Sendable {
    /// The algorithm name in the string to sign and the Authorization header.
    public static let algorithm = "AWS4-HMAC-SHA256"
    /// Payload hash value telling S3 that the body is not covered by the signature.
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"
    /// SHA-256 of the empty string, the payload hash of a request without a body.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    public let credentials: S3Credentials
    public let region: String
    public let service: String

    public init(credentials: S3Credentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// What a signature covers. `headers` must include `host`; names are case-insensitive.
    public struct Request: Sendable {
        public var method: String
        /// The path as sent, already URI-encoded (see `SigV4Signer.encodePath`), starting with `/`.
        public var encodedPath: String
        /// Query parameters, not encoded (the signer encodes them); `("uploads", "")` for a bare `?uploads`.
        public var query: [(String, String)]
        public var headers: [(String, String)]
        /// Hex SHA-256 of the body, or `SigV4Signer.unsignedPayload`.
        public var payloadHash: String

        public init(method: String, encodedPath: String, query: [(String, String)] = [], headers: [(String, String)],
                    payloadHash: String) {
            self.method = method
            self.encodedPath = encodedPath
            self.query = query
            self.headers = headers
            self.payloadHash = payloadHash
        }
    }

    /// The result of signing: the headers to add to the request (x-amz-date, x-amz-security-token when a session
    /// token is used, authorization) and the intermediate values for tests and diagnostics.
    public struct Signature: Sendable {
        public let canonicalRequest: String
        public let stringToSign: String
        public let signature: String
        public let signedHeaders: String
        public let authorization: String
        /// Headers to send in addition to the request's own.
        public let addedHeaders: [(String, String)]
    }

    /// Signs `request` at `timestamp`. Adds `x-amz-date` (and `x-amz-security-token` for session credentials) to
    /// the signed headers unless the request already carries them.
    public func sign(_ request: Request, at timestamp: SigV4Timestamp) -> Signature {
        var headers = request.headers
        var added: [(String, String)] = []
        func has(_ name: String) -> Bool { headers.contains { $0.0.lowercased() == name } }
        if !has("x-amz-date") {
            headers.append(("x-amz-date", timestamp.amzDate))
            added.append(("x-amz-date", timestamp.amzDate))
        }
        if let token = credentials.sessionToken, !has("x-amz-security-token") {
            headers.append(("x-amz-security-token", token))
            added.append(("x-amz-security-token", token))
        }
        let (canonicalHeaders, signedHeaders) = SigV4Signer.canonicalHeaders(headers)
        let canonicalRequest = [
            request.method,
            request.encodedPath.isEmpty ? "/" : request.encodedPath,
            SigV4Signer.canonicalQuery(request.query),
            canonicalHeaders,
            signedHeaders,
            request.payloadHash,
        ].joined(separator: "\n")
        let scope = "\(timestamp.dateStamp)/\(region)/\(service)/aws4_request"
        let stringToSign = [
            SigV4Signer.algorithm,
            timestamp.amzDate,
            scope,
            Hex.encode(SHA256Digest.hash(Array(canonicalRequest.utf8))),
        ].joined(separator: "\n")
        let key = SigV4Signer.signingKey(secretAccessKey: credentials.secretAccessKey, dateStamp: timestamp.dateStamp,
                                         region: region, service: service)
        let signature = Hex.encode(HMACSHA256.authenticationCode(key: key, message: Array(stringToSign.utf8)))
        let authorization = "\(SigV4Signer.algorithm) Credential=\(credentials.accessKeyID)/\(scope), "
            + "SignedHeaders=\(signedHeaders), Signature=\(signature)"
        added.append(("authorization", authorization))
        return Signature(canonicalRequest: canonicalRequest, stringToSign: stringToSign, signature: signature,
                         signedHeaders: signedHeaders, authorization: authorization, addedHeaders: added)
    }

    /// kSigning = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request").
    public static func signingKey(secretAccessKey: String, dateStamp: String, region: String, service: String) -> [UInt8] {
        var key = Array(("AWS4" + secretAccessKey).utf8)
        for part in [dateStamp, region, service, "aws4_request"] {
            key = HMACSHA256.authenticationCode(key: key, message: Array(part.utf8))
        }
        return key
    }

    /// Canonical headers block (each `name:value\n`, names lowercased and sorted, values trimmed with inner runs of
    /// spaces collapsed, repeated names joined with commas) and the `;`-separated signed header list.
    public static func canonicalHeaders(_ headers: [(String, String)]) -> (block: String, signed: String) {
        var merged: [String: [String]] = [:]
        for (name, value) in headers {
            merged[name.lowercased(), default: []].append(normaliseHeaderValue(value))
        }
        let names = merged.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
        var block = ""
        for name in names {
            block += name + ":" + merged[name]!.joined(separator: ",") + "\n"
        }
        return (block, names.joined(separator: ";"))
    }

    private static func normaliseHeaderValue(_ value: String) -> String {
        var out: [UInt8] = []
        var lastWasSpace = false
        for byte in value.utf8 {
            let isSpace = byte == 0x20 || byte == 0x09
            if isSpace {
                if !lastWasSpace && !out.isEmpty { out.append(0x20) }
                lastWasSpace = true
            } else {
                out.append(byte)
                lastWasSpace = false
            }
        }
        if out.last == 0x20 { out.removeLast() }
        return String(decoding: out, as: UTF8.self)
    }

    /// Canonical query string: every name and value URI-encoded (`/` too), sorted by encoded name then value,
    /// joined with `&`; a parameter without a value is `name=`.
    public static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0, encodeSlash: true), uriEncode($0.1, encodeSlash: true)) }
            .sorted { a, b in
                if a.0 != b.0 { return Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8)) }
                return Array(a.1.utf8).lexicographicallyPrecedes(Array(b.1.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
    }

    /// Encodes an object key for the URL path and the canonical URI: `/` kept, everything but the RFC 3986
    /// unreserved characters percent-encoded as uppercase UTF-8 bytes.
    public static func encodePath(_ path: String) -> String {
        uriEncode(path, encodeSlash: false)
    }

    /// AWS's UriEncode: unreserved characters (A-Z a-z 0-9 - . _ ~) kept, everything else `%XX` (uppercase hex).
    public static func uriEncode(_ text: String, encodeSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where !encodeSlash:
                out.append(byte)
            default:
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
