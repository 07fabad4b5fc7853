// The S3 API operations Lifeboat uses, over any `S3Transport`: PutObject, GetObject, HeadObject, DeleteObject,
// ListObjectsV2 (all pages), the multipart upload calls and ListMultipartUploads. Keys here are full keys
// (prefix included); `S3Store` adds and strips its prefix.

import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import LifeboatArchive
import LifeboatBase
import LifeboatRepository

/// An object as listed or headed.
public struct S3ObjectInfo: Sendable, Equatable {
    public var key: String
    public var size: Int64
    public var etag: String?
    public var lastModified: Date?
    /// The Object Lock retention of the object's current version (HeadObject's `x-amz-object-lock-*` headers).
    public var lock: StoreObjectLock?

    public init(key: String, size: Int64, etag: String? = nil, lastModified: Date? = nil, lock: StoreObjectLock? = nil) {
        self.key = key
        self.size = size
        self.etag = etag
        self.lastModified = lastModified
        self.lock = lock
    }
}

/// One version (or delete marker) of a key in a versioned bucket, as ListObjectVersions lists it.
public struct S3ObjectVersion: Sendable, Equatable {
    public var key: String
    public var versionID: String
    public var isDeleteMarker: Bool
    public var isLatest: Bool
}

/// What a bucket says about versioning and Object Lock (GetBucketVersioning, GetObjectLockConfiguration).
public struct S3BucketProtection: Sendable, Equatable {
    /// `Enabled`, `Suspended`, or nil when versioning was never turned on.
    public var versioning: String?
    /// True when the bucket was created with Object Lock (it can only be turned on at creation, or by AWS support).
    public var objectLockEnabled: Bool
}

/// An in-progress multipart upload as listed by ListMultipartUploads.
public struct S3MultipartUploadInfo: Sendable, Equatable {
    public var key: String
    public var uploadID: String
    public var initiated: Date?
}

/// One uploaded part, as CompleteMultipartUpload needs it.
public struct S3CompletedPart: Sendable, Equatable {
    public var partNumber: Int
    public var etag: String
}

/// Typed S3 operations over a transport. Stateless; safe to share between tasks.
public struct S3Client: Sendable {
    public let transport: any S3Transport
    public let bucket: String

    public init(transport: any S3Transport, bucket: String) {
        self.transport = transport
        self.bucket = bucket
    }

    // MARK: - Bucket

    /// CreateBucket (setup and tests). An existing bucket owned by the caller is not an error.
    public func createBucket(region: String, objectLockEnabled: Bool = false) async throws {
        var body: ByteBuffer?
        let headers = objectLockEnabled ? [("x-amz-bucket-object-lock-enabled", "true")] : []
        if region != "us-east-1" {
            body = ByteBuffer(string: "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                + "<LocationConstraint>\(S3XML.escape(region))</LocationConstraint></CreateBucketConfiguration>")
        }
        let response = try await transport.send(S3Request(operation: "CreateBucket", method: .PUT, headers: headers, body: body))
        if response.status == 409 {
            let bytes = try await response.collect(limit: 1024 * 1024)
            let error = S3Error.fromResponse(status: 409, body: bytes, operation: "CreateBucket", bucket: bucket, key: nil)
            if error.code == "BucketAlreadyOwnedByYou" { return }
            throw error
        }
        try await expectSuccess(response, operation: "CreateBucket", key: nil)
        _ = try await response.collect(limit: 1024 * 1024)
    }

    /// GetBucketVersioning and GetObjectLockConfiguration: whether the bucket can keep write-once versions.
    public func bucketProtection() async throws -> S3BucketProtection {
        let versioningResponse = try await transport.send(S3Request(operation: "GetBucketVersioning", method: .GET,
                                                                    query: [("versioning", "")]))
        try await expectSuccess(versioningResponse, operation: "GetBucketVersioning", key: nil)
        // AWS answers <VersioningConfiguration>; moto <GetBucketVersioningResponse> with the same children.
        let versioning = try await parseBody(versioningResponse, operation: "GetBucketVersioning",
                                             expecting: "VersioningConfiguration", or: "GetBucketVersioningResponse")
        let lockResponse = try await transport.send(S3Request(operation: "GetObjectLockConfiguration", method: .GET,
                                                              query: [("object-lock", "")]))
        var lockEnabled = false
        if lockResponse.status == 404 {
            // ObjectLockConfigurationNotFoundError: the bucket was created without Object Lock.
            _ = try? await lockResponse.collect(limit: 1024 * 1024)
        } else {
            try await expectSuccess(lockResponse, operation: "GetObjectLockConfiguration", key: nil)
            let lock = try await parseBody(lockResponse, operation: "GetObjectLockConfiguration", expecting: "ObjectLockConfiguration")
            lockEnabled = lock.child("ObjectLockEnabled")?.text == "Enabled"
        }
        return S3BucketProtection(versioning: versioning.child("Status")?.text, objectLockEnabled: lockEnabled)
    }

    // MARK: - Objects

    /// PutObject. With `ifNoneMatch` the server refuses (412 -> `.alreadyExists`) to replace an existing key; with
    /// `ifMatch` (an ETag) it replaces the key only while its current version has that ETag (412 otherwise).
    @discardableResult
    public func putObject(key: String, body: ByteBuffer, headers: [(String, String)] = [], ifNoneMatch: Bool,
                          ifMatch: String? = nil) async throws -> String? {
        var h = headers
        if ifNoneMatch { h.append(("if-none-match", "*")) }
        if let ifMatch { h.append(("if-match", ifMatch)) }
        h.append(("content-type", "application/octet-stream"))
        let response = try await transport.send(S3Request(operation: "PutObject", method: .PUT, key: key, headers: h, body: body))
        try await expectSuccess(response, operation: "PutObject", key: key)
        _ = try await response.collect(limit: 1024 * 1024)
        return response.headers.first(name: "etag")
    }

    /// GetObject: the response with its body still streaming. `range` is an inclusive byte range.
    public func getObject(key: String, range: ClosedRange<Int64>? = nil) async throws -> S3Response {
        var headers: [(String, String)] = []
        if let range { headers.append(("range", "bytes=\(range.lowerBound)-\(range.upperBound)")) }
        let response = try await transport.send(S3Request(operation: "GetObject", method: .GET, key: key, headers: headers))
        try await expectSuccess(response, operation: "GetObject", key: key)
        return response
    }

    /// HeadObject; nil when the key does not exist.
    public func headObject(key: String) async throws -> S3ObjectInfo? {
        let response = try await transport.send(S3Request(operation: "HeadObject", method: .HEAD, key: key))
        if response.status == 404 { return nil }
        try await expectSuccess(response, operation: "HeadObject", key: key)
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        return S3ObjectInfo(key: key, size: size, etag: response.headers.first(name: "etag"),
                            lock: S3Client.objectLock(in: response.headers))
    }

    /// The Object Lock retention in a HeadObject/GetObject answer; nil without one (or with a mode Lifeboat does not
    /// know, or an unreadable date: such an object is treated as unlocked, and S3 itself still refuses its removal).
    static func objectLock(in headers: HTTPHeaders) -> StoreObjectLock? {
        guard let modeText = headers.first(name: "x-amz-object-lock-mode"),
              let mode = StoreObjectLock.Mode(rawValue: modeText.lowercased()),
              let untilText = headers.first(name: "x-amz-object-lock-retain-until-date"),
              let until = S3Client.parseISO8601(untilText) else { return nil }
        return StoreObjectLock(mode: mode, retainUntil: until)
    }

    /// The request headers that lock a new object (PutObject, CreateMultipartUpload): mode and retain-until date.
    static func lockHeaders(_ lock: StoreObjectLock) -> [(String, String)] {
        [("x-amz-object-lock-mode", lock.mode.rawValue.uppercased()),
         ("x-amz-object-lock-retain-until-date", S3Client.formatISO8601(lock.retainUntil))]
    }

    /// `Content-MD5` (base64 of the body's MD5), which S3 requires on every upload to a bucket with Object Lock.
    static func contentMD5(_ body: ByteBuffer) throws -> (String, String) {
        let digest = try body.withUnsafeReadableBytes { try MD5Digest.hash(bytes: $0) }
        return ("content-md5", Data(digest).base64EncodedString())
    }

    /// PutObjectRetention: locks an existing object version (servers that ignore the lock headers of a multipart upload).
    public func putObjectRetention(key: String, lock: StoreObjectLock) async throws {
        let body = ByteBuffer(string: "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>\(lock.mode.rawValue.uppercased())</Mode>"
            + "<RetainUntilDate>\(S3Client.formatISO8601(lock.retainUntil))</RetainUntilDate></Retention>")
        let response = try await transport.send(S3Request(operation: "PutObjectRetention", method: .PUT, key: key,
                                                          query: [("retention", "")],
                                                          headers: [("content-type", "application/xml"), try S3Client.contentMD5(body)],
                                                          body: body))
        try await expectSuccess(response, operation: "PutObjectRetention", key: key)
        _ = try await response.collect(limit: 1024 * 1024)
    }

    /// DeleteObject. S3 answers 204 whether or not the key existed. Without `versionID` a versioned bucket only adds
    /// a delete marker (the data stays as a noncurrent version); with it, that version is removed for good (refused
    /// with AccessDenied while an Object Lock holds it). Lifeboat never sends `x-amz-bypass-governance-retention`.
    public func deleteObject(key: String, versionID: String? = nil) async throws {
        let query = versionID.map { [("versionId", $0)] } ?? []
        let response = try await transport.send(S3Request(operation: "DeleteObject", method: .DELETE, key: key, query: query))
        if response.status == 404 { return }
        try await expectSuccess(response, operation: "DeleteObject", key: key)
        _ = try await response.collect(limit: 1024 * 1024)
    }

    /// Every version and delete marker whose key starts with `prefix` (ListObjectVersions, all pages).
    public func listObjectVersions(prefix: String) async throws -> [S3ObjectVersion] {
        var all: [S3ObjectVersion] = []
        var keyMarker: String?
        var versionMarker: String?
        while true {
            var query: [(String, String)] = [("versions", ""), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let versionMarker { query.append(("version-id-marker", versionMarker)) }
            let response = try await transport.send(S3Request(operation: "ListObjectVersions", method: .GET, query: query))
            try await expectSuccess(response, operation: "ListObjectVersions", key: nil)
            let xml = try await parseBody(response, operation: "ListObjectVersions", expecting: "ListVersionsResult")
            for (element, marker) in xml.children("Version").map({ ($0, false) }) + xml.children("DeleteMarker").map({ ($0, true) }) {
                guard let key = element.child("Key")?.text, let id = element.child("VersionId")?.text else { continue }
                all.append(S3ObjectVersion(key: key, versionID: id, isDeleteMarker: marker,
                                           isLatest: element.child("IsLatest")?.text == "true"))
            }
            guard xml.child("IsTruncated")?.text == "true" else { return all }
            let nextKey = xml.child("NextKeyMarker")?.text
            let nextVersion = xml.child("NextVersionIdMarker")?.text
            guard let nextKey, !nextKey.isEmpty, (nextKey, nextVersion) != (keyMarker, versionMarker) else {
                throw S3Error(kind: .invalidResponse, operation: "ListObjectVersions", bucket: bucket,
                              detail: "the listing is truncated but the markers do not advance")
            }
            keyMarker = nextKey
            versionMarker = nextVersion
        }
    }

    // MARK: - Listing

    /// One page of ListObjectsV2.
    public struct ObjectPage: Sendable {
        public var objects: [S3ObjectInfo]
        public var isTruncated: Bool
        public var nextContinuationToken: String?
    }

    public func listObjectsPage(prefix: String, continuationToken: String?, maxKeys: Int? = nil) async throws -> ObjectPage {
        var query: [(String, String)] = [("list-type", "2"), ("prefix", prefix)]
        if let continuationToken { query.append(("continuation-token", continuationToken)) }
        if let maxKeys { query.append(("max-keys", String(maxKeys))) }
        let response = try await transport.send(S3Request(operation: "ListObjectsV2", method: .GET, query: query))
        try await expectSuccess(response, operation: "ListObjectsV2", key: nil)
        let xml = try await parseBody(response, operation: "ListObjectsV2", expecting: "ListBucketResult")
        let objects = xml.children("Contents").map { c in
            S3ObjectInfo(key: c.child("Key")?.text ?? "", size: Int64(c.child("Size")?.text ?? "") ?? 0,
                         etag: c.child("ETag")?.text, lastModified: c.child("LastModified").flatMap { S3Client.parseISO8601($0.text) })
        }
        let truncated = xml.child("IsTruncated")?.text == "true"
        let token = xml.child("NextContinuationToken")?.text
        return ObjectPage(objects: objects, isTruncated: truncated, nextContinuationToken: token)
    }

    /// Every object under `prefix`, following continuation tokens to the last page (not just the first 1,000).
    public func listAllObjects(prefix: String, pageSize: Int? = nil) async throws -> [S3ObjectInfo] {
        var all: [S3ObjectInfo] = []
        var token: String?
        var seenTokens: Set<String> = []
        while true {
            let page = try await listObjectsPage(prefix: prefix, continuationToken: token, maxKeys: pageSize)
            all.append(contentsOf: page.objects)
            guard page.isTruncated else { return all }
            guard let next = page.nextContinuationToken, !next.isEmpty, seenTokens.insert(next).inserted else {
                throw S3Error(kind: .invalidResponse, operation: "ListObjectsV2", bucket: bucket,
                              detail: "the listing is truncated but has no new continuation token after \(all.count) objects")
            }
            token = next
        }
    }

    // MARK: - Multipart

    /// CreateMultipartUpload; returns the upload id.
    public func createMultipartUpload(key: String, headers: [(String, String)] = []) async throws -> String {
        var h = headers
        h.append(("content-type", "application/octet-stream"))
        let response = try await transport.send(S3Request(operation: "CreateMultipartUpload", method: .POST, key: key,
                                                          query: [("uploads", "")], headers: h))
        try await expectSuccess(response, operation: "CreateMultipartUpload", key: key)
        let xml = try await parseBody(response, operation: "CreateMultipartUpload", expecting: "InitiateMultipartUploadResult")
        guard let id = xml.child("UploadId")?.text, !id.isEmpty else {
            throw S3Error(kind: .invalidResponse, operation: "CreateMultipartUpload", bucket: bucket, key: key,
                          detail: "no UploadId in the answer")
        }
        return id
    }

    /// UploadPart; returns the part's ETag.
    public func uploadPart(key: String, uploadID: String, partNumber: Int, body: ByteBuffer,
                           headers: [(String, String)] = []) async throws -> String {
        let response = try await transport.send(S3Request(
            operation: "UploadPart", method: .PUT, key: key,
            query: [("partNumber", String(partNumber)), ("uploadId", uploadID)], headers: headers, body: body))
        try await expectSuccess(response, operation: "UploadPart", key: key)
        _ = try await response.collect(limit: 1024 * 1024)
        guard let etag = response.headers.first(name: "etag") else {
            throw S3Error(kind: .invalidResponse, operation: "UploadPart", bucket: bucket, key: key,
                          detail: "part \(partNumber) was accepted without an ETag")
        }
        return etag
    }

    /// CompleteMultipartUpload. S3 may answer 200 and still fail (an `<Error>` body): that is an error here too.
    @discardableResult
    public func completeMultipartUpload(key: String, uploadID: String, parts: [S3CompletedPart], ifNoneMatch: Bool,
                                        ifMatch: String? = nil) async throws -> String? {
        var xml = "<CompleteMultipartUpload xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        for part in parts.sorted(by: { $0.partNumber < $1.partNumber }) {
            xml += "<Part><PartNumber>\(part.partNumber)</PartNumber><ETag>\(S3XML.escape(part.etag))</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        var headers = [("content-type", "application/xml")]
        if ifNoneMatch { headers.append(("if-none-match", "*")) }
        if let ifMatch { headers.append(("if-match", ifMatch)) }
        let response = try await transport.send(S3Request(operation: "CompleteMultipartUpload", method: .POST, key: key,
                                                          query: [("uploadId", uploadID)], headers: headers,
                                                          body: ByteBuffer(string: xml)))
        try await expectSuccess(response, operation: "CompleteMultipartUpload", key: key)
        let body = try await response.collect(limit: 1024 * 1024)
        if let root = try? S3XML.parse(body), root.name == "Error" {
            throw S3Error.fromResponse(status: 500, body: body, operation: "CompleteMultipartUpload", bucket: bucket, key: key)
        }
        return (try? S3XML.parse(body))?.child("ETag")?.text
    }

    /// AbortMultipartUpload. An upload that is already gone counts as aborted.
    public func abortMultipartUpload(key: String, uploadID: String) async throws {
        let response = try await transport.send(S3Request(operation: "AbortMultipartUpload", method: .DELETE, key: key,
                                                          query: [("uploadId", uploadID)]))
        if response.status == 404 { _ = try? await response.collect(limit: 1024 * 1024); return }
        try await expectSuccess(response, operation: "AbortMultipartUpload", key: key)
        _ = try await response.collect(limit: 1024 * 1024)
    }

    /// Every in-progress multipart upload under `prefix`, following key/upload-id markers across pages.
    public func listMultipartUploads(prefix: String) async throws -> [S3MultipartUploadInfo] {
        var all: [S3MultipartUploadInfo] = []
        var keyMarker: String?
        var uploadIDMarker: String?
        while true {
            var query: [(String, String)] = [("uploads", ""), ("prefix", prefix)]
            if let keyMarker { query.append(("key-marker", keyMarker)) }
            if let uploadIDMarker { query.append(("upload-id-marker", uploadIDMarker)) }
            let response = try await transport.send(S3Request(operation: "ListMultipartUploads", method: .GET, query: query))
            try await expectSuccess(response, operation: "ListMultipartUploads", key: nil)
            let xml = try await parseBody(response, operation: "ListMultipartUploads", expecting: "ListMultipartUploadsResult")
            for u in xml.children("Upload") {
                guard let key = u.child("Key")?.text, let id = u.child("UploadId")?.text else { continue }
                all.append(S3MultipartUploadInfo(key: key, uploadID: id,
                                                 initiated: u.child("Initiated").flatMap { S3Client.parseISO8601($0.text) }))
            }
            guard xml.child("IsTruncated")?.text == "true" else { return all }
            let nextKey = xml.child("NextKeyMarker")?.text
            let nextID = xml.child("NextUploadIdMarker")?.text
            guard let nextKey, !nextKey.isEmpty, (nextKey, nextID) != (keyMarker, uploadIDMarker) else {
                throw S3Error(kind: .invalidResponse, operation: "ListMultipartUploads", bucket: bucket,
                              detail: "the listing is truncated but the markers do not advance")
            }
            keyMarker = nextKey
            uploadIDMarker = nextID
        }
    }

    // MARK: - Helpers

    /// Throws the mapped `S3Error` for a non-2xx answer.
    func expectSuccess(_ response: S3Response, operation: String, key: String?) async throws {
        guard !(200..<300).contains(response.status) else { return }
        let body = (try? await response.collect(limit: 1024 * 1024)) ?? []
        throw S3Error.fromResponse(status: response.status, body: body, operation: operation, bucket: bucket, key: key)
    }

    private func parseBody(_ response: S3Response, operation: String, expecting root: String,
                           or alternative: String? = nil) async throws -> S3XMLElement {
        let body = try await response.collect()
        let xml: S3XMLElement
        do {
            xml = try S3XML.parse(body)
        } catch {
            throw S3Error(kind: .invalidResponse, operation: operation, bucket: bucket, detail: "\(error)")
        }
        if xml.name == "Error" {
            throw S3Error.fromResponse(status: response.status, body: body, operation: operation, bucket: bucket, key: nil)
        }
        guard xml.name == root || xml.name == alternative else {
            throw S3Error(kind: .invalidResponse, operation: operation, bucket: bucket,
                          detail: "expected <\(root)>, got <\(xml.name)>")
        }
        return xml
    }

    /// `2024-01-31T12:34:56Z` (whole seconds, UTC): the form of Object Lock dates Lifeboat sends.
    public static func formatISO8601(_ date: Date) -> String {
        let text = ManifestTimestamp(date: date, utcOffsetSeconds: 0).utcDescription
        return text
    }

    /// Parses S3's `2024-01-31T12:34:56.789Z` (fraction optional).
    public static func parseISO8601(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == UInt8(ascii: "-"), u[7] == UInt8(ascii: "-"), u[10] == UInt8(ascii: "T"),
              u[13] == UInt8(ascii: ":"), u[16] == UInt8(ascii: ":"), u.last == UInt8(ascii: "Z") else { return nil }
        func num(_ r: Range<Int>) -> Int64? { Int64(String(decoding: u[r], as: UTF8.self)) }
        guard let y = num(0..<4), let mo = num(5..<7), let d = num(8..<10), let h = num(11..<13), let mi = num(14..<16),
              let s = num(17..<19), (1...12).contains(mo), (1...31).contains(d) else { return nil }
        var fraction = 0.0
        if u[19] == UInt8(ascii: "."), u.count > 21 {
            fraction = Double("0." + String(decoding: u[20..<(u.count - 1)], as: UTF8.self)) ?? 0
        }
        guard (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s) else { return nil }
        let days = CivilTime.days(year: Int(y), month: Int(mo), day: Int(d))
        return Date(timeIntervalSince1970: Double(days * 86_400 + h * 3600 + mi * 60 + s) + fraction)
    }
}
