// ManifestTimestamp: an instant together with the UTC offset it was recorded in, written as ISO 8601 with the
// offset (`2026-11-28T23:15:00+01:00`). Retention buckets use the recorded offset, as restic does.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// An instant (whole seconds) and the UTC offset of the clock that recorded it.
public struct ManifestTimestamp: Hashable, Sendable, Codable, CustomStringConvertible {
    /// The instant.
    public let date: Date
    /// Seconds east of UTC (3600 for +01:00).
    public let utcOffsetSeconds: Int

    /// - Parameters:
    ///   - date: truncated to whole seconds, so the text form round-trips exactly.
    ///   - utcOffsetSeconds: must be a whole number of minutes within ±18 hours.
    public init(date: Date, utcOffsetSeconds: Int) {
        precondition(abs(utcOffsetSeconds) <= 18 * 3600 && utcOffsetSeconds % 60 == 0, "UTC offset out of range")
        self.date = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
        self.utcOffsetSeconds = utcOffsetSeconds
    }

    /// `date` with the offset `timeZone` had at that instant.
    public init(date: Date, timeZone: TimeZone) {
        let offset = timeZone.secondsFromGMT(for: date)
        self.init(date: date, utcOffsetSeconds: offset - offset % 60)
    }

    /// ISO 8601 with seconds and the offset: `2026-11-28T23:15:00+01:00` (`+00:00` for UTC).
    public var description: String {
        let seconds = Int64(date.timeIntervalSince1970) + Int64(utcOffsetSeconds)
        let days = seconds >= 0 ? seconds / CivilTime.secondsPerDay : (seconds - CivilTime.secondsPerDay + 1) / CivilTime.secondsPerDay
        let secondOfDay = Int(seconds - days * CivilTime.secondsPerDay)
        let civil = CivilTime.date(days: days)
        let sign = utcOffsetSeconds < 0 ? "-" : "+"
        let offsetMinutes = abs(utcOffsetSeconds) / 60
        return Self.pad(civil.year, 4) + "-" + Self.pad(civil.month, 2) + "-" + Self.pad(civil.day, 2) + "T"
            + Self.pad(secondOfDay / 3600, 2) + ":" + Self.pad(secondOfDay / 60 % 60, 2) + ":" + Self.pad(secondOfDay % 60, 2)
            + sign + Self.pad(offsetMinutes / 60, 2) + ":" + Self.pad(offsetMinutes % 60, 2)
    }

    /// The same instant in UTC with a `Z`, for messages: `2026-11-28T22:15:00Z`.
    public var utcDescription: String {
        let text = ManifestTimestamp(date: date, utcOffsetSeconds: 0).description
        return String(text.dropLast(6)) + "Z"
    }

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`. A fraction is accepted and dropped.
    public init?(parsing text: String) {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"),
              bytes[10] == UInt8(ascii: "T") || bytes[10] == UInt8(ascii: "t"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            guard range.upperBound <= bytes.count else { return nil }
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
              (1...12).contains(month), day >= 1, day <= CivilTime.daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second < 60 else { return nil }
        var index = 19
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") { index += 1 }
            guard index > start else { return nil }
        }
        guard index < bytes.count else { return nil }
        var offset = 0
        switch bytes[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == bytes.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == bytes.count, bytes[index + 3] == UInt8(ascii: ":"),
                  let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6),
                  hours <= 18, minutes < 60 else { return nil }
            offset = (hours * 3600 + minutes * 60) * (bytes[index] == UInt8(ascii: "-") ? -1 : 1)
            guard abs(offset) <= 18 * 3600 else { return nil }
        default:
            return nil
        }
        let local = CivilTime.days(year: year, month: month, day: day) * CivilTime.secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
        self.init(date: Date(timeIntervalSince1970: TimeInterval(local - Int64(offset))), utcOffsetSeconds: offset)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = ManifestTimestamp(parsing: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "invalid timestamp \"\(text)\"; expected ISO 8601 with an offset, e.g. 2026-11-28T23:15:00+01:00"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }
}
