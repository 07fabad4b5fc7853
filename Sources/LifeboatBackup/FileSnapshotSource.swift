// A snapshot file on disk as a snapshot source: `lifeboat import FILE.snap`.

import Foundation
import LifeboatArchive
import NIOCore
import LifeboatBase
import LifeboatSnapshot
import LifeboatVault
import LifeboatRepository

/// Reads a `.snap` file (as saved by `vault operator raft snapshot save`) in 1 MiB pieces.
public struct FileSnapshotSource: SnapshotSource {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func streamSnapshot(_ consume: (ByteBuffer) async throws -> Void) async throws -> SnapshotOrigin {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        var buffer = ByteBufferAllocator().buffer(capacity: 1 << 20)
        while true {
            buffer.clear()
            let n = try buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: 1 << 20) { space in
                try FileDescriptorIO.read(fd, into: UnsafeMutableRawBufferPointer(rebasing: space[0..<(1 << 20)]), path: path)
            }
            if n == 0 { break }
            try await consume(buffer)
        }
        return SnapshotOrigin()
    }
}
