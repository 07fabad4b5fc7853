// S3Store: the BackupStore on an S3-compatible bucket (AWS, MinIO, Ceph, R2, GCS interoperability). Objects
// live under `configuration.prefix`; pending objects are multipart uploads (or buffered single PutObjects),
// invisible until completed; orphan cleanup aborts multipart uploads older than a cutoff.

import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import LifeboatArchive
import LifeboatRepository

/// A ``BackupStore`` on an S3-compatible object store.
///
/// Requests are signed with SigV4 and retried with exponential backoff by an ``S3RetryingTransport`` around the
/// HTTP transport. Listing follows ListObjectsV2 continuation tokens to the end. Call ``shutdown()`` when done.
public final class S3Store: BackupStore {
    public let displayName: String
    public let configuration: S3Configuration
    /// The typed S3 client (full keys, prefix included).
    public let client: S3Client
    private let keyPrefix: String
    private let http: S3HTTPTransport?
    private let clock: @Sendable () -> Date
    private let logger: Logger?

    /// Connects to the configured bucket (no request is sent until the first operation).
    /// - Parameters:
    ///   - resolver: where credentials are looked up (environment and files by default).
    ///   - sleep: the retry decorator's wait (injectable so tests do not wait).
    ///   - clock: the time reported for committed objects and used for signing.
    public convenience init(configuration: S3Configuration, resolver: S3CredentialResolver = S3CredentialResolver(),
                            logger: Logger? = nil,
                            sleep: @escaping @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
                            clock: @escaping @Sendable () -> Date = { Date() },
                            onRetry: (@Sendable (S3RetryEvent) -> Void)? = nil) throws {
        let credentials = try resolver.resolve(configuration.credentials)
        let http = try S3HTTPTransport(configuration: configuration, credentials: credentials,
                                       now: { Int64(clock().timeIntervalSince1970) })
        let retrying = S3RetryingTransport(base: http, policy: configuration.retry, bucket: configuration.bucket,
                                           sleep: sleep, logger: logger, onRetry: onRetry)
        self.init(configuration: configuration, transport: retrying, http: http, clock: clock, logger: logger)
    }

    /// A store over an explicit transport (tests, or a transport with further decorators).
    public init(configuration: S3Configuration, transport: any S3Transport, http: S3HTTPTransport? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }, logger: Logger? = nil) {
        self.configuration = configuration
        client = S3Client(transport: transport, bucket: configuration.bucket)
        keyPrefix = S3Store.normalisedPrefix(configuration.prefix)
        displayName = "s3://\(configuration.bucket)/\(keyPrefix)"
        self.http = http
        self.clock = clock
        self.logger = logger
    }

    /// Closes the HTTP client. Pending objects must be committed or aborted first.
    public func shutdown() async throws {
        try await http?.shutdown()
    }

    /// `prefix` with a trailing `/` (empty stays empty).
    static func normalisedPrefix(_ prefix: String) -> String {
        prefix.isEmpty || prefix.hasSuffix("/") ? prefix : prefix + "/"
    }

    /// The full key of an object name.
    public func key(for name: String) -> String { keyPrefix + name }

    // MARK: - BackupStore

    public func createPendingObject(named name: String, mode: StoreWriteMode) async throws -> any PendingObject {
        try StoreObjectName.validate(name, store: displayName, operation: "create")
        if mode == .createNew {
            // Fail before streaming gigabytes; the commit checks again.
            let existing: S3ObjectInfo?
            do { existing = try await client.headObject(key: key(for: name)) } catch {
                throw S3Store.storeError(error, store: displayName, operation: "create", object: name)
            }
            if existing != nil { throw StoreError(.alreadyExists, store: displayName, operation: "create", object: name) }
        }
        return S3PendingObject(name: name, key: key(for: name), mode: mode, client: client, configuration: configuration,
                               storeName: displayName, clock: clock, logger: logger,
                               lock: S3Store.isLockable(name) ? configuration.objectLock?.lock(writtenAt: clock()) : nil)
    }

    /// Object Lock protects the backups (data objects and manifests) only: the repository's lock objects must stay
    /// removable.
    static func isLockable(_ name: String) -> Bool {
        name.hasPrefix(BackupRepository.dataPrefix) || name.hasPrefix(BackupRepository.manifestPrefix)
    }

    public func openForReading(_ name: String) async throws -> any StoreObjectReader {
        try StoreObjectName.validate(name, store: displayName, operation: "read")
        do {
            let response = try await client.getObject(key: key(for: name))
            return S3ObjectReader(body: response.body, store: displayName, name: name)
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "read", object: name)
        }
    }

    public func stat(_ name: String) async throws -> StoreObjectInfo {
        try StoreObjectName.validate(name, store: displayName, operation: "stat")
        let response: S3Response
        do {
            response = try await client.transport.send(S3Request(operation: "HeadObject", method: .HEAD, key: key(for: name)))
            try await client.expectSuccess(response, operation: "HeadObject", key: key(for: name))
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "stat", object: name)
        }
        let size = response.headers.first(name: "content-length").flatMap { Int64($0) } ?? 0
        let modified = response.headers.first(name: "last-modified").flatMap(S3Store.parseHTTPDate) ?? Date(timeIntervalSince1970: 0)
        return StoreObjectInfo(name: name, size: size, modified: modified, versionTag: response.headers.first(name: "etag"))
    }

    public func list(prefix: String) async throws -> [StoreObjectInfo] {
        try StoreObjectName.validatePrefix(prefix, store: displayName)
        let objects: [S3ObjectInfo]
        do {
            objects = try await client.listAllObjects(prefix: keyPrefix + prefix)
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "list", object: prefix.isEmpty ? nil : "prefix \(prefix)")
        }
        return objects.compactMap { object -> StoreObjectInfo? in
            guard object.key.hasPrefix(keyPrefix) else { return nil }
            let name = String(object.key.dropFirst(keyPrefix.count))
            // Keys no store could have written (foreign files, `.`-names) are not objects of this store.
            guard StoreObjectName.isValid(name) else { return nil }
            return StoreObjectInfo(name: name, size: object.size, modified: object.lastModified ?? Date(timeIntervalSince1970: 0),
                                   versionTag: object.etag)
        }
        .sorted { $0.name.utf8.lexicographicallyPrecedes($1.name.utf8) }
    }

    /// Removes the object. With Object Lock configured the bucket is versioned, where a plain DeleteObject only adds a
    /// delete marker and keeps paying for the data: so every version of the key (and its delete markers) is removed
    /// by version id, oldest first. S3 refuses that for a version still locked (AccessDenied, mapped to
    /// ``StoreError/Kind-swift.enum/permissionDenied``), and the versions not yet removed stay as they were.
    public func delete(_ name: String) async throws {
        try StoreObjectName.validate(name, store: displayName, operation: "delete")
        do {
            guard configuration.objectLock != nil else {
                try await client.deleteObject(key: key(for: name))
                return
            }
            let fullKey = key(for: name)
            let versions = try await client.listObjectVersions(prefix: fullKey).filter { $0.key == fullKey }
            // The current version last: until then the object stays visible, so a refused removal hides nothing.
            for version in versions.sorted(by: { !$0.isLatest && $1.isLatest }) {
                try await client.deleteObject(key: fullKey, versionID: version.versionID)
            }
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "delete", object: name)
        }
    }

    /// The Object Lock retention of the object's current version (HeadObject).
    public func objectLock(of name: String) async throws -> StoreObjectLock? {
        try StoreObjectName.validate(name, store: displayName, operation: "stat")
        let info: S3ObjectInfo?
        do {
            info = try await client.headObject(key: key(for: name))
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "stat", object: name)
        }
        guard let info else { throw StoreError(.notFound, store: displayName, operation: "stat", object: name) }
        return info.lock
    }

    /// Preflight for `object_lock`: the bucket must be versioned with Object Lock enabled, else every backup would be
    /// written unprotected (or refused). Throws a configuration error saying how to enable it; does nothing when the
    /// destination does not lock.
    public func checkObjectLock() async throws {
        guard configuration.objectLock != nil else { return }
        let protection: S3BucketProtection
        do {
            protection = try await client.bucketProtection()
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "check object lock", object: nil)
        }
        if !protection.objectLockEnabled {
            throw S3Error.configuration("bucket \(configuration.bucket) does not have Object Lock enabled, which object_lock needs: "
                + "create the bucket with it (aws s3api create-bucket --bucket \(configuration.bucket) --object-lock-enabled-for-bucket) "
                + "or enable it on the existing bucket (aws s3api put-object-lock-configuration --bucket \(configuration.bucket) "
                + "--object-lock-configuration ObjectLockEnabled=Enabled, after enabling versioning)")
        }
        if protection.versioning != "Enabled" {
            throw S3Error.configuration("bucket \(configuration.bucket) has versioning \(protection.versioning ?? "off"), which object_lock "
                + "needs Enabled: aws s3api put-bucket-versioning --bucket \(configuration.bucket) --versioning-configuration Status=Enabled")
        }
    }

    /// Aborts the multipart uploads under the store's prefix that were initiated before `cutoff` (uploads without an
    /// initiation time are left alone). Returns `multipart upload <id> of <key>` for each.
    public func cleanupOrphans(olderThan cutoff: Date) async throws -> [String] {
        do {
            let uploads = try await client.listMultipartUploads(prefix: keyPrefix)
            var removed: [String] = []
            for upload in uploads where upload.key.hasPrefix(keyPrefix) {
                guard let initiated = upload.initiated, initiated < cutoff else { continue }
                try await client.abortMultipartUpload(key: upload.key, uploadID: upload.uploadID)
                logger?.info("aborted orphaned S3 multipart upload", metadata: ["key": "\(upload.key)", "uploadID": "\(upload.uploadID)"])
                removed.append("multipart upload \(upload.uploadID) of \(upload.key)")
            }
            return removed
        } catch {
            throw S3Store.storeError(error, store: displayName, operation: "cleanup", object: nil)
        }
    }

    // MARK: - Errors

    /// Maps any failure to a ``StoreError``; the S3 code, message and hint go into `detail`.
    static func storeError(_ error: any Error, store: String, operation: String, object: String?) -> any Error {
        if error is StoreError || error is CancellationError { return error }
        guard let s3 = error as? S3Error else {
            return StoreError(.ioFailure, store: store, operation: operation, object: object, detail: "\(error)")
        }
        let kind: StoreError.Kind
        switch s3.kind {
        case .alreadyExists: kind = .alreadyExists
        case .notFound: kind = .notFound
        case .transport: kind = .unavailable
        case .configuration, .credentials: kind = .permissionDenied
        case .invalidResponse: kind = .corrupt
        case .service:
            switch s3.code {
            case "NoSuchBucket", "NoSuchKey": kind = .notFound
            case "AccessDenied", "AllAccessDisabled", "SignatureDoesNotMatch", "InvalidAccessKeyId", "ExpiredToken",
                 "InvalidToken", "TokenRefreshRequired", "RequestTimeTooSkewed", "AuthorizationHeaderMalformed":
                kind = .permissionDenied
            case "QuotaExceeded", "XMinioStorageFull", "EntityTooLarge": kind = .noSpace
            default: kind = s3.isRetryable ? .unavailable : .ioFailure
            }
        }
        return StoreError(kind, store: store, operation: operation, object: object, detail: s3.description)
    }

    /// Parses an IMF-fixdate (`Wed, 21 Oct 2015 07:28:00 GMT`), the format of `Last-Modified`.
    public static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let monthIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let time = parts[4].split(separator: ":")
        guard time.count == 3, let h = Int(time[0]), let m = Int(time[1]), let s = Int(time[2]) else { return nil }
        let iso = String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", year, monthIndex + 1, day, h, m, s)
        return S3Client.parseISO8601(iso)
    }
}

/// Streams a GetObject body as chunks of at most the requested size.
actor S3ObjectReader: StoreObjectReader {
    /// Holds the response body's iterator. `@unchecked Sendable`: only the owning `S3ObjectReader` actor touches it,
    /// and only inside `read`, which the actor admits one at a time (`reading`); `close` during a suspended read
    /// does not touch it but leaves dropping it to that read, so the iterator is never used concurrently.
    private final class IteratorBox: @unchecked Sendable {
        var iterator: HTTPClientResponse.Body.AsyncIterator?
        init(_ iterator: HTTPClientResponse.Body.AsyncIterator) { self.iterator = iterator }
        func next() async throws -> ByteBuffer? {
            guard iterator != nil else { return nil }
            return try await iterator!.next()
        }
    }

    private let box: IteratorBox
    private var pending: ByteBuffer?
    private var closed = false
    /// A read is suspended in the iterator (actor reentrancy lets `close` or another `read` run meanwhile).
    private var reading = false
    private let store: String
    private let name: String

    init(body: HTTPClientResponse.Body, store: String, name: String) {
        box = IteratorBox(body.makeAsyncIterator())
        self.store = store
        self.name = name
    }

    func read(maxCount: Int) async throws -> [UInt8]? {
        guard maxCount > 0 else {
            throw StoreError(.ioFailure, store: store, operation: "read", object: name, detail: "a read of \(maxCount) bytes was asked for")
        }
        if closed { return nil }
        guard !reading else {
            throw StoreError(.ioFailure, store: store, operation: "read", object: name, detail: "two reads at once on one reader")
        }
        reading = true
        defer {
            reading = false
            // Closed while this read was suspended: the iterator is dropped now that nothing uses it.
            if closed { box.iterator = nil }
        }
        while pending == nil || pending!.readableBytes == 0 {
            let next: ByteBuffer?
            do {
                next = try await box.next()
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw StoreError(.unavailable, store: store, operation: "read", object: name,
                                 detail: "the download was cut: \(error)")
            }
            if closed { return nil }
            guard let next else { return nil }
            pending = next
        }
        let n = min(maxCount, pending!.readableBytes)
        return pending!.readBytes(length: n)
    }

    func close() async {
        closed = true
        pending = nil
        if !reading { box.iterator = nil }
    }
}
