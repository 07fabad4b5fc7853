#!/usr/bin/env bash
# End-to-end benchmark (issue 8): Lifeboat against the copy limit and the shell pipeline, on one snapshot.
#
# Builds release `lifeboat` and `vault-sim`, starts a 3-node vault-sim cluster seeded with SIZE of barrier-encrypted
# data, and measures in one run on the same snapshot:
#   - the copy limit: curl -o of the snapshot from the leader;
#   - the shell pipeline users write today: curl | gzip | openssl enc -aes-256-cbc -pbkdf2 > file;
#   - lifeboat backup into a local repository;
#   - lifeboat verify of that backup;
#   - the restore side: curl -X POST -T file to snapshot-force (curl's --data-binary @file refuses files of 1 GiB and
#     more), and lifeboat restore (same cluster) of the backup,
#     with its preflight (decrypt + verify + stage) timed on its own;
#   - a repository of 10,000 backups: lifeboat list and lifeboat prune --dry-run.
# It prints a Markdown table: seconds, MB/s (of the snapshot's size), ratio to the shell pipeline, ratio to the copy
# limit, peak RSS and CPU from /usr/bin/time -v, stored size / original size.
#
#   scripts/bench.sh [SIZE ...]        sizes like 1GiB, 4GiB, 512MiB (default 1GiB); one table per size
#   LIFEBOAT_BENCH_BIN=DIR             use the lifeboat and vault-sim executables in DIR instead of building
#   LIFEBOAT_BENCH_LIST_COUNT=N        backups in the listing benchmark (default 10000)
#
# Nothing is asserted: the machine may be shared and noisy. Read the ratios, which come from one run.
# Needs: swift, curl, gzip, openssl, GNU time (/usr/bin/time; Debian/Ubuntu: apt-get install time), awk,
# and about 7x SIZE of free disk under ${TMPDIR:-/tmp}.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(1GiB)
list_count=${LIFEBOAT_BENCH_LIST_COUNT:-10000}

missing=()
for tool in swift curl gzip openssl awk; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -v true >/dev/null 2>&1; then missing+=("GNU time at /usr/bin/time (apt-get install time)"); fi
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench.sh needs: ${missing[*]}" >&2
    echo "on Debian/Ubuntu: apt-get install curl gzip openssl time gawk (and a Swift toolchain from swift.org)" >&2
    exit 1
fi

to_bytes() {
    awk -v s="$1" 'BEGIN {
        if (match(s, /^[0-9]+(\.[0-9]+)?/) == 0) exit 1
        n = substr(s, 1, RLENGTH); u = substr(s, RLENGTH + 1)
        m = (u == "" || u == "B") ? 1 : (u == "KiB") ? 1024 : (u == "MiB") ? 1048576 : (u == "GiB") ? 1073741824 : -1
        if (m < 0) exit 1
        printf "%d", n * m }'
}
for size in "${sizes[@]}"; do
    to_bytes "$size" >/dev/null || { echo "size \"$size\" must look like 1GiB, 512MiB or 1000000" >&2; exit 1; }
done

if [ -n "${LIFEBOAT_BENCH_BIN:-}" ]; then
    # Compare builds: a directory holding already built lifeboat and vault-sim executables.
    bin=$LIFEBOAT_BENCH_BIN
else
    echo "building release lifeboat and vault-sim (.build-release)..." >&2
    swift build -c release --scratch-path .build-release --product lifeboat >&2
    swift build -c release --scratch-path .build-release --product vault-sim >&2
    bin=$(swift build -c release --scratch-path .build-release --show-bin-path)
fi
lifeboat=$bin/lifeboat
vaultsim=$bin/vault-sim

work=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-e2e-bench.XXXXXX")
sim_pid=""
cleanup() {
    if [ -n "$sim_pid" ]; then kill "$sim_pid" 2>/dev/null || true; wait "$sim_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# measure NAME BYTES COMMAND: runs COMMAND under /usr/bin/time -v (stdout to $work/out.txt, stderr to $work/err.txt);
# sets secs, rss_mib, cpu and mbs (MB/s of BYTES, 10^6 bytes per MB).
measure() {
    local name=$1 bytes=$2 command=$3
    # Flush what earlier steps left dirty, so no step pays for another's writeback.
    sync
    echo "  $name (load average $(cut -d' ' -f1 /proc/loadavg))..." >&2
    if ! /usr/bin/time -v -o "$work/time.txt" bash -c "$command" >"$work/out.txt" 2>"$work/err.txt"; then
        echo "$name failed:" >&2
        cat "$work/err.txt" >&2
        exit 1
    fi
    secs=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; printf "%.2f", s}' "$work/time.txt")
    rss_mib=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$work/time.txt")
    cpu=$(awk -F': ' '/Percent of CPU/ {print $2}' "$work/time.txt")
    mbs=$(awk -v b="$bytes" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", b / 1e6 / s; else print "inf" }')
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0 && a != "inf") printf "%.2f", a / b; else print "-" }'; }

# civil date of a Unix time, for manifests written by the list benchmark (awk has no portable strftime).
awk_civil='
function civil(t,   z, era, doe, yoe, y, doy, mp, d, m, sod) {
    sod = t % 86400; z = int(t / 86400) + 719468
    era = int(z / 146097); doe = z - era * 146097
    yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
    y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
    mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
    m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
    CY = y; CM = m; CD = d; CH = int(sod / 3600); CMI = int(sod / 60) % 60; CS = sod % 60
}'

run_size() {
    local size=$1 bytes
    bytes=$(to_bytes "$size")
    local dir=$work/$size
    mkdir -p "$dir"
    echo "== $size" >&2

    # The cluster, initialized (1 key share) and seeded before it reports ready.
    "$vaultsim" serve --nodes 3 --data-dir "$dir/sim" --ready-file "$dir/ready.json" --init-shares 1 --init-threshold 1 \
        --keys-file "$dir/keys.json" --seed-bytes "$size" --election-delay-ms 200 --restore-delay-ms 100 \
        >"$dir/sim.out" 2>"$dir/sim.err" &
    sim_pid=$!
    for _ in $(seq 1 1800); do
        [ -f "$dir/ready.json" ] && break
        kill -0 "$sim_pid" 2>/dev/null || { echo "vault-sim exited:" >&2; cat "$dir/sim.err" >&2; exit 1; }
        sleep 0.2
    done
    [ -f "$dir/ready.json" ] || { echo "vault-sim did not become ready" >&2; exit 1; }
    local addrs leader control
    addrs=$(grep -o '"api_addr":"[^"]*"' "$dir/ready.json" | cut -d'"' -f4)
    leader=$(echo "$addrs" | head -n1)
    control=$(grep -o '"control_addr":"[^"]*"' "$dir/ready.json" | cut -d'"' -f4)
    # The token goes to curl in a 0600 config file and to lifeboat in its environment, never on a command line.
    local token
    token=$(grep -o '"root_token" *: *"[^"]*"' "$dir/keys.json" | sed 's/.*"\([^"]*\)"$/\1/')
    (umask 077; printf 'header = "X-Vault-Token: %s"\n' "$token" > "$dir/curl.conf")
    export VAULT_ADDR=$leader VAULT_TOKEN=$token
    LIFEBOAT_VAULT_ADDRS=$(echo "$addrs" | paste -sd, -)
    export LIFEBOAT_VAULT_ADDRS
    local nodes=() i=1
    for a in $addrs; do nodes+=(--node "vault_$i=$a"); i=$((i + 1)); done
    "$lifeboat" key generate --output "$dir/backup.key" >/dev/null 2>&1
    export LIFEBOAT_BENCH_PASS=bench-passphrase-not-secret

    local url=$leader/v1/sys/storage/raft/snapshot
    # Render the snapshot once (vault-sim caches it per raft index), so every step streams the same bytes.
    curl -sS -f -K "$dir/curl.conf" -o /dev/null "$url"

    rows=()
    local load_before
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    measure "copy limit" "$bytes" "curl -sS -f -K '$dir/curl.conf' -o '$dir/copy.snap' '$url'"
    local snap_bytes
    snap_bytes=$(stat -c %s "$dir/copy.snap")
    local copy_mbs=$mbs
    # Rates are computed on the snapshot's size (what each tool moves), not the seed size.
    copy_mbs=$(awk -v b="$snap_bytes" -v s="$secs" 'BEGIN { printf "%.0f", b / 1e6 / s }')
    local copy_row=("$secs" "$copy_mbs" "$rss_mib" "$cpu")
    # The same copy made durable (fsync), as lifeboat makes every backup before it reports success.
    rm -f "$dir/durable.snap"
    measure "copy limit + fsync" "$snap_bytes" "curl -sS -f -K '$dir/curl.conf' -o '$dir/durable.snap' '$url' && sync '$dir/durable.snap'"
    rm -f "$dir/durable.snap"
    local durable_row=("$secs" "$mbs" "$rss_mib" "$cpu")

    measure "shell pipeline" "$snap_bytes" "set -o pipefail; curl -sS -f -K '$dir/curl.conf' '$url' | gzip | openssl enc -aes-256-cbc -pbkdf2 -pass env:LIFEBOAT_BENCH_PASS > '$dir/pipeline.enc'"
    local pipe_mbs=$mbs
    local pipe_ratio
    pipe_ratio=$(awk -v a="$(stat -c %s "$dir/pipeline.enc")" -v b="$snap_bytes" 'BEGIN { printf "%.3f", a / b }')
    rows+=("| \`curl \\| gzip \\| openssl enc -aes-256-cbc -pbkdf2\` | $secs | $mbs | 1.00 | $(ratio "$mbs" "$copy_mbs") | $rss_mib | $cpu | $pipe_ratio |")
    rm -f "$dir/pipeline.enc"
    rows=("| \`curl -o\` (copy limit) | ${copy_row[0]} | ${copy_row[1]} | $(ratio "$copy_mbs" "$pipe_mbs") | 1.00 | ${copy_row[2]} | ${copy_row[3]} | 1.000 |"
          "| \`curl -o\` + fsync (durable copy) | ${durable_row[0]} | ${durable_row[1]} | $(ratio "${durable_row[1]}" "$pipe_mbs") | $(ratio "${durable_row[1]}" "$copy_mbs") | ${durable_row[2]} | ${durable_row[3]} | 1.000 |" "${rows[@]}")

    measure "lifeboat backup" "$snap_bytes" "'$lifeboat' backup --repo '$dir/repo' --key-file '$dir/backup.key'"
    local stored
    stored=$(find "$dir/repo/data" -name '*.lbk' -exec stat -c %s {} + | head -n1)
    rows+=("| \`lifeboat backup\` (verify + encrypt + store) | $secs | $mbs | $(ratio "$mbs" "$pipe_mbs") | $(ratio "$mbs" "$copy_mbs") | $rss_mib | $cpu | $(awk -v a="$stored" -v b="$snap_bytes" 'BEGIN { printf "%.3f", a / b }') |")

    measure "lifeboat verify" "$snap_bytes" "'$lifeboat' verify latest --repo '$dir/repo' --key-file '$dir/backup.key'"
    rows+=("| \`lifeboat verify\` (decrypt + verify) | $secs | $mbs | $(ratio "$mbs" "$pipe_mbs") | $(ratio "$mbs" "$copy_mbs") | $rss_mib | $cpu | - |")

    # `curl --data-binary @file` reads the whole file into memory and refuses files of 1 GiB or more ("out of
    # memory"); `-T file -X POST` sends the same request streaming from the file. (No `Expect: 100-continue` wait.)
    measure "curl snapshot-force" "$snap_bytes" "curl -sS -f -K '$dir/curl.conf' -H 'Expect:' -X POST -T '$dir/copy.snap' '$leader/v1/sys/storage/raft/snapshot-force'"
    rows+=("| \`curl -X POST -T file\` to snapshot-force | $secs | $mbs | $(ratio "$mbs" "$pipe_mbs") | $(ratio "$mbs" "$copy_mbs") | $rss_mib | $cpu | - |")
    rm -f "$dir/copy.snap"
    # The restore is applied asynchronously: wait until the cluster has an unsealed active node again.
    for _ in $(seq 1 600); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$leader/v1/sys/health")" = 200 ] && break
        sleep 0.2
    done

    measure "lifeboat restore" "$snap_bytes" "'$lifeboat' restore latest --yes --overwrite-newer --repo '$dir/repo' --key-file '$dir/backup.key' --unseal-keys-file '$dir/keys.json' ${nodes[*]} --state-dir '$dir/restore-state'"
    local preflight
    preflight=$(awk '/preflight done in/ {print $(NF - 1)}' "$work/err.txt" | head -n1)
    rows+=("| \`lifeboat restore\` (same cluster, whole command) | $secs | $mbs | $(ratio "$mbs" "$pipe_mbs") | $(ratio "$mbs" "$copy_mbs") | $rss_mib | $cpu | - |")
    if [ -n "$preflight" ]; then
        local pre_mbs
        pre_mbs=$(awk -v b="$snap_bytes" -v s="$preflight" 'BEGIN { if (s > 0) printf "%.0f", b / 1e6 / s; else print "inf" }')
        rows+=("| ↳ its preflight (decrypt + verify + stage) | $preflight | $pre_mbs | $(ratio "$pre_mbs" "$pipe_mbs") | $(ratio "$pre_mbs" "$copy_mbs") | - | - | - |")
    fi

    kill "$sim_pid" 2>/dev/null || true
    wait "$sim_pid" 2>/dev/null || true
    sim_pid=""

    echo
    echo "### $size seeded: snapshot of $snap_bytes bytes ($(awk -v b="$snap_bytes" 'BEGIN { printf "%.2f", b / 1073741824 }') GiB), load average before: $load_before"
    echo
    echo "| step | seconds | MB/s | × shell pipeline | × copy limit | peak RSS (MiB) | CPU | stored / original |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"

    # Keep the backup's manifest as the template for the listing benchmark, then free the disk.
    find "$dir/repo/manifests" -name '*.json' | head -n1 | xargs -I{} cp {} "$work/manifest-template.json"
    rm -rf "$dir"
}

run_list() {
    local repo=$work/list-repo
    echo "== $list_count backups: list and prune --dry-run" >&2
    mkdir -p "$repo/manifests" "$repo/data"
    # $list_count hourly backups: manifests copied from a real one with id, time, data object and stored size
    # replaced; each data object holds 1 byte (stored_size 1), so the listing finds nothing wrong.
    awk -v n="$list_count" -v repo="$repo" -v start=1735689600 "$awk_civil"'
    { template[NR] = $0 }
    END {
        for (i = 0; i < n; i++) {
            civil(start + i * 3600)
            id = sprintf("%04d%02d%02dT%02d%02d%02dZ-%03x%03x", CY, CM, CD, CH, CMI, CS, 0, i % 4096)
            created = sprintf("%04d-%02d-%02dT%02d:%02d:%02d+00:00", CY, CM, CD, CH, CMI, CS)
            file = repo "/manifests/" id ".json"
            for (j = 1; j <= NR; j++) {
                line = template[j]
                if (line ~ /^  "id" *:/) line = "  \"id\" : \"" id "\","
                else if (line ~ /^  "created_at" *:/) line = "  \"created_at\" : \"" created "\","
                else if (line ~ /^  "data_object" *:/) line = "  \"data_object\" : \"data/" id ".lbk\"" (line ~ /,$/ ? "," : "")
                else if (line ~ /^  "stored_size" *:/) line = "  \"stored_size\" : 1,"
                print line > file
            }
            close(file)
            data = repo "/data/" id ".lbk"
            printf "x" > data
            close(data)
        }
    }' "$work/manifest-template.json"
    local rows=()
    measure "lifeboat list" 0 "'$lifeboat' list --repo '$repo'"
    local listed
    listed=$(($(wc -l < "$work/out.txt") - 1))
    if grep -q warning "$work/err.txt"; then echo "list reported problems:" >&2; head -n3 "$work/err.txt" >&2; exit 1; fi
    rows+=("| \`lifeboat list\` | $listed | $secs | $rss_mib | $cpu |")
    measure "lifeboat prune --dry-run" 0 "'$lifeboat' prune --dry-run --keep-daily 7 --keep-weekly 4 --keep-monthly 12 --repo '$repo'"
    rows+=("| \`lifeboat prune --dry-run --keep-daily 7 --keep-weekly 4 --keep-monthly 12\` | $(grep -c '^ *keep\|^ *would remove' "$work/out.txt" || true) | $secs | $rss_mib | $cpu |")
    echo
    echo "### A repository of $list_count backups"
    echo
    echo "| command | backups | seconds | peak RSS (MiB) | CPU |"
    echo "|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    rm -rf "$repo"
}

for size in "${sizes[@]}"; do run_size "$size"; done
run_list
echo
echo "Machine: $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo), $(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo); $(uname -sr)."
