// The one rule for files holding secrets (key files, passphrase files, `file:` secrets): who besides the owner may
// read them. Mode 0600/0400 always passes. Group read (0640/0440, as Kubernetes mounts a Secret with `fsGroup`, or a
// systemd unit's `Group=`) passes only when the file's group is one of this process's own groups (its effective
// group or a supplementary one) and the group cannot write; any permission for others, or group write, is refused.

import Foundation

public enum SecretFileMode {
    /// Whether a secret file with this `stat` may be used by this process.
    public static func isPrivate(_ info: stat) -> Bool {
        let mode = info.st_mode & 0o777
        if mode & 0o007 != 0 { return false }      // others: never
        if mode & 0o070 == 0 { return true }       // owner only
        if mode & 0o030 != 0 { return false }      // group write or execute: never
        return isOwnGroup(info.st_gid)             // group read: only our own group
    }

    /// True when `gid` is this process's effective group or one of its supplementary groups.
    public static func isOwnGroup(_ gid: gid_t) -> Bool {
        if gid == getegid() { return true }
        let count = getgroups(0, nil)
        guard count > 0 else { return false }
        var groups = [gid_t](repeating: 0, count: Int(count))
        let filled = getgroups(count, &groups)
        guard filled > 0 else { return false }
        return groups.prefix(Int(filled)).contains(gid)
    }
}
