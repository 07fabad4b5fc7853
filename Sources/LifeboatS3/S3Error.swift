// Errors of the S3 store: S3's XML error bodies mapped to a code, the failing operation, bucket and key, and a
// hint that says what to check. Never carries a secret (credentials appear only as the access key id).

/// An S3 failure with enough context to act on it.
import LifeboatArchive
import LifeboatRepository

public struct S3Error: Error, Sendable, CustomStringConvertible {
    /// What kind of failure this is.
    public enum Kind: String, Sendable, Equatable {
        /// The S3 configuration is unusable (bad endpoint, bucket name, part size, CA file…).
        case configuration
        /// No usable credentials were found.
        case credentials
        /// The server answered with an error status (see `code` and `httpStatus`).
        case service
        /// No answer: connection refused or reset, timeout, TLS failure.
        case transport
        /// The server answered something Lifeboat cannot parse.
        case invalidResponse
        /// The object name is taken; stores never replace an existing object.
        case alreadyExists
        /// The object (or bucket, or upload) does not exist.
        case notFound
    }

    public var kind: Kind
    /// The S3 API operation, e.g. `PutObject`, `UploadPart`, `ListObjectsV2`.
    public var operation: String?
    public var bucket: String?
    /// The full object key, prefix included.
    public var key: String?
    public var httpStatus: Int?
    /// S3's error code from the XML body, e.g. `AccessDenied`.
    public var code: String?
    /// S3's message from the XML body.
    public var message: String?
    public var requestID: String?
    /// Free text for configuration, credential, transport and parse failures.
    public var detail: String?

    public init(kind: Kind, operation: String? = nil, bucket: String? = nil, key: String? = nil, httpStatus: Int? = nil,
                code: String? = nil, message: String? = nil, requestID: String? = nil, detail: String? = nil) {
        self.kind = kind
        self.operation = operation
        self.bucket = bucket
        self.key = key
        self.httpStatus = httpStatus
        self.code = code
        self.message = message
        self.requestID = requestID
        self.detail = detail
    }

    static func configuration(_ detail: String) -> S3Error { S3Error(kind: .configuration, detail: detail) }
    static func credentials(_ detail: String) -> S3Error { S3Error(kind: .credentials, detail: detail) }

    /// Builds the error for a non-2xx answer from its status and (possibly empty) XML body.
    public static func fromResponse(status: Int, body: [UInt8], operation: String, bucket: String, key: String?) -> S3Error {
        var error = S3Error(kind: .service, operation: operation, bucket: bucket, key: key, httpStatus: status)
        if let xml = try? S3XML.parse(body), xml.name == "Error" {
            error.code = xml.child("Code")?.text
            error.message = xml.child("Message")?.text
            error.requestID = xml.child("RequestId")?.text
            if let region = xml.child("Region")?.text, error.code == "AuthorizationHeaderMalformed" {
                error.detail = "the bucket's region is \(region)"
            }
            if let endpoint = xml.child("Endpoint")?.text, error.code == "PermanentRedirect" {
                error.detail = "the bucket is served by \(endpoint)"
            }
        }
        if error.code == nil {
            // HEAD answers and some proxies send no body: derive the code from the status.
            switch status {
            case 403: error.code = "AccessDenied"
            case 404: error.code = key == nil ? "NoSuchBucket" : "NoSuchKey"
            case 412: error.code = "PreconditionFailed"
            case 429: error.code = "SlowDown"
            case 500: error.code = "InternalError"
            case 503: error.code = "ServiceUnavailable"
            default: break
            }
        }
        switch error.code {
        case "NoSuchKey", "NoSuchUpload": error.kind = .notFound
        case "PreconditionFailed": error.kind = .alreadyExists
        default: break
        }
        return error
    }

    /// Whether retrying the same request may succeed: 5xx, 429, throttling and timeouts, and transport failures.
    public var isRetryable: Bool {
        switch kind {
        case .transport: return true
        case .service:
            if let code, ["SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
                          "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests"].contains(code) {
                return true
            }
            guard let status = httpStatus else { return false }
            return status >= 500 || status == 429
        default: return false
        }
    }

    /// One line telling the operator what to check.
    public var hint: String {
        switch kind {
        case .configuration: return "fix the S3 destination's configuration"
        case .credentials: return "provide credentials through AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a credentials file"
        case .transport: return "check that the endpoint is reachable (address, port, firewall, TLS CA) and retry"
        case .invalidResponse: return "the endpoint does not speak the S3 API as expected; check the endpoint URL and addressing style"
        case .alreadyExists: return "an object with this name already exists; Lifeboat never overwrites a stored backup"
        case .notFound, .service: break
        }
        let b = bucket ?? "?"
        switch code {
        case "NoSuchBucket":
            return "bucket \(b) does not exist at this endpoint: create it, or fix the bucket name, endpoint or region"
        case "NoSuchKey": return "the object is not in bucket \(b)"
        case "NoSuchUpload":
            return "the multipart upload is gone (aborted by a lifecycle rule or an orphan cleanup); retry the backup"
        case "AccessDenied", "AllAccessDisabled":
            return "the credentials may not \(operation ?? "access") in bucket \(b): check the IAM or bucket policy "
                + "(s3:PutObject, s3:GetObject, s3:DeleteObject, s3:ListBucket, s3:ListBucketMultipartUploads, "
                + "s3:AbortMultipartUpload on the prefix; with SSE-KMS also kms:GenerateDataKey and kms:Decrypt)"
        case "SignatureDoesNotMatch":
            return "check the secret key and the clock (and that the region and endpoint are the bucket's)"
        case "InvalidAccessKeyId":
            return "the access key id is unknown to this endpoint: check AWS_ACCESS_KEY_ID or the profile, and the endpoint"
        case "RequestTimeTooSkewed":
            return "the system clock is more than 15 minutes off: fix NTP on this host"
        case "ExpiredToken", "TokenRefreshRequired", "InvalidToken":
            return "the session token expired or is invalid: refresh the temporary credentials (AWS_SESSION_TOKEN)"
        case "AuthorizationHeaderMalformed":
            return "the configured region is wrong" + (detail.map { ": \($0)" } ?? "")
        case "PermanentRedirect":
            return "the bucket lives in another region or endpoint" + (detail.map { ": \($0)" } ?? "")
        case "EntityTooSmall":
            return "a multipart part is smaller than the 5 MiB S3 minimum: raise the part size"
        case "InvalidBucketName": return "the bucket name is not valid for S3"
        case "PreconditionFailed":
            return "an object with this name already exists; Lifeboat never overwrites a stored backup"
        case "KMS.NotFoundException", "KMS.DisabledException", "KMS.AccessDeniedException", "KMSAccessDenied":
            return "the KMS key for server-side encryption is missing, disabled or not usable by these credentials"
        case "SlowDown", "Throttling", "TooManyRequests":
            return "the endpoint is throttling requests; lower the number of parallel parts or retry later"
        default:
            if let s = httpStatus, s >= 500 { return "the S3 endpoint failed (\(s)); retry later or check the service's status" }
            return "see S3's message; the request id helps the provider's support"
        }
    }

    public var description: String {
        switch kind {
        case .configuration: return "S3 configuration error: \(detail ?? "invalid"). Hint: \(hint)"
        case .credentials: return "S3 credentials error: \(detail ?? "none found")"
        default: break
        }
        var out = "S3"
        if let operation { out += " \(operation)" }
        if let key { out += " of \(key)" }
        if let bucket { out += " in bucket \(bucket)" }
        out += " failed"
        if let code { out += ": \(code)" }
        if let httpStatus { out += " (HTTP \(httpStatus))" }
        if let message, !message.isEmpty { out += ": \(message)" }
        if let detail, !(code == "AuthorizationHeaderMalformed" || code == "PermanentRedirect") { out += ": \(detail)" }
        if let requestID { out += " [request id \(requestID)]" }
        out += ". Hint: \(hint)"
        return out
    }
}
