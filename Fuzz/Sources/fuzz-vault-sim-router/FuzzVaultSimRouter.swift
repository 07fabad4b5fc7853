// libFuzzer target: vault-sim's request router and handlers (SimCore.handle), the code every client request reaches
// after the HTTP layer. One initialised, unsealed single-node cluster with a KV v1 mount, a transit mount and an
// AppRole role takes every input as a request; each must answer with a status, never trap. Requests that seal or
// stop the node are undone after them so the fuzzer keeps reaching the handlers behind the seal.
//
// Input: byte 0 picks the method, byte 1 the path (a known route, or the following bytes as a raw path when it is
// past the list), byte 2 the token and query; the rest is the body.

import Foundation
import FuzzSupport
@testable import VaultSim

let methods = ["GET", "PUT", "POST", "DELETE", "LIST", "PATCH", "HEAD"]
let paths = ["sys/init", "sys/unseal", "sys/seal", "sys/step-down", "sys/health", "sys/leader", "sys/seal-status",
             "sys/storage/raft/configuration", "sys/storage/raft/join", "sys/storage/raft/remove-peer",
             "sys/storage/raft/snapshot", "sys/storage/raft/snapshot-force", "sys/storage/raft/autopilot/state",
             "sys/mounts", "sys/mounts/x", "sys/mounts/kv1/tune", "sys/mounts/secret", "sys/policy/p",
             "sys/policies/acl/p", "sys/auth", "sys/auth/approle", "sys/capabilities-self", "sys/rekey/init",
             "sys/generate-root/attempt", "auth/token/create", "auth/token/renew-self", "auth/token/lookup-self",
             "auth/token/revoke-self", "auth/approle/role/r", "auth/approle/role/r/secret-id",
             "auth/approle/role/r/role-id", "auth/approle/login", "secret/data/a", "secret/metadata/a",
             "secret/delete/a", "secret/undelete/a", "secret/destroy/a", "secret/config", "kv1/a", "kv1/",
             "tr/keys/k", "tr/keys/k/config", "tr/keys/k/rotate", "tr/encrypt/k", "tr/decrypt/k", "tr/rewrap/k",
             "tr/encrypt/new", "nomount/x"]

/// The cluster every input talks to, with its unseal key and root token.
struct Cluster {
    let core: SimCore
    let unsealKey: String
    let rootToken: String
}

func request(_ core: SimCore, _ method: String, _ path: String, body: [UInt8] = [], token: String? = nil,
             query: String? = nil) -> SimResponse {
    core.handle(nodeID: "vault_1", request: SimRequest(method: method, path: "/v1/" + path, rawQuery: query,
                                                       headers: token.map { [("X-Vault-Token", $0)] } ?? [],
                                                       body: body, bodyFile: nil))
}

func json(_ response: SimResponse) -> JSONValue? {
    if case .bytes(let bytes) = response.body { return JSONValue.parse(bytes) }
    return nil
}

func makeCluster() -> Cluster? {
    let directory = NSTemporaryDirectory() + "/lifeboat-fuzz-router-\(getpid())"
    try? FileManager.default.removeItem(atPath: directory)
    guard let core = try? SimCore(settings: CoreSettings(dataDirectory: directory, nodeIDs: ["vault_1"], electionDelay: .zero,
                                                         restoreApplyDelay: .zero, clock: SystemClock())),
          let initialised = json(request(core, "PUT", "sys/init", body: Array(#"{"secret_shares":1,"secret_threshold":1}"#.utf8))),
          let key = initialised["keys_base64"]?.stringList?.first, let root = initialised["root_token"]?.stringValue
    else { return nil }
    let cluster = Cluster(core: core, unsealKey: key, rootToken: root)
    unsealAndWait(cluster)
    for (path, body) in [("sys/mounts/kv1", #"{"type":"kv"}"#), ("sys/mounts/secret", #"{"type":"kv","options":{"version":"2"}}"#),
                         ("sys/mounts/tr", #"{"type":"transit"}"#), ("tr/keys/k", "{}"), ("sys/auth/approle", #"{"type":"approle"}"#),
                         ("auth/approle/role/r", "{}")] {
        _ = request(core, "POST", path, body: Array(body.utf8), token: root)
    }
    return cluster
}

/// Starts and unseals the node if a request stopped or sealed it, and waits (briefly) until it is active again.
func unsealAndWait(_ cluster: Cluster) {
    let core = cluster.core
    _ = core.startNode("vault_1")
    let sealed = core.lock.withLock { core.node("vault_1")?.sealed ?? false }
    if sealed { _ = request(core, "PUT", "sys/unseal", body: Array("{\"key\":\"\(cluster.unsealKey)\"}".utf8)) }
    for _ in 0..<200 {
        if request(core, "GET", "sys/health").status == 200 { return }
        usleep(1000)
    }
}

/// The cluster keeps what inputs wrote (mounts, tokens, KV versions, transit key versions). Unbounded, that made the
/// run slower and slower: a transit key rotated thousands of times is rewritten whole by every transit request, and
/// a run fell from about 1,000 to about 50 executions per second (one input took 29 s). A fresh cluster every
/// `clusterLifetime` inputs bounds the state; the harness is single-threaded (libFuzzer calls it on one thread).
nonisolated(unsafe) var cluster = makeCluster()
nonisolated(unsafe) var inputsOnThisCluster = 0
let clusterLifetime = 500

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        [
            ("kv2-write", [1, 32, 1] + Array(#"{"data":{"password":"s3cr\u00e9t","n":1},"options":{"cas":0}}"#.utf8)),
            ("kv1-write", [1, 38, 1] + Array(#"{"a":"b"}"#.utf8)),
            ("transit-encrypt", [1, 43, 1] + Array(#"{"plaintext":"aGVsbG8="}"#.utf8)),
            ("transit-decrypt", [1, 44, 1] + Array(#"{"ciphertext":"vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=="}"#.utf8)),
            ("mount", [1, 14, 1] + Array(#"{"type":"kv","options":{"version":"1"}}"#.utf8)),
            ("policy", [1, 17, 1] + Array(#"{"policy":"path \"secret/*\" {\n  capabilities = [\"read\"]\n}"}"#.utf8)),
            ("token", [1, 24, 1] + Array(#"{"policies":["p"],"ttl":"1h","num_uses":2}"#.utf8)),
            ("approle-login", [1, 31, 0] + Array(#"{"role_id":"x","secret_id":"y"}"#.utf8)),
            ("metadata-list", [4, 33, 3]),
            ("raw-path", [0, 255] + Array("sys/../sys/health?x=%zz\0".utf8)),
        ]
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVaultSimRouter(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    inputsOnThisCluster += 1
    if inputsOnThisCluster > clusterLifetime, let old = cluster {
        old.core.lock.withLock { old.core.shutDown = true }
        cluster = makeCluster()
        inputsOnThisCluster = 1
    }
    guard let cluster else {
        printError("the fuzz cluster could not be set up")
        exit(1)
    }
    var input = FuzzReader(fuzzBytes(data, size))
    let method = methods[Int(input.byte()) % methods.count]
    let pathChoice = Int(input.byte())
    var path: String
    if pathChoice < paths.count {
        path = paths[pathChoice]
    } else {
        path = String(decoding: input.take(Int(input.byte()) % 64), as: UTF8.self)
    }
    let flags = input.byte()
    let token: String? = flags & 1 == 1 ? cluster.rootToken : (flags & 4 == 4 ? "hvs.not-a-token" : nil)
    let query: String? = flags & 2 == 2 ? ["list=true", "version=1e19", "version=-1", "list=%", "standbyok=true&perfstandbyok=x"][Int(flags >> 4) % 5] : nil
    let response = request(cluster.core, method, path, body: input.rest(), token: token, query: query)
    fuzzInvariant(response.resetImmediately || (100...599).contains(response.status), "\(method) \(path) answered \(response.status)")
    if case .bytes(let bytes) = response.body, !bytes.isEmpty {
        fuzzInvariant(JSONValue.parse(bytes) != nil, "\(method) \(path) answered a body that is not JSON")
    }
    let down = cluster.core.lock.withLock { (cluster.core.node("vault_1").map { !$0.running || $0.sealed || !cluster.core.isActive($0) }) ?? true }
    if down { unsealAndWait(cluster) }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_vault_sim_router_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzVaultSimRouter)
}
