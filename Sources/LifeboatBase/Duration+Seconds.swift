// Durations as fractional seconds, for reports, metrics and progress lines.

extension Duration {
    /// This duration in seconds, with its fraction (for display and metrics, not for arithmetic on deadlines).
    public var secondsValue: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
