#!/usr/bin/env bash
# Builds and runs Lifeboat's libFuzzer targets (the Fuzz/ package) and prints executions per target.
#
#   scripts/fuzz.sh [--runs N | --time SECONDS] [--build-only] [target ...]
#
#   --runs N         stop each target after N executions (default 1000000)
#   --time SECONDS   stop each target after SECONDS instead
#   --build-only     build the targets and their seed corpora, run nothing
#   target ...       some of the targets below (default: all)
#
# Environment: FUZZ_SCRATCH (build directory, default Fuzz/.build), FUZZ_WORK (corpora, logs and crashes, default
# Fuzz/.work), FUZZ_NICE (default 15). Targets run one after another at low priority. Each target's seed corpus is
# written by the harness itself from the real fixtures and test vectors (LIFEBOAT_FUZZ_SEED_DIR); the working corpus
# in $FUZZ_WORK/corpus/<target> grows across runs. A crash leaves its input in $FUZZ_WORK/crashes/ and the exit
# status is 1. Results are described in docs/fuzzing.md.
set -euo pipefail

# The targets, one per line: name, then libFuzzer options for it. Adding a target is one line here plus its harness
# in Fuzz/Sources/<name>/ and its line in Fuzz/Package.swift.
TARGET_LINES=(
  "fuzz-archive-header  -max_len=512"
  "fuzz-archive-reader  -max_len=8192"
  "fuzz-snapshot        -max_len=8192"
  "fuzz-vault-sim-json  -max_len=4096"
  "fuzz-manifest        -max_len=4096"
  "fuzz-schedule        -max_len=128"
  "fuzz-s3-xml          -max_len=4096"
  "fuzz-vault-sim-router -max_len=1024"
  "fuzz-configuration   -max_len=16384"
)
TARGETS=()
for line in "${TARGET_LINES[@]}"; do TARGETS+=("${line%% *}"); done
options_for() {
  local line
  for line in "${TARGET_LINES[@]}"; do
    if [ "${line%% *}" = "$1" ]; then echo "${line#* }"; return; fi
  done
}

root="$(cd "$(dirname "$0")/.." && pwd)"
scratch="${FUZZ_SCRATCH:-$root/Fuzz/.build}"
work="${FUZZ_WORK:-$root/Fuzz/.work}"
niceness="${FUZZ_NICE:-15}"
runs=1000000
seconds=""
build_only=0
selected=()

while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; seconds=""; shift 2 ;;
    --time) seconds="$2"; shift 2 ;;
    --build-only) build_only=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
    *)
      if [[ " ${TARGETS[*]} " != *" $1 "* ]]; then
        echo "fuzz.sh: unknown target $1; targets: ${TARGETS[*]}" >&2; exit 64
      fi
      selected+=("$1"); shift ;;
  esac
done
[ ${#selected[@]} -eq 0 ] && selected=("${TARGETS[@]}")

build() {
  nice -n "$niceness" swift build -c release --package-path "$root/Fuzz" --scratch-path "$scratch" \
    -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing --product "$1"
}

mkdir -p "$work/crashes" "$work/logs"
status=0
summary=()
for target in "${selected[@]}"; do
  echo "== $target: building" >&2
  build "$target" >&2
  binary="$scratch/release/$target"
  seeds="$work/seeds/$target"
  corpus="$work/corpus/$target"
  rm -rf "$seeds"
  mkdir -p "$seeds" "$corpus"
  LIFEBOAT_REPO="$root" LIFEBOAT_FUZZ_SEED_DIR="$seeds" "$binary" >/dev/null 2>&1 || {
    echo "fuzz.sh: $target could not write its seed corpus" >&2; exit 1; }
  [ "$build_only" -eq 1 ] && continue

  limit=(-runs="$runs")
  [ -n "$seconds" ] && limit=(-max_total_time="$seconds")
  log="$work/logs/$target.log"
  echo "== $target: running (${limit[*]}), log $log" >&2
  started=$(date +%s)
  set +e
  # shellcheck disable=SC2046 # the per-target options are words
  # Swift's own crash backtracer would run inside ASan and bury the report: libFuzzer prints the stack instead.
  SWIFT_BACKTRACE="${SWIFT_BACKTRACE:-enable=no}" ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0}" nice -n "$niceness" "$binary" "${limit[@]}" $(options_for "$target") -print_final_stats=1 \
    -rss_limit_mb=2048 -timeout=30 -artifact_prefix="$work/crashes/$target-" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  set -e
  elapsed=$(( $(date +%s) - started ))
  executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ -z "$executions" ]; then executions=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#'); fi
  coverage=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2)
  result="no crash"
  if [ "$rc" -ne 0 ]; then
    result="CRASH (exit $rc): $(grep -m1 -E 'Swift runtime failure|Fatal error|fuzz invariant|ERROR: (AddressSanitizer|libFuzzer)|SUMMARY' "$log" || echo 'see log')"
    status=1
  fi
  summary+=("$(printf '%-22s %12s executions %6ss  coverage %-6s %s' "$target" "${executions:-?}" "$elapsed" "${coverage:-?}" "$result")")
done

[ "$build_only" -eq 1 ] && exit 0
echo
echo "libFuzzer results ($(date -u +%Y-%m-%dT%H:%MZ), $(swift --version 2>/dev/null | head -1))"
printf '%s\n' "${summary[@]}"
exit "$status"
