// `lifeboat key generate`: a new random archive key in a 0600 file; `lifeboat key id FILE`: the id a key file holds.

import ArgumentParser
import Foundation
import LifeboatArchive

struct KeyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Manage archive keys.",
        subcommands: [Generate.self, ID.self]
    )

    struct ID: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "id",
            abstract: "Print the key id a key file holds (the \"Key id\" `lifeboat show` prints for each backup).",
            discussion: """
                Only the id is printed (16 hex digits), never the key. The file must be a Lifeboat key file with \
                mode 0600 or stricter, as everywhere else.

                Example:
                  lifeboat key id /etc/lifeboat/backup.key
                """
        )

        @Argument(help: ArgumentHelp("The key file.", valueName: "file"))
        var file: String

        func run() throws {
            do {
                print(try ArchiveKey.load(path: file).idString)
            } catch {
                throw fail(error)
            }
        }
    }

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
