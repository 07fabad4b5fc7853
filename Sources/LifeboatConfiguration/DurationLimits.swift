// The largest value each duration of the configuration (and of the flags and environment variables that set the same
// things) may take. Every duration has one: a typo such as `999999999d` is a configuration error naming the key,
// never a number that overflows later in a timer. The table is in docs/configuration.md ("Durations").

import LifeboatSchedule

public enum DurationLimits {
    static let day: Duration = .seconds(86_400)

    /// The upper bound of each duration key (the lower bounds are checked with each key's own message).
    public static let maximum: [String: Duration] = [
        "vault.timeouts.request": day,
        "vault.timeouts.snapshot": day * 7,
        "vault.timeouts.stall": day,
        "agent.jitter": day,
        "agent.health_max_age": day * 366,
        "agent.shutdown_grace_period": day,
        "notifications.webhooks[].timeout": .seconds(3_600),
        "restore.hooks.timeout": day,
        "drill.hooks.timeout": day,
        "--first-byte-timeout": day,
    ]

    /// nil when `value` is within the bound of `key`; else the message, e.g. `request is 999999999d; at most 1d is allowed`.
    public static func problem(_ value: Duration, key: String, name: String? = nil) -> String? {
        let lookup = key.replacingOccurrences(of: #"\[[0-9]+\]"#, with: "[]", options: .regularExpression)
        guard let limit = maximum[lookup], value > limit else { return nil }
        let shown = name ?? String(key.split(separator: ".").last ?? Substring(key))
        return "\(shown) is \(Schedule.format(value)); at most \(Schedule.format(limit)) is allowed"
    }
}
