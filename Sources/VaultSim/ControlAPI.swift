// The control API: a separate loopback listener through which the `vault-sim` subcommands (and out-of-process
// tests) stop, start, wipe, seal and corrupt nodes, move leadership, inject faults and seed data.
//
//   GET  /status                         {"nodes":[{id, api_addr, cluster_addr, running, sealed, active}], "leader"}
//   POST /nodes/<id>/{stop,start,wipe,seal,corrupt,lag}   (start: 409 when the node refuses: corrupt data, bad peers.json)
//   POST /leader      {"node": "vault_2"}   (node optional: any other eligible voter)
//   POST /faults      {"type": "...", ...}  (see `ControlAPI.fault(from:)`)
//   POST /seed        {"bytes": 1073741824, "value_size": 262144}

import Foundation

enum ControlAPI {
    static func handle(core: SimCore, request req: SimRequest) -> SimResponse {
        let parts = req.path.split(separator: "/").map(String.init)
        let body = JSONValue.parse(req.body.isEmpty ? Array("{}".utf8) : req.body) ?? .object([])
        switch (req.method, parts.first ?? "") {
        case ("GET", "status"):
            return .json(200, status(core))
        case ("POST", "nodes") where parts.count == 3:
            let id = parts[1]
            guard core.lock.withLock({ core.node(id) }) != nil else { return .errors(404, ["unknown node \"\(id)\""]) }
            switch parts[2] {
            case "stop": _ = core.stopNode(id)
            case "start":
                if case .refused(let message) = core.startNode(id) { return .errors(409, [message]) }
            case "wipe": core.wipeNode(id)
            case "seal": core.lock.withLock { if let n = core.node(id) { core.seal(n) } }
            case "corrupt": core.corruptNode(id)
            case "lag": core.lock.withLock { core.node(id)?.lagging = true }
            default: return .errors(404, ["unknown node action \"\(parts[2])\"; use stop, start, wipe, seal, corrupt or lag"])
            }
            return .json(200, status(core))
        case ("POST", "leader"):
            guard core.forceLeaderChange(to: body["node"]?.stringValue) else {
                return .errors(409, ["no other unsealed voter can become leader"])
            }
            return .json(200, status(core))
        case ("POST", "faults"):
            switch fault(from: body) {
            case .success(let f):
                core.lock.withLock { core.faults.apply(f) }
                return .noContent()
            case .failure(let e):
                return .errors(400, [e.description])
            }
        case ("POST", "seed"):
            guard let bytes = body["bytes"]?.intValue, (1...SimCore.maxSeedBytes).contains(bytes) else {
                return .errors(400, ["\"bytes\" must be an integer from 1 to \(SimCore.maxSeedBytes)"])
            }
            let valueSize = body["value_size"]?.intValue ?? 256 * 1024
            guard (1...SimCore.maxSeedValueSize).contains(valueSize) else {
                return .errors(400, ["\"value_size\" must be an integer from 1 to \(SimCore.maxSeedValueSize)"])
            }
            do {
                try core.seed(bytes: bytes, valueSize: valueSize)
                return .json(200, status(core))
            } catch {
                return .errors(409, ["\(error)"])
            }
        default:
            return .errors(404, ["unknown control endpoint \(req.method) \(req.path)"])
        }
    }

    static func status(_ core: SimCore) -> JSONValue {
        core.lock.withLock {
            let leader = core.nodes.first { core.isActive($0) }?.id
            return .object([
                ("nodes", .array(core.nodes.map { n in
                    .object([("id", .string(n.id)), ("api_addr", .string(n.apiAddress)), ("cluster_addr", .string(n.clusterAddress)),
                             ("running", .bool(n.running)), ("sealed", .bool(n.sealed)), ("active", .bool(core.isActive(n))),
                             ("initialized", .bool(core.isInitialized(n)))])
                })),
                ("leader", .optionalString(leader)),
            ])
        }
    }

    /// Parses a fault description:
    /// `{"type":"truncate-next-snapshot","after_bytes":N}`, `{"type":"reset-next-snapshot","after_bytes":N}`,
    /// `{"type":"delay-first-byte","path":P,"delay_ms":D,"count":C}`, `{"type":"throttle","bytes_per_second":R}`
    /// (0 or absent clears), `{"type":"fail","path":P,"status":S,"count":C,"message":M}`, `{"type":"clear"}`.
    static func fault(from j: JSONValue) -> Result<VaultSimFault, VaultSimulator.Failure> {
        // Every number is range-checked here: they reach status lines, timers and byte counts.
        func number(_ key: String, _ range: ClosedRange<Int>, default d: Int? = nil) -> Result<Int, VaultSimulator.Failure> {
            guard let raw = j[key] else {
                if let d { return .success(d) }
                return .failure(.init("\(key) is required"))
            }
            guard let n = raw.intValue, range.contains(n) else {
                return .failure(.init("\(key) must be an integer from \(range.lowerBound) to \(range.upperBound)"))
            }
            return .success(n)
        }
        do {
            switch j["type"]?.stringValue ?? "" {
            case "truncate-next-snapshot":
                return .success(.truncateNextSnapshot(afterBytes: try number("after_bytes", 0...Int(Int64.max)).get()))
            case "reset-next-snapshot":
                return .success(.resetNextSnapshot(afterBytes: try number("after_bytes", 0...Int(Int64.max)).get()))
            case "delay-first-byte":
                guard let p = j["path"]?.stringValue else { return .failure(.init("path is required")) }
                let ms = try number("delay_ms", 0...3_600_000).get()
                return .success(.delayFirstByte(path: p, delay: .milliseconds(ms), count: try number("count", 1...1_000_000, default: 1).get()))
            case "throttle":
                let r = try number("bytes_per_second", 0...Int(Int64.max), default: 0).get()
                return .success(.throttle(bytesPerSecond: r > 0 ? r : nil))
            case "fail":
                guard let p = j["path"]?.stringValue else { return .failure(.init("path is required")) }
                let s = try number("status", 100...599).get()
                return .success(.failRequests(path: p, status: s, count: try number("count", 1...1_000_000, default: 1).get(),
                                              message: j["message"]?.stringValue ?? "simulated failure"))
            case "clear":
                return .success(.clearAll)
            case let t:
                return .failure(.init("unknown fault type \"\(t)\"; use truncate-next-snapshot, reset-next-snapshot, delay-first-byte, throttle, fail or clear"))
            }
        } catch let e as VaultSimulator.Failure {
            return .failure(e)
        } catch {
            return .failure(.init("\(error)"))
        }
    }
}
