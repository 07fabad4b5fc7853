// Option groups shared by the commands that talk to Vault (VaultOptions: --vault-addr, --token-file, --namespace,
// --ca-cert, --tls-skip-verify, --openbao) and by those that write archives (ArchiveOptions: --compression,
// --chunk-size). A command adds them with one `@OptionGroup` line; ArgumentParser validates each group while it
// parses the command line, the group records its flags in `CommandLineOverrides`, and `RepositoryOptions.context`
// puts them over the configuration like every other flag (docs/configuration.md, "Command-line flags").

import ArgumentParser
import Foundation
import LifeboatConfiguration
import Synchronization

/// The configuration flags recorded by option groups while the command line is parsed (one command per process).
enum CommandLineOverrides {
    private static let recorded = Mutex(ConfigurationOverrides())

    static func record(_ change: (inout ConfigurationOverrides) -> Void) {
        recorded.withLock { change(&$0) }
    }

    /// Fills what `overrides` leaves unset from the recorded group flags (a command's own flags win).
    static func merge(into overrides: inout ConfigurationOverrides) {
        let groups = recorded.withLock { $0 }
        overrides.vaultAddress = overrides.vaultAddress ?? groups.vaultAddress
        overrides.namespace = overrides.namespace ?? groups.namespace
        overrides.caCert = overrides.caCert ?? groups.caCert
        overrides.tlsSkipVerify = overrides.tlsSkipVerify ?? groups.tlsSkipVerify
        overrides.tokenFile = overrides.tokenFile ?? groups.tokenFile
        overrides.openbao = overrides.openbao ?? groups.openbao
        overrides.compression = overrides.compression ?? groups.compression
        overrides.chunkSize = overrides.chunkSize ?? groups.chunkSize
    }
}

/// Where Vault is and how to reach it: the flags Vault's own CLI users expect. No flag takes a token: the token
/// comes from a file (`--token-file`), the environment or the configuration.
struct VaultOptions: ParsableArguments {
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

    func validate() throws {
        let options = self
        CommandLineOverrides.record { overrides in
            overrides.vaultAddress = options.vaultAddress
            overrides.tokenFile = options.tokenFile
            overrides.namespace = options.namespace
            overrides.caCert = options.caCert
            overrides.tlsSkipVerify = options.tlsSkipVerify ? true : nil
            overrides.openbao = options.openbao ? true : nil
        }
    }
}

/// How new archives are written.
struct ArchiveOptions: ParsableArguments {
    @Flag(help: "Deflate each chunk and keep it where it is smaller (backup.compression; the default).")
    var compression = false

    @Option(name: .customLong("chunk-size"), help: ArgumentHelp(
        "Plaintext bytes per encrypted chunk: bytes or a number with KiB / MiB, 1KiB to 16MiB (backup.chunk_size; default 1MiB).",
        valueName: "size"))
    var chunkSize: String?

    func validate() throws {
        var size: Int?
        if let chunkSize {
            guard let bytes = ConfigurationSize.parse(chunkSize) else {
                throw ValidationError("--chunk-size \(chunkSize): expected a size in bytes, e.g. 1048576, 1MiB or 256KiB")
            }
            size = bytes
        }
        let compression = self.compression
        CommandLineOverrides.record { overrides in
            if compression { overrides.compression = true }
            overrides.chunkSize = size
        }
    }
}

/// `--no-compression` for the commands other than `backup` that write archives (`backup` declares its own).
struct NoCompressionOption: ParsableArguments {
    @Flag(name: .customLong("no-compression"), help: "Never deflate chunks (backup.compression: false).")
    var noCompression = false

    func validate() throws {
        if noCompression { CommandLineOverrides.record { $0.compression = false } }
    }
}

/// VaultOptions and ArchiveOptions together, for the commands that take backups (`backup`, `agent`).
struct VaultAndArchiveOptions: ParsableArguments {
    @OptionGroup var vault: VaultOptions
    @OptionGroup var archive: ArchiveOptions
}
