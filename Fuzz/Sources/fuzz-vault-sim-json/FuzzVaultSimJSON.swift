// libFuzzer target: vault-sim's request-body JSON parser (JSONValue.parse): parse, serialize, parse again; the two
// values must be equal. Every request body a client sends to the simulator goes through this parser.
// JSONValue.swift in this folder is a symlink to Sources/VaultSim/JSONValue.swift.

import FuzzSupport

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        [
            ("init", #"{"secret_shares":5,"secret_threshold":3,"pgp_keys":null}"#),
            ("unseal", #"{"key":"abcdEFGH0123+/==","reset":false,"migrate":false}"#),
            ("kv", #"{"data":{"password":"s3cr\u00e9t \"q\" \\ \n","n":-12.5e3,"list":[1,2,[true,false,null]]},"options":{"cas":0}}"#),
            ("policy", #"{"policy":"path \"sys/storage/raft/snapshot\" {\n  capabilities = [\"read\"]\n}"}"#),
            ("fault", #"{"status":503,"count":2,"delay":"1.5s","path":"/v1/sys/storage/raft/snapshot"}"#),
            ("approle", #"{"role_id":"6f1c","secret_id":"d2a9","ttl":"1h","token_num_uses":0}"#),
            // A surrogate pair, as Go and JavaScript clients escape characters outside the BMP.
            ("emoji", #"{"data":{"note":"backup \ud83d\udee5 ok"}}"#),
        ].map { ($0.0, Array($0.1.utf8)) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVaultSimJSON(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = fuzzBytes(data, size)
    guard let value = JSONValue.parse(bytes) else { return 0 }
    let text = value.serialized()
    guard let again = JSONValue.parse(Array(text.utf8)) else {
        fuzzInvariant(false, "serialized JSON does not parse again: \(text.prefix(200))")
        return 0
    }
    fuzzInvariant(again == value, "JSON round trip changed the value")
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_vault_sim_json_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzVaultSimJSON)
}
