// BackupID: the sortable, time-based identifier of a backup (`20261128T231500Z-7f3a`), used in object names,
// manifests, CLI arguments and retention.

import Foundation
import LifeboatArchive
import LifeboatBase
import LifeboatSnapshot
import LifeboatRetention

/// A backup's identifier: the UTC time it was started to the second, a dash and a hex suffix, e.g.
/// `20261128T231500Z-1f47a3`. New ids' suffixes start with the millisecond (3 hex digits, 000-3e7) followed by
/// 3 random hex digits.
///
/// Ids sort chronologically as plain strings (byte order), so a directory listing is already in time order, and
/// `latest` is right even for backups started within the same second; the random part keeps two backups started in
/// the same millisecond apart. Ids are valid ``StoreObjectName`` segments.
public struct BackupID: RawRepresentable, Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let rawValue: String

    /// Length of the suffix created by ``generate(at:)``, in hex digits: 3 for the millisecond, 3 random.
    public static let suffixLength = 6

    /// Accepts `YYYYMMDDTHHMMSSZ-` followed by 4 to 16 lowercase hex digits, with a valid calendar date and time.
    public init?(rawValue: String) {
        guard Self.parseDate(rawValue) != nil else { return nil }
        self.rawValue = rawValue
    }

    /// Parses an id given by a user, with an error that shows the expected form.
    public init(parsing text: String) throws {
        guard let id = BackupID(rawValue: text) else { throw ManifestError.invalidBackupID(text) }
        self = id
    }

    /// A new id for a backup started at `date`, with a random suffix from the system's secure generator.
    public static func generate(at date: Date) -> BackupID {
        var generator = SystemRandomNumberGenerator()
        return generate(at: date, using: &generator)
    }

    /// A new id with a suffix drawn from `generator` (seeded generators make tests reproducible).
    public static func generate(at date: Date, using generator: inout some RandomNumberGenerator) -> BackupID {
        let seconds = date.timeIntervalSince1970.rounded(.down)
        let millisecond = min(999, Int((date.timeIntervalSince1970 - seconds) * 1000))
        return make(date: date, suffix: hex(UInt64(millisecond), digits: 3) + hex(generator.next() & 0xFFF, digits: 3))
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16)
        return String(repeating: "0", count: digits - text.count) + text
    }

    private static func make(date: Date, suffix: String) -> BackupID {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / CivilTime.secondsPerDay : (seconds - CivilTime.secondsPerDay + 1) / CivilTime.secondsPerDay
        let secondOfDay = Int(seconds - days * CivilTime.secondsPerDay)
        let civil = CivilTime.date(days: days)
        let text = pad(civil.year, 4) + pad(civil.month, 2) + pad(civil.day, 2) + "T" + pad(secondOfDay / 3600, 2)
            + pad(secondOfDay / 60 % 60, 2) + pad(secondOfDay % 60, 2) + "Z-" + suffix
        return BackupID(rawValue: text)!
    }

    /// The UTC time encoded in the id (whole seconds).
    public var date: Date { Self.parseDate(rawValue)! }

    public var description: String { rawValue }

    public static func < (lhs: BackupID, rhs: BackupID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = BackupID(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid backup id \"\(text)\""))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func parseDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        // 8 date digits, T, 6 time digits, Z, dash, 4-16 hex digits.
        guard bytes.count >= 17 + 4, bytes.count <= 17 + 16,
              bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z"), bytes[16] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for byte in bytes[range] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        for byte in bytes[17...] {
            let isHex = (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            guard isHex else { return nil }
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8),
              let hour = number(9..<11), let minute = number(11..<13), let second = number(13..<15),
              (1...12).contains(month), day >= 1, day <= CivilTime.daysInMonth(year: year, month: month),
              hour < 24, minute < 60, second < 60 else { return nil }
        let days = CivilTime.days(year: year, month: month, day: day)
        let seconds = days * CivilTime.secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
        return Date(timeIntervalSince1970: TimeInterval(seconds))
    }
}
