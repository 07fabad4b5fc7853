// Conformance through a real third-party client: runs Tests/Conformance/hvac_conformance.py (hvac from PyPI),
// which starts vault-sim processes on run-time ports and drives them only through hvac. Skipped, with the reason,
// only when python3 cannot import hvac (`python3 -m pip install hvac`).

import Foundation
import Testing

enum HvacConformance {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Conformance/hvac_conformance.py").standardized

    /// The directory holding the built products (vault-sim sits beside the test bundle).
    static let productsDirectory: URL = {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if url.lastPathComponent.hasSuffix(".xctest") || url.path.contains(".xctest/") {
            while url.path.contains(".xctest") { url.deleteLastPathComponent() }
        }
        return url
    }()

    static let hvacAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import hvac"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return false }
        p.waitUntilExit()  // evaluated once, before any test runs (not inside async code)
        return p.terminationStatus == 0
    }()

    /// Runs `executable` with `arguments`; output (stdout and stderr) goes to a file and is returned.
    static func run(_ arguments: [String], timeout: Duration) async throws -> (status: Int32, output: String) {
        let log = NSTemporaryDirectory() + "hvac-conformance-\(UUID().uuidString).log"
        guard FileManager.default.createFile(atPath: log, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: log])
        }
        defer { try? FileManager.default.removeItem(atPath: log) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        p.standardOutput = handle
        p.standardError = handle
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        env.removeValue(forKey: "VAULT_TOKEN")
        env.removeValue(forKey: "VAULT_ADDR")
        p.environment = env
        let status: Int32 = try await withCheckedThrowingContinuation { cont in
            p.terminationHandler = { cont.resume(returning: $0.terminationStatus) }
            do { try p.run() } catch { cont.resume(throwing: error) }
            let running = p
            let (s, _) = timeout.components
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(Int(s))) { if running.isRunning { running.terminate() } }
        }
        try? handle.close()
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        return (status, output)
    }
}

@Suite(.serialized) struct HvacConformanceTests {
    @Test(.enabled(if: HvacConformance.hvacAvailable, "python3 cannot import hvac; install it with `python3 -m pip install hvac`"))
    func hvacDrivesVaultSimEndToEnd() async throws {
        let binary = HvacConformance.productsDirectory.appendingPathComponent("vault-sim").path
        #expect(FileManager.default.isExecutableFile(atPath: binary), "vault-sim is built at \(binary)")
        let (status, output) = try await HvacConformance.run(["python3", HvacConformance.script.path, "--vault-sim", binary],
                                                             timeout: .seconds(600))
        #expect(status == 0, "hvac conformance failed:\n\(output)")
        #expect(output.contains("OK: every hvac conformance check passed"), "\(output)")
    }
}
