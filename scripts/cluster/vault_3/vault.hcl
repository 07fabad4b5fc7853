# vault_3: Raft integrated storage; api_addr and cluster_addr are the compose service names.
storage "raft" {
  path    = "/vault/data"
  node_id = "vault_3"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true   # the reference cluster is local only; terminate TLS in front of it anywhere else
  # Large snapshot restores can exceed the default 30 s read timeout (docs/vault-behaviour.md §1.1).
  http_read_timeout = "10m"
}

api_addr     = "http://vault_3:8200"
cluster_addr = "http://vault_3:8201"
disable_mlock = false
ui = false
