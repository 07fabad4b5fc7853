// Errors of the retention planner: invalid policies, invalid durations and inputs the planner refuses.
// Every message names the failing rule or value and says what to do about it.

import LifeboatBase

/// Why a retention policy, a duration or a plan was refused.

public enum RetentionError: Error, Hashable, Sendable, CustomStringConvertible, ExitCodeProviding {
    /// The policy has no active rule. restic would keep every backup here; Lifeboat refuses instead.
    case emptyPolicy
    /// A count rule (e.g. `keep-daily`) was given a negative number other than the "unlimited" convention.
    case negativeCount(rule: String, value: Int)
    /// A keep-within duration has a component outside 0...``RetentionDuration/maximumComponent``.
    case durationOutOfRange(rule: String, duration: RetentionDuration)
    /// A duration string could not be parsed; `problem` says which part is wrong.
    case invalidDuration(input: String, problem: String)
    /// A `keep-tags` entry is an empty list (from a configuration's `[]`); it would match every backup.
    case emptyTagList(index: Int)
    /// A policy document contains a key the policy does not know (probably a typo).
    case unknownPolicyKey(String)
    /// A backup carries a UTC offset outside +-18 hours.
    case invalidUTCOffset(backupID: String, seconds: Int)
    /// A backup's time is not a finite instant within +-100,000 years of 1970.
    case invalidBackupTime(backupID: String)
    /// Two backups share one id; decisions could not be told apart.
    case duplicateBackupID(String)
    /// The policy's rules keep none of the backups (for example a misspelt keep-tags rule). Refused before the
    /// newest-verified rail is applied, so a verified backup cannot make a typo look like a working policy.
    case planRemovesEveryBackup(count: Int)

    /// Policies and plans are refused as usage errors (64); backups the planner cannot place are bad data (65).
    public var exitStatus: ExitStatus {
        switch self {
        case .invalidUTCOffset, .invalidBackupTime, .duplicateBackupID: return .dataError
        default: return .usage
        }
    }

    public var description: String {
        switch self {
        case .emptyPolicy:
            return "retention policy keeps nothing: set at least one of keep-last, keep-hourly, keep-daily, "
                + "keep-weekly, keep-monthly, keep-yearly, keep-within, keep-within-hourly/daily/weekly/monthly/yearly "
                + "or keep-tags (restic keeps everything for an empty policy; Lifeboat refuses it instead)"
        case .negativeCount(let rule, let value):
            return "\(rule) is \(value): a count must be 0 or more, or \"unlimited\" (-1 is accepted as unlimited)"
        case .durationOutOfRange(let rule, let duration):
            return "\(rule) duration \(duration.debugSummary) is out of range: each of y, m, d, h must be between 0 and "
                + "\(RetentionDuration.maximumComponent)"
        case .invalidDuration(let input, let problem):
            return "invalid retention duration \"\(input)\": \(problem); write numbers followed by units y, m, d or h, "
                + "e.g. \"1y2m3d3h\", \"7d\" or \"48h\""
        case .emptyTagList(let index):
            return "keep-tags entry \(index) is an empty list: it would match every backup; "
                + "list the tags a backup must carry, e.g. [\"pre-upgrade\"] (\"\" matches backups without tags)"
        case .unknownPolicyKey(let key):
            return "unknown retention policy key \"\(key)\": known keys are \(RetentionPolicy.knownKeys.joined(separator: ", "))"
        case .invalidUTCOffset(let backupID, let seconds):
            return "backup \(backupID) records a UTC offset of \(seconds) s, outside +-18 h: fix the backup's manifest"
        case .invalidBackupTime(let backupID):
            return "backup \(backupID) records an impossible time: fix the backup's manifest"
        case .duplicateBackupID(let id):
            return "backup id \(id) appears more than once in the listing: list each backup once before planning"
        case .planRemovesEveryBackup(let count):
            return "the retention rules keep none of the \(count) backups: refusing to prune (is a keep-tag misspelt?); "
                + "check the keep-tags rules against `lifeboat list`, or add a keep-last or keep-within rule"
        }
    }
}
