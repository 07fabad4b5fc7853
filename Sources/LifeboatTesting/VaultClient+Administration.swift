// Vault administration that sets up a cluster for tests and `lifeboat demo`: init status, policies, auth methods
// and AppRole roles. Lifeboat itself never calls these (its policies do not allow them), so they live here and not
// in LifeboatVault.

import LifeboatVault

extension VaultClient {
    /// `GET sys/init` on one node.
    public func isInitialized(at address: String) async throws -> Bool {
        struct InitStatus: Decodable { var initialized: Bool }
        let (r, addr) = try await request(.GET, "sys/init", at: address, authenticated: false, accept: [200])
        return try Self.decode(InitStatus.self, r, path: "sys/init", address: addr).initialized
    }

    // MARK: Policies, auth mounts, AppRole administration

    /// `PUT sys/policy/<name>` with HCL text.
    public func writePolicy(name: String, hcl: String) async throws {
        try await request(.PUT, "sys/policy/\(name)", body: try Self.encode(["policy": hcl]))
    }

    /// `POST sys/auth/<path>` enabling an auth method (e.g. type "approle" at "approle").
    public func enableAuthMethod(path: String, type: String) async throws {
        try await request(.POST, "sys/auth/\(path)", body: try Self.encode(["type": type]))
    }

    /// Creates or updates an AppRole role (`auth/<mount>/role/<name>`); TTLs in seconds (0: mount default).
    public func writeAppRole(name: String, policies: [String], tokenTTL: Int = 0, tokenMaxTTL: Int = 0, secretIDTTL: Int = 0,
                             mount: String = "approle") async throws {
        let fields: [String: VaultJSON] = [
            "token_policies": .array(policies.map { .string($0) }), "token_ttl": .number(Double(tokenTTL)),
            "token_max_ttl": .number(Double(tokenMaxTTL)), "secret_id_ttl": .number(Double(secretIDTTL)),
        ]
        try await request(.POST, "auth/\(mount)/role/\(name)", body: try Self.encode(fields))
    }

    /// Reads an AppRole role's role_id.
    public func appRoleRoleID(name: String, mount: String = "approle") async throws -> String {
        struct RoleID: Decodable { var roleId: String }
        let p = "auth/\(mount)/role/\(name)/role-id"
        let (r, addr) = try await request(.GET, p, accept: [200])
        return try Self.decodeData(RoleID.self, r, path: p, address: addr).roleId
    }

    /// Creates a secret_id for an AppRole role (a secret: never log it).
    public func createAppRoleSecretID(name: String, mount: String = "approle") async throws -> VaultSecret {
        struct SecretID: Decodable { var secretId: String }
        let p = "auth/\(mount)/role/\(name)/secret-id"
        let (r, addr) = try await request(.POST, p, body: Array("{}".utf8), accept: [200])
        return VaultSecret(try Self.decodeData(SecretID.self, r, path: p, address: addr).secretId)
    }
}
