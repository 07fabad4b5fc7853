# Lifeboat restore role: same-cluster restore (`lifeboat restore` without --force) and the checks around it.
#
# A forced disaster-recovery restore onto a freshly initialized cluster (`lifeboat restore --force`) uploads with
# that new cluster's temporary root token; after the upload only the BACKUP's tokens exist, so rebootstrap and
# verify (raft configuration, autopilot, canaries) need a token with this policy that existed when the backup was
# taken (or the backup cluster's root token). `lifeboat restore --plan` checks these paths with sys/capabilities-self.

# Restore a snapshot of this cluster (POST sys/storage/raft/snapshot).
path "sys/storage/raft/snapshot" {
  capabilities = ["update"]
}

# Restore a snapshot whose unseal keys differ (POST sys/storage/raft/snapshot-force).
path "sys/storage/raft/snapshot-force" {
  capabilities = ["update"]
}

# Watch the cluster come back: membership and autopilot health.
path "sys/storage/raft/configuration" {
  capabilities = ["read"]
}

path "sys/storage/raft/autopilot/state" {
  capabilities = ["read"]
}

# Read the canary secrets that prove the restored data is there.
path "secret/data/lifeboat/canary/*" {
  capabilities = ["read"]
}

# Let `lifeboat restore --plan` ask which of these paths the token may call (sys/capabilities-self), before anything
# is touched. Vault's `default` policy grants it too; this keeps tokens made with no_default_policy working.
path "sys/capabilities-self" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}

# `lifeboat recover node`: drop a replaced node's old raft id after it rejoined under a new one (asked only when the
# raft configuration lists one).
path "sys/storage/raft/remove-peer" {
  capabilities = ["update"]
}
