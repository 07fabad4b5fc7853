// KV version 2 mounted at secret/: data write/read/soft-delete, metadata read/delete, list. All versions of a
// secret live in one barrier-encrypted entry under logical/kv/<path>.

import Foundation

extension SimCore {
    static let kvPrefix = "logical/kv/"

    func kvRecord(_ g: RaftGroup, keys: UnsealedKeys, _ path: String) -> JSONValue? {
        readJSON(g, keys: keys, SimCore.kvPrefix + path)
    }

    /// The capability a write to `secret/data/<path>` needs (Vault's existence check: create vs update).
    func kvWriteCapability(_ g: RaftGroup, keys: UnsealedKeys, _ path: String) -> String {
        g.store.contains(SimCore.kvPrefix + path) ? "update" : "create"
    }

    private func versionMetadata(_ v: JSONValue) -> JSONValue {
        .object([("created_time", v["created_time"] ?? .string("")), ("custom_metadata", .null),
                 ("deletion_time", v["deletion_time"] ?? .string("")), ("destroyed", v["destroyed"] ?? .bool(false)),
                 ("version", v["version"] ?? .int(0))])
    }

    func kvData(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, path: String) -> SimResponse {
        let record = kvRecord(g, keys: keys, path)
        var versions = record?["versions"]?.arrayValue ?? []
        switch req.method {
        case "GET":
            guard !versions.isEmpty else { return .notFoundEmpty }
            let wanted = req.query("version").flatMap(Int.init) ?? 0
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
            let ts = TimeFormat.rfc3339Nano(now)
            let version = current + 1
            versions.append(.object([("version", .int(version)), ("created_time", .string(ts)), ("deletion_time", .string("")),
                                     ("destroyed", .bool(false)), ("data", data)]))
            let newRecord = JSONValue.object([
                ("current_version", .int(version)), ("oldest_version", .int(versions.first?["version"]?.intValue ?? 1)),
                ("created_time", record?["created_time"] ?? .string(ts)), ("updated_time", .string(ts)),
                ("versions", .array(versions)),
            ])
            do { try writeJSON(g, keys: keys, SimCore.kvPrefix + path, newRecord) } catch { return .errors(500, ["\(error)"]) }
            return .envelope(data: versionMetadata(versions.last!))
        case "DELETE":
            guard !versions.isEmpty, var last = versions.last?.objectValue else { return .noContent() }
            last.removeAll { $0.0 == "deletion_time" }
            last.append(("deletion_time", .string(TimeFormat.rfc3339Nano(now))))
            versions[versions.count - 1] = .object(last)
            var fields = record?.objectValue ?? []
            fields.removeAll { $0.0 == "versions" }
            fields.append(("versions", .array(versions)))
            try? writeJSON(g, keys: keys, SimCore.kvPrefix + path, .object(fields))
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    func kvList(_ g: RaftGroup, prefix: String) -> SimResponse {
        var p = prefix
        if !p.isEmpty && !p.hasSuffix("/") { p += "/" }
        let full = SimCore.kvPrefix + p
        var children: [String] = []
        var seen = Set<String>()
        for k in g.store.keys(withPrefix: full) {
            let rest = k.dropFirst(full.count)
            let child = rest.firstIndex(of: "/").map { String(rest[...$0]) } ?? String(rest)
            if seen.insert(child).inserted { children.append(child) }
        }
        return children.isEmpty ? .notFoundEmpty : .envelope(data: .object([("keys", .strings(children))]))
    }

    func kvMetadata(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, path: String) -> SimResponse {
        switch req.method {
        case "GET":
            guard let r = kvRecord(g, keys: keys, path), let versions = r["versions"]?.arrayValue else { return .notFoundEmpty }
            var perVersion: [(String, JSONValue)] = []
            for v in versions {
                let entry: [(String, JSONValue)] = [("created_time", v.get("created_time", .string(""))),
                                                    ("deletion_time", v.get("deletion_time", .string(""))),
                                                    ("destroyed", v.get("destroyed", .bool(false)))]
                perVersion.append((String(v["version"]?.intValue ?? 0), .object(entry)))
            }
            let fields: [(String, JSONValue)] = [
                ("cas_required", .bool(false)), ("created_time", r.get("created_time", .string(""))),
                ("current_version", r.get("current_version", .int(0))), ("custom_metadata", .null),
                ("delete_version_after", .string("0s")), ("max_versions", .int(0)),
                ("oldest_version", r.get("oldest_version", .int(0))), ("updated_time", r.get("updated_time", .string(""))),
                ("versions", .object(perVersion)),
            ]
            return .envelope(data: .object(fields))
        case "DELETE":
            try? deleteEntries(g, [SimCore.kvPrefix + path])
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }
}
