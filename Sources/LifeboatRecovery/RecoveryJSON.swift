// The JSON Lifeboat writes for people and scripts (restore plans and reports, drill reports, the restore journal):
// pretty-printed, keys sorted, slashes unescaped, ISO-8601 dates, ending in a newline.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

enum RecoveryJSON {
    static func encode(_ value: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return Array(try encoder.encode(value)) + [0x0a]
    }
}
