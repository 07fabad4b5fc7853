// Parsing of cron expressions: what is accepted, and for what is not, the error code, field, value and a
// message that says what is allowed.

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

@Suite("Cron expression parsing")
struct CronExpressionTests {
    @Test("accepts the standard syntax", arguments: [
        "* * * * *", "*/15 * * * *", "0 3 * * *", "1-5/2 * * * *", "0 9-17 * * MON-FRI", "0 0 1,15 * *",
        "0 0 * JAN,Jul sun", "0 0 * * 0-7", "0 0 29 2 *", "59 23 31 12 7", "  0  3\t* * *  ",
        "@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually", "@Daily",
        "0 0 */30 2 *", // days 1 and 31: Feb 1 still exists
    ])
    func accepts(_ text: String) throws {
        let expression = try CronExpression(text)
        #expect(expression.expression == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(expression.nextFire(after: Date(timeIntervalSince1970: 1_735_689_600), in: .gmt) != nil)
    }

    struct Rejection: Sendable, CustomTestStringConvertible {
        let text: String
        let code: ScheduleError.Code
        let field: CronField?
        let value: String?
        let message: String
        var testDescription: String { text }
    }

    static let rejections: [Rejection] = [
        Rejection(text: "61 * * * *", code: .invalidCronExpression, field: .minute, value: "61",
                  message: #"invalid cron expression "61 * * * *": minute value "61" is out of range (allowed: 0-59)"#),
        Rejection(text: "0 24 * * *", code: .invalidCronExpression, field: .hour, value: "24",
                  message: #"invalid cron expression "0 24 * * *": hour value "24" is out of range (allowed: 0-23)"#),
        Rejection(text: "0 0 0 * *", code: .invalidCronExpression, field: .dayOfMonth, value: "0",
                  message: #"invalid cron expression "0 0 0 * *": day-of-month value "0" is out of range (allowed: 1-31)"#),
        Rejection(text: "0 0 * 13 *", code: .invalidCronExpression, field: .month, value: "13",
                  message: #"invalid cron expression "0 0 * 13 *": month value "13" is out of range (allowed: 1-12 or JAN-DEC)"#),
        Rejection(text: "0 0 * * 8", code: .invalidCronExpression, field: .dayOfWeek, value: "8",
                  message: #"invalid cron expression "0 0 * * 8": day-of-week value "8" is out of range (allowed: 0-7 or SUN-SAT, 0 and 7 both Sunday)"#),
        Rejection(text: "0 0 * FOO *", code: .invalidCronExpression, field: .month, value: "FOO",
                  message: #"invalid cron expression "0 0 * FOO *": month value "FOO" is not a number or a name (allowed: 1-12 or JAN-DEC)"#),
        Rejection(text: "0 0 * * MON-FOO", code: .invalidCronExpression, field: .dayOfWeek, value: "FOO",
                  message: #"invalid cron expression "0 0 * * MON-FOO": day-of-week value "FOO" is not a number or a name (allowed: 0-7 or SUN-SAT, 0 and 7 both Sunday)"#),
        Rejection(text: "0 0 * MON *", code: .invalidCronExpression, field: .month, value: "MON",
                  message: #"invalid cron expression "0 0 * MON *": month value "MON" is not a number or a name (allowed: 1-12 or JAN-DEC)"#),
        Rejection(text: "x * * * *", code: .invalidCronExpression, field: .minute, value: "x",
                  message: #"invalid cron expression "x * * * *": minute value "x" is not a number (allowed: 0-59)"#),
        Rejection(text: "99999999999999999999 * * * *", code: .invalidCronExpression, field: .minute, value: "99999999999999999999",
                  message: #"invalid cron expression "99999999999999999999 * * * *": minute value "99999999999999999999" is out of range (allowed: 0-59)"#),
        Rejection(text: "5-1 * * * *", code: .invalidCronExpression, field: .minute, value: "5-1",
                  message: #"invalid cron expression "5-1 * * * *": minute range "5-1" runs backwards (write it as a list, e.g. 5-59,0-1)"#),
        Rejection(text: "0 22-2 * * *", code: .invalidCronExpression, field: .hour, value: "22-2",
                  message: #"invalid cron expression "0 22-2 * * *": hour range "22-2" runs backwards (write it as a list, e.g. 22-23,0-2)"#),
        Rejection(text: "*/0 * * * *", code: .invalidCronExpression, field: .minute, value: "*/0",
                  message: #"invalid cron expression "*/0 * * * *": minute step "0" in "*/0" must be a whole number of at least 1"#),
        Rejection(text: "*/x * * * *", code: .invalidCronExpression, field: .minute, value: "*/x",
                  message: #"invalid cron expression "*/x * * * *": minute step "x" in "*/x" must be a whole number of at least 1"#),
        Rejection(text: "5/15 * * * *", code: .invalidCronExpression, field: .minute, value: "5/15",
                  message: #"invalid cron expression "5/15 * * * *": minute value "5/15" has a step but no range (write "5-59/15" or "*/15")"#),
        Rejection(text: "1-5/2/3 * * * *", code: .invalidCronExpression, field: .minute, value: "1-5/2/3",
                  message: #"invalid cron expression "1-5/2/3 * * * *": minute value "1-5/2/3" has more than one step (write one step, e.g. */15 or 1-5/2)"#),
        Rejection(text: "1,,2 * * * *", code: .invalidCronExpression, field: .minute, value: "1,,2",
                  message: #"invalid cron expression "1,,2 * * * *": minute list "1,,2" has an empty element (allowed: 0-59, separated by commas)"#),
        Rejection(text: "0 -3 * * *", code: .invalidCronExpression, field: .hour, value: "",
                  message: #"invalid cron expression "0 -3 * * *": hour value (empty) is not a number (allowed: 0-23)"#),
        Rejection(text: "* * * *", code: .invalidCronExpression, field: nil, value: nil,
                  message: #"invalid cron expression "* * * *": expected 5 fields (minute hour day-of-month month day-of-week) but found 4"#),
        Rejection(text: "0 * * * * *", code: .invalidCronExpression, field: nil, value: nil,
                  message: #"invalid cron expression "0 * * * * *": expected 5 fields (minute hour day-of-month month day-of-week) but found 6; seconds and years are not supported"#),
        Rejection(text: "", code: .invalidCronExpression, field: nil, value: nil,
                  message: #"invalid cron expression "": expected 5 fields (minute hour day-of-month month day-of-week) but found 0"#),
        Rejection(text: "@every", code: .invalidCronExpression, field: nil, value: "@every",
                  message: #"invalid cron expression "@every": unknown macro "@every" (allowed: @hourly @daily @midnight @weekly @monthly @yearly @annually)"#),
        Rejection(text: "@reboot", code: .invalidCronExpression, field: nil, value: "@reboot",
                  message: #"invalid cron expression "@reboot": @reboot is not supported; use a schedule such as @daily (a run missed while the agent was down is taken once at start-up)"#),
        Rejection(text: "0 0 30 2 *", code: .cronNeverFires, field: .dayOfMonth, value: "30",
                  message: #"cron expression "0 0 30 2 *" can never fire: day-of-month 30 does not exist in Feb"#),
        Rejection(text: "0 0 30-31 FEB *", code: .cronNeverFires, field: .dayOfMonth, value: "30-31",
                  message: #"cron expression "0 0 30-31 FEB *" can never fire: day-of-month 30-31 does not exist in Feb"#),
        Rejection(text: "0 0 31 4,6,9,11 *", code: .cronNeverFires, field: .dayOfMonth, value: "31",
                  message: #"cron expression "0 0 31 4,6,9,11 *" can never fire: day-of-month 31 does not exist in Apr, Jun, Sep, Nov"#),
        Rejection(text: "0 0 31 2 *", code: .cronNeverFires, field: .dayOfMonth, value: "31",
                  message: #"cron expression "0 0 31 2 *" can never fire: day-of-month 31 does not exist in Feb"#),
    ]

    @Test("rejects with a message naming field, value and what is allowed", arguments: rejections)
    func rejects(_ r: Rejection) {
        #expect {
            _ = try CronExpression(r.text)
        } throws: { error in
            guard let error = error as? ScheduleError else { return false }
            #expect(error.code == r.code)
            #expect(error.field == r.field)
            #expect(error.value == r.value)
            #expect(error.message == r.message)
            #expect(error.description == error.message)
            return true
        }
    }

    /// Feb 30 with the OR rule is not impossible (any restricted weekday still matches), so it parses and fires
    /// on the weekday: Vixie cron behaves the same.
    @Test("Feb 30 OR a weekday still fires on the weekday")
    func impossibleDayWithWeekday() throws {
        let expression = try CronExpression("0 0 30 2 MON")
        let next = expression.nextFire(after: ScheduleTestSupport.date("2025-01-01T00:00:00Z"), in: .gmt)
        #expect(next == ScheduleTestSupport.date("2025-02-03T00:00:00Z"))
    }

    @Test("fixed-time and wildcard expressions", arguments: [
        ("30 1 * * *", true), ("0 0,12 * * *", true), ("@daily", true), ("@weekly", true),
        ("0 * * * *", false), ("*/15 * * * *", false), ("* 1 * * *", false), ("*/20 1 * * *", false), ("@hourly", false),
    ])
    func fixedTime(text: String, fixed: Bool) throws {
        #expect(try CronExpression(text).isFixedTime == fixed)
    }

    @Test("matches the wall clock in a zone")
    func matches() throws {
        let expression = try CronExpression("30 2 * * 1-5")
        let berlin = ScheduleTestSupport.zone("Europe/Berlin")
        #expect(expression.matches(ScheduleTestSupport.date("2025-06-02T02:30:00+02:00"), in: berlin))
        #expect(expression.matches(ScheduleTestSupport.date("2025-06-02T02:30:59+02:00"), in: berlin))
        #expect(!expression.matches(ScheduleTestSupport.date("2025-06-02T02:31:00+02:00"), in: berlin))
        #expect(!expression.matches(ScheduleTestSupport.date("2025-06-02T02:30:00Z"), in: berlin))
        #expect(!expression.matches(ScheduleTestSupport.date("2025-06-01T02:30:00+02:00"), in: berlin))  // Sunday
    }
}
