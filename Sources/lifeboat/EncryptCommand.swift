// `lifeboat encrypt`: any stream into a Lifeboat archive.

import ArgumentParser
import Foundation
import LifeboatArchive

struct EncryptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encrypt",
        abstract: "Encrypt a file or stream into a Lifeboat archive (AES-256-GCM, zlib where it helps).",
        discussion: """
            Example:
              lifeboat encrypt --key-file backup.key --input vault.snap --output vault.snap.lbk
            """
    )

    @OptionGroup var secrets: SecretOptions

    @Option(help: ArgumentHelp("File to encrypt, or - for standard input.", valueName: "path"))
    var input: String

    @Option(help: ArgumentHelp("Archive to write, or - for standard output. A file appears only when complete.", valueName: "path"))
    var output: String

    @OptionGroup var noCompression: NoCompressionOption

    func run() throws {
        do {
            let secret = try secrets.encryptionSecret()
            let result = try withInput(input) { fd in
                try ArchiveStreams.encrypt(input: fd, inputPath: input, destination: destination(output),
                                           secret: secret, compression: !noCompression.noCompression)
            }
            if output != "-" {
                printStatus("encrypted \(result.plaintextBytes) bytes into \(result.archiveBytes) bytes with key \(result.keyID)")
            }
        } catch {
            throw fail(error)
        }
    }
}

/// Opens `path` for reading (`-` is standard input) for the duration of `body`.
func withInput<R>(_ path: String, _ body: (Int32) throws -> R) throws -> R {
    if path == "-" { return try body(STDIN_FILENO) }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw FileIOError(path: path, operation: "open", code: errno) }
    defer { close(fd) }
    return try body(fd)
}

func destination(_ path: String) -> StreamDestination {
    path == "-" ? .descriptor(STDOUT_FILENO) : .file(path: path)
}

/// A status line on stderr, so stdout stays clean for piped data.
func printStatus(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
