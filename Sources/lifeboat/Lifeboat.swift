// The `lifeboat` command: parses arguments and hands off to the Lifeboat modules. One file per subcommand.

import ArgumentParser
import LifeboatConfiguration
import LifeboatAgent
import LifeboatRecovery
import LifeboatBackup
import LifeboatRepository
import LifeboatRetention
import LifeboatVault
import LifeboatSchedule
import LifeboatBase

@main
struct Lifeboat: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lifeboat",
        abstract: "Encrypted, verified snapshot backups and disaster recovery for Vault and OpenBao on Raft storage.",
        discussion: """
            Exit codes: 0 ok, 1 failure, 3 backup stored on some destinations but not all, 10-15 `doctor`'s incident \
            classes, 64 usage error, \
            65 authentication or verification failure \
            (wrong key, tampered or truncated data), 74 I/O error, 75 lock held by another run, 78 configuration error, \
            129/130/143 interrupted by SIGHUP/SIGINT/SIGTERM (temporary files removed).
            """,
        version: LifeboatVersion.current,
        subcommands: [
            DemoCommand.self, BackupCommand.self, AgentCommand.self, DoctorCommand.self, RecoverCommand.self, RestoreCommand.self, DrillCommand.self, VerifyCommand.self, PruneCommand.self, ListCommand.self, ShowCommand.self, InspectCommand.self, ExportCommand.self, ImportCommand.self,
            KeyCommand.self, EncryptCommand.self, DecryptCommand.self, ConfigCommand.self,
        ]
    )

    /// Fixes the malloc settings (ProcessMemory) and installs the signal handling before anything runs: SIGINT, SIGTERM
    /// and SIGHUP remove every temporary file and exit 130, 143, 129 (the agent replaces this with its graceful
    /// shutdown and reload).
    static func main() async {
        ProcessMemory.configure()
        TerminationSignals.install()
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}
