# Lifeboat drill role, on the PRODUCTION cluster: plant and refresh the canary secrets that drills check in the
# restored scratch cluster. The drill itself restores into a scratch cluster it creates, using that cluster's own
# temporary root token; it never needs restore rights on production.

# Write and read the canaries (KV version 2 at secret/).
path "secret/data/lifeboat/canary/*" {
  capabilities = ["create", "read", "update"]
}

path "secret/metadata/lifeboat/canary/*" {
  capabilities = ["read", "list"]
}

# Read the topology recorded in the drill report.
path "sys/storage/raft/configuration" {
  capabilities = ["read"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}

path "auth/token/renew-self" {
  capabilities = ["update"]
}
