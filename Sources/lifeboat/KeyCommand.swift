// `lifeboat key generate`: a new random archive key in a 0600 file, or with --recipient an X25519 key pair (identity
// file 0600, public key as one line); `lifeboat key id FILE`: the id a key file holds, or an identity's recipient.

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
                switch try DecryptionKeyFile.load(path: file) {
                case .key(let key): print(key.idString)
                case .identity(let identity): print("\(identity.recipient)  (recipient id \(identity.recipient.idString))")
                }
            } catch {
                throw fail(error)
            }
        }
    }

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new random 256-bit key file (mode 0600; never overwrites).",
            discussion: """
                With --recipient: an X25519 key pair instead. The identity (private key) goes to --output (mode 0600) \
                and the recipient (public key, one line) to --output with `.pub` appended, and is printed. Give the \
                backup host only the recipient (keys.recipients or --recipient): it can then encrypt backups but not \
                read them; keep the identity offline and give it with --key-file to verify, restore or drill.

                Example:
                  lifeboat key generate --output /etc/lifeboat/backup.key
                  lifeboat key generate --recipient --output /secure/lifeboat-identity

                Keep a copy of the key away from the backups: without it they cannot be restored.
                """
        )

        @Option(help: ArgumentHelp("Where to write the key file.", valueName: "path"))
        var output: String

        @Flag(help: "Generate an X25519 key pair (identity and recipient) for public-key encryption.")
        var recipient = false

        func run() throws {
            if recipient {
                do {
                    let identity = try RecipientIdentity.generate()
                    try identity.write(to: output)
                    let publicPath = output + ".pub"
                    let fd = open(publicPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
                    guard fd >= 0 else {
                        unlink(output)
                        throw KeyFileError.unwritable(path: publicPath, detail: String(cString: strerror(errno)))
                    }
                    defer { close(fd) }
                    try FileDescriptorIO.writeAll(fd, Array("\(identity.recipient)\n".utf8))
                    printStatus("wrote identity to \(output) (mode 0600) and recipient to \(publicPath)")
                    print(identity.recipient)
                } catch {
                    throw fail(error)
                }
                return
            }
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
