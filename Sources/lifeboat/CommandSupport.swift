// Shared pieces of the subcommands: secret options, error reporting with exit codes.

import ArgumentParser
import Foundation
import LifeboatArchive
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

/// Prints `error` as one line on stderr and exits with its documented code.
func fail(_ error: any Error) -> ExitCode {
    let message = String(describing: error)
    FileHandle.standardError.write(Data("lifeboat: error: \(message)\n".utf8))
    return ExitCode(ExitStatus.forError(error).rawValue)
}

/// Hook flags (`--reset-command`, `--create-command`, ...): each value is one shell line, run with `sh -c`. Their
/// placeholders are checked as the configuration's hooks are: `{node}` and `{api_addr}` where the hook runs per
/// node, none where it runs once; anything else is refused before anything runs.
func shellHooks(_ commands: [String], flag: String, placeholders: [String] = HookPlaceholders.perNode) throws -> [[String]] {
    for command in commands {
        if let unknown = HookPlaceholders.unknown(in: command, allowed: placeholders).first {
            let allowed = placeholders.isEmpty ? "it runs once, so no placeholders are available" : "use \(placeholders.joined(separator: " or "))"
            throw UsageError(description: "unknown placeholder \(unknown) in \(flag) \"\(command)\": \(allowed)")
        }
    }
    return commands.map { ["sh", "-c", $0] }
}

/// A problem with the options themselves, reported as a usage error.
struct UsageError: Error, ExitCodeProviding, CustomStringConvertible {
    let description: String
    var exitStatus: ExitStatus { .usage }
}

/// Options naming the secrets that encrypt or decrypt archives. Secrets never come from the command line.
struct SecretOptions: ParsableArguments {
    @Option(name: .customLong("key-file"), help: ArgumentHelp(
        "Key file (from `lifeboat key generate`). Repeat to decrypt with any of several keys; the first one encrypts.",
        valueName: "path"))
    var keyFiles: [String] = []

    @Option(name: .customLong("recipient"), help: ArgumentHelp(
        "Encrypt to this X25519 recipient: a `lifeboat-recipient-1:` line or a file holding one (from `lifeboat key generate --recipient`). Repeatable; replaces keys.recipients. Decrypting needs an identity file given with --key-file.",
        valueName: "recipient"))
    var recipients: [String] = []

    @Option(name: .customLong("passphrase-env"), help: ArgumentHelp(
        "Name of an environment variable holding the passphrase (instead of a key file).", valueName: "name"))
    var passphraseEnv: String?

    @Option(name: .customLong("passphrase-file"), help: ArgumentHelp(
        "File holding the passphrase on its first line (mode 0600).", valueName: "path"))
    var passphraseFile: String?

    /// Puts these flags over the configuration's `keys`.
    func apply(to overrides: inout ConfigurationOverrides) throws {
        if passphraseEnv != nil && passphraseFile != nil {
            throw UsageError(description: "give --passphrase-env or --passphrase-file, not both")
        }
        overrides.keyFiles = keyFiles
        overrides.recipients = recipients
        if let passphraseEnv { overrides.passphrase = .environment(passphraseEnv) }
        if let passphraseFile { overrides.passphrase = .file(passphraseFile) }
    }

    /// The keys named by these flags alone (for `encrypt` and `decrypt`, which read no configuration).
    func keys() throws -> LifeboatConfiguration.Keys {
        var overrides = ConfigurationOverrides()
        try apply(to: &overrides)
        return LifeboatConfiguration.Keys(keyFiles: overrides.keyFiles, passphrase: overrides.passphrase, recipients: overrides.recipients)
    }

    func keyRing() throws -> KeyRing {
        try keys().keyRing(environment: ProcessInfo.processInfo.environment)
    }

    func encryptionSecret() throws -> EncryptionSecret {
        let keys = try keys()
        if keys.recipients.isEmpty && !keys.keyFiles.isEmpty && keys.passphrase != nil {
            throw UsageError(description: "encrypt with a key file or a passphrase, not both")
        }
        return try keys.encryptionSecret(environment: ProcessInfo.processInfo.environment)
    }
}
