// A minimal blocking HTTP/1.1 client over a loopback socket for tests: no redirect following, any method,
// exposes chunked framing problems (a body cut without the final chunk) instead of hiding them.

import Foundation
@testable import VaultSim

struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    /// The chunked body ended with its terminating zero-length chunk (or the Content-Length was met).
    var complete: Bool
    /// The connection failed (reset) while reading.
    var connectionError: Bool

    func header(_ name: String) -> String? { headers.first { $0.0.caseInsensitiveCompare(name) == .orderedSame }?.1 }
    var json: JSONValue? { JSONValue.parse(body) }
    var errors: [String]? { json?["errors"]?.stringList }
    var text: String { String(decoding: body, as: UTF8.self) }
}

struct TestClientError: Error, CustomStringConvertible { var description: String }

enum TestHTTP {
    /// Sends one request on a fresh connection (`Connection: close`) and reads the whole response.
    static func send(_ method: String, _ url: String, token: String? = nil, headers: [(String, String)] = [],
                     body: [UInt8] = [], json: JSONValue? = nil) throws -> TestResponse {
        guard let u = URL(string: url), let port = u.port else { throw TestClientError(description: "bad url \(url)") }
        // Keep the path exactly as given (Foundation's URL.path drops a trailing slash).
        let afterScheme = url.dropFirst((u.scheme ?? "http").count + 3)
        let target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError(description: "socket failed") }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { throw TestClientError(description: "connection refused to \(url)") }
        var tv = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let payload = json?.bytes ?? body
        var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        if let token { head += "X-Vault-Token: \(token)\r\n" }
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let out = Array(head.utf8) + payload
        var sent = 0
        while sent < out.count {
            let n = out.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, out.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestClientError(description: "send failed") }
            sent += n
        }
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        var connectionError = false
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
            if n < 0 { connectionError = true; break }
            if n == 0 { break }
            data.append(contentsOf: buf[0..<n])
        }
        return try parse(data, connectionError: connectionError, isHead: method == "HEAD")
    }

    static func parse(_ data: [UInt8], connectionError: Bool, isHead: Bool) throws -> TestResponse {
        guard let end = find(data, [13, 10, 13, 10], from: 0) else {
            if connectionError || data.isEmpty { return TestResponse(status: 0, headers: [], body: [], complete: false, connectionError: true) }
            throw TestClientError(description: "no header terminator")
        }
        let lines = String(decoding: data[0..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        let headers = lines.dropFirst().compactMap { l -> (String, String)? in
            guard let c = l.firstIndex(of: ":") else { return nil }
            return (String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces))
        }
        let rest = Array(data[(end + 4)...])
        let te = headers.first { $0.0.lowercased() == "transfer-encoding" }?.1.lowercased()
        if isHead || status == 204 || status == 304 {
            return TestResponse(status: status, headers: headers, body: [], complete: true, connectionError: connectionError)
        }
        if te == "chunked" {
            var body: [UInt8] = []
            var p = 0
            var complete = false
            while let lineEnd = find(rest, [13, 10], from: p) {
                let sizeText = String(decoding: rest[p..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText, radix: 16) else { break }
                if size == 0 { complete = true; break }
                let start = lineEnd + 2
                guard start + size + 2 <= rest.count else {
                    body.append(contentsOf: rest[start..<min(rest.count, start + size)])
                    break
                }
                body.append(contentsOf: rest[start..<(start + size)])
                p = start + size + 2
            }
            return TestResponse(status: status, headers: headers, body: body, complete: complete, connectionError: connectionError)
        }
        let length = headers.first { $0.0.lowercased() == "content-length" }.flatMap { Int($0.1) }
        let body = length.map { Array(rest.prefix($0)) } ?? rest
        return TestResponse(status: status, headers: headers, body: body, complete: length.map { rest.count >= $0 } ?? true,
                            connectionError: connectionError)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8], from: Int) -> Int? {
        guard hay.count >= needle.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
            i += 1
        }
        return nil
    }
}
