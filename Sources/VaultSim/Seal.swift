// Seals: what protects a cluster's root key and encrypts SHA256SUMS.sealed. Shamir (the combined unseal key, an
// AEAD wrapper as in go-kms-wrapping) or transit auto-unseal (Vault's `seal "transit"`: another Vault cluster's
// transit key encrypts and decrypts through its HTTP API).

import Foundation
import LifeboatArchive
import LifeboatSnapshot

/// How a simulated cluster's root key is sealed.
public enum VaultSimSeal: Sendable, Equatable {
    /// Unseal keys split with Shamir's scheme (the default).
    case shamir
    /// Auto-unseal through another Vault (or vault-sim) cluster's transit engine, like Vault's `seal "transit"`
    /// stanza: `address` (e.g. `http://127.0.0.1:8200`), a token allowed to use `<mountPath>/encrypt/<keyName>` and
    /// `<mountPath>/decrypt/<keyName>`, the mount path (`transit/`) and the key name.
    case transit(address: String, token: String, mountPath: String, keyName: String)

    var typeName: String {
        switch self {
        case .shamir: return "shamir"
        case .transit: return "transit"
        }
    }
}

/// An error from a seal (the KMS is unreachable, refuses, or the blob does not open).
struct SealError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The seal "Access" an unsealed node holds.
enum SealAccess: Sendable {
    case shamir(key: [UInt8])
    case transit(TransitSealClient)

    /// The BlobInfo bytes Vault stores for `plaintext` (SHA256SUMS.sealed, core/hsm/barrier-unseal-keys).
    func wrap(_ plaintext: [UInt8]) throws -> [UInt8] {
        switch self {
        case .shamir(let key):
            return try Barrier.sealBlob(key: key, plaintext: plaintext)
        case .transit(let client):
            let ciphertext = try client.encrypt(plaintext)
            return BlobInfo(ciphertext: Array(ciphertext.utf8), keyInfo: KeyInfo(keyID: client.keyName)).encoded()
        }
    }

    func unwrap(_ blob: [UInt8]) throws -> [UInt8] {
        switch self {
        case .shamir(let key):
            return try Barrier.openBlob(key: key, blob: blob)
        case .transit(let client):
            guard let info = try? BlobInfo(decoding: blob), !info.ciphertext.isEmpty else {
                throw SealError("failed to decode stored keys: not a BlobInfo")
            }
            return try client.decrypt(String(decoding: info.ciphertext, as: UTF8.self))
        }
    }
}

/// A minimal blocking HTTP/1.1 client for the transit seal (loopback `http://` only, one connection per call,
/// bounded by timeouts). Called from request threads, never from an event loop or a Swift task.
struct TransitSealClient: Sendable {
    var address: String
    var token: String
    var mountPath: String
    var keyName: String
    var timeoutSeconds = 5

    init(address: String, token: String, mountPath: String, keyName: String) {
        self.address = address
        self.token = token
        var m = mountPath
        while m.hasPrefix("/") { m.removeFirst() }
        while m.hasSuffix("/") { m.removeLast() }
        self.mountPath = m.isEmpty ? "transit" : m
        self.keyName = keyName
    }

    func encrypt(_ plaintext: [UInt8]) throws -> String {
        let r = try post("encrypt", .object([("plaintext", .string(Data(plaintext).base64EncodedString()))]))
        guard let c = r["data"]?["ciphertext"]?.stringValue else { throw SealError("transit encrypt answered without a ciphertext") }
        return c
    }

    func decrypt(_ ciphertext: String) throws -> [UInt8] {
        let r = try post("decrypt", .object([("ciphertext", .string(ciphertext))]))
        guard let p = r["data"]?["plaintext"]?.stringValue, let d = Data(base64Encoded: p) else {
            throw SealError("transit decrypt answered without a plaintext")
        }
        return Array(d)
    }

    private func post(_ op: String, _ body: JSONValue) throws -> JSONValue {
        let path = "/v1/\(mountPath)/\(op)/\(keyName)"
        let (status, bytes) = try TransitSealClient.request(address: address, method: "PUT", path: path, token: token,
                                                            body: body.bytes, timeoutSeconds: timeoutSeconds)
        let json = JSONValue.parse(bytes)
        guard status == 200, let json else {
            let errors = json?["errors"]?.stringList?.joined(separator: "; ") ?? String(decoding: bytes.prefix(200), as: UTF8.self)
            throw SealError("Error making API request.\n\nURL: PUT \(address)\(path)\nCode: \(status). Errors:\n\n* \(errors)")
        }
        return json
    }

    /// One request with `Connection: close`; returns status and body.
    static func request(address: String, method: String, path: String, token: String, body: [UInt8],
                        timeoutSeconds: Int) throws -> (Int, [UInt8]) {
        guard let url = URL(string: address), url.scheme == "http", let host = url.host else {
            throw SealError("transit seal address \(address) must be http://HOST:PORT (vault-sim speaks no TLS)")
        }
        let port = url.port ?? 8200
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &res) == 0, let ai = res else {
            throw SealError("dial tcp \(host):\(port): lookup \(host): no such host")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw SealError("socket: errno \(errno)") }
        defer { close(fd) }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard connect(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            throw SealError("dial tcp \(host):\(port): connect: connection refused")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nX-Vault-Token: \(token)\r\n"
        head += "Content-Type: application/json\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let out = Array(head.utf8) + body
        var sent = 0
        while sent < out.count {
            let n = out[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw SealError("write tcp \(host):\(port): broken pipe") }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        while response.count < 16 << 20 {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw SealError("read tcp \(host):\(port): i/o timeout") }
            response += buffer[0..<n]
        }
        guard let split = TransitSealClient.find(response, Array("\r\n\r\n".utf8)) else { throw SealError("malformed HTTP response from \(address)") }
        let headText = String(decoding: response[0..<split], as: UTF8.self)
        let statusLine = headText.split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else { throw SealError("malformed HTTP status line from \(address)") }
        var payload = Array(response[(split + 4)...])
        if headText.lowercased().contains("transfer-encoding: chunked") { payload = dechunk(payload) }
        return (status, payload)
    }

    static func find(_ hay: [UInt8], _ needle: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle { return i }
        return nil
    }

    static func dechunk(_ b: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var p = 0
        while p < b.count {
            guard let eol = find(Array(b[p...]), [0x0d, 0x0a]) else { break }
            let sizeText = String(decoding: b[p..<(p + eol)], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16), size > 0 else { break }
            let start = p + eol + 2
            guard size <= b.count - start else { break }
            out += b[start..<(start + size)]
            p = start + size + 2
        }
        return out
    }
}
