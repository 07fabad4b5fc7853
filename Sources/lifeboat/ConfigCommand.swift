// `lifeboat config check`: validate the configuration and print the effective result with secrets masked.

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

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate the configuration file and print the effective configuration, secrets masked.",
            discussion: """
                The file is --config, else $LIFEBOAT_CONFIG, else ./lifeboat.yaml, else /etc/lifeboat/lifeboat.yaml; \
                without one the built-in defaults apply. Environment variables and flags override the file \
                (docs/configuration.md). Every problem is reported with file, line and key; exit 78 when any is an error.

                Example:
                  lifeboat config check --config /etc/lifeboat/lifeboat.yaml
                """
        )

        @Option(help: ArgumentHelp("The configuration file.", valueName: "path"))
        var config: String?

        @Option(name: .customLong("repo"), help: ArgumentHelp("Override the repository (a destination name or a path).", valueName: "path"))
        var repository: String?

        func run() throws {
            let result = ConfigurationCheck.run(loader: ConfigurationLoader(), configFlag: config,
                                                overrides: ConfigurationOverrides(repository: repository))
            printStatus(result.file.map { "configuration: \($0)" } ?? "configuration: none found, built-in defaults")
            if !result.text.isEmpty { print(result.text, terminator: result.text.hasSuffix("\n") ? "" : "\n") }
            for warning in result.warnings { printStatus("\(warning)") }
            for error in result.errors { printStatus("error: \(error)") }
            guard result.isValid else { throw ExitCode(ExitStatus.configuration.rawValue) }
        }
    }
}
