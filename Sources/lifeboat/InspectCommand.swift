// `lifeboat inspect`: verify a Vault snapshot file offline and report it like `vault operator raft snapshot inspect`.

import ArgumentParser
import Foundation
import LifeboatSnapshot

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Verify a Vault raft snapshot file completely and show its metadata and key statistics.",
        discussion: """
            Works offline. Every check a restore depends on is made first (gzip trailer, tar members and order, \
            SHA256SUMS, meta.json, state.bin framing, SHA256SUMS.sealed present); a failing check exits 65.

            Example:
              lifeboat inspect vault.snap --depth 2
              lifeboat inspect vault.snap --json
            """
    )

    @Argument(help: ArgumentHelp("The snapshot file (.snap), as saved by `vault operator raft snapshot save`.", valueName: "file"))
    var file: String

    @Option(help: "Group keys by this many leading path segments (0: whole keys).")
    var depth = 2

    @Option(help: "Count only keys starting with this prefix.")
    var filter = ""

    @Flag(help: "Print Vault's JSON form instead of the table.")
    var json = false

    func validate() throws {
        guard depth >= 0 else { throw ValidationError("--depth must be 0 or greater") }
    }

    func run() throws {
        let inspection: SnapshotInspection
        do {
            inspection = try SnapshotInspection.inspectFile(atPath: file, depth: depth, filter: filter)
        } catch {
            throw fail(error)
        }
        if json {
            print(inspection.renderJSON())
        } else {
            print(inspection.renderTable())
            let summary = inspection.summary
            print("")
            print(" Entries\t\(summary.entryCount)")
            print(" SHA-256\t\(summary.sha256Hex)")
            if let seal = summary.sealConfig {
                print(" Seal\t\(seal.type), \(seal.secretThreshold) of \(seal.secretShares) unseal keys")
            }
        }
    }
}
