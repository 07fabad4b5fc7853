// sys/capabilities-self: the capabilities the request's own token has on each of the given paths, as Vault answers
// it (every path as a top-level key and under `data`; `capabilities` too when one path was asked; `root` for a root
// token, `deny` where nothing is granted). Vault grants it to every token through the `default` policy, so it is
// answered before the ACL check; an unknown token is still refused.

extension SimCore {
    func capabilitiesSelf(_ g: RaftGroup, keys: UnsealedKeys, _ req: SimRequest) -> SimResponse {
        guard req.method == "PUT" || req.method == "POST" else { return .errors(405, ["unsupported operation"]) }
        guard let tokenID = req.token, let t = lookupToken(g, keys: keys, tokenID) else { return .permissionDenied }
        guard let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) else {
            return .errors(400, ["error parsing JSON"])
        }
        var paths = body["paths"]?.arrayValue?.compactMap(\.stringValue) ?? []
        if let one = body["path"]?.stringValue { paths.append(one) }
        guard !paths.isEmpty else { return .errors(400, ["missing paths"]) }
        let rules = acl(for: t, g, keys: keys)
        var fields: [(String, JSONValue)] = []
        for path in paths {
            let clean = path.hasPrefix("/") ? String(path.dropFirst()) : path
            let caps: [String]
            if t.policies.contains("root") {
                caps = ["root"]
            } else {
                let granted = rules.capabilities(for: clean).sorted()
                caps = granted.isEmpty ? ["deny"] : granted
            }
            fields.append((path, .strings(caps)))
        }
        var top = fields
        if fields.count == 1 { top.append(("capabilities", fields[0].1)) }
        return .json(200, .object(top + [("data", .object(fields))]))
    }
}
