// The manifest cache against moto: a warm `list` reads the listing pages and no manifest; a changed manifest (new
// ETag) is fetched again; a removed one leaves the cache; a damaged cache entry is fetched again; no writable cache
// directory means no cache, never an error.

import Foundation
import Testing
import LifeboatArchive
import LifeboatRepository
@testable import LifeboatS3

@Suite struct ManifestCacheMotoTests {
    @Test func aWarmListReadsNoManifestAndFollowsChanges() async throws {
        let scratch = NSTemporaryDirectory() + "lifeboat-manifest-cache-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try await S3TestEnvironment.with { env in
            var counter: S3CountingTransport!
            let store = try env.makeStore(prefix: "cache/", wrap: { counter = S3CountingTransport(base: $0); return counter })
            let plain = BackupRepository(store: store)
            let count = 40
            var ids: [BackupID] = []
            for index in 0..<count {
                let id = try #require(BackupID(rawValue: String(format: "20261201T%06dZ-%04x", index, index)))
                var manifest = ManifestSamples.manifest(id: id, tags: [])
                manifest.storedSize = 3
                try await store.put(manifest.dataObject, [1, 2, 3])
                try await plain.commit(manifest)
                ids.append(id)
            }
            let cache = try #require(ManifestCache(directory: ManifestCache.directory(root: scratch, storeIdentity: "moto cache/")))
            let repository = BackupRepository(store: store, manifestCache: cache)

            var before = counter.count("GetObject")
            let cold = try await repository.list()
            #expect(cold.backups.count == count && cold.problems.isEmpty)
            #expect(counter.count("GetObject") - before == count, "a cold list reads every manifest")

            before = counter.count("GetObject")
            let warm = try await repository.list()
            #expect(warm.backups == cold.backups)
            #expect(counter.count("GetObject") - before == 0, "a warm list reads no manifest")

            // A manifest rewritten (a new verification, new tags) has a new ETag: fetched again, the new content shown.
            _ = try await plain.setTags(["pre-upgrade"], for: ids[7])
            try await plain.delete(ids[3])
            before = counter.count("GetObject")
            let changed = try await repository.list()
            #expect(counter.count("GetObject") - before == 1)
            #expect(changed.backups.count == count - 1)
            #expect(changed.backups.first { $0.id == ids[7] }?.tags == ["pre-upgrade"])
            let files = try FileManager.default.contentsOfDirectory(atPath: cache.directory)
            #expect(files.count == count - 1, "the removed backup's entry left the cache")

            // A damaged entry is not trusted: it fails the tag or the manifest's decoding and is fetched again.
            let entry = cache.directory + "/" + ids[9].rawValue + ".json"
            let text = try String(contentsOfFile: entry, encoding: .utf8)
            try (text.prefix(while: { $0 != "\n" }) + "\n{ damaged").write(toFile: entry, atomically: true, encoding: .utf8)
            before = counter.count("GetObject")
            #expect(try await repository.list().backups == changed.backups)
            #expect(counter.count("GetObject") - before == 1)
        }
        // No writable directory: no cache (every manifest is fetched), not an error.
        #expect(ManifestCache(directory: "/proc/lifeboat-cache") == nil)
    }
}
