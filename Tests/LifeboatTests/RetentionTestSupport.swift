// Helpers shared by the retention tests: timestamps with a recorded UTC offset, candidates, plan summaries,
// the path of the shared restic fixture and a seeded random generator.

import Foundation
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

enum RetentionTestSupport {
    /// Parses "2026-03-30T00:30:00+02:00", "2014-08-13T10:20:30.1Z": the instant and the offset written in it.
    static func instant(_ text: String) -> (date: Date, offset: Int) {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = text.contains(".")
            ? [.withInternetDateTime, .withFractionalSeconds] : [.withInternetDateTime]
        guard let date = formatter.date(from: text) else {
            preconditionFailure("test timestamp \(text) is not ISO 8601")
        }
        var offset = 0
        if !text.hasSuffix("Z") {
            let suffix = text.suffix(6)  // "+02:00"
            let sign = suffix.first == "-" ? -1 : 1
            let hours = Int(suffix.dropFirst().prefix(2))!
            let minutes = Int(suffix.suffix(2))!
            offset = sign * (hours * 3_600 + minutes * 60)
        }
        return (date, offset)
    }

    static func date(_ text: String) -> Date { instant(text).date }

    /// A candidate whose time and recorded offset come from `timestamp`.
    static func backup(_ id: String, _ timestamp: String, tags: [String] = [], verified: Bool = false) -> RetentionCandidate {
        let (date, offset) = instant(timestamp)
        return RetentionCandidate(id: id, time: date, utcOffsetSeconds: offset, tags: tags, verified: verified)
    }

    /// "id: reason, reason" for kept backups and "id: remove" for removed ones, in plan order.
    static func summary(_ plan: [RetentionDecision]) -> [String] {
        plan.map { decision in
            decision.isKept
                ? "\(decision.candidate.id): " + decision.reasons.map(\.description).joined(separator: ", ")
                : "\(decision.candidate.id): remove"
        }
    }

    static func keptIDs(_ plan: [RetentionDecision]) -> [String] {
        plan.filter(\.isKept).map(\.candidate.id)
    }

    /// The package root (Tests/LifeboatTests/<file> is three levels below it).
    static func packageRoot(filePath: String = #filePath) -> URL {
        URL(fileURLWithPath: filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    static var resticFixtureURL: URL {
        packageRoot().appendingPathComponent("Tests/Fixtures/retention/restic-forget-cases.json").standardizedFileURL
    }
}

/// SplitMix64: a small seeded generator so randomized tables are reproducible.
struct RetentionSeededGenerator: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
