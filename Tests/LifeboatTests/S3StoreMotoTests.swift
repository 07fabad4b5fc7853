// End-to-end tests of S3Store against a real S3 API server (moto, started per test on a free loopback port):
// the shared BackupStore conformance suite, small and multipart round trips compared by SHA-256, listing
// 2,500 objects across ListObjectsV2 pages, a 5xx on one part retried, a connection reset and a cancellation
// mid-upload leaving no object and no multipart upload, orphan cleanup, SSE headers, and S3 errors mapped.

import Foundation
import LifeboatArchive
import NIOCore
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

@Suite("S3Store against moto", .serialized)
struct S3StoreMotoTests {
    static let mebibyte = 1024 * 1024

    @Test("the BackupStore conformance suite passes on S3")
    func conformance() async throws {
        try await S3TestEnvironment.with { env in
            var index = 0
            try await StoreConformance.runAll {
                index += 1
                let fix = S3MotoInitiatedFix()
                let store = try env.makeStore(prefix: "conformance-\(index)/", wrap: { fix.wrapping($0) })
                return StoreFixture(store: store, abandonPendingObject: { name, bytes in
                    // What a killed process leaves on S3: a multipart upload with parts, never completed or aborted.
                    let key = store.key(for: name)
                    let id = try await store.client.createMultipartUpload(key: key)
                    _ = try await store.client.uploadPart(key: key, uploadID: id, partNumber: 1, body: ByteBuffer(bytes: bytes))
                }, resources: [])
            }
        }
    }

    @Test("a small object is one PutObject; read back, listed, deleted")
    func smallRoundTrip() async throws {
        try await S3TestEnvironment.with { env in
            var counter: S3CountingTransport!
            let store = try env.makeStore(wrap: { counter = S3CountingTransport(base: $0); return counter })
            var data = S3TestData(seed: 7)
            let bytes = data.bytes(300_000)
            let info = try await store.put("backups/small.lbk", bytes)
            #expect(info.size == 300_000)
            #expect(counter.count("PutObject") == 1)
            #expect(counter.count("CreateMultipartUpload") == 0)
            let (size, digest) = try await store.sizeAndDigest(of: "backups/small.lbk")
            #expect(size == 300_000 && digest == SHA256Digest.hash(bytes))
            let stat = try await store.stat("backups/small.lbk")
            #expect(stat.size == 300_000)
            #expect(abs(stat.modified.timeIntervalSinceNow) < 3600)
            // The key carries the store's prefix in the bucket.
            #expect(try await store.client.headObject(key: "lifeboat/backups/small.lbk")?.size == 300_000)
            try await store.delete("backups/small.lbk")
            #expect(try await store.list(prefix: "").isEmpty)
        }
    }

    @Test("40 MiB in 5 MiB parts: multipart, parallel parts, identical SHA-256, no upload left")
    func largeMultipartRoundTrip() async throws {
        try await S3TestEnvironment.with { env in
            var counter: S3CountingTransport!
            let store = try env.makeStore(partSize: 5 * Self.mebibyte, maxConcurrentParts: 3,
                                          wrap: { counter = S3CountingTransport(base: $0); return counter })
            let total = 40 * Self.mebibyte
            var data = S3TestData(seed: 40)
            var written = SHA256Digest()
            let clock = ContinuousClock()
            let uploadStart = clock.now
            let pending = try await store.createPendingObject(named: "backups/large.lbk")
            var sent = 0
            while sent < total {
                let chunk = data.bytes(min(Self.mebibyte + 37, total - sent))  // irregular appends
                written.update(chunk)
                try await pending.append(chunk)
                sent += chunk.count
            }
            let info = try await pending.commit()
            let uploadTime = clock.now - uploadStart
            #expect(info.size == Int64(total))
            #expect(counter.count("CreateMultipartUpload") == 1)
            #expect(counter.count("UploadPart") == 8)
            #expect(counter.count("CompleteMultipartUpload") == 1)
            #expect(counter.count("PutObject") == 0)

            let readStart = clock.now
            let (size, digest) = try await store.sizeAndDigest(of: "backups/large.lbk")
            let readTime = clock.now - readStart
            #expect(size == total)
            #expect(digest == written.finalize())
            #expect(try await store.client.listMultipartUploads(prefix: "").isEmpty)
            print("S3 moto 40 MiB: upload \(uploadTime), streamed read \(readTime)")
        }
    }

    @Test("listing 2,500 objects follows continuation tokens across three pages")
    func listingPaginates() async throws {
        try await S3TestEnvironment.with { env in
            var counter: S3CountingTransport!
            let store = try env.makeStore(wrap: { counter = S3CountingTransport(base: $0); return counter })
            let names = (0..<2_500).map { String(format: "backups/%05d.manifest", $0) }
            let client = store.client
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for i in stride(from: worker, to: names.count, by: 8) {
                            try await client.putObject(key: "lifeboat/" + names[i], body: ByteBuffer(string: names[i]), ifNoneMatch: false)
                        }
                    }
                }
                try await group.waitForAll()
            }
            // A key outside the prefix and one no store could have written are not listed.
            try await client.putObject(key: "other/x", body: ByteBuffer(string: "x"), ifNoneMatch: false)
            try await client.putObject(key: "lifeboat/backups/.hidden", body: ByteBuffer(string: "x"), ifNoneMatch: false)
            let before = counter.count("ListObjectsV2")
            let listed = try await store.list(prefix: "backups/")
            #expect(listed.count == 2_500)
            #expect(listed.map(\.name) == names)
            #expect(counter.count("ListObjectsV2") - before == 3)
            #expect(try await store.list(prefix: "backups/0249").count == 10)
        }
    }

    @Test("a 500 on one UploadPart is retried and the object is intact")
    func partFailureRetried() async throws {
        try await S3TestEnvironment.with(faults: S3ProxyFaults(failPart: 2, failStatus: 500, failTimes: 1)) { env in
            let store = try env.makeStore(partSize: 5 * Self.mebibyte, maxConcurrentParts: 2)
            var data = S3TestData(seed: 500)
            let bytes = data.bytes(12 * Self.mebibyte)
            try await store.put("backups/retried.lbk", bytes)
            let stats = try await env.proxyStats()
            #expect(stats.injectedStatus == 1)
            #expect(stats.uploadParts == 4)  // three parts, one of them twice
            let events = env.retryLog.all
            #expect(events.count == 1)
            #expect(events.first?.operation == "UploadPart" && events.first?.error.httpStatus == 500)
            #expect(env.sleeper.all.count == 1)
            let (size, digest) = try await store.sizeAndDigest(of: "backups/retried.lbk")
            #expect(size == bytes.count && digest == SHA256Digest.hash(bytes))
        }
    }

    @Test("connection resets on a part: the upload fails, no object is visible, no multipart upload is left")
    func resetLeavesNothing() async throws {
        try await S3TestEnvironment.with(faults: S3ProxyFaults(resetPart: 2, resetTimes: 1_000)) { env in
            let store = try env.makeStore(partSize: 5 * Self.mebibyte, maxConcurrentParts: 2, retry: S3RetryPolicy(maxAttempts: 3))
            var data = S3TestData(seed: 104)
            let error = await expectStoreError(.unavailable) {
                try await store.put("backups/cut.lbk", data.bytes(12 * Self.mebibyte))
            }
            #expect(error?.detail.contains("UploadPart") == true)
            let stats = try await env.proxyStats()
            #expect(stats.resets == 3)  // every attempt of part 2
            await expectStoreError(.notFound) { try await store.stat("backups/cut.lbk") }
            #expect(try await store.list(prefix: "").isEmpty)
            let direct = try env.makeStore(direct: true)
            #expect(try await direct.client.listMultipartUploads(prefix: "").isEmpty)
        }
    }

    @Test("cancelling the writing task aborts the multipart upload")
    func cancellationLeavesNothing() async throws {
        try await S3TestEnvironment.with { env in
            let store = try env.makeStore(partSize: 5 * Self.mebibyte, maxConcurrentParts: 2)
            let task = Task {
                var data = S3TestData(seed: 9)
                let pending = try await store.createPendingObject(named: "backups/cancelled.lbk")
                for _ in 0..<3 { try await pending.append(data.bytes(5 * Self.mebibyte)) }  // parts 1-2 in flight
                withUnsafeCurrentTask { $0?.cancel() }
                try await pending.append(data.bytes(1))
                try await pending.commit()
            }
            let result = await task.result
            #expect(throws: CancellationError.self) { try result.get() }
            await expectStoreError(.notFound) { try await store.stat("backups/cancelled.lbk") }
            #expect(try await store.client.listMultipartUploads(prefix: "").isEmpty)
        }
    }

    @Test("commit onto an existing name fails even when the HEAD check is skipped: If-None-Match")
    func conditionalWrite() async throws {
        try await S3TestEnvironment.with { env in
            let store = try env.makeStore()
            try await store.put("m.json", Array("first".utf8))
            await #expect(throws: S3Error.self) {
                try await store.client.putObject(key: store.key(for: "m.json"), body: ByteBuffer(string: "second"), ifNoneMatch: true)
            }
            #expect(try await store.get("m.json") == Array("first".utf8))
            do {
                try await store.client.putObject(key: store.key(for: "m.json"), body: ByteBuffer(string: "x"), ifNoneMatch: true)
            } catch let error as S3Error {
                #expect(error.kind == .alreadyExists && error.code == "PreconditionFailed")
            }
        }
    }

    @Test("server-side encryption headers reach the server")
    func serverSideEncryption() async throws {
        try await S3TestEnvironment.with { env in
            var store = try env.makeStore()
            var config = store.configuration
            config.serverSideEncryption = .s3Managed
            store = S3Store(configuration: config, transport: store.client.transport)
            try await store.put("sse.bin", [1, 2, 3])
            let response = try await store.client.transport.send(S3Request(operation: "HeadObject", method: .HEAD, key: store.key(for: "sse.bin")))
            #expect(response.headers.first(name: "x-amz-server-side-encryption") == "AES256")
        }
    }

    @Test("a missing bucket is reported as NoSuchBucket with what to do")
    func missingBucket() async throws {
        try await S3TestEnvironment.with { env in
            let config = S3Configuration(endpoint: env.endpoint, bucket: "no-such-bucket-here",
                                         credentials: .explicit(S3Credentials(accessKeyID: "AKIAX", secretAccessKey: "s")),
                                         retry: .none)
            let store = try S3Store(configuration: config)
            let error = await expectStoreError(.notFound) { try await store.list(prefix: "") }
            #expect(error?.detail.contains("NoSuchBucket") == true)
            #expect(error?.detail.contains("does not exist at this endpoint") == true)
            try await store.shutdown()
        }
    }
}

/// moto reports every multipart upload as initiated at 2010-11-10T20:48:33Z (a constant in moto/s3/responses.py);
/// AWS, MinIO and Ceph report the real time. This test decorator remembers when each upload was created and puts
/// that time into ListMultipartUploads answers, so orphan cleanup's age threshold is tested as on a real server.
final class S3MotoInitiatedFix: Sendable {
    private let created = PThreadLocked<[String: String]>([:])

    func wrapping(_ base: any S3Transport) -> any S3Transport { Transport(base: base, fix: self) }

    private struct Transport: S3Transport {
        let base: any S3Transport
        let fix: S3MotoInitiatedFix

        func send(_ request: S3Request) async throws -> S3Response {
            let response = try await base.send(request)
            guard response.status == 200, request.operation == "CreateMultipartUpload" || request.operation == "ListMultipartUploads" else {
                return response
            }
            var text = String(decoding: try await response.collect(), as: UTF8.self)
            if request.operation == "CreateMultipartUpload" {
                if let id = try? S3XML.parse(Array(text.utf8)).child("UploadId")?.text {
                    let now = SigV4Timestamp(secondsSince1970: Int64(Date().timeIntervalSince1970)).amzDate
                    let iso = "\(now.prefix(4))-\(now.dropFirst(4).prefix(2))-\(now.dropFirst(6).prefix(2))T\(now.dropFirst(9).prefix(2)):\(now.dropFirst(11).prefix(2)):\(now.dropFirst(13).prefix(2)).000Z"
                    fix.created.withLock { $0[id] = iso }
                }
            } else {
                let known = fix.created.withLock { $0 }
                for (id, iso) in known {
                    text = text.replacingOccurrences(of: "<UploadId>\(id)</UploadId><Key>", with: "<UploadId>\(id)</UploadId><Initiated>\(iso)</Initiated><Key>")
                }
                text = text.replacingOccurrences(of: "<Initiated>2010-11-10T20:48:33.000Z</Initiated>", with: "")
            }
            return S3Response(status: response.status, headers: response.headers, body: .bytes(ByteBuffer(string: text)))
        }
    }
}
