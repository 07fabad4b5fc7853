// Reading manifests fast: typed access to the fields of a manifest parsed by the package's one JSON parser
// (JSONDocument, LifeboatSnapshot). BackupManifest.decode uses it; the Codable conformance stays for callers that
// embed manifests in their own JSON.

import Foundation
import LifeboatBase
import LifeboatArchive
import LifeboatSnapshot
import LifeboatRetention

/// Typed access to a JSON object's members, with errors that name the field's path.
struct ManifestJSONObject {
    let members: JSONMembers
    let path: String

    struct FieldError: Error {
        let reason: String
    }

    init(_ value: JSONDocument, path: String) throws {
        guard case .object(let members) = value else {
            throw FieldError(reason: path.isEmpty ? "the manifest is not a JSON object" : "\(path): expected an object")
        }
        self.members = members
        self.path = path
    }

    private func name(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

    private func required(_ key: String) throws -> JSONDocument {
        guard let value = members[key] else { throw FieldError(reason: "missing field \(name(key))") }
        if case .null = value { throw FieldError(reason: "null where a value is required at \(name(key))") }
        return value
    }

    func string(_ key: String) throws -> String {
        guard case .string(let text) = try required(key) else { throw FieldError(reason: "\(name(key)): expected a string") }
        return text
    }

    func optionalString(_ key: String) throws -> String? {
        guard let value = members[key], value != .null else { return nil }
        guard case .string(let text) = value else { throw FieldError(reason: "\(name(key)): expected a string or null") }
        return text
    }

    func integer<T: FixedWidthInteger>(_ key: String, as: T.Type = T.self) throws -> T {
        guard case .number(let text) = try required(key), let value = T(text) else {
            throw FieldError(reason: "\(name(key)): expected an integer")
        }
        return value
    }

    func double(_ key: String) throws -> Double {
        guard case .number(let text) = try required(key), let value = Double(text) else {
            throw FieldError(reason: "\(name(key)): expected a number")
        }
        return value
    }

    func object(_ key: String) throws -> ManifestJSONObject {
        try ManifestJSONObject(try required(key), path: name(key))
    }

    func optionalObject(_ key: String) throws -> ManifestJSONObject? {
        guard let value = members[key], value != .null else { return nil }
        return try ManifestJSONObject(value, path: name(key))
    }

    /// The elements of an array member; a missing or null member is an empty array when `optional`.
    func array(_ key: String, optional: Bool = false) throws -> [JSONDocument] {
        if optional, members[key] == nil || members[key] == .null { return [] }
        guard case .array(let elements) = try required(key) else { throw FieldError(reason: "\(name(key)): expected an array") }
        return elements
    }

    func elementPath(_ key: String, _ index: Int) -> String { name(key) + "[\(index)]" }

    func timestamp(_ key: String) throws -> ManifestTimestamp {
        let text = try string(key)
        guard let value = ManifestTimestamp(parsing: text) else {
            throw FieldError(reason: "\(name(key)): invalid timestamp \"\(text)\"; expected ISO 8601 with an offset, e.g. 2026-11-28T23:15:00+01:00")
        }
        return value
    }
}

extension BackupManifest {
    /// Builds a manifest from parsed JSON with the same rules as the Codable conformance.
    init(json: JSONDocument) throws {
        let root = try ManifestJSONObject(json, path: "")
        manifestVersion = try root.integer("manifest_version")
        guard manifestVersion >= 1, manifestVersion <= Self.currentVersion else {
            throw ManifestError.unsupportedVersion(object: "", version: manifestVersion, supported: Self.currentVersion)
        }
        let idText = try root.string("id")
        guard let parsedID = BackupID(rawValue: idText) else {
            throw ManifestJSONObject.FieldError(reason: "id: invalid backup id \"\(idText)\"")
        }
        id = parsedID
        createdAt = try root.timestamp("created_at")
        if let cluster = try root.optionalObject("cluster") {
            self.cluster = Cluster(name: try cluster.optionalString("name"), id: try cluster.optionalString("id"))
        } else {
            cluster = Cluster()
        }
        if let leader = try root.optionalObject("leader") {
            self.leader = Leader(nodeID: try leader.optionalString("node_id"), address: try leader.optionalString("address"))
        } else {
            leader = Leader()
        }
        vaultVersion = try root.optionalString("vault_version")
        let raft = try root.object("raft")
        var servers: [Server] = []
        for (index, element) in try raft.array("servers").enumerated() {
            let server = try ManifestJSONObject(element, path: raft.elementPath("servers", index))
            servers.append(Server(id: try server.string("id"), address: try server.string("address"), suffrage: try server.string("suffrage")))
        }
        self.raft = Raft(index: try raft.integer("index"), term: try raft.integer("term"),
                         configurationIndex: try raft.integer("configuration_index"), servers: servers)
        entryCount = try root.integer("entry_count")
        originalSize = try root.integer("original_size")
        originalSHA256 = try root.string("original_sha256")
        storedSize = try root.integer("stored_size")
        compressionRatio = try root.double("compression_ratio")
        archiveKeyID = try root.string("archive_key_id")
        archiveFormatVersion = try root.integer("archive_format_version")
        lifeboatVersion = try root.string("lifeboat_version")
        durationSeconds = try root.double("duration_seconds")
        tags = try root.array("tags", optional: true).enumerated().map { index, element in
            guard case .string(let tag) = element else {
                throw ManifestJSONObject.FieldError(reason: "\(root.elementPath("tags", index)): expected a string")
            }
            return tag
        }
        verifications = try root.array("verifications", optional: true).enumerated().map { index, element in
            let record = try ManifestJSONObject(element, path: root.elementPath("verifications", index))
            let resultText = try record.string("result")
            guard let result = Verification.Result(rawValue: resultText) else {
                throw ManifestJSONObject.FieldError(reason: "\(record.path).result: unknown result \"\(resultText)\"")
            }
            return Verification(verifiedAt: try record.timestamp("verified_at"), result: result, detail: try record.optionalString("detail"))
        }
        dataObject = try root.string("data_object")
        archiveRecipients = try root.array("archive_recipients", optional: true).enumerated().map { index, element in
            guard case .string(let id) = element else {
                throw ManifestJSONObject.FieldError(reason: "\(root.elementPath("archive_recipients", index)): expected a string")
            }
            return id
        }
        if let lock = try root.optionalObject("object_lock") {
            let modeText = try lock.string("mode")
            guard let mode = StoreObjectLock.Mode(rawValue: modeText) else {
                throw ManifestJSONObject.FieldError(reason: "\(lock.path).mode: unknown object lock mode \"\(modeText)\" (governance or compliance)")
            }
            objectLock = StoreObjectLock(mode: mode, retainUntil: try lock.timestamp("retain_until").date)
        }
    }
}
