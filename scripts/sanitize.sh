#!/usr/bin/env bash
# Runs the test suite under AddressSanitizer and ThreadSanitizer (docs/sanitizers.md).
#
#   scripts/sanitize.sh                       # both sanitizers, the whole suite
#   scripts/sanitize.sh thread                # one sanitizer
#   scripts/sanitize.sh address --filter 'Store|Agent'   # extra arguments go to `swift test`
#
# Each sanitizer builds into its own scratch directory (.build-asan, .build-tsan; SANITIZE_SCRATCH_PREFIX changes the
# prefix), at `nice -n ${SANITIZE_NICE:-15}`. Logs go to ${SANITIZE_LOGS:-.sanitize-logs}/<sanitizer>.log. Exits 1
# if a build fails, a test fails or a sanitizer reports anything.
set -uo pipefail

cd "$(dirname "$0")/.."
sanitizers=()
while [[ $# -gt 0 && ( "$1" == address || "$1" == thread ) ]]; do
    sanitizers+=("$1")
    shift
done
[[ ${#sanitizers[@]} -eq 0 ]] && sanitizers=(address thread)
extra=("$@")
nice_level=${SANITIZE_NICE:-15}
logs=${SANITIZE_LOGS:-.sanitize-logs}
prefix=${SANITIZE_SCRATCH_PREFIX:-.build-}
mkdir -p "$logs"

# Leaks are reported by LeakSanitizer at exit of every process the tests start; the Swift runtime's and Foundation's
# one-time allocations are not Lifeboat's leaks, so leak checking is off unless ASAN_OPTIONS says otherwise.
# Every process (the test runner and the lifeboat/vault-sim processes the end-to-end tests start, which are built
# with the same sanitizer) writes its reports to $logs/<sanitizer>-report.<pid>.
reports_dir=$(cd "$logs" && pwd)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:halt_on_error=1:log_path=$reports_dir/address-report}
# Report every race; a process that saw one exits 66, so the test that ran it fails too. The suppressions are reports
# read and found to be no race (each explained in the file).
suppressions=$(pwd)/scripts/tsan-suppressions.txt
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:exitcode=66:log_path=$reports_dir/thread-report:suppressions=$suppressions}

status=0
for sanitizer in "${sanitizers[@]}"; do
    case $sanitizer in
        address) scratch="${prefix}asan" ;;
        thread) scratch="${prefix}tsan" ;;
    esac
    log="$logs/$sanitizer.log"
    rm -f "$logs/$sanitizer-report".*
    echo "== $sanitizer: building into $scratch (log $log)"
    start=$(date +%s)
    if ! nice -n "$nice_level" swift build --build-tests --sanitize="$sanitizer" --scratch-path "$scratch" >"$log" 2>&1; then
        echo "== $sanitizer: build FAILED (see $log)"
        status=1
        continue
    fi
    built=$(date +%s)
    echo "== $sanitizer: built in $((built - start)) s; testing"
    nice -n "$nice_level" swift test --skip-build --sanitize="$sanitizer" --scratch-path "$scratch" "${extra[@]}" >>"$log" 2>&1
    rc=$?
    done_at=$(date +%s)
    reports=$(cat "$log" "$logs/$sanitizer-report".* 2>/dev/null | grep -c -E "^SUMMARY: (Address|Thread)Sanitizer")
    echo "== $sanitizer: tests exit $rc in $((done_at - built)) s; sanitizer reports: $reports (files: $logs/$sanitizer-report.*)"
    if [[ $rc -ne 0 || $reports -ne 0 ]]; then
        status=1
        cat "$log" "$logs/$sanitizer-report".* 2>/dev/null | grep -E "^SUMMARY: (Address|Thread)Sanitizer" | sort | uniq -c | sort -rn | head -20
    fi
done
exit $status
