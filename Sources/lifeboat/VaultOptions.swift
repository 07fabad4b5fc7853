// Option groups shared by the commands that talk to Vault (VaultOptions: --vault-addr, --token-file, --namespace,
// --ca-cert, --tls-skip-verify, --openbao) and by those that write archives (ArchiveOptions: --compression,
// --chunk-size). A command adds them with an `@OptionGroup` line and hands them to `RepositoryOptions.context(flags:)`,
// which puts them over the configuration like every other flag (docs/configuration.md, "Command-line flags"); a
// command's own flags win.

import ArgumentParser
import Foundation
import LifeboatConfiguration

/// An option group whose flags override the configuration.
protocol ConfigurationFlags {
    /// Sets what these flags give where `overrides` leaves it unset (a command's own flags win).
    func apply(to overrides: inout ConfigurationOverrides)
}

/// Where Vault is and how to reach it: the flags Vault's own CLI users expect. No flag takes a token: the token
/// comes from a file (`--token-file`), the environment or the configuration.
struct VaultOptions: ParsableArguments, ConfigurationFlags {
    @Option(name: .customLong("vault-addr"), help: ArgumentHelp(
        "The local Vault node's address, http(s)://host:port (vault.address; default $VAULT_ADDR).", valueName: "url"))
    var vaultAddress: String?

    @Option(name: .customLong("token-file"), help: ArgumentHelp(
        "Authenticate with the token in this file (mode 0600), e.g. ~/.vault-token; replaces vault.auth.", valueName: "path"))
    var tokenFile: String?

    @Option(help: ArgumentHelp("The Vault Enterprise namespace (vault.namespace; default $VAULT_NAMESPACE).", valueName: "namespace"))
    var namespace: String?

    @Option(name: .customLong("ca-cert"), help: ArgumentHelp(
        "PEM file of the CA that signed Vault's certificate (vault.tls.ca_cert; default $VAULT_CACERT).", valueName: "path"))
    var caCert: String?

    @Flag(name: .customLong("tls-skip-verify"), help: "Do not verify Vault's certificate (vault.tls.skip_verify; never in production).")
    var tlsSkipVerify = false

    @Flag(help: "The cluster is OpenBao: messages name OpenBao and `bao` (vault.openbao).")
    var openbao = false

    func apply(to overrides: inout ConfigurationOverrides) {
        overrides.vaultAddress = overrides.vaultAddress ?? vaultAddress
        overrides.tokenFile = overrides.tokenFile ?? tokenFile
        overrides.namespace = overrides.namespace ?? namespace
        overrides.caCert = overrides.caCert ?? caCert
        overrides.tlsSkipVerify = overrides.tlsSkipVerify ?? (tlsSkipVerify ? true : nil)
        overrides.openbao = overrides.openbao ?? (openbao ? true : nil)
    }
}

/// How new archives are written.
struct ArchiveOptions: ParsableArguments, ConfigurationFlags {
    @Flag(help: "Deflate each chunk and keep it where it is smaller (backup.compression; the default).")
    var compression = false

    @Option(name: .customLong("chunk-size"), help: ArgumentHelp(
        "Plaintext bytes per encrypted chunk: bytes or a number with KiB / MiB, 1KiB to 16MiB (backup.chunk_size; default 1MiB).",
        valueName: "size"))
    var chunkSize: String?

    func validate() throws {
        if let chunkSize, ConfigurationSize.parse(chunkSize) == nil {
            throw ValidationError("--chunk-size \(chunkSize): expected a size in bytes, e.g. 1048576, 1MiB or 256KiB")
        }
    }

    func apply(to overrides: inout ConfigurationOverrides) {
        overrides.compression = overrides.compression ?? (compression ? true : nil)
        overrides.chunkSize = overrides.chunkSize ?? chunkSize.flatMap(ConfigurationSize.parse)
    }
}

/// `--no-compression` for every command that writes archives (`backup`, `agent`, `import`, `encrypt`).
struct NoCompressionOption: ParsableArguments, ConfigurationFlags {
    @Flag(name: .customLong("no-compression"), help: "Never deflate chunks (backup.compression: false).")
    var noCompression = false

    func apply(to overrides: inout ConfigurationOverrides) {
        if noCompression { overrides.compression = overrides.compression ?? false }
    }
}

/// VaultOptions and ArchiveOptions together, for the commands that take backups (`backup`, `agent`).
struct VaultAndArchiveOptions: ParsableArguments, ConfigurationFlags {
    @OptionGroup var vault: VaultOptions
    @OptionGroup var archive: ArchiveOptions

    func apply(to overrides: inout ConfigurationOverrides) {
        vault.apply(to: &overrides)
        archive.apply(to: &overrides)
    }
}
