// The Vault version vault-sim reports on its API.

public enum VaultSimVersion {
    /// The Vault release whose behaviour vault-sim models.
    public static let vaultVersion = "1.14.3"
}

extension VaultSimVersion {
    /// The build date reported by sys/seal-status.
    public static let buildDate = "2023-09-11T21:23:55Z"
}
