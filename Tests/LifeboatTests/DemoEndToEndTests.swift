// `lifeboat demo`, the README's first command, as a process: it must pass and clean up after itself.

import Foundation
import Testing

@Suite struct DemoEndToEndTests {
    @Test func demoRestoresEverySecretAndExitsZero() async throws {
        let temporary = NSTemporaryDirectory()
        let before = Set((try? FileManager.default.contentsOfDirectory(atPath: temporary))?.filter { $0.hasPrefix("lifeboat-demo-") } ?? [])
        let result = try await lifeboat(["demo"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("demo passed: 3 secrets survived the loss of every node"))
        #expect(result.stdout.contains("lifeboat restore latest --force"))
        let after = Set((try? FileManager.default.contentsOfDirectory(atPath: temporary))?.filter { $0.hasPrefix("lifeboat-demo-") } ?? [])
        #expect(after.subtracting(before).isEmpty, "the demo left its temporary directory behind")
    }
}
