// Go-style durations: parsing Vault TTL parameters ("1h", "90s", 3600) and rendering "768h0m0s" / "516.49ms".
// Not Lifeboat's duration parser (Schedule.parseDuration) on purpose: that one reads Lifeboat's own strict syntax
// (whole d/h/m/s, largest first, at most 3650d); this one must accept what Vault's parseutil accepts from a client
// ("1.5h", "500ms", bare seconds) and print what Go prints, so vault-sim answers like Vault.

import Foundation

/// Parses and formats durations the way Vault's `parseutil.ParseDurationSecond` and Go's `time.Duration` do.
enum GoDuration {
    /// The longest duration Go's `time.Duration` holds, in whole seconds (about 292 years); longer values are
    /// rejected the way `time.ParseDuration` rejects them ("invalid duration"), never converted with a trap.
    static let maxSeconds = Int(Int64.max / 1_000_000_000)

    /// Whole seconds of `seconds`, clamped to ±maxSeconds (for intervals computed from stored dates).
    static func clamped(_ seconds: Double) -> Int {
        guard !seconds.isNaN else { return 0 }
        return Int(min(max(seconds, -Double(maxSeconds)), Double(maxSeconds)).rounded(.towardZero))
    }

    static func bounded(_ seconds: Double) -> Int? {
        guard seconds.isFinite, abs(seconds) <= Double(maxSeconds) else { return nil }
        return Int(seconds.rounded(.towardZero))
    }

    /// Parses a TTL value: an integer number of seconds, or a Go duration string such as "1h30m".
    static func seconds(from value: Any?) -> Int? {
        switch value {
        case nil: return nil
        case let n as Int: return n.magnitude <= UInt(maxSeconds) ? n : nil
        case let n as Double: return bounded(n)
        case let n as NSNumber: return bounded(n.doubleValue)
        case let s as String: return seconds(from: s)
        default: return nil
        }
    }

    static func seconds(from text: String) -> Int? {
        let s = text.trimmingCharacters(in: .whitespaces)
        if s.isEmpty { return 0 }
        if let n = Int(s) { return n.magnitude <= UInt(maxSeconds) ? n : nil }
        var total = 0.0
        var number = ""
        var unit = ""
        var sawAny = false
        func flush() -> Bool {
            guard let v = Double(number) else { return false }
            let mult: Double
            switch unit {
            case "ns": mult = 1e-9
            case "us", "µs": mult = 1e-6
            case "ms": mult = 1e-3
            case "s": mult = 1
            case "m": mult = 60
            case "h": mult = 3600
            case "d": mult = 86400
            default: return false
            }
            total += v * mult
            number = ""; unit = ""; sawAny = true
            return true
        }
        for ch in s {
            if ch.isNumber || ch == "." {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(ch)
            } else {
                guard !number.isEmpty else { return nil }
                unit.append(ch)
            }
        }
        if !number.isEmpty || !unit.isEmpty { guard flush() else { return nil } }
        return sawAny ? bounded(total) : nil
    }

    /// Go's `time.Duration.String()` for whole seconds: "0s", "45s", "1m30s", "768h0m0s".
    static func format(seconds: Int) -> String {
        if seconds == 0 { return "0s" }
        let h = seconds / 3600, m = (seconds % 3600) / 60, s = seconds % 60
        if h > 0 { return "\(h)h\(m)m\(s)s" }
        if m > 0 { return "\(m)m\(s)s" }
        return "\(s)s"
    }
}
