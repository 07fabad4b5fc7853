// Snapshot save (rendered once per raft index into a cached file, then streamed) and restore (Vault's synchronous
// validation with its status codes and messages, 204, then an asynchronous apply that re-reads the keyring and
// seals every member that cannot decrypt it).

import Foundation
import LifeboatArchive
import LifeboatSnapshot

/// Everything needed to render one snapshot outside the simulator lock.
/// `@unchecked Sendable`: rendering touches only the group's immutable `directory` and its own `renderLock`,
/// and the view's immutable entries and descriptors.
struct SnapshotJob: @unchecked Sendable {
    var group: RaftGroup
    var meta: SnapshotMeta
    var view: StoreView
    var seal: SealAccess
    var faults: StreamFaults
    var cachePath: String
}

/// A restore upload to validate and apply.
struct RestoreJob {
    var groupID: String
    var nodeID: String
    var force: Bool
    var bodyFile: String?
    var body: [UInt8]
    var seal: SealAccess
}

extension SimCore {
    /// zlib level for rendered snapshots: Go's default (6) up to 64 MiB of state; above that stored blocks (0),
    /// which is what deflate ends up emitting for barrier-encrypted (incompressible) values anyway, at disk speed.
    static func compressionLevel(forStateBytes n: Int) -> Int32 { n > 64 << 20 ? 0 : 6 }

    /// Renders the current index's snapshot in the background so the first download streams immediately.
    func prerenderSnapshot() {
        let job: SnapshotJob? = lock.withLock {
            guard let a = nodes.first(where: { isActive($0) }), let g = group(of: a), let keys = a.keys else { return nil }
            return snapshotJob(a, g, keys: keys, consumeFaults: false)
        }
        guard let job else { return }
        DispatchQueue.global().async { [self] in _ = renderSnapshot(job) }
    }

    func snapshotJob(_ a: SimNode, _ g: RaftGroup, keys: UnsealedKeys, consumeFaults: Bool = true) -> SnapshotJob {
        let meta = SnapshotMeta(index: g.index, term: g.term,
                                servers: g.members.map { RaftServer(suffrage: $0.voter ? 0 : 1, id: $0.id, address: $0.address) },
                                configurationIndex: g.configIndex)
        return SnapshotJob(group: g, meta: meta, view: g.store.view(), seal: keys.seal,
                           faults: consumeFaults ? faults.takeSnapshotFaults() : StreamFaults(), cachePath: g.directory + "/snapshots/\(g.index)-\(g.term).snap")
    }

    func renderSnapshot(_ job: SnapshotJob) -> SimResponse {
        let dir = (job.cachePath as NSString).deletingLastPathComponent
        let rendered: Bool = job.group.renderLock.withLock {
            if FileManager.default.fileExists(atPath: job.cachePath) { return true }
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
                for old in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
                    try? FileManager.default.removeItem(atPath: dir + "/" + old)
                }
                let tmp = job.cachePath + ".partial"
                let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
                guard fd >= 0 else { return false }
                defer { close(fd) }
                var written: Int64 = 0
                let view = job.view
                let level = SimCore.compressionLevel(forStateBytes: view.stateSize)
                var buffer = [UInt8](repeating: 0, count: 1 << 20)
                _ = try SnapshotWriter.write(
                    meta: job.meta, modificationTime: Int64(now.timeIntervalSince1970), compressionLevel: level,
                    entries: { emitter in
                        for (key, loc) in view.entries {
                            try emitter.begin(key: key, valueLength: loc.length)
                            guard emitter.isWritingValues else { continue }
                            var offset = 0
                            while offset < loc.length {
                                let n = min(buffer.count, loc.length - offset)
                                try buffer.withUnsafeMutableBytes { b in
                                    let piece = UnsafeMutableRawBufferPointer(rebasing: b[0..<n])
                                    try view.read(ValueLocation(inLog: loc.inLog, offset: loc.offset + Int64(offset), length: n), into: piece)
                                    try emitter.appendValue(UnsafeRawBufferPointer(piece))
                                }
                                offset += n
                            }
                        }
                    },
                    sealHashes: { sums in try job.seal.wrap(sums) },  // through the seal (the KMS for transit)
                    sink: { bytes in
                        try ValueStore.pwriteAll(fd, bytes, offset: written)
                        written += Int64(bytes.count)
                    })
                guard rename(tmp, job.cachePath) == 0 else { return false }
                return true
            } catch {
                return false
            }
        }
        guard rendered else {
            return SimResponse(status: 500, headers: [("Content-Type", "application/json"), ("Content-Disposition", "attachment")],
                               body: .bytes(JSONValue.object([("errors", .strings(["raft error when taking snapshot: failed to write snapshot file"]))]).bytes))
        }
        return SimResponse(status: 200, headers: [("Content-Type", "application/gzip"), ("Content-Disposition", "attachment")],
                           body: .file(path: job.cachePath, faults: job.faults))
    }

    // MARK: Restore

    func runRestore(_ job: RestoreJob) -> SimResponse {
        guard let g = lock.withLock({ groups[job.groupID] }) else { return .sealed }
        let spoolDir = g.directory + "/restore"
        try? FileManager.default.createDirectory(atPath: spoolDir, withIntermediateDirectories: true)
        let statePath = spoolDir + "/state-\(UUID().uuidString).bin"
        var input = job.bodyFile
        var ownedInput: String?
        if input == nil {
            let p = spoolDir + "/body-\(UUID().uuidString)"
            try? ValueStore.writeAtomically(path: p, bytes: job.body)
            input = p
            ownedInput = p
        }
        defer {
            if let o = ownedInput { unlink(o) }
            if let b = job.bodyFile { unlink(b) }
        }
        let result = SnapshotUploadValidator.validate(path: input!, stateOutput: statePath,
                                                      seal: job.force ? nil : job.seal)
        switch result {
        case .failure(let status, let message):
            unlink(statePath)
            return .errors(status, [message])
        case .success(let meta, let stateBytes):
            let delay = settings.restoreApplyDelay
            after(delay) { [self] in
                self.applyRestore(groupID: job.groupID, nodeID: job.nodeID, meta: meta, stateBytes: stateBytes, statePath: statePath)
            }
            return .noContent()
        }
    }

    /// The asynchronous phase: any failure seals the active node (visible only as a sealed node).
    func applyRestore(groupID: String, nodeID: String, meta: UploadMeta, stateBytes: Int64, statePath: String) {
        lock.withLock {
            defer { unlink(statePath) }
            guard let g = groups[groupID], let a = node(nodeID), a.groupID == groupID, g.leaderID == nodeID, a.keys != nil else {
                return
            }
            guard meta.version == 1, meta.size == stateBytes else {
                seal(a)
                return
            }
            do {
                try g.store.replace(withStateFile: statePath)
            } catch {
                seal(a)
                return
            }
            g.index = max(meta.index, g.index) + 1
            g.persist()
            var sealedByTheRestore: [String] = []
            for n in nodes where n.running && n.groupID == groupID {
                n.appliedIndex = g.index
                n.persistRaftState()
                guard let keys = n.keys else { continue }
                guard let ringBlob = g.store.get(Barrier.keyringPath),
                      let ring = try? Barrier.openKeyring(ringBlob, rootKey: keys.rootKey) else {
                    seal(n)
                    sealedByTheRestore.append(n.id)
                    continue
                }
                n.keys = UnsealedKeys(seal: keys.seal, rootKey: keys.rootKey, barrierKeys: ring.keys, activeTerm: ring.active)
            }
            if let keys = a.keys {
                try? writeEntries(g, keys: keys, [("core/lock", Array(UUID().uuidString.lowercased().utf8), false)])
            }
            reconcileLeadership(g)
            // Auto-unseal members this restore sealed (a foreign keyring) try the restored stored keys through the
            // seal. A member that was already sealed stays as it was: sealed by request means sealed until unsealed.
            for id in sealedByTheRestore { scheduleAutoUnseal(id) }
        }
    }
}
