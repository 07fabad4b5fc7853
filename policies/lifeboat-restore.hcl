# Lifeboat restore role: same-cluster restore (`lifeboat restore` without --force) and the checks around it.
#
# A forced disaster-recovery restore onto a freshly initialized cluster (`lifeboat restore --force`) is performed
# with that new cluster's temporary root token, not with this policy: the new cluster has no policies yet.

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

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
