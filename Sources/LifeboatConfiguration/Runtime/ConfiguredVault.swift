// From the configuration to a Vault client: `vault:` (after the file, the environment and flags were applied)
// becomes a VaultClientConfiguration. Secrets are resolved here, at the moment the client is built; file references
// stay files so that a rotated token or secret_id is re-read.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSchedule
import LifeboatVault
import LifeboatRetention
import LifeboatRepository
import LifeboatS3
import LifeboatBackup
import LifeboatRecovery
import LifeboatAgent

extension LifeboatConfiguration.Vault {
    /// The Vault client settings for this configuration.
    ///
    /// Without any `auth` (no method, no credentials in the file or the environment) Vault's own convention
    /// applies: `$BAO_TOKEN_PATH`, else `~/.vault-token` when it exists, else no token.
    /// - Parameters:
    ///   - environment: where `env:` references (and the `~/.vault-token` fallback's HOME) are read from.
    ///   - firstByteTimeout: how long the leader may take before the first snapshot byte (not in the file).
    /// - Throws: ``ConfigurationError`` for an unusable secret, `VaultError` for an unusable address or TLS pair.
    public func clientConfiguration(
        environment: [String: String], firstByteTimeout: Duration? = nil
    ) throws -> VaultClientConfiguration {
        var timeouts = VaultClientConfiguration.Timeouts()
        timeouts.request = self.timeouts.request
        timeouts.snapshotTotal = self.timeouts.snapshot
        timeouts.snapshotStall = self.timeouts.stall
        timeouts.restoreTotal = self.timeouts.snapshot
        if let firstByteTimeout { timeouts.snapshotFirstByte = firstByteTimeout }
        let tls = VaultClientConfiguration.TLS(
            caCertFile: self.tls.caCert, caPath: self.tls.caPath, clientCertFile: self.tls.clientCert,
            clientKeyFile: self.tls.clientKey, serverName: self.tls.serverName, skipVerify: self.tls.skipVerify)
        return try VaultClientConfiguration(
            addresses: allAddresses, authentication: try authentication(environment: environment), tls: tls,
            namespace: namespace, timeouts: timeouts)
    }

    private func authentication(environment: [String: String]) throws -> VaultClientConfiguration.Authentication {
        let resolver = SecretResolver(environment: environment)
        func source(_ reference: SecretReference, _ keyPath: String) throws -> VaultCredentialSource {
            if case .file(let path) = reference {
                _ = try resolver.resolve(reference, keyPath: keyPath)  // checks existence and permissions now
                return .file(path)
            }
            return .value(VaultSecret(try resolver.resolve(reference, keyPath: keyPath).exposedValue))
        }
        switch auth.effectiveMethod {
        case .token:
            guard let token = auth.token else {
                throw ConfigurationError(keyPath: "vault.auth.token", message: "method token needs `token` (env:NAME or file:/path)")
            }
            if case .file(let path) = token { return .tokenFile(path) }
            return .token(VaultSecret(try resolver.resolve(token, keyPath: "vault.auth.token").exposedValue))
        case .tokenFile:
            guard let file = auth.tokenFile else {
                throw ConfigurationError(keyPath: "vault.auth.token_file", message: "method token_file needs `token_file`")
            }
            return .tokenFile(file)
        case .agentSink:
            guard let sink = auth.sinkPath else {
                throw ConfigurationError(keyPath: "vault.auth.sink_path", message: "method agent_sink needs `sink_path`")
            }
            return .agentSink(sink)
        case .approle:
            guard let roleID = auth.roleID else {
                throw ConfigurationError(keyPath: "vault.auth.role_id", message: "method approle needs `role_id`")
            }
            return .appRole(.init(
                mountPath: auth.mount, roleID: try source(roleID, "vault.auth.role_id"),
                secretID: try auth.secretID.map { try source($0, "vault.auth.secret_id") }))
        case nil:
            let path: String
            if let tokenPath = environment["BAO_TOKEN_PATH"], !tokenPath.isEmpty {
                path = tokenPath
            } else {
                path = LifeboatConfiguration.homeDirectory(environment) + "/.vault-token"
            }
            return FileManager.default.fileExists(atPath: path) ? .tokenFile(path) : .none
        }
    }
}
