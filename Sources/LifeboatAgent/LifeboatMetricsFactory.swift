// The bridge from swift-metrics to swift-prometheus that also carries HELP text: Lifeboat's metrics are created
// through the swift-metrics API with this factory, which registers them in a Prometheus registry with the help
// line from the metric catalogue (`AgentMetrics.help`). The only file that imports Prometheus.

import Metrics
import Prometheus
import LifeboatBase
import LifeboatSchedule
import LifeboatRepository

/// A swift-metrics factory over a private `PrometheusCollectorRegistry`, so each agent (and each test) has its
/// own registry and nothing depends on the process-wide `MetricsSystem.bootstrap`.
public struct LifeboatMetricsFactory: MetricsFactory, Sendable {
    private let registry: PrometheusCollectorRegistry
    private let help: @Sendable (String) -> String
    /// Histogram buckets for timers (swift-metrics `Timer`), in seconds of the exposition.
    private let timerBuckets: [Duration]

    /// A factory with a fresh registry.
    ///
    /// - Parameters:
    ///   - timerBuckets: the buckets of every duration histogram.
    ///   - help: the HELP text for a metric name ("" for none).
    public init(timerBuckets: [Duration], help: @escaping @Sendable (String) -> String) {
        registry = PrometheusCollectorRegistry()
        self.help = help
        self.timerBuckets = timerBuckets
    }

    /// Every registered metric in the Prometheus text exposition format (version 0.0.4).
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    private func descriptor(_ label: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: label, unitName: "", helpText: help(label))
    }

    public func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        if aggregate {
            return registry.makeValueHistogram(
                descriptor: descriptor(label), labels: dimensions, buckets: [1, 10, 100, 1_000, 10_000, 100_000])
        }
        return registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: descriptor(label), labels: dimensions)
    }

    public func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: descriptor(label), labels: dimensions, buckets: timerBuckets)
    }

    public func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    public func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }

    public func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    public func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
