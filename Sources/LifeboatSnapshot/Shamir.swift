// Shamir secret sharing over GF(2^8) (the AES field, polynomial 0x11b), shaped like Vault's `shamir` package:
// each share is the y-values for every secret byte followed by one x-coordinate byte. One implementation for
// vault-sim (split, combine at unseal) and Lifeboat (combining the shares offline to prove them against a backup).

import LifeboatArchive

/// Splits and combines secrets the way Vault's Shamir seal does (shares are `secret.count + 1` bytes).
public enum Shamir {
    /// Errors from splitting or combining.
    public enum Failure: Error, Equatable, Sendable {
        case invalidParameters(String)
        case invalidShares(String)
    }

    /// Splits `secret` into `parts` shares, any `threshold` of which recover it.
    public static func split(_ secret: [UInt8], parts: Int, threshold: Int) throws -> [[UInt8]] {
        guard parts >= threshold else { throw Failure.invalidParameters("parts cannot be less than threshold") }
        guard parts <= 255 else { throw Failure.invalidParameters("parts cannot exceed 255") }
        guard threshold >= 2 else { throw Failure.invalidParameters("threshold must be at least 2") }
        guard !secret.isEmpty else { throw Failure.invalidParameters("cannot split an empty secret") }
        // Distinct non-zero x-coordinates in random order.
        var xs = Array(UInt8(1)...UInt8(255))
        for i in stride(from: xs.count - 1, to: 0, by: -1) {
            let r = SecureRandom.bytes(2)
            let j = Int(UInt16(r[0]) << 8 | UInt16(r[1])) % (i + 1)
            xs.swapAt(i, j)
        }
        var shares = (0..<parts).map { i -> [UInt8] in
            var s = [UInt8](repeating: 0, count: secret.count + 1)
            s[secret.count] = xs[i]
            return s
        }
        for (byteIndex, value) in secret.enumerated() {
            var coefficients = SecureRandom.bytes(threshold)
            coefficients[0] = value
            for i in 0..<parts {
                shares[i][byteIndex] = evaluate(coefficients, at: xs[i])
            }
            wipe(&coefficients)
        }
        return shares
    }

    /// Recombines shares produced by `split`. Wrong shares give a wrong secret, not an error; malformed input
    /// (fewer than two parts, parts of unequal length, a part of other than `expectedLength` bytes when one is given,
    /// two parts with one x-coordinate) throws ``Failure/invalidShares(_:)`` and never traps.
    public static func combine(_ shares: [[UInt8]], expectedLength: Int? = nil) throws -> [UInt8] {
        guard shares.count >= 2 else { throw Failure.invalidShares("less than two parts cannot be used to reconstruct the secret") }
        let length = shares[0].count
        guard length >= 2 else { throw Failure.invalidShares("parts must be at least two bytes") }
        guard shares.allSatisfy({ $0.count == length }) else { throw Failure.invalidShares("all parts must be the same length") }
        if let expectedLength, length != expectedLength {
            throw Failure.invalidShares("parts must be \(expectedLength) bytes, not \(length)")
        }
        let xs = shares.map { $0[length - 1] }
        guard Set(xs).count == xs.count else { throw Failure.invalidShares("duplicate part detected") }
        var secret = [UInt8](repeating: 0, count: length - 1)
        for byteIndex in 0..<(length - 1) {
            var result: UInt8 = 0
            for i in 0..<shares.count {
                var basis: UInt8 = 1
                for j in 0..<shares.count where i != j {
                    // basis *= x_j / (x_j - x_i) evaluated at 0; subtraction is xor in GF(2^8).
                    basis = mul(basis, div(xs[j], xs[i] ^ xs[j]))
                }
                result ^= mul(basis, shares[i][byteIndex])
            }
            secret[byteIndex] = result
        }
        return secret
    }

    static func evaluate(_ coefficients: [UInt8], at x: UInt8) -> UInt8 {
        var out: UInt8 = 0
        for c in coefficients.reversed() { out = mul(out, x) ^ c }
        return out
    }

    static func mul(_ a: UInt8, _ b: UInt8) -> UInt8 {
        var a = a, b = b, p: UInt8 = 0
        while b != 0 {
            if b & 1 != 0 { p ^= a }
            let carry = a & 0x80
            a <<= 1
            if carry != 0 { a ^= 0x1b }
            b >>= 1
        }
        return p
    }

    static func inverse(_ a: UInt8) -> UInt8 {
        // a^254 = a^-1 in GF(2^8).
        var result: UInt8 = 1, base = a, e = 254
        while e > 0 {
            if e & 1 != 0 { result = mul(result, base) }
            base = mul(base, base)
            e >>= 1
        }
        return result
    }

    static func div(_ a: UInt8, _ b: UInt8) -> UInt8 { mul(a, inverse(b)) }
}
