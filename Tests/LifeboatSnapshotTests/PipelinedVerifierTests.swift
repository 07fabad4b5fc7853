// The pipelined verifier (SnapshotVerifier on a worker thread behind a bounded queue) reaches the same verdict as the
// sequential one: the same summary for good snapshots, the same SnapshotError for every broken one, whatever the
// piece and batch sizes.

import LifeboatArchive
@testable import LifeboatSnapshot
import Testing

@Suite("PipelinedSnapshotVerifier matches SnapshotVerifier")
struct PipelinedVerifierTests {
    /// Feeds `bytes` in pieces of `pieceSize` to a pipelined verifier; the error is whatever it threw, from consume or finish.
    static func pipelined(_ bytes: [UInt8], pieceSize: Int, batchSize: Int, depth: Int) -> Result<SnapshotSummary, SnapshotError> {
        do {
            let verifier = try PipelinedSnapshotVerifier(batchSize: batchSize, depth: depth)
            var offset = 0
            try bytes.withUnsafeBytes { all in
                while offset < all.count {
                    let end = min(all.count, offset + pieceSize)
                    try verifier.consume(UnsafeRawBufferPointer(rebasing: all[offset..<end]))
                    offset = end
                }
            }
            return .success(try verifier.finish())
        } catch let error as SnapshotError {
            return .failure(error)
        } catch {
            Issue.record("unexpected error type: \(error)")
            return .failure(SnapshotError(.gzip, "unexpected"))
        }
    }

    /// Good and broken inputs: the fixtures, truncations, flipped bytes, trailing bytes, not gzip, empty.
    static func cases() throws -> [(String, [UInt8])] {
        var cases: [(String, [UInt8])] = []
        for fixture in Fixture.allCases {
            let good = try fixture.bytes
            cases.append(("\(fixture)", good))
            for cut in [1, 10, 100, good.count / 3, good.count / 2, good.count - 9, good.count - 1] {
                cases.append(("\(fixture) cut at \(cut)", Array(good[0..<cut])))
            }
            for position in [3, 40, 700, good.count / 2, good.count - 5] {
                var flipped = good
                flipped[position] ^= 0x20
                cases.append(("\(fixture) flipped at \(position)", flipped))
            }
            cases.append(("\(fixture) + trailing bytes", good + [0x1f, 0x8b, 0]))
            cases.append(("\(fixture) twice", good + good))
        }
        cases.append(("not gzip", Array(#"{"errors":["permission denied"]}"#.utf8)))
        cases.append(("empty", []))
        return cases
    }

    @Test("same verdict as the sequential verifier for every case and split",
          arguments: [(3, 64, 1), (777, 1000, 2), (4096, 64 * 1024, 3), (1 << 20, 1 << 20, 3)])
    func sameVerdict(split: (piece: Int, batch: Int, depth: Int)) throws {
        for (name, bytes) in try Self.cases() where split.piece > 3 || bytes.count < 40_000 {
            // Byte offsets in messages depend on how the input was cut, so the reference is the sequential verifier
            // fed exactly the batches the worker sees; the failed check must not depend on the cut at all.
            let sequential = SnapshotBytes.verify(bytes, chunkSize: split.batch)
            let pipelined = Self.pipelined(bytes, pieceSize: split.piece, batchSize: split.batch, depth: split.depth)
            #expect(pipelined == sequential, "\(name) with pieces of \(split.piece), batches of \(split.batch)")
            let otherCut = SnapshotBytes.verify(bytes, chunkSize: 4096)
            switch (pipelined, otherCut) {
            case (.success(let a), .success(let b)): #expect(a == b, "\(name)")
            case (.failure(let a), .failure(let b)): #expect(a.check == b.check, "\(name): \(a) vs \(b)")
            default: Issue.record("\(name): \(pipelined) vs \(otherCut)")
            }
        }
    }

    @Test("a good snapshot verifies, with its size and hash")
    func goodSnapshot() throws {
        let bytes = try Fixture.ellie.bytes
        let verifier = try PipelinedSnapshotVerifier(batchSize: 1000, depth: 2)
        try verifier.consume(bytes)
        #expect(verifier.bytesConsumed == Int64(bytes.count))
        let summary = try verifier.finish()
        #expect(summary.byteCount == Int64(bytes.count))
        #expect(summary.sha256 == SHA256Digest.hash(bytes))
        // finish again returns the same; more bytes afterwards are refused as the sequential verifier does.
        #expect(try verifier.finish() == summary)
        #expect(throws: SnapshotError.self) { try verifier.consume([1]) }
        #expect(throws: SnapshotError.self) { try verifier.finish() }
    }

    @Test("a failure found by the worker stops later consume calls before finish")
    func failureSurfacesFromConsume() throws {
        var junk = [UInt8](repeating: 0x41, count: 4096)
        junk[0] = 0x7b
        let verifier = try PipelinedSnapshotVerifier(batchSize: 1024, depth: 1)
        var thrown: SnapshotError?
        // With one batch in flight, each hand-over waits for the previous batch's verdict: the second or third
        // consume after the first full batch must throw.
        for _ in 0..<8 where thrown == nil {
            do { try verifier.consume(junk) } catch let error as SnapshotError { thrown = error }
        }
        #expect(thrown?.kind == .gzip)
        #expect(throws: thrown!) { try verifier.finish() }
    }

    @Test("a verifier dropped mid-stream does not block")
    func droppedMidStream() throws {
        for _ in 0..<20 {
            let verifier = try PipelinedSnapshotVerifier(batchSize: 100, depth: 2)
            try verifier.consume(Array(try Fixture.backup.bytes.prefix(1000)))
        }
    }
}
