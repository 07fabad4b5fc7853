#!/usr/bin/env bash
# Lifeboat reset hook for the compose cluster: stop one node, wipe its Raft data, start it again (empty,
# uninitialized). Used by `lifeboat restore --force --reset-command 'scripts/cluster/reset-node.sh {node}'`.
set -euo pipefail
node=${1:?usage: reset-node.sh vault_N}
case "$node" in vault_1|vault_2|vault_3) ;; *) echo "unknown node $node (vault_1, vault_2 or vault_3)" >&2; exit 64 ;; esac
cd "$(dirname "$0")"
docker compose stop "$node"
rm -rf "./$node/data/raft" "./$node/data/vault.db"
docker compose start "$node"
