// Parsing of cron text into CronExpression: macros, the five fields, lists, ranges, steps and names, with
// messages that name the field, the value and what is allowed.

import Foundation
import LifeboatBase

extension CronExpression {
    /// Macros and the five-field expressions they stand for.
    static let macros: [String: String] = [
        "@hourly": "0 * * * *",
        "@daily": "0 0 * * *",
        "@midnight": "0 0 * * *",
        "@weekly": "0 0 * * 0",
        "@monthly": "0 0 1 * *",
        "@yearly": "0 0 1 1 *",
        "@annually": "0 0 1 1 *",
    ]

    /// Parses a cron expression.
    ///
    /// - Throws: `ScheduleError` with code `.invalidCronExpression` (naming the field, the value and what is
    ///   allowed) or `.cronNeverFires` for expressions such as `0 0 30 2 *` that no date matches.
    public init(_ text: String) throws(ScheduleError) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        var fieldsText = trimmed
        if trimmed.hasPrefix("@") {
            let name = trimmed.lowercased()
            guard let expansion = Self.macros[name] else {
                let problem = name == "@reboot"
                    ? "@reboot is not supported; use a schedule such as @daily (a run missed while the agent "
                        + "was down is taken once at start-up)"
                    : "unknown macro \"\(trimmed)\" (allowed: @hourly @daily @midnight @weekly @monthly @yearly @annually)"
                throw ScheduleError(
                    code: .invalidCronExpression, input: trimmed, value: trimmed,
                    message: "invalid cron expression \"\(trimmed)\": \(problem)")
            }
            fieldsText = expansion
        }
        let fields = fieldsText.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count == 5 else {
            throw ScheduleError(
                code: .invalidCronExpression, input: trimmed,
                message: "invalid cron expression \"\(trimmed)\": expected 5 fields "
                    + "(minute hour day-of-month month day-of-week) but found \(fields.count)"
                    + (fields.count == 6 ? "; seconds and years are not supported" : ""))
        }
        var bits = [UInt64](repeating: 0, count: 5)
        var stars = [Bool](repeating: false, count: 5)
        for field in CronField.allCases {
            let text = fields[field.rawValue]
            bits[field.rawValue] = try Self.parseField(text, field: field, expression: trimmed)
            stars[field.rawValue] = text.hasPrefix("*")
        }
        expression = trimmed
        minuteBits = bits[0]
        hourBits = bits[1]
        dayOfMonthBits = bits[2]
        monthBits = bits[3]
        dayOfWeekBits = bits[4]
        minuteStar = stars[0]
        hourStar = stars[1]
        dayOfMonthStar = stars[2]
        dayOfWeekStar = stars[4]
        try checkCanFire(dayOfMonthText: String(fields[CronField.dayOfMonth.rawValue]))
    }

    /// Rejects expressions no calendar day can satisfy. With the OR rule any restricted day-of-week matches some
    /// day of every month, so only the AND case (either day field starting with `*`) can be impossible: then a
    /// selected day-of-month must exist in a selected month (February counted with 29 days).
    private func checkCanFire(dayOfMonthText: String) throws(ScheduleError) {
        let orRule = !dayOfMonthStar && !dayOfWeekStar
        if orRule { return }
        let longest = (1...12).filter { monthBits.cronContains($0) }.map { CivilTime.daysInMonth(year: 2000, month: $0) }.max() ?? 0
        let smallestDay = dayOfMonthBits.cronNext(atLeast: 1) ?? 32
        if smallestDay <= longest { return }
        let monthNames = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let months = (1...12).filter { monthBits.cronContains($0) }.map { monthNames[$0 - 1] }.joined(separator: ", ")
        throw ScheduleError(
            code: .cronNeverFires, input: expression, field: .dayOfMonth, value: dayOfMonthText,
            message: "cron expression \"\(expression)\" can never fire: day-of-month \(dayOfMonthText) "
                + "does not exist in \(months)")
    }

    /// Parses one field into a bit set (day-of-week 7 folded onto 0).
    static func parseField(_ text: Substring, field: CronField, expression: String) throws(ScheduleError) -> UInt64 {
        func fail(_ value: Substring, _ problem: String) -> ScheduleError {
            ScheduleError(
                code: .invalidCronExpression, input: expression, field: field, value: String(value),
                message: "invalid cron expression \"\(expression)\": \(field) \(problem)")
        }
        var bits: UInt64 = 0
        for element in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !element.isEmpty else {
                throw fail(text, "list \"\(text)\" has an empty element (allowed: \(field.allowed), separated by commas)")
            }
            let parts = element.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2 else {
                throw fail(element, "value \"\(element)\" has more than one step (write one step, e.g. */15 or 1-5/2)")
            }
            var step = 1
            if parts.count == 2 {
                let stepText = parts[1]
                guard let parsed = parseNumber(stepText), parsed >= 1 else {
                    throw fail(element, "step \"\(stepText)\" in \"\(element)\" must be a whole number of at least 1")
                }
                step = parsed
            }
            let rangeText = parts[0]
            let low: Int
            let high: Int
            if rangeText == "*" {
                low = field.bounds.lowerBound
                high = field.bounds.upperBound
            } else if let dash = rangeText.firstIndex(of: "-") {
                let lowText = rangeText[..<dash]
                let highText = rangeText[rangeText.index(after: dash)...]
                low = try parseValue(lowText, field: field, fail: fail)
                high = try parseValue(highText, field: field, fail: fail)
                guard low <= high else {
                    let wrap = "\(low)-\(field.bounds.upperBound),\(field.bounds.lowerBound)-\(high)"
                    throw fail(rangeText, "range \"\(rangeText)\" runs backwards (write it as a list, e.g. \(wrap))")
                }
            } else {
                if parts.count == 2 {
                    throw fail(element, "value \"\(element)\" has a step but no range "
                        + "(write \"\(rangeText)-\(field.bounds.upperBound)/\(step)\" or \"*/\(step)\")")
                }
                low = try parseValue(rangeText, field: field, fail: fail)
                high = low
            }
            for value in stride(from: low, through: high, by: step) {
                let folded = field == .dayOfWeek && value == 7 ? 0 : value
                bits |= 1 << UInt64(folded)
            }
        }
        return bits
    }

    /// A number within the field's bounds, or a name the field accepts.
    private static func parseValue(
        _ text: Substring, field: CronField, fail: (Substring, String) -> ScheduleError
    ) throws(ScheduleError) -> Int {
        if let number = parseNumber(text) {
            guard field.bounds.contains(number) else {
                throw fail(text, "value \"\(text)\" is out of range (allowed: \(field.allowed))")
            }
            return number
        }
        if let named = field.names[text.uppercased()] {
            return named
        }
        let kind = field.names.isEmpty ? "a number" : "a number or a name"
        let shown = text.isEmpty ? "(empty)" : "\"\(text)\""
        throw fail(text, "value \(shown) is not \(kind) (allowed: \(field.allowed))")
    }

    /// Decimal digits only; anything longer than 4 digits becomes `Int.max` (out of range everywhere).
    private static func parseNumber(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.allSatisfy({ $0 >= "0" && $0 <= "9" }) else { return nil }
        // Longer numbers are out of range for every field; report them as such instead of overflowing.
        return text.count <= 4 ? Int(text) : Int.max
    }
}
