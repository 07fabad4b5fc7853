// Where the embedded default local repository lives.

import Foundation

public enum RepositoryLocation {
    /// `$LIFEBOAT_REPO`, else the configuration's built-in default
    /// (``LifeboatConfiguration/defaultRepositoryPath(environment:isRoot:)``).
    public static func defaultPath(environment: [String: String], isRoot: Bool) -> String {
        if let explicit = environment["LIFEBOAT_REPO"], !explicit.isEmpty { return explicit }
        return LifeboatConfiguration.defaultRepositoryPath(environment: environment, isRoot: isRoot)
    }
}
