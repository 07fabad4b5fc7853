// What Lifeboat's incident recoveries need from the simulator: Vault's lost-quorum procedure (raft/peers.json read
// at start, replacing the configuration, then deleted), nodes whose raft data is damaged (they refuse to start until
// wiped), and unusable peers.json files (the node refuses to start and the file stays).

import Foundation
import Testing
@testable import VaultSim

@Suite(.serialized) struct QuorumRecoveryTests {
    @Test func peersFileRecoversALostQuorumWithTheSurvivorsData() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let survivor = try #require(h.sim.activeNodeID)
        let written = try h.put(survivor, "secret/data/marker", token: keys.rootToken, JSONValue.obj(["data": JSONValue.obj(["v": .string("kept")])]))
        #expect(written.status == 200)
        for other in h.sim.nodes.map(\.id) where other != survivor { h.sim.stopNode(other) }
        try await h.waitUntil("quorum to be lost") { h.sim.activeNodeID == nil }
        let orphan = try h.get(survivor, "secret/data/marker", token: keys.rootToken)
        #expect(orphan.status == 500)
        #expect(orphan.errors == ["local node not active but active cluster node not found"])

        // The operator writes peers.json listing only the survivor and restarts it.
        let raft = try #require(h.sim.raftDirectory(survivor))
        let peers = "[{\"id\":\"\(survivor)\",\"address\":\"127.0.0.1:1\",\"non_voter\":false}]"
        #expect(FileManager.default.createFile(atPath: raft + "/peers.json", contents: Data(peers.utf8)))
        h.sim.stopNode(survivor)
        try h.sim.startNode(survivor)
        #expect(!FileManager.default.fileExists(atPath: raft + "/peers.json"), "Vault deletes peers.json once it is applied")
        try h.sim.unseal(survivor, keys: keys.keysBase64)
        _ = try await h.sim.waitForActive()
        let config = try h.get(survivor, "sys/storage/raft/configuration", token: keys.rootToken).json
        let servers = try #require(config?["data"]?["config"]?["servers"]?.arrayValue)
        #expect(servers.map { $0["node_id"]?.stringValue } == [survivor])
        let read = try h.get(survivor, "secret/data/marker", token: keys.rootToken)
        #expect(read.json?["data"]?["data"]?["v"]?.stringValue == "kept")

        // A lost node that comes back with its old data is not a member: joining it is the trap (a no-op).
        let lost = try #require(h.sim.nodes.first { $0.id != survivor }?.id)
        try h.sim.startNode(lost)
        let trap = try h.put(lost, "sys/storage/raft/join", JSONValue.obj(["leader_api_addr": .string(h.sim.apiAddress(survivor)!)]))
        #expect(trap.json?["joined"]?.boolValue == true)
        let still = try h.get(survivor, "sys/storage/raft/configuration", token: keys.rootToken).json
        #expect(still?["data"]?["config"]?["servers"]?.arrayValue?.count == 1)
        // Wiped, it joins for real.
        h.sim.wipeNode(lost)
        try await h.sim.joinAndUnseal(lost, keys: keys.keysBase64)
        let joined = try h.get(survivor, "sys/storage/raft/configuration", token: keys.rootToken).json
        #expect(joined?["data"]?["config"]?["servers"]?.arrayValue?.count == 2)
    }

    @Test(arguments: [
        ("not json", "failed to read peers file: invalid character in peers.json: expected a JSON array of servers"),
        ("[{\"id\":\"\",\"address\":\"a:1\"}]", "failed to read peers file: empty ID in configuration"),
        ("[{\"id\":\"x\"}]", "failed to read peers file: empty address in configuration"),
        ("[{\"id\":\"x\",\"address\":\"a:1\"},{\"id\":\"x\",\"address\":\"b:1\"}]", "failed to read peers file: found duplicate ID in configuration: x"),
        ("[{\"id\":\"x\",\"address\":\"a:1\",\"non_voter\":true}]", "failed to read peers file: need at least one voter in configuration"),
    ])
    func unusablePeersFileStopsTheStart(contents: String, message: String) async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        _ = try await h.sim.initializeCluster()
        let raft = try #require(h.sim.raftDirectory("vault_1"))
        #expect(FileManager.default.createFile(atPath: raft + "/peers.json", contents: Data(contents.utf8)))
        h.sim.stopNode("vault_1")
        #expect(throws: VaultSimulator.Failure.self) { try h.sim.startNode("vault_1") }
        do { try h.sim.startNode("vault_1") } catch { #expect("\(error)".contains(message), "\(error)") }
        #expect(FileManager.default.fileExists(atPath: raft + "/peers.json"), "the operator fixes the file; it is not deleted")
        #expect(h.sim.nodes.first?.running == false)
    }

    @Test func peersFileOnANodeWithoutDataIsRefused() async throws {
        let h = try await SimHarness.start(nodes: 1)
        defer { h.stopNow() }
        let raft = try #require(h.sim.raftDirectory("vault_1"))
        h.sim.stopNode("vault_1")
        try FileManager.default.createDirectory(atPath: raft, withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: raft + "/peers.json", contents: Data("[{\"id\":\"vault_1\",\"address\":\"a:1\"}]".utf8)))
        do {
            try h.sim.startNode("vault_1")
            Issue.record("a node without raft data must refuse a peers.json")
        } catch {
            #expect("\(error)".contains("refusing to recover cluster with no initial state"))
        }
    }

    @Test func corruptNodeRefusesToStartUntilWiped() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let victim = h.standbyID
        h.sim.corruptNode(victim)
        #expect(h.sim.nodes.first { $0.id == victim }?.running == false)
        do {
            try h.sim.startNode(victim)
            Issue.record("a corrupt node must not start")
        } catch {
            #expect("\(error)" == "Error initializing storage of type raft: failed to create fsm: failed to open bolt file: invalid database")
        }
        #expect(throws: (any Error).self) { try h.get(victim, "sys/health") }
        // Over the control API the refusal is a 409 with the same message.
        let control = try #require(h.sim.controlAddress)
        let refused = try TestHTTP.send("POST", control + "/nodes/\(victim)/start")
        #expect(refused.status == 409)
        #expect(refused.errors == ["Error initializing storage of type raft: failed to create fsm: failed to open bolt file: invalid database"])
        // Wiping the raft directory clears the damage: the node starts empty and can join again.
        h.sim.wipeNode(victim)
        try h.sim.startNode(victim)
        #expect(try h.get(victim, "sys/health").status == 501)
        try await h.sim.joinAndUnseal(victim, keys: keys.keysBase64)
        #expect(h.sim.nodes.first { $0.id == victim }?.sealed == false)
    }
}
