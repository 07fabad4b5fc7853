// Configuration of an S3-compatible destination: endpoint, region, bucket, prefix, addressing style, CA,
// server-side encryption, multipart sizing and retries. Validation says what is wrong in operator terms.

import Foundation
import LifeboatArchive
import LifeboatRepository

/// How the bucket appears in request URLs.
public enum S3AddressingStyle: String, Sendable, Equatable {
    /// `https://endpoint/bucket/key`: MinIO, Ceph, moto, most self-hosted servers.
    case pathStyle = "path"
    /// `https://bucket.endpoint/key`: AWS's default, R2, GCS interoperability.
    case virtualHosted = "virtual"
}

/// Optional server-side encryption requested on every upload.
public enum S3ServerSideEncryption: Sendable, Equatable, CustomStringConvertible {
    case none
    /// SSE-S3: `x-amz-server-side-encryption: AES256`.
    case s3Managed
    /// SSE-KMS: `x-amz-server-side-encryption: aws:kms`, with an optional key id (the bucket's default key if nil).
    case kms(keyID: String?)

    /// The request headers this setting adds to PutObject and CreateMultipartUpload.
    public var headers: [(String, String)] {
        switch self {
        case .none: return []
        case .s3Managed: return [("x-amz-server-side-encryption", "AES256")]
        case .kms(let keyID):
            var h = [("x-amz-server-side-encryption", "aws:kms")]
            if let keyID, !keyID.isEmpty { h.append(("x-amz-server-side-encryption-aws-kms-key-id", keyID)) }
            return h
        }
    }

    public var description: String {
        switch self {
        case .none: return "none"
        case .s3Managed: return "SSE-S3 (AES256)"
        case .kms(let keyID): return "SSE-KMS (\(keyID ?? "bucket default key"))"
        }
    }
}

/// Object Lock on every object Lifeboat writes: each data object and manifest is stored as a write-once version that
/// nobody (compliance), or nobody without the bypass permission (governance), can remove for `days` days.
public struct S3ObjectLockSetting: Sendable, Equatable, CustomStringConvertible {
    public var mode: StoreObjectLock.Mode
    /// Retention of each object from the moment it is written, in days (1 ... 36500).
    public var days: Int

    public init(mode: StoreObjectLock.Mode, days: Int) {
        self.mode = mode
        self.days = days
    }

    /// The lock of an object written at `now`.
    public func lock(writtenAt now: Date) -> StoreObjectLock {
        StoreObjectLock(mode: mode, retainUntil: now.addingTimeInterval(Double(days) * 86_400))
    }

    public var description: String { "\(mode.rawValue), \(days) days" }
}

/// Everything `S3Store` needs to reach one bucket. Holds no secret: credentials come from `credentials`.
public struct S3Configuration: Sendable, CustomStringConvertible {
    /// Endpoint URL without the bucket, e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000`.
    public var endpoint: String
    /// Signing region (`us-east-1` for most non-AWS servers; `auto` for R2).
    public var region: String
    public var bucket: String
    /// Key prefix under which the store keeps its objects, e.g. `vault-prod/`. Empty for the bucket's root.
    public var prefix: String
    public var addressing: S3AddressingStyle
    /// PEM file of CA certificates to trust instead of the system roots (self-hosted MinIO/Ceph with a private CA).
    public var caFile: String?
    public var credentials: S3CredentialSource
    public var serverSideEncryption: S3ServerSideEncryption
    /// Size of each multipart part, and the size up to which a single PutObject is used. At least 5 MiB.
    public var partSize: Int
    /// Parts uploaded at the same time; memory in use is about `(maxConcurrentParts + 1) * partSize`.
    public var maxConcurrentParts: Int
    public var retry: S3RetryPolicy
    /// Send `If-None-Match: *` on PutObject and CompleteMultipartUpload, so the server itself refuses to replace
    /// an existing object (AWS since 2024, MinIO, R2). Servers that ignore it still get the HeadObject check.
    public var conditionalWrites: Bool
    /// Timeout of one HTTP request (a whole part upload must fit in it).
    public var requestTimeoutSeconds: Int64
    /// Lock every object written (S3 Object Lock); nil writes unlocked objects.
    public var objectLock: S3ObjectLockSetting?

    public init(endpoint: String, region: String = "us-east-1", bucket: String, prefix: String = "",
                addressing: S3AddressingStyle = .pathStyle, caFile: String? = nil,
                credentials: S3CredentialSource = .defaultChain, serverSideEncryption: S3ServerSideEncryption = .none,
                partSize: Int = 8 * 1024 * 1024, maxConcurrentParts: Int = 3, retry: S3RetryPolicy = S3RetryPolicy(),
                conditionalWrites: Bool = true, requestTimeoutSeconds: Int64 = 300, objectLock: S3ObjectLockSetting? = nil) {
        self.endpoint = endpoint
        self.region = region
        self.bucket = bucket
        self.prefix = prefix
        self.addressing = addressing
        self.caFile = caFile
        self.credentials = credentials
        self.serverSideEncryption = serverSideEncryption
        self.partSize = partSize
        self.maxConcurrentParts = maxConcurrentParts
        self.retry = retry
        self.conditionalWrites = conditionalWrites
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.objectLock = objectLock
    }

    /// S3's smallest allowed part (except the last).
    public static let minimumPartSize = 5 * 1024 * 1024
    /// S3's largest allowed part.
    public static let maximumPartSize = 5 * 1024 * 1024 * 1024
    /// S3's largest part number.
    public static let maximumPartCount = 10_000

    public var description: String {
        "S3(\(addressing == .pathStyle ? endpoint + "/" + bucket : bucket + " at " + endpoint), region \(region), "
            + "prefix \"\(prefix)\", credentials from \(credentials), SSE \(serverSideEncryption)"
            + (objectLock.map { ", object lock \($0)" } ?? "") + ")"
    }

    /// The parsed endpoint.
    public struct Endpoint: Sendable, Equatable {
        public var scheme: String
        public var host: String
        public var port: Int?
        /// A path the endpoint is mounted under (rare; e.g. a reverse proxy), without trailing slash.
        public var basePath: String
    }

    /// Checks the configuration and parses the endpoint; errors name the field and the fix.
    public func validate() throws -> Endpoint {
        guard let url = URL(string: endpoint), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty else {
            throw S3Error.configuration("endpoint \"\(endpoint)\" is not an http(s) URL such as https://s3.us-east-1.amazonaws.com")
        }
        if url.query != nil || url.user != nil {
            throw S3Error.configuration("endpoint \"\(endpoint)\" must not carry a query or user info")
        }
        guard S3Configuration.isValidBucketName(bucket, strict: addressing == .virtualHosted) else {
            throw S3Error.configuration("bucket name \"\(bucket)\" is not valid: 3-63 characters, lowercase letters, digits, "
                + "dots and hyphens, starting and ending with a letter or digit")
        }
        if addressing == .virtualHosted && scheme == "https" && bucket.contains(".") {
            throw S3Error.configuration("bucket \"\(bucket)\" contains dots, which break TLS with virtual-hosted addressing; "
                + "use path-style addressing")
        }
        guard !region.isEmpty else { throw S3Error.configuration("region is empty; use us-east-1 when the server ignores it") }
        if prefix.hasPrefix("/") {
            throw S3Error.configuration("prefix \"\(prefix)\" must not start with /")
        }
        guard partSize >= S3Configuration.minimumPartSize, partSize <= S3Configuration.maximumPartSize else {
            throw S3Error.configuration("part size \(partSize) is outside S3's limits of 5 MiB to 5 GiB")
        }
        guard (1...16).contains(maxConcurrentParts) else {
            throw S3Error.configuration("maxConcurrentParts \(maxConcurrentParts) must be between 1 and 16")
        }
        if let objectLock, !(1...36_500).contains(objectLock.days) {
            throw S3Error.configuration("object lock days \(objectLock.days) must be between 1 and 36500")
        }
        if let caFile, !FileManager.default.isReadableFile(atPath: caFile) {
            throw S3Error.configuration("CA file \(caFile) does not exist or is not readable")
        }
        var basePath = url.path
        while basePath.hasSuffix("/") { basePath.removeLast() }
        return Endpoint(scheme: scheme, host: host, port: url.port, basePath: basePath)
    }

    /// S3's bucket naming rules; `strict` (virtual-hosted) also forbids uppercase and underscores, which some
    /// self-hosted servers accept in path-style buckets.
    public static func isValidBucketName(_ name: String, strict: Bool) -> Bool {
        let u = Array(name.utf8)
        guard (3...63).contains(u.count) else { return false }
        func allowed(_ b: UInt8) -> Bool {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."),
                 UInt8(ascii: "-"):
                return true
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "_"): return !strict
            default: return false
            }
        }
        guard u.allSatisfy(allowed) else { return false }
        func alnum(_ b: UInt8) -> Bool { b != UInt8(ascii: ".") && b != UInt8(ascii: "-") && b != UInt8(ascii: "_") }
        return alnum(u.first!) && alnum(u.last!) && !name.contains("..")
    }
}
