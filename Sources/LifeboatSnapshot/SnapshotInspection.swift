// `inspect`: the report of `vault operator raft snapshot inspect` (docs/vault-behaviour.md §6.3), as a value with a table
// renderer (Go text/tabwriter layout) and a JSON renderer (Go json.MarshalIndent with a three-space indent).

import Foundation

/// Meta fields and per-prefix key statistics of a verified snapshot, rendered the way Vault's CLI renders them.
public struct SnapshotInspection: Sendable, Equatable {
    public var id: String
    public var size: Int64
    public var index: UInt64
    public var term: UInt64
    public var version: Int
    /// Groups in Vault's order (count descending, then name); empty when no key matched.
    public var statistics: [KeyPrefixStatistic]
    /// Keys counted in `statistics` (Vault's TotalCountKV).
    public var totalCount: Int
    /// Sum of their record sizes (Vault's TotalSizeKV).
    public var totalSize: Int64
    /// Everything the verifier established, for callers that show more than Vault does.
    public var summary: SnapshotSummary

    /// Builds the report from a summary verified with `keyStatisticsDepth` set (otherwise the statistics are empty).
    public init(summary: SnapshotSummary) {
        id = summary.meta.id
        size = summary.meta.size
        index = summary.meta.index
        term = summary.meta.term
        version = summary.meta.version
        statistics = summary.keyStatistics ?? []
        totalCount = statistics.reduce(0) { $0 + $1.count }
        totalSize = statistics.reduce(0) { $0 + $1.size }
        self.summary = summary
    }

    /// Verifies and inspects a snapshot file in constant memory (bounded by the number of key groups).
    /// - Parameters:
    ///   - depth: leading path segments per group; 0 (or less) groups by whole key (Vault's `-depth`, default 2).
    ///   - filter: only keys with this prefix are counted (Vault's `-filter`).
    public static func inspectFile(atPath path: String, depth: Int = 2, filter: String = "") throws -> SnapshotInspection {
        let options = SnapshotVerifier.Options(keyStatisticsDepth: max(depth, 0), keyStatisticsFilter: filter)
        return SnapshotInspection(summary: try SnapshotVerifier.verifyFile(atPath: path, options: options))
    }

    /// Verifies and inspects a snapshot held in memory.
    public static func inspect(_ bytes: [UInt8], depth: Int = 2, filter: String = "") throws -> SnapshotInspection {
        let options = SnapshotVerifier.Options(keyStatisticsDepth: max(depth, 0), keyStatisticsFilter: filter)
        return SnapshotInspection(summary: try SnapshotVerifier.verify(bytes, options: options))
    }

    /// Vault's `ByteSize`: `0`, `512B`, `1.5KB`, `16MB` (binary multiples, one decimal, `.0` trimmed).
    public static func byteSize(_ bytes: Int64) -> String {
        let units: [(Int64, String)] = [(1 << 40, "TB"), (1 << 30, "GB"), (1 << 20, "MB"), (1 << 10, "KB")]
        if bytes == 0 { return "0" }
        for (scale, unit) in units where bytes >= scale {
            var text = String(format: "%.1f", Double(bytes) / Double(scale))
            if text.hasSuffix(".0") { text.removeLast(2) }
            return text + unit
        }
        return "\(bytes)B"
    }

    /// The table Vault prints (without the final newline its UI adds).
    public func renderTable() -> String {
        var text = " ID\t\(id)"
        text += "\n Size\t\(size)"
        text += "\n Index\t\(index)"
        text += "\n Term\t\(term)"
        text += "\n Version\t\(version)"
        text += "\n"
        if !statistics.isEmpty {
            text += "\n"
            text += "\n Key Name\tCount\tSize\n"
            text += " ----\t----\t----"
            for s in statistics {
                text += "\n \(s.name)\t\(s.count)\t\(Self.byteSize(s.size))"
            }
            text += "\n ----\t----"
            text += "\n Total Size\t\t\(Self.byteSize(totalSize))"
        }
        return GoTabWriter.format(text, minWidth: 8, padding: 6)
    }

    /// Vault's `-format=json` output (Go `json.MarshalIndent(v, "", "   ")`, without the final newline).
    public func renderJSON() -> String {
        var w = GoJSONWriter()
        let i1 = "\n   ", i2 = "\n      ", i3 = "\n         "
        w.raw("{" + i1); w.key("Meta"); w.raw(" {")
        w.raw(i2); w.key("ID"); w.raw(" "); w.string(id); w.raw(",")
        w.raw(i2); w.key("Size"); w.raw(" "); w.int(size); w.raw(",")
        w.raw(i2); w.key("Index"); w.raw(" "); w.int(index); w.raw(",")
        w.raw(i2); w.key("Term"); w.raw(" "); w.int(term); w.raw(",")
        w.raw(i2); w.key("Version"); w.raw(" "); w.int(version)
        w.raw(i1 + "},")
        w.raw(i1); w.key("StatsKV"); w.raw(" ")
        if statistics.isEmpty {
            w.raw("null")
        } else {
            w.raw("[")
            for (n, s) in statistics.enumerated() {
                w.raw(i2 + "{")
                w.raw(i3); w.key("Name"); w.raw(" "); w.string(s.name); w.raw(",")
                w.raw(i3); w.key("Count"); w.raw(" "); w.int(s.count); w.raw(",")
                w.raw(i3); w.key("Size"); w.raw(" "); w.int(s.size)
                w.raw(i2 + "}" + (n + 1 < statistics.count ? "," : ""))
            }
            w.raw(i1 + "]")
        }
        w.raw(",")
        w.raw(i1); w.key("TotalCountKV"); w.raw(" "); w.int(totalCount); w.raw(",")
        w.raw(i1); w.key("TotalSizeKV"); w.raw(" "); w.int(totalSize)
        w.raw("\n}")
        return String(decoding: w.bytes, as: UTF8.self)
    }
}

/// Go's `text/tabwriter` column layout (space padding, left-aligned, no flags), enough to reproduce Vault's tables:
/// tab-terminated cells of consecutive lines form a column block whose width is the widest cell plus `padding`
/// (at least `minWidth`); the last cell of each line is not aligned.
enum GoTabWriter {
    static func format(_ text: String, minWidth: Int, padding: Int) -> String {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        }
        var out = ""
        var widths: [Int] = []

        func writeLines(_ from: Int, _ to: Int) {
            for i in from..<to {
                for (j, cell) in lines[i].enumerated() {
                    out += cell
                    if j < widths.count {
                        out += String(repeating: " ", count: max(0, widths[j] - cell.unicodeScalars.count))
                    }
                }
                if i + 1 < lines.count { out += "\n" }
            }
        }

        func format(_ start: Int, _ end: Int) {
            var line0 = start
            let column = widths.count
            var this = start
            while this < end {
                if column >= lines[this].count - 1 {
                    this += 1
                    continue
                }
                writeLines(line0, this)
                line0 = this
                var width = minWidth
                while this < end, column < lines[this].count - 1 {
                    width = max(width, lines[this][column].unicodeScalars.count + padding)
                    this += 1
                }
                widths.append(width)
                format(line0, this)
                widths.removeLast()
                line0 = this
                this += 1
            }
            writeLines(line0, end)
        }

        format(0, lines.count)
        return out
    }
}
