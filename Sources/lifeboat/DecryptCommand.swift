// `lifeboat decrypt`: the break-glass tool for an archive copied out of any storage.

import ArgumentParser
import Foundation
import LifeboatArchive

struct DecryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decrypt",
        abstract: "Decrypt a Lifeboat archive; every chunk is authenticated, truncation and tampering are refused.",
        discussion: """
            Example:
              lifeboat decrypt --key-file backup.key --input 20261128T231500Z.lbk --output vault.snap

            With --output FILE, the file appears only after the whole archive authenticated. With --output -,
            authenticated chunks are written as they come and a non-zero exit code means the stream was incomplete.
            """
    )

    @OptionGroup var secrets: SecretOptions

    @Option(help: ArgumentHelp("Archive to read, or - for standard input.", valueName: "path"))
    var input: String

    @Option(help: ArgumentHelp("Where to write the plaintext, or - for standard output.", valueName: "path"))
    var output: String

    func run() throws {
        do {
            let keyRing = try secrets.keyRing()
            let result = try withInput(input) { fd in
                try ArchiveStreams.decrypt(input: fd, inputPath: input, destination: destination(output), keyRing: keyRing)
            }
            if output != "-" {
                printStatus("decrypted \(result.archiveBytes) bytes into \(result.plaintextBytes) bytes (key \(result.keyID))")
            }
        } catch {
            throw fail(error)
        }
    }
}
