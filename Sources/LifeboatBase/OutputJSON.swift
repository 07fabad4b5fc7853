// The JSON Lifeboat writes for people and scripts (`--json` output of every command, restore plans and reports, drill
// reports, the restore journal): pretty-printed, keys sorted, slashes unescaped, times in RFC 3339 (UTC, `Z`),
// ending in a newline. One encoder, so every document a script reads spells times the same way.

import Foundation

package enum OutputJSON {
    /// The encoded document, ending in a newline.
    package static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value)) + [0x0a]
    }
}
