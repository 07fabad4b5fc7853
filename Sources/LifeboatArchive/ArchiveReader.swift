// Streaming decryption of Lifeboat's envelope: archive bytes in, authenticated plaintext out, one chunk at a time.

/// Decrypts a Lifeboat archive (docs/format.md) as it streams in.
///
/// Plaintext is appended to the caller's buffer only after its chunk authenticated. The stream as a whole is
/// proven complete only when `finish()` returns: callers must keep the plaintext away from its final
/// destination until then (the archive commands write to a temporary file and rename it afterwards).
public struct ArchiveReader {
    private enum State {
        case header
        /// The fixed header was read; its recipient stanzas come next.
        case stanzas(ArchiveHeader)
        case chunkHeader
        case chunkBody(ChunkRecordHeader, recordOffset: UInt64)
        case done
    }

    private let keyRing: KeyRing
    private var state = State.header
    private var buffer: [UInt8] = []
    /// Absolute offset of `buffer[0]` in the archive.
    private var bufferOffset: UInt64 = 0
    private var keys: ArchiveKeys?
    private var inflater: Inflater?
    private var plain: [UInt8] = []
    private var nextIndex: UInt64 = 0

    public private(set) var header: ArchiveHeader?
    /// Authenticated plaintext bytes released so far.
    public private(set) var plaintextBytes: UInt64 = 0
    /// True once the final chunk authenticated.
    public var sawFinalChunk: Bool {
        if case .done = state { return true }
        return false
    }

    /// Without keys, only the structure is checked (``init(checkingStructureOnly:)``).
    private let structureOnly: Bool

    public init(keyRing: KeyRing) {
        self.keyRing = keyRing
        structureOnly = false
    }

    /// A reader that checks everything that can be checked without a key (docs/format.md §5.1): magic, version,
    /// header fields, recipient stanzas (count, no duplicates), and for every chunk record the archive tag, the index
    /// sequence, the flags, the body length, a final record and nothing after it. Nothing is decrypted or
    /// authenticated and no plaintext is produced: a changed byte inside a body or the header MAC goes unnoticed.
    public init(checkingStructureOnly: Void) {
        keyRing = KeyRing()
        structureOnly = true
    }

    /// Records checked so far (with ``init(checkingStructureOnly:)``, records whose framing was checked).
    public var chunkCount: UInt64 { nextIndex }

    /// Consumes archive bytes, appending the plaintext of every chunk that authenticates to `output`.
    ///
    /// Whole records are decrypted straight from `input`; only a record split across calls is gathered in an
    /// internal buffer first (at most one record).
    public mutating func consume(_ input: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        if case .done = state, input.count > 0 {
            throw ArchiveError.trailingData(offset: bufferOffset + UInt64(buffer.count))
        }
        var rest = input
        // First complete the element held over from the previous call, if any.
        if !buffer.isEmpty {
            guard let need = elementLength else { return }
            let take = min(need - buffer.count, rest.count)
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]).assumingMemoryBound(to: UInt8.self))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            guard buffer.count == need else {
                if case .header = state { try ArchiveHeader.checkPrefix(buffer.prefix(9)) }
                return
            }
            let element = buffer
            try element.withUnsafeBytes { try step($0, into: &output) }
            bufferOffset += UInt64(element.count)
            buffer.removeAll(keepingCapacity: true)
        }
        // Then every whole element in the input, in place.
        var cursor = 0
        while true {
            let available = rest.count - cursor
            guard let need = elementLength else {
                if available > 0 { throw ArchiveError.trailingData(offset: bufferOffset) }
                return
            }
            guard available >= need else { break }
            try step(UnsafeRawBufferPointer(rebasing: rest[cursor..<cursor + need]), into: &output)
            cursor += need
            bufferOffset += UInt64(need)
        }
        // Keep the start of the next element for the next call.
        if cursor < rest.count {
            if case .header = state {
                try ArchiveHeader.checkPrefix(ArraySlice(UnsafeRawBufferPointer(rebasing: rest[cursor...]).prefix(9)))
            }
            buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[cursor...]).assumingMemoryBound(to: UInt8.self))
        }
    }

    /// Length of the element the reader waits for (archive header, record header, record body); nil when done.
    private var elementLength: Int? {
        switch state {
        case .header: return ArchiveHeader.length
        case .stanzas(let fixed): return fixed.stanzaBytes
        case .chunkHeader: return ChunkRecordHeader.length
        case .chunkBody(let record, _): return record.bodyLength
        case .done: return nil
        }
    }

    /// Handles one complete element starting at archive offset `bufferOffset`.
    private mutating func step(_ element: UnsafeRawBufferPointer, into output: inout [UInt8]) throws {
        switch state {
        case .header:
            let bytes = Array(element)
            try ArchiveHeader.checkPrefix(bytes.prefix(9))
            let parsed = try ArchiveHeader.parse(bytes[...])
            if parsed.kdf == .recipients {
                state = .stanzas(parsed)
            } else {
                try accept(parsed)
            }
        case .stanzas(var parsed):
            try parsed.parseStanzas(Array(element)[...])
            try accept(parsed)
        case .chunkHeader:
            let record = ChunkRecordHeader.parse(Array(element)[...])
            try validate(record, offset: bufferOffset)
            state = .chunkBody(record, recordOffset: bufferOffset)
        case .chunkBody(let record, let offset):
            try open(record, body: element, offset: offset, into: &output)
            nextIndex += 1
            state = record.isFinal ? .done : .chunkHeader
        case .done:
            throw ArchiveError.trailingData(offset: bufferOffset)
        }
    }

    /// The whole header was read: find the key and authenticate the header (unless only the structure is checked).
    private mutating func accept(_ parsed: ArchiveHeader) throws {
        if !structureOnly { keys = try ArchiveKeys.open(header: parsed, keyRing: keyRing) }
        header = parsed
        plain.reserveCapacity(parsed.chunkSize)
        state = .chunkHeader
    }

    public mutating func consume(_ input: [UInt8], into output: inout [UInt8]) throws {
        try input.withUnsafeBytes { try consume($0, into: &output) }
    }

    /// Declares the end of the input; throws unless the final chunk authenticated and nothing followed it.
    public func finish() throws {
        let end = bufferOffset + UInt64(buffer.count)
        switch state {
        case .done:
            return
        case .header:
            if end == 0 { throw ArchiveError.truncated(offset: 0, detail: "the file is empty") }
            throw ArchiveError.truncated(offset: end, detail: "the file ends inside the \(ArchiveHeader.length)-byte header")
        case .stanzas(let fixed):
            throw ArchiveError.truncated(offset: end, detail: "the file ends inside the \(fixed.recipientCount) recipient stanzas of the header")
        case .chunkHeader:
            if buffer.isEmpty {
                let after = nextIndex == 0 ? "at a chunk boundary right after the header" : "at a chunk boundary after chunk \(nextIndex - 1)"
                throw ArchiveError.truncated(offset: end, detail: "the file ends \(after) without the final chunk")
            }
            throw ArchiveError.truncated(offset: end, detail: "the file ends inside the record header of chunk \(nextIndex)")
        case .chunkBody(let record, _):
            throw ArchiveError.truncated(offset: end, detail: "the file ends inside chunk \(record.index)")
        }
    }

    private func validate(_ record: ChunkRecordHeader, offset: UInt64) throws {
        guard let header else { return }
        guard record.archiveTag.elementsEqual(header.archiveTag) else {
            throw ArchiveError.chunkFromAnotherArchive(index: nextIndex, offset: offset)
        }
        guard record.index == nextIndex else {
            throw ArchiveError.chunkOutOfOrder(expected: nextIndex, found: record.index, offset: offset)
        }
        guard record.flags & ~(ChunkRecordHeader.finalFlag | ChunkRecordHeader.deflatedFlag) == 0 else {
            throw ArchiveError.malformedChunk(index: nextIndex, offset: offset, detail: "unknown flag bits \(record.flags)")
        }
        if record.isDeflated && header.compression == ArchiveHeader.compressionNone {
            throw ArchiveError.malformedChunk(index: nextIndex, offset: offset, detail: "deflated chunk in an archive without compression")
        }
        let maxBody = header.chunkSize + AESGCMContext.tagLength
        guard (AESGCMContext.tagLength...maxBody).contains(record.bodyLength) else {
            throw ArchiveError.malformedChunk(index: nextIndex, offset: offset, detail: "body length \(record.bodyLength) outside 16...\(maxBody)")
        }
    }

    private mutating func open(_ record: ChunkRecordHeader, body: UnsafeRawBufferPointer, offset: UInt64, into output: inout [UInt8]) throws {
        guard let keys, let header else { return }  // structure only: the framing was validated, the body is not opened
        let aad = record.encoded
        let nonce = ChunkRecordHeader.nonce(index: record.index, final: record.isFinal)
        let plainCount = record.bodyLength - AESGCMContext.tagLength
        let before = output.count
        if record.isDeflated {
            plain.removeAll(keepingCapacity: true)
            plain.append(contentsOf: repeatElement(0, count: plainCount))
            do {
                try nonce.withUnsafeBytes { n in
                    try aad.withUnsafeBytes { a in
                        try plain.withUnsafeMutableBytes { p in
                            try keys.payload.open(nonce: n, aad: a, ciphertextAndTag: body, into: p)
                        }
                    }
                }
            } catch is AuthenticationFailure {
                throw ArchiveError.chunkAuthenticationFailed(index: record.index, offset: offset)
            }
            if inflater == nil { inflater = try Inflater(format: .zlib) } else { try inflater!.reset() }
            do {
                let used = try plain.withUnsafeBytes { try inflater!.decompress($0, into: &output, limit: header.chunkSize) }
                guard inflater!.isFinished, used == plain.count else {
                    output.removeLast(output.count - before)
                    throw ArchiveError.malformedChunk(index: record.index, offset: offset, detail: "deflate stream does not end with the chunk")
                }
            } catch let error as ZlibError {
                output.removeLast(output.count - before)
                throw ArchiveError.malformedChunk(index: record.index, offset: offset, detail: error.description)
            }
        } else {
            // Decrypted in place at the end of `output`; removed again unless the chunk authenticates.
            output.append(contentsOf: repeatElement(0, count: plainCount))
            do {
                try nonce.withUnsafeBytes { n in
                    try aad.withUnsafeBytes { a in
                        try output.withUnsafeMutableBytes { o in
                            try keys.payload.open(nonce: n, aad: a, ciphertextAndTag: body,
                                                  into: UnsafeMutableRawBufferPointer(rebasing: o[before...]))
                        }
                    }
                }
            } catch {
                output.removeLast(output.count - before)
                if error is AuthenticationFailure {
                    throw ArchiveError.chunkAuthenticationFailed(index: record.index, offset: offset)
                }
                throw error
            }
        }
        let produced = output.count - before
        // Every chunk but the last carries exactly chunkSize bytes; only an empty archive has an empty chunk.
        let sizeOK = record.isFinal ? (produced > 0 || record.index == 0) && produced <= header.chunkSize : produced == header.chunkSize
        guard sizeOK else {
            output.removeLast(produced)
            throw ArchiveError.malformedChunk(index: record.index, offset: offset, detail: "\(produced) plaintext bytes where the format requires \(record.isFinal ? "1...\(header.chunkSize)" : "\(header.chunkSize)")")
        }
        plaintextBytes += UInt64(produced)
    }
}
