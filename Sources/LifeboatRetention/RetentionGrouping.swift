// RetentionGrouping: which backups form one series for retention (restic's `--group-by`). Lifeboat groups by
// cluster by default, so that backups of several Vault clusters in one destination never thin each other out.

/// How backups are grouped before a policy is applied; the policy applies within each group on its own.
public enum RetentionGrouping: String, Hashable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// One series per cluster (the manifest's cluster name, else its id; backups without either form one series).
    case cluster
    /// Every backup of the destination is one series (Lifeboat before 0.x; only safe with one cluster).
    case none

    public var description: String { rawValue }

    /// Parses `cluster` or `none`; nil otherwise.
    public init?(parsing text: String) {
        self.init(rawValue: text)
    }
}
