// A loopback port held without a server: what a stopped node's address is while the node is down.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A TCP port on 127.0.0.1 held by a socket that is bound and never listens. A connection to it is refused
/// (ECONNREFUSED), as for a stopped server, and while it is held the kernel gives the port to no `bind` of port 0:
/// so a stopped node's address cannot become another server's address in the meantime (tests run many simulators
/// and servers side by side, each binding port 0), and the node gets its port back when it starts again.
///
/// The socket has SO_REUSEADDR, so it can take the port of a listener just closed while that listener's connections
/// linger (TIME_WAIT); the listener that takes the port back sets it too.
public final class LoopbackPortHold: Sendable {
    public let port: Int
    private let descriptor: Int32

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Holds `port`, or a port of the kernel's choice when `port` is 0.
    public init(port: Int = 0) throws {
        guard (0...65535).contains(port) else { throw Failure(description: "port \(port) is out of range") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var on: Int32 = 1
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let reusable = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size)) == 0
        let bound = reusable && withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        } == 0
        let named = bound && withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        } == 0
        guard named else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "cannot hold 127.0.0.1:\(port): \(reason)")
        }
        descriptor = fd
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Lets the port go (the hold's only way out: the socket closes with the hold).
    deinit { close(descriptor) }
}
