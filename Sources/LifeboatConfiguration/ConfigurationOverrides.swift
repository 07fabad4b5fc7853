// Command-line flags over everything else: the CLI fills a ConfigurationOverrides from its flags and the loader
// applies it last. Also the shared `--repo` / LIFEBOAT_REPO and `--destination` selection logic.

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

/// Values given on the command line; nil (or empty for lists) means "flag not given". Applied after the file
/// and the environment, so a flag always wins. The flag names in the comments are the ones recorded as origins
/// and documented in docs/configuration.md.
public struct ConfigurationOverrides: Sendable, Equatable {
    /// `--vault-addr`: the local node's address.
    public var vaultAddress: String?
    /// `--namespace`.
    public var namespace: String?
    /// `--ca-cert`.
    public var caCert: String?
    /// `--tls-skip-verify`.
    public var tlsSkipVerify: Bool?
    /// `--token-file`: authenticate with this token file (method token_file).
    public var tokenFile: String?
    /// `--repo`: a configured destination's name, or a local repository directory that replaces the destinations.
    public var repository: String?
    /// `--destination` (repeatable): use only these configured destinations.
    public var destinations: [String]
    /// `--key-file` (repeatable): replaces `keys.key_files`.
    public var keyFiles: [String]
    /// `--passphrase-env NAME` / `--passphrase-file PATH`: replaces `keys.passphrase`.
    public var passphrase: SecretReference?
    /// `--recipient` (repeatable): replaces `keys.recipients`.
    public var recipients: [String] = []
    /// `--only-if-leader`.
    public var onlyIfLeader: Bool?
    /// `--tag` (repeatable): added to `backup.tags` for this run.
    public var tags: [String]
    /// `--compression` / `--no-compression`.
    public var compression: Bool?
    /// `--chunk-size`.
    public var chunkSize: Int?
    /// `--listen`.
    public var listen: String?
    /// `--log-format`.
    public var logFormat: LifeboatConfiguration.LogFormat?
    /// `--time-zone`.
    public var timeZone: String?
    /// `--unseal-keys-file`.
    public var unsealKeysFile: String?
    /// `--openbao`.
    public var openbao: Bool?

    public init(
        vaultAddress: String? = nil, namespace: String? = nil, caCert: String? = nil, tlsSkipVerify: Bool? = nil,
        tokenFile: String? = nil, repository: String? = nil, destinations: [String] = [], keyFiles: [String] = [],
        passphrase: SecretReference? = nil, onlyIfLeader: Bool? = nil, tags: [String] = [], compression: Bool? = nil,
        chunkSize: Int? = nil, listen: String? = nil, logFormat: LifeboatConfiguration.LogFormat? = nil,
        timeZone: String? = nil, unsealKeysFile: String? = nil, openbao: Bool? = nil
    ) {
        self.vaultAddress = vaultAddress
        self.namespace = namespace
        self.caCert = caCert
        self.tlsSkipVerify = tlsSkipVerify
        self.tokenFile = tokenFile
        self.repository = repository
        self.destinations = destinations
        self.keyFiles = keyFiles
        self.passphrase = passphrase
        self.onlyIfLeader = onlyIfLeader
        self.tags = tags
        self.compression = compression
        self.chunkSize = chunkSize
        self.listen = listen
        self.logFormat = logFormat
        self.timeZone = timeZone
        self.unsealKeysFile = unsealKeysFile
        self.openbao = openbao
    }

    /// The flags given that describe one cluster (its Vault, destinations, keys, unseal keys): refused when a
    /// fleet agent runs several clusters, where they would point every cluster at the same thing.
    public var clusterFlags: [String] {
        let given: [(String, Bool)] = [
            ("--vault-addr", vaultAddress != nil), ("--namespace", namespace != nil), ("--ca-cert", caCert != nil),
            ("--tls-skip-verify", tlsSkipVerify != nil), ("--token-file", tokenFile != nil), ("--openbao", openbao != nil),
            ("--repo", repository != nil), ("--destination", !destinations.isEmpty), ("--key-file", !keyFiles.isEmpty),
            ("--passphrase-env/--passphrase-file", passphrase != nil), ("--recipient", !recipients.isEmpty),
            ("--unseal-keys-file", unsealKeysFile != nil),
        ]
        return given.filter(\.1).map(\.0)
    }

    /// Applies the flags to `loaded` (relative paths are taken relative to `currentDirectory`).
    /// - Returns: problems with the flags (an unknown `--destination`, say).
    func apply(to loaded: inout LoadedConfiguration, currentDirectory: String) -> [ConfigurationIssue] {
        var issues: [ConfigurationIssue] = []
        func absolute(_ path: String) -> String { ConfigurationPaths.absolute(path, relativeTo: currentDirectory) }

        if let vaultAddress {
            loaded.set("vault.address", .flag("--vault-addr")) { $0.vault.address = vaultAddress }
        }
        if let namespace { loaded.set("vault.namespace", .flag("--namespace")) { $0.vault.namespace = namespace } }
        if let caCert { loaded.set("vault.tls.ca_cert", .flag("--ca-cert")) { $0.vault.tls.caCert = absolute(caCert) } }
        if let tlsSkipVerify {
            loaded.set("vault.tls.skip_verify", .flag("--tls-skip-verify")) { $0.vault.tls.skipVerify = tlsSkipVerify }
        }
        if let tokenFile {
            let mount = loaded.configuration.vault.auth.mount
            loaded.replaceAuth(.init(method: .tokenFile, tokenFile: absolute(tokenFile), mount: mount), origin: .flag("--token-file"))
            loaded.origins["vault.auth.token_file"] = .flag("--token-file")
        }
        if let openbao { loaded.set("vault.openbao", .flag("--openbao")) { $0.vault.openbao = openbao } }
        if let repository {
            issues += Self.selectRepository(repository, origin: .flag("--repo"), in: &loaded, currentDirectory: currentDirectory)
        }
        if !destinations.isEmpty {
            issues += Self.restrict(to: destinations, in: &loaded)
        }
        if !keyFiles.isEmpty {
            loaded.set("keys.key_files", .flag("--key-file")) { $0.keys.keyFiles = keyFiles.map(absolute) }
        }
        if let passphrase {
            loaded.set("keys.passphrase", .flag("--passphrase")) { $0.keys.passphrase = passphrase }
        }
        if !recipients.isEmpty {
            loaded.set("keys.recipients", .flag("--recipient")) { $0.keys.recipients = recipients }
        }
        if let onlyIfLeader {
            loaded.set("backup.only_if_leader", .flag("--only-if-leader")) { $0.backup.onlyIfLeader = onlyIfLeader }
        }
        if !tags.isEmpty {
            loaded.set("backup.tags", .flag("--tag")) { configuration in
                for tag in tags where !configuration.backup.tags.contains(tag) { configuration.backup.tags.append(tag) }
            }
        }
        if let compression { loaded.set("backup.compression", .flag("--compression")) { $0.backup.compression = compression } }
        if let chunkSize { loaded.set("backup.chunk_size", .flag("--chunk-size")) { $0.backup.chunkSize = chunkSize } }
        if let listen { loaded.set("agent.listen", .flag("--listen")) { $0.agent.listen = listen } }
        if let logFormat { loaded.set("agent.log_format", .flag("--log-format")) { $0.agent.logFormat = logFormat } }
        if let timeZone { loaded.set("agent.time_zone", .flag("--time-zone")) { $0.agent.timeZone = timeZone } }
        if let unsealKeysFile {
            loaded.set("restore.unseal_keys_file", .flag("--unseal-keys-file")) {
                $0.restore.unsealKeysFile = absolute(unsealKeysFile)
            }
        }
        return issues
    }

    /// `--repo` / LIFEBOAT_REPO: the name of a configured destination selects it alone; anything else is a local
    /// repository directory that replaces the configured destinations (with no retention and no own schedule).
    static func selectRepository(
        _ value: String, origin: ConfigurationOrigin, in loaded: inout LoadedConfiguration, currentDirectory: String
    ) -> [ConfigurationIssue] {
        if loaded.configuration.destination(named: value) != nil {
            return restrict(to: [value], in: &loaded, origin: origin)
        }
        let path = ConfigurationPaths.absolute(value, relativeTo: currentDirectory)
        loaded.replaceDestinations(
            [.init(name: LifeboatConfiguration.Destination.defaultName, storage: .local(.init(path: path)))], origin: origin)
        return []
    }

    /// Keeps only the named destinations, in the order given.
    static func restrict(
        to names: [String], in loaded: inout LoadedConfiguration, origin: ConfigurationOrigin = .flag("--destination")
    ) -> [ConfigurationIssue] {
        let configured = loaded.configuration.destinations.map(\.name)
        var indices: [Int] = []
        var issues: [ConfigurationIssue] = []
        for name in names {
            guard let index = configured.firstIndex(of: name) else {
                issues.append(ConfigurationIssue(
                    keyPath: "destinations",
                    message: "there is no destination named `\(name)`; configured: \(configured.joined(separator: ", "))",
                    suggestion: KeySuggestion.nearest(to: name, in: configured), origin: origin))
                continue
            }
            if !indices.contains(index) { indices.append(index) }
        }
        if issues.isEmpty { loaded.keepDestinations(at: indices) }
        return issues
    }
}
