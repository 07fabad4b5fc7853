// `lifeboat key generate`: a new random archive key in a 0600 file.

import ArgumentParser
import Foundation
import LifeboatArchive

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage archive keys.",
        subcommands: [Generate.self]
    )

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new random 256-bit key file (mode 0600; never overwrites).",
            discussion: """
                Example:
                  lifeboat key generate --output /etc/lifeboat/backup.key

                Keep a copy of the key away from the backups: without it they cannot be restored.
                """
        )

        @Option(help: ArgumentHelp("Where to write the key file.", valueName: "path"))
        var output: String

        func run() throws {
            let key = ArchiveKey.generate()
            do {
                try key.write(to: output)
            } catch {
                throw fail(error)
            }
            print("wrote key \(key.idString) to \(output) (mode 0600)")
        }
    }
}
