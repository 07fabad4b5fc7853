// A snapshot file on disk as a snapshot source: `lifeboat import FILE.snap`.

import Foundation
import LifeboatArchive

/// Reads a `.snap` file (as saved by `vault operator raft snapshot save`) in 1 MiB pieces.
public struct FileSnapshotSource: SnapshotSource {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    public func streamSnapshot(_ consume: (UnsafeRawBufferPointer) async throws -> Void) async throws -> SnapshotOrigin {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw FileIOError(path: path, operation: "open", code: errno) }
        defer { close(fd) }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let n = try FileDescriptorIO.read(fd, into: buffer, path: path)
            if n == 0 { break }
            try await consume(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        return SnapshotOrigin()
    }
}
