// The version Lifeboat reports in `--version`, manifests and metrics.

/// Lifeboat's release version.
public enum LifeboatVersion {
    public static let current = "0.1.0"
}
