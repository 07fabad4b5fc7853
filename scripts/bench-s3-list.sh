#!/usr/bin/env bash
# S3 metadata benchmark (issue 16): `lifeboat list` and `prune --dry-run` of N backups in one bucket on moto, cold
# (no manifest cache) and warm (every manifest cached by ETag), plus one `import` into the full bucket.
#
#   scripts/bench-s3-list.sh [N ...]      default: 2500 10000
#   LIFEBOAT_BENCH_BIN=DIR                the lifeboat executable's directory (default: .build/release, built here)
#
# The bucket is filled with copies of one real backup (a Vault 1.14.3 fixture imported once, then its manifest and
# data object copied server-side under new ids), so list and prune see N valid backups. Prints a Markdown table with
# seconds and peak RSS (GNU time). Nothing is asserted: read the numbers, which come from one run on this machine.
# Needs python3 with moto[server] and boto3, GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(2500 10000)
bin=${LIFEBOAT_BENCH_BIN:-}
if [ -z "$bin" ]; then swift build -c release --product lifeboat >&2; bin=.build/release; fi
lifeboat="$(cd "$bin" && pwd)/lifeboat"

work=$(mktemp -d "${TMPDIR:-/tmp}/lifeboat-bench-s3.XXXXXX")
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -H 127.0.0.1 -p "$port" >"$work/moto.log" 2>&1 &
moto=$!
trap 'kill $moto 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do curl -s "http://127.0.0.1:$port/" >/dev/null && break; sleep 0.1; done

export AWS_ACCESS_KEY_ID=AKIAMOTOBENCH AWS_SECRET_ACCESS_KEY=moto-bench-secret AWS_DEFAULT_REGION=us-east-1
"$lifeboat" key generate --output "$work/backup.key" >/dev/null

measure() {  # label, then the command; prints "seconds rss_mib"
    local out="$work/time.txt"
    /usr/bin/time -f "%e %M" -o "$out" bash -c "$2" >/dev/null 2>"$work/last.err" || { cat "$work/last.err" >&2; exit 1; }
    awk '{ printf "%s %.1f", $1, $2 / 1024 }' "$out"
}

echo "| backups | step | seconds | peak RSS (MiB) |"
echo "|---|---|---|---|"
for n in "${counts[@]}"; do
    bucket="bench-$n"
    cat >"$work/$n.yaml" <<YAML
keys:
  key_files: [$work/backup.key]
destinations:
  - name: s3
    type: s3
    endpoint: http://127.0.0.1:$port
    bucket: $bucket
    prefix: lifeboat
    path_style: true
agent:
  state_file: $work/state-$n/agent-state.json
YAML
    python3 - "$port" "$bucket" <<'PY'
import sys, boto3
port, bucket = sys.argv[1], sys.argv[2]
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}").create_bucket(Bucket=bucket)
PY
    "$lifeboat" import Tests/Fixtures/vault-1.14.3/backup.snap --config "$work/$n.yaml" --cluster bench >/dev/null
    python3 - "$port" "$bucket" "$n" <<'PY'
import sys, json, boto3, concurrent.futures as cf
port, bucket, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
key = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="lifeboat/manifests/")["Contents"]][0]
template = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
source_data = "lifeboat/" + template["data_object"]
def make(i):
    day, second = divmod(i, 86400)
    bid = "2025%02d%02dT%02d%02d%02dZ-%04x" % (1 + day // 28 % 12, 1 + day % 28, second // 3600, second // 60 % 60, second % 60, i % 65536)
    m = dict(template, id=bid, data_object=f"data/{bid}.lbk")
    s3.copy_object(Bucket=bucket, Key=f"lifeboat/data/{bid}.lbk", CopySource={"Bucket": bucket, "Key": source_data})
    s3.put_object(Bucket=bucket, Key=f"lifeboat/manifests/{bid}.json", Body=json.dumps(m).encode())
with cf.ThreadPoolExecutor(16) as pool:
    list(pool.map(make, range(n - 1)))
PY
    rm -rf "$work/state-$n"
    read -r s r <<<"$(measure cold "'$lifeboat' list --config '$work/$n.yaml'")"; echo "| $n | \`lifeboat list\`, cold (no cache) | $s | $r |"
    read -r s r <<<"$(measure warm "'$lifeboat' list --config '$work/$n.yaml'")"; echo "| $n | \`lifeboat list\`, warm (manifests cached by ETag) | $s | $r |"
    read -r s r <<<"$(measure prune "'$lifeboat' prune --config '$work/$n.yaml' --keep-daily 7 --dry-run")"; echo "| $n | \`lifeboat prune --keep-daily 7 --dry-run\`, warm | $s | $r |"
    read -r s r <<<"$(measure import "'$lifeboat' import Tests/Fixtures/vault-1.14.3/ellie.snap --config '$work/$n.yaml' --cluster bench")"; echo "| $n | \`lifeboat import\` into the full bucket | $s | $r |"
done
