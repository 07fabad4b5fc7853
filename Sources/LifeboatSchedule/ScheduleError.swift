// The one error type of the schedule code: what was wrong, in which field, and what would have been accepted.

/// A cron expression, interval, duration or time zone that Lifeboat cannot use.
///
/// `description` is a complete sentence for the operator: it quotes the input, names the field and value at fault
/// and says what is allowed, e.g.
/// `invalid cron expression "61 * * * *": minute value "61" is out of range (allowed: 0-59)`.
import LifeboatBase

public struct ScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A stable classification of the failure, usable as a bounded metric or log label.
    public enum Code: String, Sendable, Equatable {
        /// The cron expression does not parse.
        case invalidCronExpression = "invalid_cron_expression"
        /// The cron expression parses but no date can ever match it (for example `0 0 30 2 *`).
        case cronNeverFires = "cron_never_fires"
        /// An `every <duration>` interval does not parse or is not usable.
        case invalidInterval = "invalid_interval"
        /// A duration such as a jitter (`5m`, `1h30m`) does not parse.
        case invalidDuration = "invalid_duration"
        /// The time zone name is not a known IANA identifier.
        case unknownTimeZone = "unknown_time_zone"
        /// The jitter is negative or not smaller than the interval.
        case invalidJitter = "invalid_jitter"
    }

    /// What kind of problem this is.
    public let code: Code
    /// The text the operator wrote (the whole expression, interval or zone name).
    public let input: String
    /// For cron expressions: the field at fault, if the problem is confined to one field.
    public let field: CronField?
    /// The offending piece of the input (a field value, list element or unit), if there is one.
    public let value: String?
    /// The full message, including what is allowed.
    public let message: String

    public init(code: Code, input: String, field: CronField? = nil, value: String? = nil, message: String) {
        self.code = code
        self.input = input
        self.field = field
        self.value = value
        self.message = message
    }

    public var description: String { message }
}

/// The five fields of a standard cron expression, in the order they are written.
public enum CronField: Int, Sendable, CaseIterable, CustomStringConvertible {
    case minute = 0
    case hour
    case dayOfMonth
    case month
    case dayOfWeek

    /// The name used in messages: `minute`, `hour`, `day-of-month`, `month`, `day-of-week`.
    public var description: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day-of-month"
        case .month: "month"
        case .dayOfWeek: "day-of-week"
        }
    }

    /// The smallest and largest number the field accepts (day-of-week accepts 7 as a second Sunday).
    var bounds: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// What the field accepts, for error messages.
    var allowed: String {
        switch self {
        case .minute: "0-59"
        case .hour: "0-23"
        case .dayOfMonth: "1-31"
        case .month: "1-12 or JAN-DEC"
        case .dayOfWeek: "0-7 or SUN-SAT, 0 and 7 both Sunday"
        }
    }

    /// Three-letter names the field accepts, mapped to their numbers.
    var names: [String: Int] {
        switch self {
        case .month:
            ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6,
             "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
        case .dayOfWeek:
            ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
        default:
            [:]
        }
    }
}
