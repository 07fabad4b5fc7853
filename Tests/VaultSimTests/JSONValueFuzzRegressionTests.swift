// Inputs fuzz-vault-sim-json (docs/fuzzing.md) found: vault-sim's request JSON parser must return only values that
// serialize back to JSON that parses to the same value.

import Testing
@testable import VaultSim

@Suite("vault-sim JSON: fuzzer regressions")
struct JSONValueFuzzRegressionTests {
    @Test("numbers beyond Double's range are invalid JSON (they parsed to infinity and serialized as `inf`)",
          arguments: ["0150562082758E960", "1e999", "-1e400", "[1,2e500]", #"{"ttl":9e9999}"#])
    func outOfRangeNumbers(text: String) {
        #expect(JSONValue.parse(Array(text.utf8)) == nil)
    }

    @Test("large and tiny finite numbers survive parse, serialize, parse",
          arguments: ["1.7976931348623157e308", "-2.5e-300", "[1e19,-1e19,123456789012345678901]", "4.9e-324"])
    func finiteRoundTrip(text: String) throws {
        let value = try #require(JSONValue.parse(Array(text.utf8)))
        let again = try #require(JSONValue.parse(Array(value.serialized().utf8)))
        #expect(again == value)
    }
}
