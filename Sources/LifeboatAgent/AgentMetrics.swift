// Lifeboat's metric catalogue and the one place that records them. Every metric the agent exports is named and
// described here (docs/metrics.md mirrors this list). Labels are bounded: configured cluster, group, destination and
// job names, and the closed failure-reason set; never a path, a backup id or a leader address.

import Foundation
import Metrics
import LifeboatArchive
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// The agent's metrics, recorded through swift-metrics into a private Prometheus registry.
public final class AgentMetrics: Sendable {
    /// Metric names and their HELP text.
    public enum Name {
        public static let buildInfo = "lifeboat_build_info"
        public static let backupLastSuccess = "lifeboat_backup_last_success_timestamp_seconds"
        public static let backupLastAttempt = "lifeboat_backup_last_attempt_timestamp_seconds"
        public static let backupLastResult = "lifeboat_backup_last_result"
        public static let backupDuration = "lifeboat_backup_duration_seconds"
        public static let backupLastDuration = "lifeboat_backup_last_duration_seconds"
        public static let backupBytes = "lifeboat_backup_bytes"
        public static let backupFailures = "lifeboat_backup_failures_total"
        public static let backupNotLeader = "lifeboat_backup_skipped_not_leader_total"
        public static let backupsStored = "lifeboat_backups_stored"
        public static let retentionFailures = "lifeboat_retention_failures_total"
        public static let nextRun = "lifeboat_next_run_timestamp_seconds"
        public static let verifyLastResult = "lifeboat_verify_last_result"
        public static let verifyLastTimestamp = "lifeboat_verify_last_timestamp_seconds"
        public static let drillLastResult = "lifeboat_drill_last_result"
        public static let drillLastTimestamp = "lifeboat_drill_last_timestamp_seconds"
        public static let ticksSkipped = "lifeboat_ticks_skipped_total"
        public static let webhookFailures = "lifeboat_webhook_failures_total"
        public static let configReloads = "lifeboat_config_reloads_total"
    }

    /// HELP text per metric name.
    public static let help: [String: String] = [
        Name.buildInfo: "Lifeboat build information; always 1.",
        Name.backupLastSuccess: "Unix time of the last successful backup of each backup schedule.",
        Name.backupLastAttempt: "Unix time of the last finished backup attempt of each backup schedule.",
        Name.backupLastResult: "1 if the last backup of each backup schedule succeeded, 0 if it failed.",
        Name.backupDuration: "Duration of backup runs (snapshot, upload and retention) in seconds.",
        Name.backupLastDuration: "Duration of the last backup run in seconds.",
        Name.backupBytes: "Size of the last successful backup: kind=original is the Vault snapshot, kind=stored the archive.",
        Name.backupFailures: "Failed backup runs by bounded reason.",
        Name.backupNotLeader: "Backup runs skipped because this node was not the leader (--only-if-leader).",
        Name.backupsStored: "Backups kept on each destination after the last retention pass.",
        Name.retentionFailures: "Retention passes that failed, per destination.",
        Name.nextRun: "Unix time of the next scheduled run of each job.",
        Name.verifyLastResult: "1 if the last verification passed, 0 if it failed.",
        Name.verifyLastTimestamp: "Unix time the last verification finished.",
        Name.drillLastResult: "1 if the last disaster-recovery drill passed, 0 if it failed.",
        Name.drillLastTimestamp: "Unix time the last disaster-recovery drill finished.",
        Name.ticksSkipped: "Scheduled runs skipped because the previous run of the same kind was still running.",
        Name.webhookFailures: "Webhook notifications that could not be delivered after all retries.",
        Name.configReloads: "Configuration reloads (SIGHUP) by result.",
    ]

    /// Buckets of `lifeboat_backup_duration_seconds`: one second to two hours.
    public static let durationBuckets: [Duration] = [1, 5, 15, 30, 60, 120, 300, 600, 1_800, 3_600, 7_200].map { .seconds($0) }

    /// The factory; `exposition()` renders /metrics.
    public let factory: LifeboatMetricsFactory
    /// The fleet cluster these metrics describe: added as the first label, `cluster="NAME"`, to every series but
    /// `lifeboat_build_info`; nil for a single-cluster agent (no `cluster` label at all).
    public let cluster: String?
    /// swift-metrics handles are cached so repeated lookups do not re-register (the registry would return the
    /// same collector anyway; this keeps the hot path allocation-free). Shared by the clusters of one registry.
    private let handles: Handles
    private let timer: Metrics.Timer

    private final class Handles: Sendable {
        let gauges = PThreadLocked<[String: Gauge]>([:])
        let counters = PThreadLocked<[String: Counter]>([:])
    }

    /// Fresh metrics with `lifeboat_build_info{version}` set and every failure reason at zero (so that
    /// `increase()` sees the first failure).
    public convenience init(version: String = LifeboatVersion.current) {
        self.init(factory: LifeboatMetricsFactory(timerBuckets: Self.durationBuckets, help: { Self.help[$0] ?? "" }),
                  handles: Handles(), cluster: nil, version: version)
    }

    /// One registry for a fleet: the metrics of each cluster, in the order given, every series labelled with its
    /// cluster; `lifeboat_build_info` once. Any of them renders the whole registry.
    public static func fleet(clusters: [String], version: String = LifeboatVersion.current) -> [AgentMetrics] {
        let factory = LifeboatMetricsFactory(timerBuckets: Self.durationBuckets, help: { Self.help[$0] ?? "" })
        let handles = Handles()
        return clusters.enumerated().map { index, cluster in
            AgentMetrics(factory: factory, handles: handles, cluster: cluster, version: index == 0 ? version : nil)
        }
    }

    private init(factory: LifeboatMetricsFactory, handles: Handles, cluster: String?, version: String?) {
        self.factory = factory
        self.handles = handles
        self.cluster = cluster
        timer = Metrics.Timer(label: Name.backupDuration, dimensions: cluster.map { [("cluster", $0)] } ?? [], factory: factory)
        if let version { gauge(Name.buildInfo, [("version", version)]).record(1) }
        for reason in AgentFailureReason.allCases {
            counter(Name.backupFailures, [("reason", reason.rawValue)]).increment(by: 0)
        }
        counter(Name.backupNotLeader, []).increment(by: 0)
        counter(Name.webhookFailures, []).increment(by: 0)
        for kind in ["backup", "verify", "drill"] {
            counter(Name.ticksSkipped, [("job", kind)]).increment(by: 0)
        }
        for result in ["success", "failure"] {
            counter(Name.configReloads, [("result", result)]).increment(by: 0)
        }
    }

    /// The Prometheus text exposition of every metric.
    public func exposition() -> [UInt8] { factory.exposition() }

    // MARK: Recording

    /// A backup run finished successfully for `groups`.
    func backupSucceeded(groups: [String], at date: Date, duration: Duration, outcome: BackupOutcome) {
        timer.record(duration: duration)
        gauge(Name.backupLastDuration, []).record(Self.seconds(duration))
        for group in groups {
            gauge(Name.backupLastAttempt, [("group", group)]).record(date.timeIntervalSince1970)
            gauge(Name.backupLastResult, [("group", group)]).record(1)
            if outcome.status == .stored {
                gauge(Name.backupLastSuccess, [("group", group)]).record(date.timeIntervalSince1970)
            }
        }
        if outcome.status == .stored {
            gauge(Name.backupBytes, [("kind", "original")]).record(Double(outcome.originalBytes))
            gauge(Name.backupBytes, [("kind", "stored")]).record(Double(outcome.storedBytes))
        } else {
            counter(Name.backupNotLeader, []).increment()
        }
    }

    /// A backup run failed for `groups`.
    func backupFailed(groups: [String], at date: Date, duration: Duration, reason: AgentFailureReason) {
        timer.record(duration: duration)
        gauge(Name.backupLastDuration, []).record(Self.seconds(duration))
        counter(Name.backupFailures, [("reason", reason.rawValue)]).increment()
        for group in groups {
            gauge(Name.backupLastAttempt, [("group", group)]).record(date.timeIntervalSince1970)
            gauge(Name.backupLastResult, [("group", group)]).record(0)
        }
    }

    /// Restores the last-success gauge from the state file at start-up, so a restart does not lose it.
    func restoreLastSuccess(group: String, at date: Date) {
        gauge(Name.backupLastSuccess, [("group", group)]).record(date.timeIntervalSince1970)
    }

    func retentionApplied(destination: String, kept: Int) {
        gauge(Name.backupsStored, [("destination", destination)]).record(Double(kept))
    }

    func retentionFailed(destination: String) {
        counter(Name.retentionFailures, [("destination", destination)]).increment()
    }

    func nextRun(job: String, at date: Date?) {
        gauge(Name.nextRun, [("job", job)]).record(date?.timeIntervalSince1970 ?? 0)
    }

    func verifyFinished(passed: Bool, at date: Date) {
        gauge(Name.verifyLastResult, []).record(passed ? 1 : 0)
        gauge(Name.verifyLastTimestamp, []).record(date.timeIntervalSince1970)
    }

    func drillFinished(passed: Bool, at date: Date) {
        gauge(Name.drillLastResult, []).record(passed ? 1 : 0)
        gauge(Name.drillLastTimestamp, []).record(date.timeIntervalSince1970)
    }

    func tickSkipped(kind: String) {
        counter(Name.ticksSkipped, [("job", kind)]).increment()
    }

    func webhookFailed() {
        counter(Name.webhookFailures, []).increment()
    }

    func configReloaded(success: Bool) {
        counter(Name.configReloads, [("result", success ? "success" : "failure")]).increment()
    }

    // MARK: Handles

    private static func key(_ name: String, _ labels: [(String, String)]) -> String {
        ([name] + labels.map { "\($0.0)=\($0.1)" }).joined(separator: "\u{1F}")
    }

    /// `labels` with this cluster's label first (none on `lifeboat_build_info`, which describes the process).
    private func labelled(_ name: String, _ labels: [(String, String)]) -> [(String, String)] {
        guard let cluster, name != Name.buildInfo else { return labels }
        return [("cluster", cluster)] + labels
    }

    private func gauge(_ name: String, _ labels: [(String, String)]) -> Gauge {
        let labels = labelled(name, labels)
        return handles.gauges.withLock { cache in
            let key = Self.key(name, labels)
            if let gauge = cache[key] { return gauge }
            let gauge = Gauge(label: name, dimensions: labels, factory: factory)
            cache[key] = gauge
            return gauge
        }
    }

    private func counter(_ name: String, _ labels: [(String, String)]) -> Counter {
        let labels = labelled(name, labels)
        return handles.counters.withLock { cache in
            let key = Self.key(name, labels)
            if let counter = cache[key] { return counter }
            let counter = Counter(label: name, dimensions: labels, factory: factory)
            cache[key] = counter
            return counter
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        duration.secondsValue
    }
}
