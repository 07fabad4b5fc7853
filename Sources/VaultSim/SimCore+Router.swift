// Request routing: node-local unauthenticated endpoints, the sealed/standby rules (503, 307 for snapshot paths,
// forwarding of everything else to the active node), authorization, and dispatch to the endpoint handlers.

import Foundation

/// Work a request needs after the lock is released (slow or streaming).
enum RouteOutcome {
    case response(SimResponse)
    case snapshot(SnapshotJob)
    case restore(RestoreJob)
}

extension SimCore {
    static let snapshotPaths: Set<String> = ["sys/storage/raft/snapshot", "sys/storage/raft/snapshot-force"]

    /// Handles one request addressed to `nodeID`. Blocking; call it off the event loop.
    func handle(nodeID: String, request req: SimRequest) -> SimResponse {
        var path = req.logicalPath
        // List requests keep their trailing slash (it names a folder); others are routed without it.
        let listing = req.method == "LIST" || (req.method == "GET" && (req.query("list").flatMap { JSONValue.string($0).boolValue } ?? false))
        while !listing && path.hasSuffix("/") && path.count > 1 { path.removeLast() }
        let outcome: RouteOutcome
        var delay: Duration?
        lock.lock()
        if let fail = faults.takeFailure(path) {
            lock.unlock()
            return fail
        }
        delay = faults.takeDelay(path)
        if let n = node(nodeID), n.running {
            outcome = route(n, req, path: path)
        } else {
            outcome = .response(SimResponse(status: 503, resetImmediately: true))
        }
        lock.unlock()
        var response: SimResponse
        switch outcome {
        case .response(let r): response = r
        case .snapshot(let job): response = renderSnapshot(job)
        case .restore(let job): response = runRestore(job)
        }
        if let delay { response.firstByteDelay = delay }
        if let ns = req.header("X-Vault-Namespace"), !ns.isEmpty { response.headers.append(("X-Vault-Namespace", ns)) }
        response.headers.append(("Cache-Control", "no-store"))
        return response
    }

    func route(_ n: SimNode, _ req: SimRequest, path: String) -> RouteOutcome {
        let m = req.method
        let isWrite = m == "PUT" || m == "POST"
        switch path {
        case "sys/health":
            return .response(m == "GET" || m == "HEAD" ? health(n, req) : .errors(405, []))
        case "sys/leader":
            return .response(m == "GET" ? leader(n) : .errors(405, []))
        case "sys/seal-status":
            return .response(m == "GET" ? .json(200, sealStatusValue(n)) : .errors(405, []))
        case "sys/init":
            if m == "GET" { return .response(initStatus(n)) }
            return .response(isWrite ? initialize(n, req) : .errors(405, []))
        case "sys/unseal":
            return .response(isWrite ? unseal(n, req) : .errors(405, []))
        case "sys/seal":
            return .response(isWrite ? sealRequest(n, req) : .errors(405, []))
        case "sys/storage/raft/join":
            return .response(isWrite ? join(n, req) : .errors(405, []))
        default:
            break
        }
        if n.sealed { return .response(.sealed) }
        if !isActive(n) {
            let redirect = SimCore.snapshotPaths.contains(path) || req.header("X-Vault-No-Request-Forwarding") != nil
            guard let active = activeNode(for: n), active.running, !active.sealed else {
                return .response(.errors(500, ["local node not active but active cluster node not found"]))
            }
            if redirect {
                let location = active.apiAddress + req.path + (req.rawQuery.map { "?" + $0 } ?? "")
                return .response(SimResponse(status: 307, headers: [("Location", location)], body: .empty))
            }
            return routeActive(active, req, path: path)
        }
        return routeActive(n, req, path: path)
    }

    func routeActive(_ a: SimNode, _ req: SimRequest, path: String) -> RouteOutcome {
        guard let g = group(of: a), let keys = a.keys else { return .response(.sealed) }
        let m = req.method
        let isWrite = m == "PUT" || m == "POST"
        let list = m == "LIST" || (m == "GET" && (req.query("list").flatMap { JSONValue.string($0).boolValue } ?? false))

        // Unauthenticated login.
        if path == "auth/approle/login" {
            guard isWrite else { return .response(.errors(405, ["unsupported operation"])) }
            guard isAppRoleMounted(g, keys: keys) else { return .response(.permissionDenied) }
            return .response(appRoleLogin(g, keys: keys, req))
        }

        if path == "sys/capabilities-self" { return .response(capabilitiesSelf(g, keys: keys, req)) }
        let table = mountTable(g, keys: keys)
        let mounted = path.hasPrefix("sys/") || path.hasPrefix("auth/") ? nil : mount(for: path, in: table)
        let capability: String
        if list { capability = "list" }
        else if m == "GET" || m == "HEAD" { capability = "read" }
        else if m == "DELETE" { capability = "delete" }
        else if isWrite {
            if let (mt, rest) = mounted {
                capability = mt.type == "kv" ? kvWriteCapability(g, mount: mt, rest: rest) : transitWriteCapability(g, mount: mt, rest: rest)
            } else {
                capability = "update"
            }
        } else {
            return .response(.errors(405, ["unsupported operation"]))
        }
        let needsSudo = path.hasPrefix("sys/auth/")
        let token: TokenEntry
        switch authorize(req, path: path, capability: capability, group: g, keys: keys, sudo: needsSudo) {
        case .denied(let r): return .response(r)
        case .allowed(let t): token = t
        }
        func only(_ methods: Set<String>, _ body: () -> SimResponse) -> RouteOutcome {
            .response(methods.contains(m) ? body() : .errors(405, ["unsupported operation"]))
        }
        switch path {
        case "sys/storage/raft/configuration":
            return only(["GET"]) { raftConfiguration(g) }
        case "sys/storage/raft/remove-peer":
            return only(["PUT", "POST"]) { removePeer(g, req) }
        case "sys/storage/raft/autopilot/state":
            return only(["GET"]) { autopilotState(g) }
        case "sys/storage/raft/snapshot":
            if m == "GET" { return .snapshot(snapshotJob(a, g, keys: keys)) }
            if isWrite { return .restore(RestoreJob(groupID: g.id, nodeID: a.id, force: false, bodyFile: req.bodyFile, body: req.body, seal: keys.seal)) }
            return .response(.errors(405, ["unsupported operation"]))
        case "sys/storage/raft/snapshot-force":
            if isWrite { return .restore(RestoreJob(groupID: g.id, nodeID: a.id, force: true, bodyFile: req.bodyFile, body: req.body, seal: keys.seal)) }
            return .response(.errors(405, ["unsupported operation"]))
        case "auth/token/lookup-self":
            return only(["GET", "POST", "PUT"]) { lookupSelf(token) }
        case "auth/token/renew-self":
            return only(["PUT", "POST"]) { renewSelf(token, g, keys: keys, req) }
        case "auth/token/create":
            return only(["PUT", "POST"]) { createToken(token, g, keys: keys, req) }
        case "sys/policy":
            return only(["GET"]) { policyEndpoint(g, keys: keys, req, name: "", newStyle: false, list: true) }
        case "sys/policies/acl":
            return only(["GET", "LIST"]) { policyEndpoint(g, keys: keys, req, name: "", newStyle: true, list: true) }
        case "sys/auth":
            return only(["GET"]) { sysAuth(g, keys: keys, req, mount: "") }
        case "sys/mounts":
            return only(["GET"]) { sysMountsList(g, keys: keys) }
        default:
            break
        }
        if path.hasPrefix("sys/policy/") {
            return .response(policyEndpoint(g, keys: keys, req, name: String(path.dropFirst("sys/policy/".count)), newStyle: false, list: false))
        }
        if path.hasPrefix("sys/policies/acl/") {
            return .response(policyEndpoint(g, keys: keys, req, name: String(path.dropFirst("sys/policies/acl/".count)), newStyle: true, list: false))
        }
        if path.hasPrefix("sys/auth/") {
            return .response(sysAuth(g, keys: keys, req, mount: String(path.dropFirst("sys/auth/".count))))
        }
        if path.hasPrefix("auth/approle/"), isAppRoleMounted(g, keys: keys) {
            return .response(appRole(g, keys: keys, req, rest: String(path.dropFirst("auth/approle/".count)), list: list))
        }
        if path.hasPrefix("sys/mounts/") {
            return .response(sysMount(g, keys: keys, req, rest: String(path.dropFirst("sys/mounts/".count))))
        }
        if let (mt, rest) = mounted {
            switch mt.type {
            case "kv": return .response(kv(g, keys: keys, req, mount: mt, rest: rest, list: list))
            case "transit": return .response(transit(g, keys: keys, req, mount: mt, rest: rest, list: list))
            default: break  // cubbyhole/ and identity/ are listed but not simulated
            }
        }
        return .response(.errors(404, ["no handler for route \"\(path)\". route entry not found."]))
    }
}
