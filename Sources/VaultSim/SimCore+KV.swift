// The KV secrets engine at any mount. Version 1: one barrier-encrypted JSON object per secret at
// `logical/<uuid>/<path>`. Version 2: `data/`, `metadata/`, `delete/`, `undelete/`, `destroy/` and `config`, with
// all versions of a secret in one barrier-encrypted record at `logical/<uuid>/data/<path>`.

import Foundation

extension SimCore {
    /// Vault KV v2's default `max_versions` when neither the mount config nor the secret sets one.
    static let kvDefaultMaxVersions = 10
    static let kvV2WrongPath = "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Vault CLI, use 'vault kv get' for this operation."

    /// The capability a write needs: Vault's existence check decides create (new key) or update (existing key).
    func kvWriteCapability(_ g: RaftGroup, mount m: MountEntry, rest: String) -> String {
        switch m.kvVersion {
        case 1: return g.store.contains(m.storagePrefix + rest) ? "update" : "create"
        case 2:
            if rest.hasPrefix("data/") { return g.store.contains(m.storagePrefix + rest) ? "update" : "create" }
            if rest.hasPrefix("metadata/") {
                return g.store.contains(m.storagePrefix + "data/" + rest.dropFirst("metadata/".count)) ? "update" : "create"
            }
            return "update"
        default: return "update"
        }
    }

    /// Dispatch of a request inside a kv mount (authorization already done).
    func kv(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, mount m: MountEntry, rest: String, list: Bool) -> SimResponse {
        if m.kvVersion == 1 { return kvV1(g, keys: keys, req, mount: m, rest: rest, list: list) }
        let (head, tail): (String, String) = {
            guard let slash = rest.firstIndex(of: "/") else { return (rest, "") }
            return (String(rest[..<slash]), String(rest[rest.index(after: slash)...]))
        }()
        let record = m.storagePrefix + "data/" + tail
        switch head {
        case "data" where !list && !tail.isEmpty:
            return kvData(g, keys: keys, req, key: record)
        case "metadata":
            if list { return kvList(g, prefix: m.storagePrefix + "data/", path: tail) }
            guard !tail.isEmpty else { return .errors(405, ["unsupported operation"]) }
            return kvMetadata(g, keys: keys, req, key: record)
        case "delete", "undelete", "destroy":
            guard !tail.isEmpty && !list else { return .errors(405, ["unsupported operation"]) }
            guard req.method == "POST" || req.method == "PUT" else { return .errors(405, ["unsupported operation"]) }
            return kvVersions(g, keys: keys, req, key: record, action: head)
        case "config" where tail.isEmpty && !list:
            switch req.method {
            case "GET":
                return .envelope(data: .object([("cas_required", .bool(false)), ("delete_version_after", .string("0s")),
                                                ("max_versions", .int(0))]))
            case "POST", "PUT": return .noContent()
            default: return .errors(405, ["unsupported operation"])
            }
        default:
            return .errors(404, [SimCore.kvV2WrongPath])
        }
    }

    // MARK: Version 1

    func kvV1(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, mount m: MountEntry, rest: String, list: Bool) -> SimResponse {
        if list { return kvList(g, prefix: m.storagePrefix, path: rest) }
        guard !rest.isEmpty else { return .errors(405, ["unsupported operation"]) }
        let key = m.storagePrefix + rest
        switch req.method {
        case "GET":
            guard let data = readJSON(g, keys: keys, key) else { return .notFoundEmpty }
            // KV v1 reports the mount's default lease (768h unless tuned), not renewable.
            return .envelope(data: data, leaseDuration: m.defaultLeaseTTL > 0 ? m.defaultLeaseTTL : SimCore.defaultMaxTTL)
        case "POST", "PUT":
            guard let body = JSONValue.parse(req.body), body.objectValue != nil else {
                return .errors(400, ["failed to parse JSON input: invalid character"])
            }
            if body.objectValue?.isEmpty ?? true { return .errors(400, ["missing data fields"]) }
            do { try writeJSON(g, keys: keys, key, body) } catch { return .errors(500, ["\(error)"]) }
            return .noContent()
        case "DELETE":
            if g.store.contains(key) { try? deleteEntries(g, [key]) }
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    // MARK: Version 2

    private func versionMetadata(_ v: JSONValue) -> JSONValue {
        .object([("created_time", v["created_time"] ?? .string("")), ("custom_metadata", .null),
                 ("deletion_time", v["deletion_time"] ?? .string("")), ("destroyed", v["destroyed"] ?? .bool(false)),
                 ("version", v["version"] ?? .int(0))])
    }

    private func replacing(_ record: JSONValue?, _ key: String, with value: JSONValue) -> JSONValue {
        var fields = record?.objectValue ?? []
        if let i = fields.firstIndex(where: { $0.0 == key }) { fields[i].1 = value } else { fields.append((key, value)) }
        return .object(fields)
    }

    func kvData(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, key: String) -> SimResponse {
        let record = readJSON(g, keys: keys, key)
        var versions = record?["versions"]?.arrayValue ?? []
        switch req.method {
        case "GET":
            guard !versions.isEmpty else { return .notFoundEmpty }
            let wanted = req.query("version").flatMap { Int($0) } ?? 0
            guard let v = wanted == 0 ? versions.last : versions.first(where: { $0["version"]?.intValue == wanted }) else {
                return .notFoundEmpty
            }
            let deleted = (v["deletion_time"]?.stringValue ?? "") != "" || v["destroyed"]?.boolValue == true
            let body = JSONValue.object([("data", deleted ? .null : (v["data"] ?? .null)), ("metadata", versionMetadata(v))])
            if deleted { return .json(404, .object([("errors", .array([])), ("data", body)])) }
            return .envelope(data: body)
        case "POST", "PUT":
            guard let body = JSONValue.parse(req.body), let data = body["data"], data.objectValue != nil else {
                return .errors(400, ["no data provided"])
            }
            let current = record?["current_version"]?.intValue ?? 0
            if let raw = body["options"]?["cas"], raw != .null, raw.intValue == nil {
                return .errors(400, ["error converting input \(raw.serialized()) for field \"cas\""])
            }
            if let cas = body["options"]?["cas"]?.intValue, cas != current {
                return .errors(400, ["check-and-set parameter did not match the current version"])
            }
            if record?["cas_required"]?.boolValue == true && body["options"]?["cas"] == nil {
                return .errors(400, ["check-and-set parameter required for this call"])
            }
            guard current < Int.max else { return .errors(400, ["version number overflow"]) }
            let ts = TimeFormat.rfc3339Nano(now)
            let version = current + 1
            versions.append(.object([("version", .int(version)), ("created_time", .string(ts)), ("deletion_time", .string("")),
                                     ("destroyed", .bool(false)), ("data", data)]))
            let maxVersions = record?["max_versions"]?.intValue ?? 0
            let keep = maxVersions > 0 ? maxVersions : SimCore.kvDefaultMaxVersions
            if versions.count > keep { versions.removeFirst(versions.count - keep) }
            var updated = replacing(record, "current_version", with: .int(version))
            updated = replacing(updated, "oldest_version", with: .int(versions.first?["version"]?.intValue ?? 1))
            updated = replacing(updated, "created_time", with: record?["created_time"] ?? .string(ts))
            updated = replacing(updated, "updated_time", with: .string(ts))
            updated = replacing(updated, "versions", with: .array(versions))
            do { try writeJSON(g, keys: keys, key, updated) } catch { return .errors(500, ["\(error)"]) }
            return .envelope(data: versionMetadata(versions.last ?? .null))
        case "DELETE":
            guard !versions.isEmpty, var last = versions.last?.objectValue else { return .noContent() }
            last.removeAll { $0.0 == "deletion_time" }
            last.append(("deletion_time", .string(TimeFormat.rfc3339Nano(now))))
            versions[versions.count - 1] = .object(last)
            try? writeJSON(g, keys: keys, key, replacing(record, "versions", with: .array(versions)))
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    /// `delete/`, `undelete/`, `destroy/` with `{"versions":[...]}`.
    func kvVersions(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, key: String, action: String) -> SimResponse {
        let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) ?? .object([])
        let wanted = Set((body["versions"]?.arrayValue ?? (body["versions"].map { [$0] } ?? [])).compactMap { $0.intValue })
        guard !wanted.isEmpty else { return .errors(400, ["no version number provided"]) }
        guard let record = readJSON(g, keys: keys, key), var versions = record["versions"]?.arrayValue else { return .noContent() }
        let ts = TimeFormat.rfc3339Nano(now)
        for (i, v) in versions.enumerated() {
            guard let n = v["version"]?.intValue, wanted.contains(n), var fields = v.objectValue else { continue }
            func set(_ k: String, _ value: JSONValue) {
                if let j = fields.firstIndex(where: { $0.0 == k }) { fields[j].1 = value } else { fields.append((k, value)) }
            }
            let destroyed = v["destroyed"]?.boolValue == true
            switch action {
            case "delete": if !destroyed && (v["deletion_time"]?.stringValue ?? "").isEmpty { set("deletion_time", .string(ts)) }
            case "undelete": if !destroyed { set("deletion_time", .string("")) }
            default:
                set("destroyed", .bool(true))
                fields.removeAll { $0.0 == "data" }
            }
            versions[i] = .object(fields)
        }
        do { try writeJSON(g, keys: keys, key, replacing(record, "versions", with: .array(versions))) } catch {
            return .errors(500, ["\(error)"])
        }
        return .noContent()
    }

    /// Children of `prefix + path` one level down (directories end in `/`); 404 when there are none.
    func kvList(_ g: RaftGroup, prefix: String, path: String) -> SimResponse {
        var p = path
        if !p.isEmpty && !p.hasSuffix("/") { p += "/" }
        let full = prefix + p
        var children: [String] = []
        var seen = Set<String>()
        for k in g.store.keys(withPrefix: full) {
            let rest = k.dropFirst(full.count)
            let child = rest.firstIndex(of: "/").map { String(rest[...$0]) } ?? String(rest)
            if !child.isEmpty, seen.insert(child).inserted { children.append(child) }
        }
        return children.isEmpty ? .notFoundEmpty : .envelope(data: .object([("keys", .strings(children.sorted()))]))
    }

    func kvMetadata(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, key: String) -> SimResponse {
        switch req.method {
        case "GET":
            guard let r = readJSON(g, keys: keys, key), let versions = r["versions"]?.arrayValue else { return .notFoundEmpty }
            var perVersion: [(String, JSONValue)] = []
            for v in versions {
                let entry: [(String, JSONValue)] = [("created_time", v.get("created_time", .string(""))),
                                                    ("deletion_time", v.get("deletion_time", .string(""))),
                                                    ("destroyed", v.get("destroyed", .bool(false)))]
                perVersion.append((String(v["version"]?.intValue ?? 0), .object(entry)))
            }
            let fields: [(String, JSONValue)] = [
                ("cas_required", r.get("cas_required", .bool(false))), ("created_time", r.get("created_time", .string(""))),
                ("current_version", r.get("current_version", .int(0))), ("custom_metadata", r.get("custom_metadata", .null)),
                ("delete_version_after", .string("0s")), ("max_versions", r.get("max_versions", .int(0))),
                ("oldest_version", r.get("oldest_version", .int(0))), ("updated_time", r.get("updated_time", .string(""))),
                ("versions", .object(perVersion)),
            ]
            return .envelope(data: .object(fields))
        case "POST", "PUT":
            let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) ?? .object([])
            var record: JSONValue = readJSON(g, keys: keys, key) ?? .object([
                ("current_version", .int(0)), ("oldest_version", .int(0)), ("created_time", .string(TimeFormat.rfc3339Nano(now))),
                ("updated_time", .string(TimeFormat.rfc3339Nano(now))), ("versions", .array([])),
            ])
            if let raw = body["max_versions"], raw != .null {
                guard let n = raw.intValue, n >= 0 else { return .errors(400, ["max_versions must be a non-negative integer"]) }
                record = replacing(record, "max_versions", with: .int(n))
            }
            if let cas = body["cas_required"]?.boolValue { record = replacing(record, "cas_required", with: .bool(cas)) }
            if let md = body["custom_metadata"], md.objectValue != nil { record = replacing(record, "custom_metadata", with: md) }
            do { try writeJSON(g, keys: keys, key, record) } catch { return .errors(500, ["\(error)"]) }
            return .noContent()
        case "DELETE":
            if g.store.contains(key) { try? deleteEntries(g, [key]) }
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    /// Tuning a v1 mount to version 2 rewrites every secret as version 1 of a v2 record (as Vault's upgrade does).
    func upgradeKVToV2(_ g: RaftGroup, keys: UnsealedKeys, _ m: MountEntry) throws {
        let old = g.store.keys(withPrefix: m.storagePrefix).filter { !$0.hasPrefix(m.storagePrefix + "data/") }
        guard !old.isEmpty else { return }
        let ts = TimeFormat.rfc3339Nano(now)
        var writes: [(String, [UInt8], Bool)] = []
        for k in old {
            guard let data = readJSON(g, keys: keys, k) else { continue }
            let record = JSONValue.object([
                ("current_version", .int(1)), ("oldest_version", .int(1)), ("created_time", .string(ts)), ("updated_time", .string(ts)),
                ("versions", .array([.object([("version", .int(1)), ("created_time", .string(ts)), ("deletion_time", .string("")),
                                              ("destroyed", .bool(false)), ("data", data)])])),
            ])
            writes.append((m.storagePrefix + "data/" + k.dropFirst(m.storagePrefix.count), record.bytes, false))
        }
        try writeEntries(g, keys: keys, writes)
        try deleteEntries(g, old)
    }
}
