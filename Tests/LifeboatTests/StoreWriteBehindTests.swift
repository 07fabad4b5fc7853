// The local store's write-behind: appends return before the bytes reach the disk, yet the committed file holds
// every byte in order, and an abandoned pending object leaves nothing behind.

import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatS3
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase
import LifeboatTesting
import Testing

@Suite("LocalStore write-behind")
struct StoreWriteBehindTests {
    @Test func manyAppendsCommitEveryByteInOrder() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        let pending = try await store.createPendingObject(named: "data/big.lbk")
        var expected: [UInt8] = []
        // More buffers than the queue holds, of uneven sizes, some empty.
        for i in 0..<40 {
            let piece = [UInt8](repeating: UInt8(i), count: (i % 5) * 70_001)
            expected += piece
            try await pending.append(piece)
        }
        let info = try await pending.commit()
        #expect(info.size == Int64(expected.count))
        #expect(try await store.get("data/big.lbk") == expected)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/data") == ["big.lbk"])
    }

    @Test func abandonedPendingObjectLeavesNoTemporaryFile() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        do {
            let pending = try await store.createPendingObject(named: "data/gone.lbk")
            try await pending.append([UInt8](repeating: 1, count: 1 << 20))
            try await pending.append([UInt8](repeating: 2, count: 1 << 20))
        }
        // The actor is released asynchronously with its last reference; give it a moment.
        for _ in 0..<100 where !((try? FileManager.default.contentsOfDirectory(atPath: scratch.path + "/data")) ?? []).isEmpty {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/data").isEmpty)
    }

    @Test func abortedPendingObjectLeavesNoTemporaryFile() async throws {
        let scratch = try StoreScratchDirectory()
        let store = try LocalStore(directory: scratch.path)
        let pending = try await store.createPendingObject(named: "data/aborted.lbk")
        try await pending.append([UInt8](repeating: 3, count: 3 << 20))
        await pending.abort()
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path + "/data").isEmpty)
        await #expect(throws: StoreError.self) { try await pending.commit() }
    }
}
