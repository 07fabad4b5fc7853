# Lifeboat backup role: take raft snapshots and read the cluster topology. Nothing else.
#
# `lifeboat backup` and `lifeboat agent` need exactly this. sys/health, sys/leader and sys/seal-status need no token.

# Download a snapshot (GET sys/storage/raft/snapshot). No sudo: Vault maps the GET to `read`.
path "sys/storage/raft/snapshot" {
  capabilities = ["read"]
}

# Record the raft servers and the leader in each backup's manifest.
path "sys/storage/raft/configuration" {
  capabilities = ["read"]
}

# Let the token look itself up and renew itself (AppRole tokens are renewed at half their TTL).
path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
