// The S3 store's pending object: bytes are buffered into parts of `partSize`; an object that fits in one part is
// written with a single PutObject at commit, a larger one streams as a multipart upload with a bounded number of
// parts in flight. Nothing is visible until PutObject/CompleteMultipartUpload succeeds; any failure or
// cancellation aborts the multipart upload so no orphaned upload is left behind.

import Foundation
import Logging
import NIOCore
import LifeboatArchive
import LifeboatRepository

/// A ``PendingObject`` of an ``S3Store``.
///
/// Memory: at most `maxConcurrentParts` parts in flight plus the part being filled, each `partSize` bytes.
///
/// No silent replacement (``StoreWriteMode/createNew``): HeadObject is checked when the object is created and
/// again just before the commit, and the commit itself carries `If-None-Match: *` (when
/// `S3Configuration.conditionalWrites` is on), which AWS S3, MinIO and R2 enforce atomically. On a server that
/// ignores the header, two writers racing on the same name between the last HeadObject and the commit can both
/// succeed and the later one wins: backups are named by unique ids, so only a misconfiguration (two agents
/// sharing one prefix) can trigger that race.
actor S3PendingObject: PendingObject {
    nonisolated let name: String
    private let key: String
    private let mode: StoreWriteMode
    private let client: S3Client
    private let configuration: S3Configuration
    private let storeName: String
    private let clock: @Sendable () -> Date
    private let logger: Logger?

    private enum State { case open, committed, aborted }
    private var state = State.open
    private var buffer: ByteBuffer
    private var uploadID: String?
    private var nextPartNumber = 1
    private var inFlight: [Int: Task<S3CompletedPart, any Error>] = [:]
    private var completed: [S3CompletedPart] = []
    private var totalBytes: Int64 = 0
    /// The Object Lock every upload of this object carries (fixed when the object is created), or nil.
    private let lock: StoreObjectLock?

    init(name: String, key: String, mode: StoreWriteMode, client: S3Client, configuration: S3Configuration,
         storeName: String, clock: @escaping @Sendable () -> Date, logger: Logger?, lock: StoreObjectLock? = nil) {
        self.name = name
        self.key = key
        self.mode = mode
        self.client = client
        self.configuration = configuration
        self.storeName = storeName
        self.clock = clock
        self.logger = logger
        self.lock = lock
        buffer = ByteBufferAllocator().buffer(capacity: 0)
    }

    /// Headers of PutObject and CreateMultipartUpload: server-side encryption and the Object Lock.
    private var uploadHeaders: [(String, String)] {
        configuration.serverSideEncryption.headers + (lock.map(S3Client.lockHeaders) ?? [])
    }

    /// The multipart upload id, once a second part was needed (for tests and diagnostics).
    var multipartUploadID: String? { uploadID }

    func append(_ bytes: [UInt8]) async throws {
        guard state == .open else {
            throw StoreError(.ioFailure, store: storeName, operation: "write", object: name,
                             detail: "the pending object was already committed or aborted")
        }
        do {
            try Task.checkCancellation()
            var offset = 0
            while offset < bytes.count {
                // Parts are sent lazily: a full buffer is uploaded only when more bytes arrive, so an object of
                // exactly one part still goes out as a single PutObject.
                if buffer.readableBytes >= configuration.partSize { try await flushPart() }
                if buffer.capacity == 0 { buffer.reserveCapacity(configuration.partSize) }
                let n = min(bytes.count - offset, configuration.partSize - buffer.readableBytes)
                buffer.writeBytes(bytes[offset..<(offset + n)])
                offset += n
            }
            totalBytes += Int64(bytes.count)
        } catch {
            await abortAfterFailure()
            throw S3Store.storeError(error, store: storeName, operation: "write", object: name)
        }
    }

    @discardableResult
    func commit() async throws -> StoreObjectInfo {
        guard state == .open else {
            throw StoreError(.ioFailure, store: storeName, operation: "commit", object: name,
                             detail: "the pending object was already committed or aborted")
        }
        do {
            try Task.checkCancellation()
            let conditional = mode == .createNew && configuration.conditionalWrites
            var ifMatch: String?
            if case .replaceIfUnchanged(let versionTag) = mode { ifMatch = versionTag }
            if mode == .createNew, try await client.headObject(key: key) != nil {
                throw S3Error(kind: .alreadyExists, operation: "HeadObject", bucket: client.bucket, key: key)
            }
            if uploadID == nil {
                let body = buffer
                buffer = ByteBufferAllocator().buffer(capacity: 0)
                try await client.putObject(key: key, body: body,
                                           headers: uploadHeaders + (lock == nil ? [] : [try S3Client.contentMD5(body)]),
                                           ifNoneMatch: conditional, ifMatch: ifMatch)
            } else {
                if buffer.readableBytes > 0 { try await flushPart() }
                for partNumber in inFlight.keys.sorted() { completed.append(try await awaitPart(partNumber)) }
                try await client.completeMultipartUpload(key: key, uploadID: uploadID!, parts: completed,
                                                         ifNoneMatch: conditional, ifMatch: ifMatch)
            }
            if let lock { try await confirmLock(lock) }
            state = .committed
            return StoreObjectInfo(name: name, size: totalBytes, modified: clock(), lock: lock)
        } catch {
            await abortAfterFailure()
            if case .replaceIfUnchanged = mode, let s3 = error as? S3Error, s3.httpStatus == 412 || s3.kind == .notFound {
                // If-Match failed: the object was replaced or removed since its version was read.
                throw StoreError(.changed, store: storeName, operation: "commit", object: name, detail: s3.description)
            }
            throw S3Store.storeError(error, store: storeName, operation: "commit", object: name)
        }
    }

    /// Checks that the committed version carries `lock` (HeadObject). A server that ignored the lock headers (some
    /// do on multipart uploads) gets PutObjectRetention; if the object is still unlocked it is removed and the commit
    /// fails: a destination configured for Object Lock never holds an unlocked backup.
    private func confirmLock(_ lock: StoreObjectLock) async throws {
        if let applied = try await client.headObject(key: key)?.lock, applied.retainUntil >= lock.retainUntil { return }
        do {
            try await client.putObjectRetention(key: key, lock: lock)
            if let applied = try await client.headObject(key: key)?.lock, applied.retainUntil >= lock.retainUntil { return }
        } catch {
            try? await client.deleteObject(key: key)
            throw error
        }
        try? await client.deleteObject(key: key)
        throw S3Error(kind: .configuration, operation: "PutObjectRetention", bucket: client.bucket, key: key,
                      detail: "the server accepted the object but did not lock it; check that the bucket has Object Lock "
                        + "enabled (lifeboat config check --connect)")
    }

    func abort() async {
        guard state == .open else { return }
        state = .aborted
        await releaseUpload()
    }

    // MARK: - Parts

    /// Starts uploading the buffer as the next part, first waiting for the oldest part when the limit is reached.
    private func flushPart() async throws {
        if uploadID == nil {
            uploadID = try await client.createMultipartUpload(key: key, headers: uploadHeaders)
            logger?.debug("S3 multipart upload started", metadata: ["key": "\(key)"])
        }
        while inFlight.count >= configuration.maxConcurrentParts, let oldest = inFlight.keys.min() {
            completed.append(try await awaitPart(oldest))
        }
        guard nextPartNumber <= S3Configuration.maximumPartCount else {
            throw S3Error(kind: .configuration, operation: "UploadPart", bucket: client.bucket, key: key,
                          detail: "the object needs more than 10,000 parts of \(configuration.partSize) bytes; raise the part size")
        }
        let part = buffer
        buffer = ByteBufferAllocator().buffer(capacity: 0)
        let partNumber = nextPartNumber
        nextPartNumber += 1
        let client = self.client, key = self.key, uploadID = self.uploadID!
        let partHeaders = lock == nil ? [] : [try S3Client.contentMD5(part)]
        inFlight[partNumber] = Task {
            let etag = try await client.uploadPart(key: key, uploadID: uploadID, partNumber: partNumber, body: part,
                                                   headers: partHeaders)
            return S3CompletedPart(partNumber: partNumber, etag: etag)
        }
    }

    /// Waits for one in-flight part; cancelling the waiting task cancels the part upload.
    private func awaitPart(_ partNumber: Int) async throws -> S3CompletedPart {
        guard let task = inFlight[partNumber] else {
            throw S3Error(kind: .invalidResponse, detail: "part \(partNumber) is not in flight")
        }
        let result = try await withTaskCancellationHandler {
            try await task.value
        } onCancel: {
            task.cancel()
        }
        inFlight[partNumber] = nil
        return result
    }

    private func abortAfterFailure() async {
        guard state == .open else { return }
        state = .aborted
        await releaseUpload()
    }

    /// Cancels the parts in flight, waits until none is running (a part finishing after the abort would
    /// otherwise keep storage), then aborts the multipart upload. Runs to the end even when the calling task
    /// was cancelled: the abort request is sent from a task of its own.
    private func releaseUpload() async {
        buffer = ByteBufferAllocator().buffer(capacity: 0)
        let tasks = inFlight.values
        inFlight = [:]
        for task in tasks { task.cancel() }
        for task in tasks { _ = try? await task.value }
        guard let uploadID else { return }
        let client = self.client, key = self.key, logger = self.logger
        let aborted = await Task.detached {
            do {
                try await client.abortMultipartUpload(key: key, uploadID: uploadID)
                return true
            } catch {
                logger?.warning("S3 AbortMultipartUpload failed; orphan cleanup will remove the upload later",
                                metadata: ["key": "\(key)", "uploadID": "\(uploadID)", "error": "\(error)"])
                return false
            }
        }.value
        if aborted { logger?.debug("S3 multipart upload aborted", metadata: ["key": "\(key)"]) }
    }
}
