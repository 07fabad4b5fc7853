// The archive known-answer vectors (Tests/LifeboatArchiveTests/Vectors/kat-*.json), read for seed corpora.

import Foundation

public struct KnownAnswerVector {
    public var name: String
    public var archive: [UInt8]
    public var masterKey: [UInt8]
}

private func hexBytes(_ text: String) -> [UInt8] {
    var out: [UInt8] = []
    var high: UInt8?
    for c in text.utf8 {
        let v: UInt8
        switch c {
        case 0x30...0x39: v = c - 0x30
        case 0x61...0x66: v = c - 0x61 + 10
        case 0x41...0x46: v = c - 0x41 + 10
        default: continue
        }
        if let h = high { out.append(h << 4 | v); high = nil } else { high = v }
    }
    return out
}

/// Every vector in the repository (empty when run outside it).
public func knownAnswerVectors() -> [KnownAnswerVector] {
    let directory = repositoryRoot + "/Tests/LifeboatArchiveTests/Vectors"
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
    return names.compactMap { name in
        guard let data = FileManager.default.contents(atPath: directory + "/" + name),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let archive = object["archive_hex"] as? String, let key = object["master_key_hex"] as? String else { return nil }
        return KnownAnswerVector(name: name, archive: hexBytes(archive), masterKey: hexBytes(key))
    }
}

/// The real Vault 1.14.3 snapshots (Tests/Fixtures/vault-1.14.3/*.snap).
public func vaultSnapshotFixtures() -> [(String, [UInt8])] {
    let directory = repositoryRoot + "/Tests/Fixtures/vault-1.14.3"
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".snap") }.sorted()
    return names.compactMap { name in readFile(directory + "/" + name).map { (name, $0) } }
}
