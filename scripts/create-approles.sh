#!/usr/bin/env bash
# Creates the Lifeboat policies and one AppRole per role (backup, restore, drill) on a Vault or OpenBao cluster.
#
# Needs a token with rights to write policies and manage auth methods in VAULT_TOKEN (or ~/.vault-token) and
# VAULT_ADDR set. Writes each role's role_id and a fresh secret_id into files under OUTPUT_DIR (mode 0600); the
# secret ids are never printed.
#
#   scripts/create-approles.sh [OUTPUT_DIR]      default ./lifeboat-approles
set -euo pipefail
cd "$(dirname "$0")/.."

cli=${VAULT_CLI:-vault}
command -v "$cli" >/dev/null || { echo "needs the vault (or bao: VAULT_CLI=bao) command" >&2; exit 64; }
out=${1:-./lifeboat-approles}
umask 077
mkdir -p "$out"

"$cli" auth list -format=json | grep -q '"approle/"' || "$cli" auth enable approle

for role in backup restore drill; do
    "$cli" policy write "lifeboat-$role" "policies/lifeboat-$role.hcl"
    # Short-lived, renewable tokens: Lifeboat renews at half the TTL and logs in again when renewal fails.
    "$cli" write "auth/approle/role/lifeboat-$role" \
        token_policies="lifeboat-$role" token_ttl=1h token_max_ttl=24h secret_id_ttl=0
    "$cli" read -field=role_id "auth/approle/role/lifeboat-$role/role-id" > "$out/$role.role-id"
    "$cli" write -f -field=secret_id "auth/approle/role/lifeboat-$role/secret-id" > "$out/$role.secret-id"
    echo "lifeboat-$role: role id and secret id written to $out/$role.{role-id,secret-id}"
done
