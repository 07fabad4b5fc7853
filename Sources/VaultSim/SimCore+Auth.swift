// Tokens (create, lookup-self, renew-self, TTL expiry against the injected clock), ACL policies (sys/policy,
// sys/policies/acl) with enforcement, and the AppRole auth method. All of it lives in barrier-encrypted storage,
// so a snapshot restore brings back the snapshot's tokens and invalidates newer ones.

import Foundation
import LifeboatArchive

/// A token as stored under `sys/token/id/...`.
struct TokenEntry {
    var id: String
    var accessor: String
    var policies: [String]
    var path: String
    var meta: [String: String]
    var displayName: String
    var numUses: Int
    var creationTime: Date
    var ttl: Int
    var explicitMaxTTL: Int
    var period: Int
    var renewable: Bool
    var orphan: Bool
    var type: String
    var role: String?
    var expireTime: Date?
    var lastRenewal: Date?

    init(id: String, accessor: String, policies: [String], path: String, meta: [String: String], displayName: String,
         numUses: Int, creationTime: Date, ttl: Int, explicitMaxTTL: Int, period: Int, renewable: Bool, orphan: Bool,
         type: String, role: String?) {
        self.id = id; self.accessor = accessor; self.policies = policies; self.path = path; self.meta = meta
        self.displayName = displayName; self.numUses = numUses; self.creationTime = creationTime; self.ttl = ttl
        self.explicitMaxTTL = explicitMaxTTL; self.period = period; self.renewable = renewable; self.orphan = orphan
        self.type = type; self.role = role
        self.expireTime = ttl > 0 ? creationTime + TimeInterval(ttl) : nil
    }

    var json: JSONValue {
        .object([
            ("id", .string(id)), ("accessor", .string(accessor)), ("policies", .strings(policies)), ("path", .string(path)),
            ("meta", .object(meta.keys.sorted().map { ($0, .string(meta[$0]!)) })), ("display_name", .string(displayName)),
            ("num_uses", .int(numUses)), ("creation_time", .double(creationTime.timeIntervalSince1970)), ("ttl", .int(ttl)),
            ("explicit_max_ttl", .int(explicitMaxTTL)), ("period", .int(period)), ("renewable", .bool(renewable)),
            ("orphan", .bool(orphan)), ("type", .string(type)), ("role", .optionalString(role)),
            ("expire_time", expireTime.map { .double($0.timeIntervalSince1970) } ?? .null),
            ("last_renewal", lastRenewal.map { .double($0.timeIntervalSince1970) } ?? .null),
        ])
    }

    init?(json j: JSONValue) {
        guard let id = j["id"]?.stringValue, let accessor = j["accessor"]?.stringValue else { return nil }
        func date(_ k: String) -> Date? {
            switch j[k] {
            case .double(let d)?: return Date(timeIntervalSince1970: d)
            case .int(let i)?: return Date(timeIntervalSince1970: TimeInterval(i))
            default: return nil
            }
        }
        self.init(id: id, accessor: accessor, policies: j["policies"]?.stringList ?? [], path: j["path"]?.stringValue ?? "",
                  meta: Dictionary((j["meta"]?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { $1 }),
                  displayName: j["display_name"]?.stringValue ?? "", numUses: j["num_uses"]?.intValue ?? 0,
                  creationTime: date("creation_time") ?? Date(timeIntervalSince1970: 0), ttl: j["ttl"]?.intValue ?? 0,
                  explicitMaxTTL: j["explicit_max_ttl"]?.intValue ?? 0, period: j["period"]?.intValue ?? 0,
                  renewable: j["renewable"]?.boolValue ?? false, orphan: j["orphan"]?.boolValue ?? false,
                  type: j["type"]?.stringValue ?? "service", role: j["role"]?.stringValue)
        expireTime = date("expire_time")
        lastRenewal = date("last_renewal")
    }
}

enum AuthResult {
    case allowed(TokenEntry)
    case denied(SimResponse)
}

extension SimCore {
    static let defaultMaxTTL = 768 * 3600

    static let defaultPolicyText = """
    # Allow tokens to look up their own properties
    path "auth/token/lookup-self" {
        capabilities = ["read"]
    }

    # Allow tokens to renew themselves
    path "auth/token/renew-self" {
        capabilities = ["update"]
    }

    # Allow tokens to revoke themselves
    path "auth/token/revoke-self" {
        capabilities = ["update"]
    }

    # Allow a token to look up its own capabilities on a path
    path "sys/capabilities-self" {
        capabilities = ["update"]
    }

    # Allow a token to renew a lease via lease_id in the request body
    path "sys/leases/renew" {
        capabilities = ["update"]
    }

    """

    /// A TTL parameter: absent or null = 0, a number or Go duration = seconds, anything else (1e19, "x") = nil.
    static func durationField(_ v: JSONValue?) -> Int? {
        guard let v, v != .null else { return 0 }
        return GoDuration.seconds(from: v.any)
    }

    func newToken() -> String { "hvs." + SimCore.randomBase62(24) }
    func newAccessor() -> String { SimCore.randomBase62(24) }

    static func randomBase62(_ n: Int) -> String {
        let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
        return String(SecureRandom.bytes(n).map { alphabet[Int($0) % 62] })
    }

    func tokenSalt(_ g: RaftGroup, keys: UnsealedKeys) -> [UInt8] {
        guard let raw = readEntry(g, keys: keys, "sys/token/salt"), let d = Data(base64Encoded: Data(raw)) else { return [] }
        return Array(d)
    }

    static func tokenKey(_ token: String, salt: [UInt8]) -> String {
        "sys/token/id/h" + Hex.encode(HMACSHA256.authenticationCode(key: salt, message: Array(token.utf8)))
    }

    func tokenEntries(_ t: TokenEntry, salt: [UInt8]) -> [(String, [UInt8], Bool)] {
        [(SimCore.tokenKey(t.id, salt: salt), t.json.bytes, false),
         ("sys/token/accessor/" + t.accessor, JSONValue.object([("token_id", .string(SimCore.tokenKey(t.id, salt: salt)))]).bytes, false)]
    }

    func storeToken(_ g: RaftGroup, keys: UnsealedKeys, _ t: TokenEntry) throws {
        try writeEntries(g, keys: keys, tokenEntries(t, salt: tokenSalt(g, keys: keys)))
    }

    /// The live token for `id`; nil when unknown or expired.
    func lookupToken(_ g: RaftGroup, keys: UnsealedKeys, _ id: String) -> TokenEntry? {
        let salt = tokenSalt(g, keys: keys)
        guard !salt.isEmpty, let j = readJSON(g, keys: keys, SimCore.tokenKey(id, salt: salt)), let t = TokenEntry(json: j) else {
            return nil
        }
        if let exp = t.expireTime, exp <= now { return nil }
        return t
    }

    func policy(_ g: RaftGroup, keys: UnsealedKeys, _ name: String) -> ACLPolicy? {
        guard let j = readJSON(g, keys: keys, "sys/policy/" + name), let text = j["policy"]?.stringValue else { return nil }
        return try? ACLPolicy.parse(name: name, text: text)
    }

    func acl(for t: TokenEntry, _ g: RaftGroup, keys: UnsealedKeys) -> ACL {
        ACL(policies: t.policies.compactMap { policy(g, keys: keys, $0) }, isRoot: t.policies.contains("root"))
    }

    /// Checks the request's token for `capability` (and `sudo` when asked) on `path`.
    func authorize(_ req: SimRequest, path: String, capability: String, group g: RaftGroup, keys: UnsealedKeys,
                   sudo: Bool = false) -> AuthResult {
        guard let tokenID = req.token, let t = lookupToken(g, keys: keys, tokenID) else { return .denied(.permissionDenied) }
        let caps = acl(for: t, g, keys: keys).capabilities(for: path)
        guard caps.contains(capability), !sudo || caps.contains("sudo") else { return .denied(.permissionDeniedMulti) }
        if t.numUses > 0 {
            var used = t
            used.numUses -= 1
            if used.numUses == 0 {
                try? deleteEntries(g, [SimCore.tokenKey(t.id, salt: tokenSalt(g, keys: keys)), "sys/token/accessor/" + t.accessor])
            } else {
                try? storeToken(g, keys: keys, used)
            }
        }
        return .allowed(t)
    }

    // MARK: Token endpoints

    func authBlock(_ t: TokenEntry, metadata: [String: String]? = nil) -> JSONValue {
        let policies = t.policies
        let md = metadata ?? t.meta
        return .object([
            ("client_token", .string(t.id)), ("accessor", .string(t.accessor)), ("policies", .strings(policies)),
            ("token_policies", .strings(policies)), ("identity_policies", .null),
            ("metadata", md.isEmpty ? .null : .object(md.keys.sorted().map { ($0, .string(md[$0]!)) })),
            ("lease_duration", .int(remainingTTL(t))), ("renewable", .bool(t.renewable)), ("entity_id", .string("")),
            ("token_type", .string(t.type)), ("orphan", .bool(t.orphan)), ("mfa_requirement", .null), ("num_uses", .int(t.numUses)),
        ])
    }

    func remainingTTL(_ t: TokenEntry) -> Int {
        guard let exp = t.expireTime else { return 0 }
        return max(0, GoDuration.clamped(exp.timeIntervalSince(now).rounded()))
    }

    func lookupSelf(_ t: TokenEntry) -> SimResponse {
        var fields: [(String, JSONValue)] = [
            ("accessor", .string(t.accessor)), ("creation_time", .int(GoDuration.clamped(t.creationTime.timeIntervalSince1970))),
            ("creation_ttl", .int(t.ttl)), ("display_name", .string(t.displayName)), ("entity_id", .string("")),
            ("expire_time", t.expireTime.map { .string(TimeFormat.rfc3339Nano($0)) } ?? .null),
            ("explicit_max_ttl", .int(t.explicitMaxTTL)), ("id", .string(t.id)),
        ]
        if t.expireTime != nil {
            fields.append(("issue_time", .string(TimeFormat.rfc3339Nano(t.creationTime))))
        }
        if let lr = t.lastRenewal {
            fields += [("last_renewal", .string(TimeFormat.rfc3339Nano(lr))), ("last_renewal_time", .int(GoDuration.clamped(lr.timeIntervalSince1970)))]
        }
        fields += [
            ("meta", t.meta.isEmpty ? .null : .object(t.meta.keys.sorted().map { ($0, .string(t.meta[$0]!)) })),
            ("num_uses", .int(t.numUses)), ("orphan", .bool(t.orphan)), ("path", .string(t.path)),
            ("policies", .strings(t.policies)), ("renewable", .bool(t.renewable)), ("ttl", .int(remainingTTL(t))),
            ("type", .string(t.type)),
        ]
        if let r = t.role { fields.append(("role", .string(r))) }
        if t.period > 0 { fields.append(("period", .int(t.period))) }
        return .envelope(data: .object(fields))
    }

    func createToken(_ parent: TokenEntry, _ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest) -> SimResponse {
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) else {
            return .errors(400, ["failed to parse JSON input"])
        }
        let parentIsRoot = parent.policies.contains("root")
        var policies = body["policies"]?.stringList ?? parent.policies.filter { $0 != "root" || parentIsRoot }
        if body["policies"] == nil && !parentIsRoot { policies = parent.policies }
        if !parentIsRoot {
            let allowed = Set(parent.policies)
            if !Set(policies).subtracting(["default"]).isSubset(of: allowed) {
                return .errors(400, ["child policies must be subset of parent"])
            }
        }
        if body["no_default_policy"]?.boolValue != true && !policies.contains("default") && !policies.contains("root") {
            policies.append("default")
        }
        policies = Array(Set(policies)).sorted()
        guard let ttl = SimCore.durationField(body["ttl"] ?? body["lease"]),
              let explicitMax = SimCore.durationField(body["explicit_max_ttl"]),
              let period = SimCore.durationField(body["period"]) else {
            return .errors(400, ["invalid ttl"])
        }
        if policies.contains("root") && !parentIsRoot { return .errors(400, ["root tokens may not be created without parent token being root"]) }
        let isRoot = policies == ["root"]
        var effective = period > 0 ? period : (ttl > 0 ? ttl : (isRoot ? 0 : (parent.ttl > 0 ? remainingTTL(parent) : SimCore.defaultMaxTTL)))
        if explicitMax > 0 && (effective == 0 || effective > explicitMax) { effective = explicitMax }
        if !isRoot && effective > SimCore.defaultMaxTTL { effective = SimCore.defaultMaxTTL }
        let meta = Dictionary((body["meta"]?.objectValue ?? []).compactMap { k, v in v.stringValue.map { (k, $0) } }, uniquingKeysWith: { $1 })
        let renewable = body["renewable"]?.boolValue ?? true
        let display = body["display_name"]?.stringValue.map { "token-" + $0 } ?? "token"
        let t = TokenEntry(id: newToken(), accessor: newAccessor(), policies: policies, path: "auth/token/create", meta: meta,
                           displayName: display, numUses: body["num_uses"]?.intValue ?? 0, creationTime: now, ttl: effective,
                           explicitMaxTTL: explicitMax, period: period, renewable: effective > 0 && renewable,
                           orphan: body["no_parent"]?.boolValue == true && parentIsRoot, type: body["type"]?.stringValue ?? "service",
                           role: nil)
        do { try storeToken(g, keys: keys, t) } catch { return .errors(500, ["failed to store token: \(error)"]) }
        return .envelope(data: nil, auth: authBlock(t))
    }

    func renewSelf(_ t: TokenEntry, _ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest) -> SimResponse {
        guard t.renewable, t.expireTime != nil else { return .errors(400, ["lease is not renewable"]) }
        let body = JSONValue.parse(req.body) ?? .object([])
        guard let inc = SimCore.durationField(body["increment"]) else {
            return .errors(400, ["invalid increment"])
        }
        var renewed = t
        var ttl = t.period > 0 ? t.period : (inc > 0 ? inc : t.ttl)
        var warnings: [String]?
        let maxTTL = t.explicitMaxTTL > 0 ? t.explicitMaxTTL : SimCore.defaultMaxTTL
        let maxEnd = t.creationTime + TimeInterval(maxTTL)
        if now + TimeInterval(ttl) > maxEnd {
            let capped = max(0, GoDuration.clamped(maxEnd.timeIntervalSince(now)))
            warnings = ["TTL of \"\(GoDuration.format(seconds: ttl))\" exceeded the effective max_ttl of \"\(GoDuration.format(seconds: capped))\"; TTL value is capped accordingly"]
            ttl = capped
        }
        renewed.expireTime = now + TimeInterval(ttl)
        renewed.lastRenewal = now
        do { try storeToken(g, keys: keys, renewed) } catch { return .errors(500, ["failed to store token: \(error)"]) }
        return .envelope(data: nil, auth: authBlock(renewed), warnings: warnings)
    }

    // MARK: Policies

    func policyEndpoint(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, name: String, newStyle: Bool, list: Bool) -> SimResponse {
        if name.isEmpty || list {
            let names = (g.store.keys(withPrefix: "sys/policy/").map { String($0.dropFirst("sys/policy/".count)) } + ["root"]).sorted()
            if newStyle { return .envelope(data: .object([("keys", .strings(names))])) }
            return .json(200, .object([("policies", .strings(names)), ("keys", .strings(names)),
                                       ("request_id", .string(UUID().uuidString.lowercased())), ("lease_id", .string("")),
                                       ("renewable", .bool(false)), ("lease_duration", .int(0)),
                                       ("data", .object([("policies", .strings(names)), ("keys", .strings(names))])),
                                       ("wrap_info", .null), ("warnings", .null), ("auth", .null)]))
        }
        let field = newStyle ? "policy" : "rules"
        switch req.method {
        case "GET":
            if name == "root" { return .envelope(data: .object([("name", .string("root")), (field, .string(""))])) }
            guard let j = readJSON(g, keys: keys, "sys/policy/" + name), let text = j["policy"]?.stringValue else { return .notFoundEmpty }
            return .envelope(data: .object([("name", .string(name)), (field, .string(text))]))
        case "PUT", "POST":
            guard let body = JSONValue.parse(req.body), let text = body["policy"]?.stringValue ?? body["rules"]?.stringValue else {
                return .errors(400, ["'policy' parameter not supplied or empty"])
            }
            if name == "root" { return .errors(400, ["cannot update \"root\" policy"]) }
            do { _ = try ACLPolicy.parse(name: name, text: text) } catch { return .errors(400, [error.message]) }
            do {
                try writeJSON(g, keys: keys, "sys/policy/" + name, .object([("name", .string(name)), ("policy", .string(text))]))
            } catch { return .errors(500, ["\(error)"]) }
            return .noContent()
        case "DELETE":
            if name == "root" || name == "default" { return .errors(400, ["cannot delete \"\(name)\" policy"]) }
            try? deleteEntries(g, ["sys/policy/" + name])
            return .noContent()
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    // MARK: sys/auth and AppRole

    func authMounts(_ g: RaftGroup, keys: UnsealedKeys) -> [JSONValue] { readJSON(g, keys: keys, "core/auth")?["entries"]?.arrayValue ?? [] }

    func isAppRoleMounted(_ g: RaftGroup, keys: UnsealedKeys) -> Bool {
        authMounts(g, keys: keys).contains { $0["path"]?.stringValue == "approle/" }
    }

    func sysAuth(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, mount: String) -> SimResponse {
        var entries = authMounts(g, keys: keys)
        if mount.isEmpty {
            let data = JSONValue.object(entries.compactMap { e in
                guard let p = e["path"]?.stringValue else { return nil }
                return (p, .object([("type", e["type"] ?? .string("")), ("description", .string("")), ("accessor", .string("auth_" + (e["type"]?.stringValue ?? "") + "_sim")), ("local", .bool(false)), ("seal_wrap", .bool(false))]))
            })
            return .envelope(data: data)
        }
        let path = mount.hasSuffix("/") ? mount : mount + "/"
        switch req.method {
        case "POST", "PUT":
            let body = JSONValue.parse(req.body) ?? .object([])
            guard let type = body["type"]?.stringValue, !type.isEmpty else { return .errors(400, ["plugin type must be specified"]) }
            guard type == "approle" || type == "token" else { return .errors(400, ["plugin not found in the catalog: \(type)"]) }
            if entries.contains(where: { $0["path"]?.stringValue == path }) {
                return .errors(400, ["path is already in use at \(path)"])
            }
            guard path == "approle/" else { return .errors(400, ["vault-sim only supports the approle auth method at approle/"]) }
            entries.append(.object([("path", .string(path)), ("type", .string(type))]))
        case "DELETE":
            entries.removeAll { $0["path"]?.stringValue == path }
        default:
            return .errors(405, ["unsupported operation"])
        }
        do { try writeJSON(g, keys: keys, "core/auth", .object([("entries", .array(entries))])) } catch { return .errors(500, ["\(error)"]) }
        return .noContent()
    }

    /// `auth/approle/...` paths other than login (authorization already checked).
    func appRole(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest, rest: String, list: Bool) -> SimResponse {
        let parts = rest.split(separator: "/").map(String.init)
        guard parts.first == "role" else { return .errors(404, ["1 error occurred:\n\t* unsupported path\n\n"]) }
        if parts.count == 1 || list {
            let names = g.store.keys(withPrefix: "auth/approle/role/").map { String($0.dropFirst("auth/approle/role/".count)) }
            return names.isEmpty ? .notFoundEmpty : .envelope(data: .object([("keys", .strings(names))]))
        }
        let name = parts[1]
        let roleKey = "auth/approle/role/" + name
        if parts.count == 2 {
            switch req.method {
            case "POST", "PUT":
                let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) ?? .object([])
                let existing = readJSON(g, keys: keys, roleKey)
                let policies = body["token_policies"]?.stringList ?? body["policies"]?.stringList ?? existing?["token_policies"]?.stringList ?? []
                guard let ttl = SimCore.durationField(body["token_ttl"] ?? existing?["token_ttl"]),
                      let maxTTL = SimCore.durationField(body["token_max_ttl"] ?? existing?["token_max_ttl"]),
                      let sidTTL = SimCore.durationField(body["secret_id_ttl"] ?? existing?["secret_id_ttl"])
                else { return .errors(400, ["invalid duration"]) }
                let role = JSONValue.object([
                    ("role_id", .string(existing?["role_id"]?.stringValue ?? UUID().uuidString.lowercased())),
                    ("token_policies", .strings(policies)), ("token_ttl", .int(ttl)), ("token_max_ttl", .int(maxTTL)),
                    ("secret_id_ttl", .int(sidTTL)),
                    ("bind_secret_id", .bool(body["bind_secret_id"]?.boolValue ?? existing?["bind_secret_id"]?.boolValue ?? true)),
                    ("token_num_uses", .int(body["token_num_uses"]?.intValue ?? existing?["token_num_uses"]?.intValue ?? 0)),
                ])
                do { try writeJSON(g, keys: keys, roleKey, role) } catch { return .errors(500, ["\(error)"]) }
                return .noContent()
            case "GET":
                guard let r = readJSON(g, keys: keys, roleKey) else { return .notFoundEmpty }
                let fields: [(String, JSONValue)] = [
                    ("bind_secret_id", r.get("bind_secret_id", .bool(true))), ("secret_id_ttl", r.get("secret_id_ttl", .int(0))),
                    ("token_max_ttl", r.get("token_max_ttl", .int(0))), ("token_policies", r.get("token_policies", .array([]))),
                    ("policies", r.get("token_policies", .array([]))), ("token_ttl", r.get("token_ttl", .int(0))),
                    ("token_num_uses", r.get("token_num_uses", .int(0))), ("token_type", .string("default")),
                ]
                return .envelope(data: .object(fields))
            case "DELETE":
                let doomed = [roleKey] + g.store.keys(withPrefix: "auth/approle/secret-id/\(name)/")
                try? deleteEntries(g, doomed)
                return .noContent()
            default: return .errors(405, ["unsupported operation"])
            }
        }
        guard let role = readJSON(g, keys: keys, roleKey) else {
            return .errors(400, ["role \"\(name)\" does not exist"])
        }
        switch (parts[2], req.method) {
        case ("role-id", "GET"):
            return .envelope(data: .object([("role_id", role["role_id"] ?? .string(""))]))
        case ("role-id", "POST"), ("role-id", "PUT"):
            let body = JSONValue.parse(req.body) ?? .object([])
            guard let rid = body["role_id"]?.stringValue, !rid.isEmpty else { return .errors(400, ["missing role_id"]) }
            var fields = role.objectValue ?? []
            fields.removeAll { $0.0 == "role_id" }
            fields.insert(("role_id", .string(rid)), at: 0)
            try? writeJSON(g, keys: keys, roleKey, .object(fields))
            return .noContent()
        case ("secret-id", "POST"), ("secret-id", "PUT"):
            let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) ?? .object([])
            let secret = UUID().uuidString.lowercased()
            let accessor = UUID().uuidString.lowercased()
            let ttl = role["secret_id_ttl"]?.intValue ?? 0
            var md: [(String, JSONValue)] = []
            if case .string(let s)? = body["metadata"], let parsed = JSONValue.parse(Array(s.utf8)) { md = parsed.objectValue ?? [] }
            else if let o = body["metadata"]?.objectValue { md = o }
            let entry = JSONValue.object([
                ("secret_id_accessor", .string(accessor)), ("creation_time", .double(now.timeIntervalSince1970)),
                ("expiration", ttl > 0 ? .double(now.timeIntervalSince1970 + Double(ttl)) : .null),
                ("metadata", .object(md)), ("num_uses", .int(body["num_uses"]?.intValue ?? 0)),
            ])
            let key = "auth/approle/secret-id/\(name)/" + Hex.encode(SHA256Digest.hash(Array(secret.utf8)))
            do { try writeJSON(g, keys: keys, key, entry) } catch { return .errors(500, ["\(error)"]) }
            return .envelope(data: .object([("secret_id", .string(secret)), ("secret_id_accessor", .string(accessor)),
                                            ("secret_id_ttl", .int(ttl)), ("secret_id_num_uses", .int(body["num_uses"]?.intValue ?? 0))]))
        default:
            return .errors(405, ["unsupported operation"])
        }
    }

    func appRoleLogin(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest) -> SimResponse {
        let body = JSONValue.parse(req.body) ?? .object([])
        let invalid = SimResponse.errors(400, ["invalid role or secret ID"])
        guard let roleID = body["role_id"]?.stringValue, !roleID.isEmpty else { return .errors(400, ["missing role_id"]) }
        var found: (String, JSONValue)?
        for k in g.store.keys(withPrefix: "auth/approle/role/") {
            if let r = readJSON(g, keys: keys, k), r["role_id"]?.stringValue == roleID {
                found = (String(k.dropFirst("auth/approle/role/".count)), r)
                break
            }
        }
        guard let (name, role) = found else { return invalid }
        var metadata: [String: String] = [:]
        if role["bind_secret_id"]?.boolValue ?? true {
            guard let secret = body["secret_id"]?.stringValue, !secret.isEmpty else { return .errors(400, ["missing secret_id"]) }
            let key = "auth/approle/secret-id/\(name)/" + Hex.encode(SHA256Digest.hash(Array(secret.utf8)))
            guard let entry = readJSON(g, keys: keys, key) else { return invalid }
            if case .double(let exp)? = entry["expiration"], Date(timeIntervalSince1970: exp) <= now {
                try? deleteEntries(g, [key])
                return invalid
            }
            for (k, v) in entry["metadata"]?.objectValue ?? [] { if let s = v.stringValue { metadata[k] = s } }
            if let uses = entry["num_uses"]?.intValue, uses > 0 {
                if uses == 1 { try? deleteEntries(g, [key]) } else {
                    var f = entry.objectValue ?? []
                    f.removeAll { $0.0 == "num_uses" }
                    f.append(("num_uses", .int(uses - 1)))
                    try? writeJSON(g, keys: keys, key, .object(f))
                }
            }
        }
        metadata["role_name"] = name
        var policies = role["token_policies"]?.stringList ?? []
        if !policies.contains("default") { policies.append("default") }
        policies.sort()
        var ttl = role["token_ttl"]?.intValue ?? 0
        if ttl == 0 { ttl = SimCore.defaultMaxTTL }
        let maxTTL = role["token_max_ttl"]?.intValue ?? 0
        if maxTTL > 0 && ttl > maxTTL { ttl = maxTTL }
        let t = TokenEntry(id: newToken(), accessor: newAccessor(), policies: policies, path: "auth/approle/login", meta: metadata,
                           displayName: "approle", numUses: role["token_num_uses"]?.intValue ?? 0, creationTime: now, ttl: ttl,
                           explicitMaxTTL: maxTTL, period: 0, renewable: true, orphan: true, type: "service", role: name)
        do { try storeToken(g, keys: keys, t) } catch { return .errors(500, ["\(error)"]) }
        return .envelope(data: nil, auth: authBlock(t, metadata: metadata))
    }
}
