// Where the embedded default local repository lives.

import Foundation

public enum RepositoryLocation {
    /// `$LIFEBOAT_REPO`; else `/var/lib/lifeboat/repository` for root; else `$XDG_DATA_HOME/lifeboat/repository`
    /// or `~/.local/share/lifeboat/repository`.
    public static func defaultPath(environment: [String: String], isRoot: Bool) -> String {
        if let explicit = environment["LIFEBOAT_REPO"], !explicit.isEmpty { return explicit }
        if isRoot { return "/var/lib/lifeboat/repository" }
        if let xdg = environment["XDG_DATA_HOME"], !xdg.isEmpty { return xdg + "/lifeboat/repository" }
        let home = environment["HOME"] ?? NSHomeDirectory()
        return home + "/.local/share/lifeboat/repository"
    }
}
