// Transport-neutral request and response values exchanged between the NIO server and the simulated nodes.

import Foundation

/// One HTTP request as a simulated node sees it.
struct SimRequest: Sendable {
    var method: String
    /// The path without the query string, e.g. `/v1/sys/health`.
    var path: String
    /// The raw query string (without `?`), or nil.
    var rawQuery: String?
    var headers: [(String, String)]
    var body: [UInt8]
    /// A spooled body (snapshot uploads) instead of `body`.
    var bodyFile: String?

    func header(_ name: String) -> String? {
        headers.first(where: { $0.0.caseInsensitiveCompare(name) == .orderedSame })?.1
    }

    /// Query parameters in order (`+` and percent escapes decoded).
    var queryItems: [(String, String)] {
        guard let q = rawQuery, !q.isEmpty else { return [] }
        return q.split(separator: "&", omittingEmptySubsequences: true).map { part in
            let kv = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func dec(_ s: Substring) -> String {
                String(s).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(s)
            }
            return (dec(kv[0]), kv.count > 1 ? dec(kv[1]) : "")
        }
    }

    func query(_ name: String) -> String? { queryItems.last(where: { $0.0 == name })?.1 }

    /// The logical path: `/v1/` stripped, no leading or trailing slash handling beyond that.
    var logicalPath: String {
        var p = path
        if p.hasPrefix("/v1/") { p.removeFirst(4) } else if p == "/v1" { p = "" }
        return p
    }

    /// The client token from `X-Vault-Token`, else `Authorization: Bearer`.
    var token: String? {
        if let t = header("X-Vault-Token"), !t.isEmpty { return t }
        if let a = header("Authorization"), a.lowercased().hasPrefix("bearer ") {
            let t = String(a.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            return t.isEmpty ? nil : t
        }
        return nil
    }
}

/// Per-response streaming behaviour injected by faults.
struct StreamFaults: Sendable, Equatable {
    var truncateAfter: Int?
    var resetAfter: Int?
    var bytesPerSecond: Int?
}

enum SimBody: Sendable {
    case empty
    case bytes([UInt8])
    /// Stream a file with chunked encoding (no Content-Length).
    case file(path: String, faults: StreamFaults)
}

/// One HTTP response from a simulated node.
struct SimResponse: Sendable {
    var status: Int
    var headers: [(String, String)] = []
    var body: SimBody = .empty
    var firstByteDelay: Duration?
    /// Drop the connection without answering (simulated reset before any byte).
    var resetImmediately = false

    static func json(_ status: Int, _ value: JSONValue) -> SimResponse {
        SimResponse(status: status, headers: [("Content-Type", "application/json")], body: .bytes(value.bytes + [0x0a]))
    }

    static func errors(_ status: Int, _ messages: [String]) -> SimResponse {
        json(status, .object([("errors", .strings(messages))]))
    }

    static func noContent() -> SimResponse {
        SimResponse(status: 204, headers: [("Content-Type", "application/json")], body: .empty)
    }

    static let notFoundEmpty = errors(404, [])
    static let permissionDenied = errors(403, ["permission denied"])
    static let permissionDeniedMulti = errors(403, ["1 error occurred:\n\t* permission denied\n\n"])
    static let sealed = errors(503, ["Vault is sealed"])

    /// Vault's standard logical response envelope.
    static func envelope(data: JSONValue?, auth: JSONValue? = nil, warnings: [String]? = nil,
                         leaseDuration: Int = 0, renewable: Bool = false) -> SimResponse {
        json(200, .object([
            ("request_id", .string(UUID().uuidString.lowercased())),
            ("lease_id", .string("")),
            ("renewable", .bool(renewable)),
            ("lease_duration", .int(leaseDuration)),
            ("data", data ?? .null),
            ("wrap_info", .null),
            ("warnings", warnings.map { .strings($0) } ?? .null),
            ("auth", auth ?? .null),
        ]))
    }
}
