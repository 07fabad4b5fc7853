// scripts/cluster cannot run here (no Docker engine): check what can be checked.

import Foundation
import Testing
import Yams
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

    @Test func lifeboatConfigurationLoadsWithTheClusterNodesAndResetHook() throws {
        let path = Self.cluster.appendingPathComponent("lifeboat.yaml").path
        let loaded = try ConfigurationLoader(environment: ["HOME": "/root"], currentDirectory: "/").load(configFlag: path)
        let configuration = loaded.configuration
        let directory = Self.cluster.standardized.path
        #expect(configuration.vault.allAddresses == ["http://127.0.0.1:8210", "http://127.0.0.1:8220", "http://127.0.0.1:8230"])
        #expect(configuration.restore.nodes.map(\.name) == ["vault_1", "vault_2", "vault_3"])
        // ./reset-node.sh is taken relative to the configuration file, wherever lifeboat runs from.
        #expect(configuration.restore.hooks.wipeNode.first?.arguments == [directory + "/reset-node.sh", "{node}"])
        #expect(configuration.restore.resetHook != nil)
        #expect(configuration.keys.keyFiles == [directory + "/backup.key"])
        guard case .local(let local) = configuration.destinations.first?.storage else {
            Issue.record("expected the local destination")
            return
        }
        #expect(local.path == directory + "/repository")
        // The addresses in the file are the ones the compose file publishes.
        let compose = try String(contentsOf: Self.cluster.appendingPathComponent("docker-compose.yml"), encoding: .utf8)
        for port in ["8210", "8220", "8230"] { #expect(compose.contains(port)) }
    }
}
