// Errors from libcrypto, with OpenSSL's whole error queue drained into the message.

import COpenSSL

/// A libcrypto call failed. `operation` names the call; `queue` holds every entry OpenSSL queued for it.
public struct OpenSSLError: Error, Sendable, CustomStringConvertible {
    public let operation: String
    public let queue: [String]

    /// Drains the thread's OpenSSL error queue so that no stale entry leaks into a later error.
    init(_ operation: String) {
        var entries: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            var buffer = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &buffer, buffer.count)
            entries.append(String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        self.operation = operation
        self.queue = entries
    }

    public var description: String {
        queue.isEmpty ? "OpenSSL \(operation) failed" : "OpenSSL \(operation) failed: \(queue.joined(separator: "; "))"
    }
}

/// Clears any error left on the queue by a call whose failure was handled.
func clearOpenSSLErrors() {
    ERR_clear_error()
}
