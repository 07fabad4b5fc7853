// vault-sim stops through Lifeboat's one signal mechanism (TerminationSignals): SIGTERM, SIGINT or SIGHUP ends
// `vault-sim serve` with status 0 after shutting the cluster down, also when the signal arrives while the cluster is
// still starting (its data directory exists, the ready file not yet) (it is remembered, not lost, and not the default action that kills the process).

import Foundation
import Testing

@Suite("vault-sim signals")
struct VaultSimSignalTests {
    @Test("a signal during start-up or while serving stops vault-sim cleanly (exit 0)", arguments: [SIGTERM, SIGINT, SIGHUP])
    func stops(_ signal: Int32) throws {
        let directory = NSTemporaryDirectory() + "lifeboat-sim-signal-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for early in [true, false] {
            let process = Process()
            process.executableURL = productsDirectory.appendingPathComponent("vault-sim")
            let ready = directory + "/ready-\(early)"
            process.arguments = ["serve", "--nodes", "1", "--data-dir", directory + "/data-\(early)", "--ready-file", ready]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            if early {
                // Once the data directory appears the cluster is starting: the handler is installed first thing in
                // `serve`, before the simulator creates it.
                let deadline = Date().addingTimeInterval(60)
                while !FileManager.default.fileExists(atPath: directory + "/data-\(early)") && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.005)
                }
            } else {
                let deadline = Date().addingTimeInterval(60)
                while !FileManager.default.fileExists(atPath: ready) && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
                #expect(FileManager.default.fileExists(atPath: ready), "vault-sim never became ready")
            }
            kill(process.processIdentifier, signal)
            let deadline = Date().addingTimeInterval(60)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { process.terminate() }
            process.waitUntilExit()
            #expect(process.terminationReason == .exit, "signal \(signal) (early: \(early)) killed vault-sim instead of stopping it")
            #expect(process.terminationStatus == 0, "signal \(signal) (early: \(early))")
        }
    }
}
