// RetentionDuration: restic's calendar duration for keep-within rules ("1y2m3d3h"), its parser and its
// calendar arithmetic (years, months and days are subtracted on the calendar, hours as elapsed time).

/// A calendar duration made of years, months, days and hours, written the way restic writes it: numbers followed by
/// the units `y`, `m` (months), `d` and `h`, e.g. `"1y2m3d3h"`, `"7d"`, `"48h"`.
///
/// Subtracting it from an instant works like Go's `AddDate` followed by `Add`: years, months and days move the
/// calendar date in the instant's own UTC offset (with overflow normalisation, so 31 March minus one month is
/// 3 March, or 2 March in a leap year), then hours are subtracted as elapsed time.

public struct RetentionDuration: Hashable, Sendable, Codable, CustomStringConvertible, LosslessStringConvertible {
    /// The largest value accepted for each component.
    public static let maximumComponent = 1_000_000

    /// Calendar years (`y`).
    public var years: Int
    /// Calendar months (`m`).
    public var months: Int
    /// Calendar days (`d`).
    public var days: Int
    /// Elapsed hours (`h`).
    public var hours: Int

    /// Creates a duration from its components. Components must be between 0 and ``maximumComponent``;
    /// ``RetentionPolicy/validate()`` checks this for durations built in code.
    public init(years: Int = 0, months: Int = 0, days: Int = 0, hours: Int = 0) {
        self.years = years
        self.months = months
        self.days = days
        self.hours = hours
    }

    /// Parses restic's duration syntax. Surrounding whitespace is ignored; each unit may appear once, in any order.
    /// - Throws: ``RetentionError/invalidDuration(input:problem:)`` naming the offending part.
    public init(parsing input: String) throws {
        self = try RetentionDuration.parse(input)
    }

    /// `LosslessStringConvertible`: `nil` when `description` is not a valid duration.
    public init?(_ description: String) {
        guard let parsed = try? RetentionDuration.parse(description) else { return nil }
        self = parsed
    }

    /// True when every component is zero. A zero duration disables its keep-within rule, as in restic.
    public var isZero: Bool { years == 0 && months == 0 && days == 0 && hours == 0 }

    /// The canonical text, as restic prints it: non-zero components in the order y, m, d, h (`"0h"` when zero).
    public var description: String {
        isZero ? "0h" : debugSummary
    }

    /// Components as written, zero ones left out (empty for a zero duration).
    var debugSummary: String {
        var text = ""
        if years != 0 { text += "\(years)y" }
        if months != 0 { text += "\(months)m" }
        if days != 0 { text += "\(days)d" }
        if hours != 0 { text += "\(hours)h" }
        return text.isEmpty ? "0h" : text
    }

    var componentsInRange: Bool {
        let range = 0...RetentionDuration.maximumComponent
        return range.contains(years) && range.contains(months) && range.contains(days) && range.contains(hours)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try RetentionDuration.parse(text)
        } catch let error as RetentionError {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    private static func parse(_ input: String) throws -> RetentionDuration {
        func fail(_ problem: String) -> RetentionError {
            .invalidDuration(input: input, problem: problem)
        }
        let text = Array(input.trimmingWhitespace().unicodeScalars)
        guard !text.isEmpty else { throw fail("it is empty") }

        var result = RetentionDuration()
        var seen: Set<Unicode.Scalar> = []
        var index = 0
        while index < text.count {
            let start = index
            var value = 0
            while index < text.count, ("0"..."9").contains(text[index]) {
                value = value * 10 + Int(text[index].value - 48)
                if value > maximumComponent {
                    throw fail("the number at position \(start + 1) is larger than \(maximumComponent)")
                }
                index += 1
            }
            guard index > start else {
                if text[index] == "-" {
                    throw fail("negative values are not allowed")
                }
                throw fail("expected a number at position \(index + 1), found \"\(text[index])\"")
            }
            guard index < text.count else {
                throw fail("the number \(value) at the end has no unit")
            }
            let unit = text[index]
            switch unit {
            case "y", "m", "d", "h":
                guard seen.insert(unit).inserted else {
                    throw fail("the unit \"\(unit)\" appears more than once")
                }
            default:
                throw fail("unknown unit \"\(unit)\" after the number \(value) "
                    + "(units are y = years, m = months, d = days, h = hours; there is no w or s)")
            }
            switch unit {
            case "y": result.years = value
            case "m": result.months = value
            case "d": result.days = value
            default: result.hours = value
            }
            index += 1
        }
        return result
    }
}

extension String {
    /// The string without leading and trailing ASCII whitespace (no Foundation needed).
    fileprivate func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
