// `keys.recipients` in the configuration: parsed, checked when written inline, rendered, and turned into the
// encryption secret (recipients win over key files, which keep decrypting); only recipients cannot decrypt.

import Foundation
import Testing
@testable import LifeboatConfiguration
import LifeboatArchive

@Suite("Configuration: keys.recipients")
struct RecipientConfigurationTests {
    static let recipient = "lifeboat-recipient-1:" + String(repeating: "ab", count: 32)

    static func yaml(_ recipients: String) -> String {
        """
        version: 1
        keys:
          recipients: \(recipients)
        repository: /work/cfg/repo
        """
    }

    @Test("recipients are parsed, rendered and become the encryption secret")
    func parsed() throws {
        let loaded = try #require(ConfigTestSupport.load(Self.yaml("[\(Self.recipient)]")))
        #expect(loaded.configuration.keys.recipients == [Self.recipient])
        #expect(ConfigurationRenderer.render(loaded, status: { _ in nil }).contains("recipients: [\(Self.recipient)]"))
        guard case .recipients(let keys) = try loaded.configuration.keys.encryptionSecret(environment: [:]) else {
            Issue.record("recipients do not encrypt")
            return
        }
        #expect(keys.map(\.description) == [Self.recipient])
        // Recipients alone cannot decrypt: the error says what to add.
        #expect(throws: MissingIdentityError.self) { try loaded.configuration.keys.keyRing(environment: [:]) }
    }

    @Test("an inline recipient that is not one is an error at its path; a repeated one a warning")
    func checked() {
        let errors = ConfigTestSupport.errors(Self.yaml("[lifeboat-recipient-1:abcd]"))
        #expect(errors.contains { $0.description.contains("keys.recipients[0]") && $0.description.contains("64 hex digits") }, "\(errors)")
        #expect(ConfigTestSupport.errors(Self.yaml("[\(Self.recipient), \(Self.recipient)]")).isEmpty)
    }
}
