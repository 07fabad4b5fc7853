// Shared plumbing for the libFuzzer harnesses: turning libFuzzer's buffer into bytes, reading structured input,
// feeding a stream in pieces, writing seed files, and stopping on a broken invariant.

import CLibFuzzer
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// libFuzzer's input as an array (it may pass a null pointer for the empty input).
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
    guard let data, size > 0 else { return [] }
    return Array(UnsafeBufferPointer(start: data, count: size))
}

/// A cursor over the fuzz input for structure-aware harnesses. Reading past the end yields zeros / empty arrays,
/// so every input is a valid program.
public struct FuzzReader {
    public let bytes: [UInt8]
    public private(set) var position = 0

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var isAtEnd: Bool { position >= bytes.count }
    public var remaining: Int { max(bytes.count - position, 0) }

    public mutating func byte() -> UInt8 {
        guard position < bytes.count else { return 0 }
        defer { position += 1 }
        return bytes[position]
    }

    public mutating func u16() -> Int { Int(byte()) << 8 | Int(byte()) }

    public mutating func take(_ count: Int) -> [UInt8] {
        let n = min(max(count, 0), remaining)
        defer { position += n }
        return Array(bytes[position..<(position + n)])
    }

    public mutating func rest() -> [UInt8] { take(remaining) }
}

/// Calls `body` with `bytes` cut into pieces of `pieceSize` (at least 1), as a network or file reader would deliver it.
public func feedInPieces(_ bytes: [UInt8], pieceSize: Int, _ body: (UnsafeRawBufferPointer) throws -> Void) rethrows {
    let size = max(pieceSize, 1)
    try bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(all.count, offset + size)
            try body(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
            offset = end
        }
    }
}

/// A piece size from one input byte: small sizes often (boundaries), sometimes large.
public func pieceSize(_ selector: UInt8) -> Int {
    selector < 200 ? Int(selector) + 1 : (Int(selector) - 199) * 4096
}

/// Writes a line to standard error (the C `stderr` global is not concurrency-safe in Swift 6).
public func printError(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// A harness invariant (an oracle) does not hold: report and abort, so libFuzzer saves the input as a crash.
public func fuzzInvariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        printError("fuzz invariant violated: \(message())")
        abort()
    }
}

/// When `LIFEBOAT_FUZZ_SEED_DIR` is set, writes `seeds` there (file name -> bytes) and exits; scripts/fuzz.sh calls
/// each harness this way once to create its seed corpus from the real fixtures and test vectors.
public func writeSeedsIfRequested(_ seeds: () throws -> [(String, [UInt8])]) {
    guard let directory = getenv("LIFEBOAT_FUZZ_SEED_DIR").map({ String(cString: $0) }) else { return }
    do {
        for (name, bytes) in try seeds() {
            let path = directory + "/" + name
            guard let file = fopen(path, "wb") else {
                printError("cannot write seed \(path)")
                exit(1)
            }
            _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
    } catch {
        printError("writing seeds failed: \(error)")
        exit(1)
    }
    exit(0)
}

/// Reads a whole file (seed sources: fixtures and vectors in the repository).
public func readFile(_ path: String) -> [UInt8]? {
    guard let file = fopen(path, "rb") else { return nil }
    defer { fclose(file) }
    var out: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&buffer, 1, buffer.count, file)
        if n <= 0 { break }
        out += buffer[0..<n]
    }
    return out
}

/// The repository root, from LIFEBOAT_REPO (set by scripts/fuzz.sh).
public var repositoryRoot: String {
    getenv("LIFEBOAT_REPO").map { String(cString: $0) } ?? "."
}

/// The body of each harness's `<module>_main`: runs libFuzzer (with its usual command line) on `testOneInput`.
public func runLibFuzzer(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                         _ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments, testOneInput)
}
