// Helpers shared by the schedule and cron tests: ISO-8601 instants, zones and fire sequences.

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
import Testing

enum ScheduleTestSupport {
    /// An instant written in ISO-8601 with an explicit offset or `Z`, e.g. `2025-03-30T03:00:00+02:00`.
    static func date(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) -> Date {
        do {
            return try Date(text, strategy: .iso8601)
        } catch {
            Issue.record("bad ISO-8601 instant in test table: \(text)", sourceLocation: sourceLocation)
            return Date(timeIntervalSince1970: 0)
        }
    }

    static func zone(_ identifier: String, sourceLocation: SourceLocation = #_sourceLocation) -> TimeZone {
        guard let zone = TimeZone(identifier: identifier) else {
            Issue.record("unknown zone in test table: \(identifier)", sourceLocation: sourceLocation)
            return .gmt
        }
        return zone
    }

    /// The next `count` fires of `expression` in `zone`, each computed from the previous one.
    static func fires(_ expression: CronExpression, in zone: TimeZone, after start: Date, count: Int) -> [Date] {
        var result: [Date] = []
        var cursor = start
        while result.count < count, let next = expression.nextFire(after: cursor, in: zone) {
            result.append(next)
            cursor = next
        }
        return result
    }

    /// Dates rendered on the wall clock of `zone` with their offset, for readable failure messages.
    static func render(_ dates: [Date], in zone: TimeZone) -> [String] {
        var style = Date.ISO8601FormatStyle(timeZone: zone)
        style = style.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .colon)
        return dates.map { $0.formatted(style) }
    }
}
