// Secrets engine mounts as Vault keeps them: the mount table in barrier storage (`core/mounts`, one entry per
// mount with its UUID and accessor), each mount's data under `logical/<uuid>/`, and the `sys/mounts` endpoints
// (list, enable, read, disable, tune) with Vault's status codes and messages. Snapshots carry the table and the
// data, so a restore brings mounts back.

import Foundation
import LifeboatArchive

/// One entry of the mount table.
struct MountEntry: Equatable {
    var path: String
    var type: String
    var description: String
    var uuid: String
    var accessor: String
    /// `options` as Vault keeps them (`version` for kv); nil = none.
    var options: [String: String]?
    var defaultLeaseTTL: Int
    var maxLeaseTTL: Int
    var forceNoCache: Bool
    var local: Bool
    var sealWrap: Bool

    /// Where this mount's data lives in barrier storage.
    var storagePrefix: String { "logical/" + uuid + "/" }

    /// 1 or 2 for kv mounts, nil for other types.
    var kvVersion: Int? {
        guard type == "kv" else { return nil }
        return options?["version"] == "2" ? 2 : 1
    }

    var json: JSONValue {
        .object([
            ("table", .string("mounts")), ("path", .string(path)), ("type", .string(type)), ("description", .string(description)),
            ("uuid", .string(uuid)), ("accessor", .string(accessor)),
            ("config", .object([("default_lease_ttl", .int(defaultLeaseTTL)), ("max_lease_ttl", .int(maxLeaseTTL)),
                                ("force_no_cache", .bool(forceNoCache))])),
            ("options", options.map { o in .object(o.keys.sorted().map { ($0, .string(o[$0] ?? "")) }) } ?? .null),
            ("local", .bool(local)), ("seal_wrap", .bool(sealWrap)),
        ])
    }

    init(path: String, type: String, description: String = "", uuid: String = UUID().uuidString.lowercased(),
         accessor: String? = nil, options: [String: String]? = nil, defaultLeaseTTL: Int = 0, maxLeaseTTL: Int = 0,
         forceNoCache: Bool = false, local: Bool = false, sealWrap: Bool = false) {
        self.path = path
        self.type = type
        self.description = description
        self.uuid = uuid
        self.accessor = accessor ?? type + "_" + String(UUID().uuidString.lowercased().prefix(8))
        self.options = options
        self.defaultLeaseTTL = defaultLeaseTTL
        self.maxLeaseTTL = maxLeaseTTL
        self.forceNoCache = forceNoCache
        self.local = local
        self.sealWrap = sealWrap
    }

    init?(json j: JSONValue) {
        guard let path = j["path"]?.stringValue, let type = j["type"]?.stringValue else { return nil }
        var options: [String: String]?
        if let o = j["options"]?.objectValue {
            options = Dictionary(o.compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { $1 })
        }
        // Tables written before mounts had UUIDs kept the one KV mount's data under logical/kv/.
        self.init(path: path, type: type, description: j["description"]?.stringValue ?? "",
                  uuid: j["uuid"]?.stringValue ?? (type == "kv" ? "kv" : type),
                  accessor: j["accessor"]?.stringValue ?? type + "_legacy", options: options,
                  defaultLeaseTTL: j["config"]?["default_lease_ttl"]?.intValue ?? 0,
                  maxLeaseTTL: j["config"]?["max_lease_ttl"]?.intValue ?? 0,
                  forceNoCache: j["config"]?["force_no_cache"]?.boolValue ?? false,
                  local: j["local"]?.boolValue ?? false, sealWrap: j["seal_wrap"]?.boolValue ?? false)
    }

    /// `sys/mounts` and `sys/mounts/<path>` describe a mount with these fields (Vault's `mountInfo`).
    func info(systemMaxTTL: Int) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("accessor", .string(accessor)),
            ("config", .object([("default_lease_ttl", .int(defaultLeaseTTL)), ("force_no_cache", .bool(forceNoCache)),
                                ("max_lease_ttl", .int(maxLeaseTTL))])),
            ("description", .string(description)), ("external_entropy_access", .bool(false)), ("local", .bool(local)),
            ("options", options.map { o in .object(o.keys.sorted().map { ($0, .string(o[$0] ?? "")) }) } ?? .null),
            ("plugin_version", .string("")), ("running_plugin_version", .string(MountEntry.builtinVersion(type))),
            ("running_sha256", .string("")), ("seal_wrap", .bool(sealWrap)), ("type", .string(type)), ("uuid", .string(uuid)),
        ]
        _ = systemMaxTTL
        fields.sort { $0.0 < $1.0 }
        return .object(fields)
    }

    static func builtinVersion(_ type: String) -> String {
        switch type {
        case "system", "cubbyhole", "identity": return "v" + VaultSimVersion.vaultVersion + "+builtin.vault"
        case "kv": return "v0.15.0+builtin"
        default: return "v" + VaultSimVersion.vaultVersion + "+builtin"
        }
    }
}

extension SimCore {
    static let mountTablePath = "core/mounts"
    /// Mount types vault-sim implements (besides the built-in system, cubbyhole and identity).
    static let mountableTypes: Set<String> = ["kv", "transit"]
    /// Vault refuses to mount at or under these.
    static let protectedMountPrefixes = ["audit/", "auth/", "sys/", "cubbyhole/", "identity/"]
    static let singletonMountTypes: Set<String> = ["cubbyhole", "system", "token", "identity"]

    /// The table a new cluster starts with (Vault's: sys/, cubbyhole/, identity/; no secret/ outside dev mode).
    static func initialMountTable() -> JSONValue {
        let entries = [
            MountEntry(path: "cubbyhole/", type: "cubbyhole", description: "per-token private secret storage", local: true),
            MountEntry(path: "identity/", type: "identity", description: "identity store"),
            MountEntry(path: "sys/", type: "system", description: "system endpoints used for control, policy and debugging"),
        ]
        return .object([("type", .string("mounts")), ("entries", .array(entries.map(\.json)))])
    }

    func mountTable(_ g: RaftGroup, keys: UnsealedKeys) -> [MountEntry] {
        (readJSON(g, keys: keys, SimCore.mountTablePath)?["entries"]?.arrayValue ?? []).compactMap(MountEntry.init(json:))
    }

    func writeMountTable(_ g: RaftGroup, keys: UnsealedKeys, _ entries: [MountEntry]) throws {
        try writeJSON(g, keys: keys, SimCore.mountTablePath, .object([("type", .string("mounts")), ("entries", .array(entries.map(\.json)))]))
    }

    /// The mount serving `path` (longest prefix; `kv` also finds `kv/`) and the path inside it.
    func mount(for path: String, in table: [MountEntry]) -> (MountEntry, String)? {
        var best: MountEntry?
        for m in table where m.type != "system" {
            if path.hasPrefix(m.path) || path + "/" == m.path {
                if best == nil || m.path.count > (best?.path.count ?? 0) { best = m }
            }
        }
        guard let m = best else { return nil }
        return (m, path.count >= m.path.count ? String(path.dropFirst(m.path.count)) : "")
    }

    static func sanitizeMountPath(_ p: String) -> String {
        var s = p
        while s.hasPrefix("/") { s.removeFirst() }
        if !s.hasSuffix("/") { s += "/" }
        return s
    }

    // MARK: sys/mounts

    func sysMountsList(_ g: RaftGroup, keys: UnsealedKeys) -> SimResponse {
        let table = mountTable(g, keys: keys)
        let data = JSONValue.object(table.map { ($0.path, $0.info(systemMaxTTL: SimCore.defaultMaxTTL)) })
        // Vault answers sys/mounts with the mounts both at the top level (legacy) and in `data`.
        var fields = data.objectValue ?? []
        fields += [("request_id", .string(UUID().uuidString.lowercased())), ("lease_id", .string("")), ("renewable", .bool(false)),
                   ("lease_duration", .int(0)), ("data", data), ("wrap_info", .null), ("warnings", .null), ("auth", .null)]
        return .json(200, .object(fields))
    }

    /// `sys/mounts/<path>` and `sys/mounts/<path>/tune`.
    func sysMount(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, rest: String) -> SimResponse {
        var mountPath = rest
        var tune = false
        if rest.hasSuffix("/tune") {
            mountPath = String(rest.dropLast("/tune".count))
            tune = true
        }
        let path = SimCore.sanitizeMountPath(mountPath)
        if path == "/" { return .errors(400, ["path cannot be blank"]) }
        var table = mountTable(g, keys: keys)
        let index = table.firstIndex { $0.path == path }
        if tune {
            guard let i = index else { return .errors(400, ["cannot fetch sysview for path \"\(path)\""]) }
            switch req.method {
            case "GET": return .envelope(data: tuneInfo(table[i]))
            case "POST", "PUT": return tuneMount(g, keys: keys, req, &table, i)
            default: return .errors(405, ["unsupported operation"])
            }
        }
        switch req.method {
        case "GET":
            guard let i = index else { return .errors(400, ["No secret engine mount at \(path)"]) }
            return .envelope(data: table[i].info(systemMaxTTL: SimCore.defaultMaxTTL))
        case "POST", "PUT":
            return enableMount(g, keys: keys, req, path: path, table: &table)
        case "DELETE":
            for p in SimCore.protectedMountPrefixes where path.hasPrefix(p) {
                return .errors(400, ["cannot unmount \"\(path)\""])
            }
            // Vault answers success for a path with no mount ("to not expose if the mount existed or not").
            guard let i = index else { return .noContent() }
            let gone = table.remove(at: i)
            do {
                try writeMountTable(g, keys: keys, table)
                let doomed = g.store.keys(withPrefix: gone.storagePrefix)
                if !doomed.isEmpty { try deleteEntries(g, doomed) }
            } catch { return .errors(500, ["failed to remove entry from mounts table"]) }
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    private func enableMount(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, path: String, table: inout [MountEntry]) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body), body.objectValue != nil else {
            return .errors(400, ["failed to parse JSON input: invalid character"])
        }
        var type = body["type"]?.stringValue ?? ""
        var options: [String: String]?
        if let o = body["options"]?.objectValue {
            var d: [String: String] = [:]
            for (k, v) in o {
                switch v {
                case .string(let s): d[k] = s
                case .int(let i): d[k] = String(i)
                case .bool(let b): d[k] = b ? "true" : "false"
                default: return .errors(400, ["error converting input for field \"options\": '\(k)' expected a map of strings"])
                }
            }
            options = d
        }
        if type.isEmpty { return .errors(400, ["backend type must be specified as a string"]) }
        if type == "plugin" {
            guard let name = body["plugin_name"]?.stringValue ?? body["config"]?["plugin_name"]?.stringValue, !name.isEmpty else {
                return .errors(400, ["plugin_name must be provided for plugin backend"])
            }
            type = name
        }
        switch type {
        case "kv": break
        case "kv-v1": type = "kv"; options = (options ?? [:]).merging(["version": "1"]) { $1 }
        case "kv-v2": type = "kv"; options = (options ?? [:]).merging(["version": "2"]) { $1 }
        default:
            if let v = options?["version"], !v.isEmpty {
                return .errors(400, ["secrets engine \"\(type)\" does not allow setting a version"])
            }
        }
        let config = body["config"]
        func ttl(_ key: String) -> Int?? {
            guard let raw = config?[key], raw != .null else { return .some(0) }
            if raw.stringValue == "system" || raw.stringValue == "" { return .some(0) }
            guard let s = GoDuration.seconds(from: raw.any), s >= 0 else { return .none }
            return .some(s)
        }
        guard let defaultTTL = ttl("default_lease_ttl") ?? nil else {
            return .errors(400, ["unable to parse default TTL of \(config?["default_lease_ttl"]?.serialized() ?? ""): invalid duration"])
        }
        guard let maxTTL = ttl("max_lease_ttl") ?? nil else {
            return .errors(400, ["unable to parse max TTL of \(config?["max_lease_ttl"]?.serialized() ?? ""): invalid duration"])
        }
        if maxTTL != 0 && defaultTTL > maxTTL { return .errors(400, ["given default lease TTL greater than given max lease TTL"]) }
        if defaultTTL > SimCore.defaultMaxTTL && maxTTL == 0 {
            return .errors(400, ["given default lease TTL greater than system max lease TTL of \(SimCore.defaultMaxTTL)"])
        }
        for p in SimCore.protectedMountPrefixes where path.hasPrefix(p) {
            return .errors(403, ["cannot mount \"\(path)\""])
        }
        if SimCore.singletonMountTypes.contains(type) { return .errors(403, ["mount type of \"\(type)\" is not mountable"]) }
        for m in table where m.path.hasPrefix(path) || path.hasPrefix(m.path) {
            return .errors(409, ["path is already in use at \(m.path)"])
        }
        guard SimCore.mountableTypes.contains(type) else { return .errors(400, ["plugin not found in the catalog: \(type)"]) }
        if type == "kv" {
            let v = options?["version"] ?? ""
            guard ["", "1", "2"].contains(v) else { return .errors(400, ["invalid version \"\(v)\" for kv secrets engine; use 1 or 2"]) }
            if v.isEmpty { options = (options ?? [:]).merging(["version": "1"]) { $1 } }
        }
        let entry = MountEntry(path: path, type: type, description: body["description"]?.stringValue ?? "", options: options,
                               defaultLeaseTTL: defaultTTL, maxLeaseTTL: maxTTL,
                               forceNoCache: config?["force_no_cache"]?.boolValue ?? false,
                               local: body["local"]?.boolValue ?? false, sealWrap: body["seal_wrap"]?.boolValue ?? false)
        table.append(entry)
        do { try writeMountTable(g, keys: keys, table) } catch { return .errors(500, ["failed to update mount table"]) }
        return .noContent()
    }

    private func tuneInfo(_ m: MountEntry) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("default_lease_ttl", .int(m.defaultLeaseTTL == 0 ? SimCore.defaultMaxTTL : m.defaultLeaseTTL)),
            ("description", .string(m.description)), ("force_no_cache", .bool(m.forceNoCache)),
            ("max_lease_ttl", .int(m.maxLeaseTTL == 0 ? SimCore.defaultMaxTTL : m.maxLeaseTTL)),
        ]
        if let o = m.options { fields.append(("options", .object(o.keys.sorted().map { ($0, .string(o[$0] ?? "")) }))) }
        return .object(fields)
    }

    private func tuneMount(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, _ table: inout [MountEntry], _ i: Int) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body), body.objectValue != nil else {
            return .errors(400, ["failed to parse JSON input: invalid character"])
        }
        var m = table[i]
        if let d = body["description"]?.stringValue { m.description = d }
        for (key, setter) in [("default_lease_ttl", { (v: Int, e: inout MountEntry) in e.defaultLeaseTTL = v }),
                              ("max_lease_ttl", { (v: Int, e: inout MountEntry) in e.maxLeaseTTL = v })] {
            guard let raw = body[key], raw != .null else { continue }
            if raw.stringValue == "system" || raw.stringValue == "" { setter(0, &m); continue }
            guard let s = GoDuration.seconds(from: raw.any), s >= 0 else { return .errors(400, ["invalid \(key)"]) }
            setter(s, &m)
        }
        if m.maxLeaseTTL != 0 && m.defaultLeaseTTL > m.maxLeaseTTL {
            return .errors(400, ["default lease TTL greater than max lease TTL"])
        }
        var upgrade = false
        if let v = body["options"]?["version"].flatMap({ $0.stringValue ?? $0.intValue.map(String.init) }), !v.isEmpty {
            guard m.type == "kv" else { return .errors(400, ["secrets engine \"\(m.type)\" does not allow setting a version"]) }
            switch (m.kvVersion, v) {
            case (1, "2"): upgrade = true
            case (2, "1"): return .errors(400, ["cannot downgrade mount from KV version 2 to 1"])
            case (_, "1"), (_, "2"): break
            default: return .errors(400, ["invalid version \"\(v)\" for kv secrets engine; use 1 or 2"])
            }
            m.options = (m.options ?? [:]).merging(["version": v]) { $1 }
        }
        table[i] = m
        do {
            if upgrade { try upgradeKVToV2(g, keys: keys, m) }
            try writeMountTable(g, keys: keys, table)
        } catch { return .errors(500, ["failed to update mount table: \(error)"]) }
        return .noContent()
    }
}
