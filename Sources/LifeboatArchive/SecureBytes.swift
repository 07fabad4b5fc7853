// Key material in memory: one owner, cleansed with OPENSSL_cleanse when dropped.

import COpenSSL

/// Secret bytes (keys, derived keys) that are wiped from memory when the last reference goes away.
///
/// Immutable after creation, so sharing across tasks is safe.
public final class SecureBytes: Sendable {
    // Invariant: `storage` is allocated in init with `count` bytes and freed only in deinit.
    private nonisolated(unsafe) let storage: UnsafeMutableRawBufferPointer
    private let actualCount: Int

    public var count: Int { actualCount }

    /// Copies `bytes` into wipeable storage. The caller should wipe its own copy if it has one.
    public init(_ bytes: some Collection<UInt8>) {
        storage = .allocate(byteCount: max(bytes.count, 1), alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        _ = UnsafeMutableRawBufferPointer(rebasing: storage[0..<bytes.count]).initializeMemory(as: UInt8.self, from: bytes)
        actualCount = bytes.count
    }

    /// Allocates `count` bytes and lets `fill` write them (used for KDF output, so the secret is never in an Array).
    ///
    /// When `fill` throws, the buffer is wiped and freed here and the error rethrown before any stored property is
    /// set: a class initialiser that throws after full initialisation still runs `deinit`, which would free the
    /// buffer a second time (a scrypt failure on hostile header parameters corrupted the heap that way).
    public init(count: Int, fill: (UnsafeMutableRawBufferPointer) throws -> Void) rethrows {
        let count = max(count, 0)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 16)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        do {
            try fill(UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count]))
        } catch {
            OPENSSL_cleanse(buffer.baseAddress, buffer.count)
            buffer.deallocate()
            throw error
        }
        storage = buffer
        actualCount = count
    }

    deinit {
        OPENSSL_cleanse(storage.baseAddress, storage.count)
        storage.deallocate()
    }

    /// Gives read access to the secret bytes for the duration of `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(rebasing: storage[0..<actualCount]))
    }

    /// Constant-time comparison.
    public func constantTimeEquals(_ other: SecureBytes) -> Bool {
        guard actualCount == other.actualCount else { return false }
        return withUnsafeBytes { a in other.withUnsafeBytes { b in CRYPTO_memcmp(a.baseAddress, b.baseAddress, a.count) == 0 } }
    }
}

/// Overwrites an array that held secret bytes, so the secret does not linger in freed memory.
public func wipe(_ bytes: inout [UInt8]) {
    bytes.withUnsafeMutableBytes { buffer in
        if let base = buffer.baseAddress { OPENSSL_cleanse(base, buffer.count) }
    }
}
