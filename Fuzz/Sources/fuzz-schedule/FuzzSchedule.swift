// libFuzzer target: schedules from the configuration and the command line (Schedule.parse: cron expressions,
// macros, `every <duration>`, time zones and jitter; Schedule.parseDuration). A schedule that parses must give a
// next fire after the instant asked, or none.

import Foundation
import FuzzSupport
@testable import LifeboatSchedule

/// Fixed instants, so a crash reproduces: one ordinary, one just before a DST change in Europe/Berlin, one far out.
let instants = [Date(timeIntervalSince1970: 1_800_000_000), Date(timeIntervalSince1970: 1_774_746_000),
                Date(timeIntervalSince1970: 4_000_000_000)]
let zones: [String?] = [nil, "UTC", "Europe/Berlin", "America/St_Johns", "Australia/Lord_Howe"]

@_cdecl("LLVMFuzzerInitialize")
public func initialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    writeSeedsIfRequested {
        // First byte: the zone and instant; second: the jitter; then the schedule text.
        ["0 */6 * * *", "*/15 * * * *", "30 2 * * 1-5", "@hourly", "@daily", "@weekly", "@monthly", "@yearly",
         "every 15m", "every 1h30m", "0 0 29 2 *", "0 3 L * *", "59 23 31 12 *", "0 0 * * SUN#2", "0 2 * JAN-MAR MON"]
            .enumerated().map { ("schedule-\($0.offset)", [UInt8($0.offset % 15), UInt8($0.offset % 4)] + Array($0.element.utf8)) }
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSchedule(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    var input = FuzzReader(fuzzBytes(data, size))
    let selector = Int(input.byte())
    let jitterChoice = Int(input.byte())
    let text = String(decoding: input.rest(), as: UTF8.self)
    let zone = zones[selector % zones.count]
    let instant = instants[(selector / zones.count) % instants.count]
    let jitter: String? = [nil, "5m", "0s", text][jitterChoice % 4]
    _ = try? Schedule.parseDuration(text)
    guard let schedule = try? Schedule.parse(text, timeZone: zone, jitter: jitter) else { return 0 }
    if let next = schedule.nextFire(after: instant) {
        fuzzInvariant(next > instant, "\"\(text)\" fires at \(next), not after \(instant)")
    }
    var random = SeededRandomNumberGenerator(seed: UInt64(selector))
    if let run = schedule.nextRun(after: instant, using: &random) {
        fuzzInvariant(run.scheduled > instant, "\"\(text)\" plans a run at \(run.scheduled), not after \(instant)")
    }
    return 0
}

/// The program's entry point (see Fuzz/Package.swift): libFuzzer's driver with this target's callback.
@_cdecl("fuzz_schedule_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    runLibFuzzer(argc, argv, fuzzSchedule)
}
