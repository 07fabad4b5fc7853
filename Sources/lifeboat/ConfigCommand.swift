// `lifeboat config check`: validate the configuration and print the effective result with secrets masked;
// `--connect` then tries Vault and every destination.

import ArgumentParser
import Foundation
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Check the configuration.",
        subcommands: [Check.self]
    )

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration file and print the effective configuration, secrets masked.",
            discussion: """
                The file is --config, else $LIFEBOAT_CONFIG, else ./lifeboat.yaml, else /etc/lifeboat/lifeboat.yaml; \
                without one the built-in defaults apply. Environment variables and flags override the file \
                (docs/configuration.md). Every problem is reported at once, with file, line and key, including \
                what the configuration points at (key files, secret files, TLS files).

                With --connect, it then tries Vault (each node's health, the token, and the token's capabilities \
                on the paths policies/lifeboat-backup.hcl grants, plus canaries and same-cluster restore when \
                configured) and each destination (a probe object written, read back and deleted), without taking \
                a backup.

                Exit codes: 0 no error, 78 the configuration has an error, 1 a --connect check failed.

                Example:
                  lifeboat config check --config /etc/lifeboat/lifeboat.yaml --connect
                """
        )

        @Option(help: ArgumentHelp("The configuration file.", valueName: "path"))
        var config: String?

        @Option(name: .customLong("repo"), help: ArgumentHelp("Override the repository (a destination name or a path).", valueName: "path"))
        var repository: String?

        @OptionGroup var cluster: ClusterOption

        @OptionGroup(title: "Vault options") var vault: VaultOptions

        @Flag(help: "Also try Vault and every destination (nothing is backed up; a probe object is written and deleted).")
        var connect = false

        func run() async throws {
            var overrides = ConfigurationOverrides(repository: repository)
            vault.apply(to: &overrides)
            let result: ConfigurationCheckResult
            do {
                result = try ConfigurationCheck.run(loader: ConfigurationLoader(), configFlag: config,
                                                    selection: cluster.selection(allByDefault: true), overrides: overrides)
            } catch {
                throw fail(error)
            }
            printStatus(result.file.map { "configuration: \($0)" } ?? "configuration: none found, built-in defaults")
            if !result.text.isEmpty { print(result.text, terminator: result.text.hasSuffix("\n") ? "" : "\n") }
            for warning in result.warnings { printStatus("\(warning)") }
            for error in result.errors { printStatus("error: \(error)") }
            guard result.isValid, !result.clusters.isEmpty else {
                if connect { printStatus("connection checks skipped: fix the configuration first") }
                throw ExitCode(ExitStatus.configuration.rawValue)
            }
            guard connect else { return }
            var checks: [ConnectionCheckResult] = []
            for loaded in result.clusters {
                if let name = loaded.cluster { print("# cluster \(name)") }
                let found = await ConnectionCheck.run(loaded.configuration, environment: ProcessInfo.processInfo.environment)
                for check in found { print(check) }
                checks += found
            }
            let failed = checks.filter { $0.status == .error }.count
            guard failed == 0 else {
                printStatus("\(failed) connection check\(failed == 1 ? "" : "s") failed")
                throw ExitCode(ExitStatus.failure.rawValue)
            }
        }
    }
}
