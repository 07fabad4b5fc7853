// Values written the same way in the configuration and on the command line: sizes (KiB, MiB) and schedules (`off`).

import Foundation

/// Parses `backup.chunk_size` and `--chunk-size` values.
public enum ConfigurationSize {
    /// `1048576`, `1MiB`, `256KiB` (spaces around the number allowed); nil for anything else or on overflow.
    public static func parse(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let bytes = ConfigurationReader.parseInteger(trimmed) { return bytes }
        for (suffix, factor) in [("KiB", 1024), ("MiB", 1024 * 1024)] where trimmed.hasSuffix(suffix) {
            let number = trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let value = ConfigurationReader.parseInteger(number) {
                let (product, overflow) = value.multipliedReportingOverflow(by: factor)
                if !overflow { return product }
            }
        }
        return nil
    }
}

extension LifeboatConfiguration.Agent {
    /// A schedule as written in `agent.schedules.*` or given to `--schedule`, `--verify-schedule` and
    /// `--drill-schedule`: `off` (or `never`) disables the job (nil); anything else is the schedule text.
    public static func scheduleSetting(_ text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return trimmed == "off" || trimmed == "never" ? nil : text
    }
}
