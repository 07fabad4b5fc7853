// Mutation fuzzing inside the test suite, for the parsers whose libFuzzer builds would instrument SwiftNIO, Yams and
// AsyncHTTPClient (docs/fuzzing.md): the configuration (YAML), cron expressions and durations, S3's XML responses,
// S3 timestamps and manifests. Each starts from real inputs, applies seeded mutations (byte flips, inserted tokens,
// cut and repeated slices) and asserts that every result is a value or an error: a trap would stop the test process.
// Where a parse succeeds, what users rely on next is exercised too (a schedule's next fire, a manifest's round trip).

import Foundation
import Testing
import LifeboatBase
import LifeboatSchedule
import LifeboatS3
import LifeboatRepository
import LifeboatConfiguration

/// Seeded mutations of a seed corpus.
struct Mutator {
    var random: RetentionSeededGenerator
    let tokens: [[UInt8]]

    init(seed: UInt64, tokens: [String]) {
        random = RetentionSeededGenerator(seed: seed)
        self.tokens = tokens.map { Array($0.utf8) }
    }

    mutating func mutate(_ input: [UInt8]) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<7, using: &random) {
            case 0 where !bytes.isEmpty: bytes[position] ^= UInt8(1 << Int.random(in: 0..<8, using: &random))
            case 1 where !bytes.isEmpty: bytes[position] = UInt8.random(in: 0...255, using: &random)
            case 2: bytes.insert(contentsOf: tokens.randomElement(using: &random) ?? [], at: position)
            case 3 where !bytes.isEmpty: bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...16, using: &random)))
            case 4 where !bytes.isEmpty:
                let end = min(bytes.count, position + Int.random(in: 1...64, using: &random))
                bytes.insert(contentsOf: Array(bytes[position..<end]), at: end)
            case 5: bytes = Array(bytes.prefix(position))
            default:
                let digits = Array(String(Int.random(in: Int.min...Int.max, using: &random)).utf8)
                bytes.insert(contentsOf: digits, at: position)
            }
        }
        return bytes
    }
}

@Suite("Mutation fuzzing of the parsers of outside input")
struct MutationFuzzTests {
    @Test("configuration files: every mutation loads or reports issues, never traps")
    func configuration() throws {
        let example = try String(contentsOf: coreTestsDirectory.appendingPathComponent("../../scripts/cluster/lifeboat.yaml").standardized, encoding: .utf8)
        let seeds = [example, ConfigTestSupport.fullExample].map { Array($0.utf8) }
        var mutator = Mutator(seed: 0xC0F1_6001, tokens: [
            ": ", "\n  - ", "{", "}", "[", "]", "&a ", "*a", "<<: *a", "!!binary ", "'", "\"", "\\u00", "\t", "#",
            "99999999999999999999", "-1", "1e309", "env:", "file:/", "every 0s", "@yearly", "365d", "unlimited", "~",
            "keep_tags: ['', 'a,']", "{node}", "{api_addr}", "{x}", "\u{0}", "---\n", "...\n", "? ", "|\n", ">-\n",
        ])
        let loader = ConfigTestSupport.loader()
        for iteration in 0..<1_500 {
            let bytes = mutator.mutate(seeds[iteration % seeds.count])
            let evaluation = loader.evaluate(yaml: String(decoding: bytes, as: UTF8.self), file: "fuzz.yaml", fileSource: "fuzz",
                                             overrides: ConfigurationOverrides())
            for issue in evaluation.errors { #expect(!issue.message.isEmpty) }
        }
    }

    @Test("schedules, cron expressions and durations: a value or an error; a parsed schedule answers its next fire")
    func schedules() {
        let seeds = ["17 * * * *", "*/15 9-17 * * MON-FRI", "0 3 L * *", "0 0 29 2 *", "@hourly", "every 1h30m", "every 366d",
                     "0 2 * * SUN#2", "5,10-20/3 0 1,15 JAN-DEC *", "30 2 * * *"].map { Array($0.utf8) }
        var mutator = Mutator(seed: 0xC2_0A, tokens: ["*", "/", "-", ",", "L", "W", "#", "?", " ", "99999999999", "0", "60", "24", "32",
                                                   "13", "SUN", "every ", "d", "h", "m", "s", "@", "-1"])
        let now = Date(timeIntervalSince1970: 1_796_000_000)
        for iteration in 0..<20_000 {
            let text = String(decoding: mutator.mutate(seeds[iteration % seeds.count]), as: UTF8.self)
            if let schedule = try? Schedule.parse(text, timeZone: iteration % 3 == 0 ? "Europe/Berlin" : nil) {
                if let next = schedule.nextFire(after: now) { #expect(next > now, "\(text)") }
            }
            _ = try? Schedule.parseDuration(text)
        }
    }

    @Test("S3 XML responses and timestamps: a tree or an error, at any depth and any byte")
    func s3XML() {
        let seeds = [
            #"<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>lifeboat/</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken><Contents><Key>lifeboat/20261203T134651Z-2fb2f2.lbk</Key><LastModified>2026-12-03T13:46:51.000Z</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag><Size>18753</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>"#,
            #"<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><Resource>/b/k</Resource><RequestId>4442587FB7D0A2F9</RequestId></Error>"#,
            #"<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k &amp; &#x41;&#65;</Key><UploadId>VXBsb2FkIElE</UploadId></InitiateMultipartUploadResult>"#,
            #"<CompleteMultipartUploadResult><Location>http://b.s3/k</Location><ETag>"3858f62230ac3c915f300c664312c11f-9"</ETag></CompleteMultipartUploadResult>"#,
        ].map { Array($0.utf8) }
        var mutator = Mutator(seed: 0x53_3A, tokens: ["<", ">", "</", "/>", "<a>", "</a>", "&", "&amp;", "&#", "&#x110000;", "&#0;", ";",
                                                   "<![CDATA[", "]]>", "<!--", "-->", "<?", "?>", "<!DOCTYPE x [<!ENTITY e \"x\">]>", "\"", "'",
                                                   String(repeating: "<a>", count: 80)])
        for iteration in 0..<20_000 {
            let bytes = mutator.mutate(seeds[iteration % seeds.count])
            if let root = try? S3XML.parse(bytes) { #expect(!root.name.isEmpty) }
            _ = S3Client.parseISO8601(String(decoding: bytes.prefix(40), as: UTF8.self))
        }
        for text in ["2024-01-31T12:34:56.789Z", "2024-02-30T99:99:99Z", "-999-01-01T00:00:00Z", "2024-01-31T12:34:56.Z", "9999-12-31T23:59:60.99999999999Z"] {
            _ = S3Client.parseISO8601(text)
        }
        #expect(S3Client.parseISO8601("2024-01-31T12:34:56.5Z") == Date(timeIntervalSince1970: 1_706_704_496.5))
        #expect(S3Client.parseISO8601("2024-01-31T25:34:56Z") == nil)
    }

    @Test("manifests: a manifest or a named error; what decodes encodes and decodes to the same manifest")
    func manifests() throws {
        let seed = try ManifestSamples.manifest().encoded()
        var mutator = Mutator(seed: 0x3A_41, tokens: ["\"", "\\u", "\\uD800", "\\uDC00", "{", "}", "[", "]", ",", ":", "null", "true", "-0", "1e999",
                                                   "18446744073709551616", "-9223372036854775809", "\"2026-13-45T25:61:61+99:99\"", "\"x\""])
        var decoded = 0
        for _ in 0..<20_000 {
            guard let manifest = try? BackupManifest.decode(mutator.mutate(seed), object: "fuzz.manifest.json") else { continue }
            decoded += 1
            let again = try BackupManifest.decode(try manifest.encoded(), object: "again")
            #expect(again == manifest)
        }
        #expect(decoded > 0, "some mutations (e.g. in free text) must still decode")
    }
}
