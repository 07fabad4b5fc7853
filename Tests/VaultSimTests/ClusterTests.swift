// Raft behaviour over HTTP: 307 for snapshot paths on standbys, forwarding of other paths, elections after the
// active node stops or seals, the join trap, stop/start/wipe, and persistence across a simulator restart.

import Foundation
import Testing
@testable import VaultSim

@Suite(.serialized) struct ClusterTests {
    @Test func standbyRedirectsSnapshotPathsAndForwardsTheRest() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let active = try #require(h.sim.activeNodeID)
        let standby = h.standbyID
        let redirect = try h.get(standby, "sys/storage/raft/snapshot?a=1&b=x", token: keys.rootToken)
        #expect(redirect.status == 307)
        #expect(redirect.header("Location") == h.sim.apiAddress(active)! + "/v1/sys/storage/raft/snapshot?a=1&b=x")
        #expect(redirect.body.isEmpty)
        #expect(redirect.header("Cache-Control") == "no-store")
        let force = try TestHTTP.send("POST", h.url(standby, "sys/storage/raft/snapshot-force"), token: keys.rootToken, body: [1, 2, 3])
        #expect(force.status == 307)
        #expect(force.header("Location") == h.sim.apiAddress(active)! + "/v1/sys/storage/raft/snapshot-force")

        let forwarded = try h.get(standby, "sys/storage/raft/configuration", token: keys.rootToken)
        #expect(forwarded.status == 200)
        let servers = try #require(forwarded.json?["data"]?["config"]?["servers"]?.arrayValue)
        #expect(servers.count == 3)
        #expect(servers.first { $0["leader"]?.boolValue == true }?["node_id"]?.stringValue == active)
        #expect(servers.allSatisfy { $0["protocol_version"]?.stringValue == "3" && $0["voter"]?.boolValue == true })
        let noForward = try h.get(standby, "sys/storage/raft/configuration", token: keys.rootToken, headers: [("X-Vault-No-Request-Forwarding", "true")])
        #expect(noForward.status == 307)
        // A KV write on a standby lands on the active node's storage.
        #expect(try h.put(standby, "secret/data/canary", token: keys.rootToken, .obj(["data": .obj(["v": "1"])])).status == 200)
        #expect(try h.get(active, "secret/data/canary", token: keys.rootToken).json?["data"]?["data"]?["v"]?.stringValue == "1")
        let auto = try h.get(standby, "sys/storage/raft/autopilot/state", token: keys.rootToken).json?["data"]
        #expect(auto?["leader"]?.stringValue == active)
        #expect(auto?["voters"]?.stringList?.count == 3)
        #expect(auto?["servers"]?[active]?["status"]?.stringValue == "leader")
        #expect(auto?["failure_tolerance"]?.intValue == 1)
    }

    @Test func electionAfterTheActiveNodeStops() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let keys = try await h.sim.initializeCluster()
        let first = try #require(h.sim.activeNodeID)
        let termBefore = try #require(h.sim.core.lock.withLock { h.sim.core.groups.values.first?.term })
        let survivor = h.standbyID
        h.sim.stopNode(first)
        #expect(throws: (any Error).self) { try h.get(first, "sys/health") }
        let next = try await h.sim.waitForActive(excluding: first)
        #expect(next != first)
        let leader = try h.get(survivor, "sys/leader").json
        #expect(leader?["leader_address"]?.stringValue == h.sim.apiAddress(next))
        let config = try h.get(survivor, "sys/storage/raft/configuration", token: keys.rootToken).json
        let leaderEntry = config?["data"]?["config"]?["servers"]?.arrayValue?.first { $0["leader"]?.boolValue == true }
        #expect(leaderEntry?["node_id"]?.stringValue == next)
        #expect((h.sim.core.lock.withLock { h.sim.core.groups.values.first?.term } ?? 0) > termBefore)

        // Losing a second voter loses quorum: no leader, forwarding fails like Vault's.
        let other = h.sim.nodes.first { $0.running && $0.id != next }!.id
        h.sim.stopNode(next)
        try await h.waitUntil("leader to step down") { h.sim.activeNodeID == nil }
        let orphan = try h.get(other, "sys/storage/raft/configuration", token: keys.rootToken)
        #expect(orphan.status == 500)
        #expect(orphan.errors == ["local node not active but active cluster node not found"])

        // A restarted node comes back sealed and needs the keys; then quorum returns.
        try h.sim.startNode(first)
        #expect(try h.get(first, "sys/seal-status").json?["sealed"]?.boolValue == true)
        try h.sim.unseal(first, keys: keys.keysBase64)
        _ = try await h.sim.waitForActive()
    }

    @Test("a stopped node's port refuses connections and stays its own until the node starts on it again")
    func aStoppedNodeHoldsItsPort() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        _ = try await h.sim.initializeCluster()
        let id = h.standbyID
        let address = try #require(h.sim.apiAddress(id))
        let port = try #require(Int(address.split(separator: ":").last ?? ""))
        h.sim.stopNode(id)
        #expect(throws: (any Error).self) { try h.get(id, "sys/health") }
        // Nothing else can take the port while the node is down. (No connection to the node was made before the
        // stop, so no TIME_WAIT socket holds the port: without the hold this bind succeeds.)
        #expect(Self.plainBind(port) == EADDRINUSE, "the stopped node's port was free for anyone to take")
        try h.sim.startNode(id)
        #expect(h.sim.apiAddress(id) == address, "the node came back on another address")
        #expect(try h.get(id, "sys/seal-status").status == 200)
    }

    /// Binds a socket without SO_REUSEADDR to 127.0.0.1:`port` and closes it: 0, or the errno of the bind.
    static func plainBind(_ port: Int) -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0 ? 0 : errno
    }

    @Test func electionAfterTheActiveNodeSealsAndForcedLeaderChange() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        _ = try await h.sim.initializeCluster()
        let first = try #require(h.sim.activeNodeID)
        h.sim.sealNode(first)
        let second = try await h.sim.waitForActive(excluding: first)
        #expect(second != first)
        let third = h.sim.nodes.first { !$0.sealed && !$0.active }!.id
        #expect(h.sim.forceLeaderChange(to: third))
        #expect(h.sim.activeNodeID == third)
        #expect(try h.get(third, "sys/leader").json?["is_self"]?.boolValue == true)
        #expect(try h.get(second, "sys/health").status == 429)
    }

    @Test func joinTrapAndWipedNodeJoin() async throws {
        let h = try await SimHarness.start()
        defer { h.stopNow() }
        let old = try await h.sim.initializeCluster()
        // Rebuild: wipe vault_1 and initialize it as a new one-node cluster; vault_2/3 still hold the old data.
        h.sim.wipeNode("vault_1")
        #expect(try h.get("vault_1", "sys/init").json?["initialized"]?.boolValue == false)
        let initResp = try h.put("vault_1", "sys/init", .obj(["secret_shares": 1, "secret_threshold": 1]))
        let newKey = try #require(initResp.json?["keys_base64"]?.stringList?.first)
        let newRoot = try #require(initResp.json?["root_token"]?.stringValue)
        try h.sim.unseal("vault_1", keys: [newKey])
        try await h.waitUntil("vault_1 active") { h.sim.activeNodeID == "vault_1" }
        let leaderAddr = JSONValue.string(h.sim.apiAddress("vault_1")!)

        let trap = try h.put("vault_2", "sys/storage/raft/join", .obj(["leader_api_addr": leaderAddr]))
        #expect(trap.status == 200)
        #expect(trap.json == .obj(["joined": true]))
        let members = try h.get("vault_1", "sys/storage/raft/configuration", token: newRoot).json?["data"]?["config"]?["servers"]?.arrayValue
        #expect(members?.map { $0["node_id"]?.stringValue } == ["vault_1"])
        // vault_2 still answers as the old cluster: its keys, not the new one.
        h.sim.sealNode("vault_2")
        #expect(try h.put("vault_2", "sys/unseal", .obj(["key": .string(newKey)])).status == 400)
        try h.sim.unseal("vault_2", keys: old.keysBase64)
        #expect(try h.get("vault_2", "sys/seal-status").json?["sealed"]?.boolValue == false)

        #expect(try h.put("vault_3", "sys/storage/raft/join", .obj(["leader_api_addr": leaderAddr, "non_voter": true])).errors == ["non-voting nodes not allowed"])
        h.sim.wipeNode("vault_3")
        let badLeader = try h.put("vault_3", "sys/storage/raft/join", .obj(["leader_api_addr": "http://127.0.0.1:1"]))
        #expect(badLeader.status == 500)
        #expect(badLeader.errors?.first?.hasPrefix("failed to join raft cluster") == true)
        let join = try h.put("vault_3", "sys/storage/raft/join", .obj(["leader_api_addr": leaderAddr]))
        #expect(join.json == .obj(["joined": true]))
        let pending = try h.get("vault_3", "sys/seal-status").json
        #expect(pending?["initialized"]?.boolValue == true && pending?["t"]?.intValue == 1 && pending?["sealed"]?.boolValue == true)
        try h.sim.unseal("vault_3", keys: [newKey])
        let after = try h.get("vault_1", "sys/storage/raft/configuration", token: newRoot).json?["data"]?["config"]?["servers"]?.arrayValue
        #expect(after?.compactMap { $0["node_id"]?.stringValue } == ["vault_1", "vault_3"])
        #expect(try h.get("vault_3", "sys/health").status == 429)
        #expect(try h.get("vault_3", "auth/token/lookup-self", token: newRoot).status == 200)

        // remove-peer: 204, and the removed node reports it (Vault >= 1.19 semantics).
        #expect(try h.put("vault_1", "sys/storage/raft/remove-peer", token: newRoot, .obj(["server_id": ""])).errors == ["no server id provided"])
        #expect(try h.put("vault_1", "sys/storage/raft/remove-peer", token: newRoot, .obj(["server_id": "vault_3"])).status == 204)
        #expect(try h.get("vault_3", "sys/health").status == 530)
        #expect(try h.put("vault_3", "sys/unseal", .obj(["key": .string(newKey)])).errors == ["node was removed from a HA cluster"])
    }

    @Test func dataSurvivesASimulatorRestart() async throws {
        let dir = NSTemporaryDirectory() + "vaultsim-restart-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let h = try await SimHarness.start(directory: dir)
        let keys = try await h.sim.initializeCluster(shares: 3, threshold: 2)
        let active = try #require(h.sim.activeNodeID)
        #expect(try h.put(active, "secret/data/persist", token: keys.rootToken, .obj(["data": .obj(["k": "v"])])).status == 200)
        await h.stop(removeData: false)

        let h2 = try await SimHarness.start(directory: dir)
        defer { h2.stopNow(removeData: false) }
        #expect(h2.sim.nodes.allSatisfy { $0.sealed })
        let status = try h2.get("vault_2", "sys/seal-status").json
        #expect(status?["initialized"]?.boolValue == true && status?["t"]?.intValue == 2 && status?["n"]?.intValue == 3)
        for n in h2.sim.nodes { try h2.sim.unseal(n.id, keys: Array(keys.keysHex.prefix(2))) }
        let a = try await h2.sim.waitForActive()
        #expect(try h2.get(a, "secret/data/persist", token: keys.rootToken).json?["data"]?["data"]?["k"]?.stringValue == "v")
        #expect(try h2.get(a, "sys/storage/raft/configuration", token: keys.rootToken).json?["data"]?["config"]?["servers"]?.arrayValue?.count == 3)
    }
}
