// Durations as written in the configuration (`15m`, `1h30m`, `24h`, `2d`, `30s`), parsed and formatted.

import LifeboatBase

extension Schedule {
    private static let units: [(symbol: Character, seconds: Int64)] = [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
    /// No duration is longer than 10 years (3650d): a larger one is a typo, refused before any arithmetic.
    public static let maximumSeconds: Int64 = 3_650 * 86_400
    /// An `every` interval is at most 366d.
    public static let maximumIntervalSeconds: Int64 = 366 * 86_400

    /// Parses a duration such as `15m`, `1h30m`, `24h`, `2d` or `90s`: numbers each followed by a unit
    /// (d, h, m, s), largest unit first, each unit at most once.
    ///
    /// - Throws: `ScheduleError` `.invalidDuration` explaining the expected form.
    public static func parseDuration(_ text: String) throws(ScheduleError) -> Duration {
        try parseDuration(text, purpose: "duration", code: .invalidDuration)
    }

    static func parseDuration(_ text: String, purpose: String, code: ScheduleError.Code) throws(ScheduleError) -> Duration {
        let form = "write numbers each followed by a unit d, h, m or s, largest first, e.g. \"15m\", \"1h30m\" or \"24h\""
        func fail(_ value: String, _ problem: String) -> ScheduleError {
            ScheduleError(code: code, input: text, value: value, message: "invalid \(purpose): \(problem); \(form)")
        }
        let trimmed = Substring(text.trimmingCharacters(in: .whitespacesAndNewlines))
        guard !trimmed.isEmpty else { throw fail("", "it is empty") }
        var total: Int64 = 0
        var digits = ""
        var lastUnitIndex = -1
        for character in trimmed {
            if character.isASCII, character.isNumber {
                digits.append(character)
                guard digits.count <= 9 else { throw fail(String(trimmed), "\"\(trimmed)\" is too large") }
                continue
            }
            let symbol = Character(character.lowercased())
            guard let unitIndex = units.firstIndex(where: { $0.symbol == symbol }) else {
                throw fail(String(character), "\"\(trimmed)\" has the unknown unit \"\(character)\"")
            }
            guard !digits.isEmpty else {
                throw fail(String(trimmed), "\"\(trimmed)\" has a unit \"\(character)\" without a number before it")
            }
            guard unitIndex > lastUnitIndex else {
                throw fail(String(trimmed), "\"\(trimmed)\" repeats a unit or puts a smaller unit first")
            }
            total += Int64(digits)! * units[unitIndex].seconds
            digits = ""
            lastUnitIndex = unitIndex
        }
        guard digits.isEmpty else {
            throw fail(digits, digits == trimmed ? "\"\(digits)\" has no unit" : "\"\(digits)\" at the end of \"\(trimmed)\" has no unit")
        }
        guard total <= maximumSeconds else {
            throw fail(String(trimmed), "\"\(trimmed)\" is longer than \(maximumSeconds / 86_400)d, more than any Lifeboat duration may be")
        }
        if code == .invalidInterval && total > maximumIntervalSeconds {
            throw fail(String(trimmed), "\"\(trimmed)\" is longer than \(maximumIntervalSeconds / 86_400)d; schedule runs at least once a year")
        }
        if code == .invalidInterval && total == 0 {
            throw fail(String(trimmed), "\"\(trimmed)\" is zero; an interval must be at least 1s")
        }
        return .seconds(total)
    }

    /// Formats whole seconds the way `parseDuration` reads them: `1h30m`, `24h`, `2d`, `0s`.
    public static func format(_ duration: Duration) -> String {
        var seconds = duration.components.seconds
        guard seconds > 0 else { return seconds == 0 ? "0s" : "-" + format(.seconds(-seconds)) }
        var text = ""
        for unit in units where seconds >= unit.seconds {
            text += "\(seconds / unit.seconds)\(unit.symbol)"
            seconds %= unit.seconds
        }
        return text
    }
}
