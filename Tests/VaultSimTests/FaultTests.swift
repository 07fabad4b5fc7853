// Fault injection through the in-process API and the control HTTP API: truncated and reset snapshot streams,
// first-byte delay, throttling, failing requests, node actions, seeding and a large streamed save/restore.

import Foundation
import Testing
import LifeboatSnapshot
@testable import VaultSim

@Suite(.serialized) struct FaultTests {
    @Test func truncatedSnapshotIsA200WithABrokenStream() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        h.sim.inject(.truncateNextSnapshot(afterBytes: 700))
        let cut = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
        #expect(cut.status == 200)
        #expect(cut.complete)  // the chunked body ends cleanly: only parsing reveals the damage
        #expect(cut.body.count == 700)
        #expect(throws: (any Error).self) { try SnapshotVerifier.verify(cut.body) }
        let whole = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
        #expect(whole.body.count > 700)
        #expect(try SnapshotVerifier.verify(whole.body).members.count == 4)
    }

    @Test func resetMidBody() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        h.sim.inject(.resetNextSnapshot(afterBytes: 100))
        let r = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
        #expect(r.status == 200)
        #expect(!r.complete)
        #expect(r.body.count <= 100)
        #expect(try h.get("vault_1", "sys/storage/raft/snapshot", token: root).complete)
    }

    @Test func failNextRequestsAndDelayFirstByte() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        h.sim.inject(.failRequests(path: "sys/storage/raft/snapshot", status: 503, count: 2, message: "injected"))
        for _ in 0..<2 {
            let r = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
            #expect(r.status == 503 && r.errors == ["injected"])
        }
        #expect(try h.get("vault_1", "sys/storage/raft/snapshot", token: root).status == 200)
        h.sim.inject(.delayFirstByte(path: "/v1/sys/health", delay: .milliseconds(400), count: 1))
        let clock = ContinuousClock()
        let start = clock.now
        #expect(try h.get("vault_1", "sys/health").status == 200)
        #expect(clock.now - start >= .milliseconds(400))
    }

    @Test func throttledDownloadTakesAtLeastSizeOverRate() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        try h.sim.seed(bytes: 200_000, valueSize: 10_000)
        let size = try h.get("vault_1", "sys/storage/raft/snapshot", token: root).body.count
        #expect(size > 200_000)
        h.sim.inject(.throttle(bytesPerSecond: 500_000))
        let clock = ContinuousClock()
        let start = clock.now
        let r = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
        #expect(r.body.count == size && r.complete)
        #expect(clock.now - start >= .milliseconds(Int64(size) * 1000 / 500_000 - 50))
        h.sim.inject(.throttle(bytesPerSecond: nil))
    }

    @Test func controlAPIDrivesNodesAndFaults() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        let control = try #require(h.sim.controlAddress)
        let status = try TestHTTP.send("GET", control + "/status").json
        #expect(status?["nodes"]?.arrayValue?.count == 3)
        let leader = try #require(status?["leader"]?.stringValue)
        #expect(try TestHTTP.send("POST", control + "/nodes/\(leader)/stop").status == 200)
        #expect(throws: (any Error).self) { try h.get(leader, "sys/health") }
        let next = try await h.sim.waitForActive(excluding: leader)
        #expect(try TestHTTP.send("POST", control + "/nodes/\(leader)/start").status == 200)
        #expect(try h.get(leader, "sys/health").status == 503)
        let other = h.sim.nodes.first { !$0.sealed && !$0.active }!.id
        #expect(try TestHTTP.send("POST", control + "/leader", json: .obj(["node": .string(other)])).status == 200)
        #expect(h.sim.activeNodeID == other && other != next)
        #expect(try TestHTTP.send("POST", control + "/faults", json: .obj(["type": "fail", "path": "sys/leader", "status": 502])).status == 204)
        #expect(try h.get(other, "sys/leader").status == 502)
        #expect(try TestHTTP.send("POST", control + "/faults", json: .obj(["type": "bogus"])).status == 400)
        #expect(try TestHTTP.send("POST", control + "/seed", json: .obj(["bytes": 100_000])).status == 200)
        #expect(try h.get(other, "sys/storage/raft/snapshot", token: root).body.count > 100_000)
        // Sealing a second voter (the restarted one is still sealed) loses quorum: no leader, seeding refused.
        #expect(try TestHTTP.send("POST", control + "/nodes/\(next)/seal").status == 200)
        #expect(try h.get(next, "sys/health").status == 503)
        try await h.waitUntil("leader to step down") { h.sim.activeNodeID == nil }
        #expect(try TestHTTP.send("POST", control + "/seed", json: .obj(["bytes": 100])).status == 409)
        #expect(try TestHTTP.send("POST", control + "/nodes/\(next)/wipe").status == 200)
        #expect(try h.get(next, "sys/init").json?["initialized"]?.boolValue == false)
    }

    @Test func largeSnapshotStreamsAndRestoresFromASpooledUpload() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let root = try await h.sim.initializeCluster().rootToken
        try h.sim.seed(bytes: 48 << 20)
        let snap = try h.get("vault_1", "sys/storage/raft/snapshot", token: root)
        #expect(snap.complete && snap.body.count > 48 << 20)
        let summary = try SnapshotVerifier.verify(snap.body)
        #expect(summary.entryCount > 190)
        let r = try TestHTTP.send("POST", h.url("vault_1", "sys/storage/raft/snapshot"), token: root, body: snap.body)
        #expect(r.status == 204)
        try await h.waitUntil("restore applied") {
            (try h.get("vault_1", "sys/leader").json?["raft_applied_index"]?.intValue ?? 0) > summary.meta.index
        }
        #expect(try h.get("vault_1", "sys/health").status == 200)
    }
}
