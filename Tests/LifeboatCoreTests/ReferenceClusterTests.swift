// scripts/cluster cannot run here (no Docker engine): check what can be checked.

import Foundation
import Testing
import Yams

@Suite struct ReferenceClusterTests {
    static let cluster = coreTestsDirectory.appendingPathComponent("../../scripts/cluster").standardized

    @Test func composeFileDefinesThreeRaftNodes() throws {
        let text = try String(contentsOf: Self.cluster.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        let yaml = try #require(try Yams.load(yaml: text) as? [String: Any])
        let services = try #require(yaml["services"] as? [String: Any])
        #expect(Set(services.keys) == ["vault_1", "vault_2", "vault_3"])
    }

    @Test(arguments: ["vault_1", "vault_2", "vault_3"])
    func eachNodeConfigNamesItself(node: String) throws {
        let hcl = try String(contentsOf: Self.cluster.appendingPathComponent("\(node)/vault.hcl"), encoding: .utf8)
        #expect(hcl.contains(#"node_id = "\#(node)""#))
        #expect(hcl.contains(#"api_addr     = "http://\#(node):8200""#))
        #expect(hcl.contains(#"storage "raft""#))
    }

    @Test func taskfileParsesAndHasLifeboatTasks() throws {
        let text = try String(contentsOf: Self.cluster.appendingPathComponent("Taskfile.yml"), encoding: .utf8)
        let yaml = try #require(try Yams.load(yaml: text) as? [String: Any])
        let tasks = try #require(yaml["tasks"] as? [String: Any])
        for name in ["bootstrap", "init", "unseal", "join", "backup", "agent", "restore", "drill"] {
            #expect(tasks[name] != nil, "missing task \(name)")
        }
    }
}
