#!/usr/bin/env python3
"""vault-sim conformance through a real third-party client: hvac (PyPI).

Starts vault-sim processes on ports chosen at run time, drives them only through hvac, and asserts what hvac's
users see: init, unseal, raft join, mounts, KV v1/v2, transit, policies, tokens, AppRole, snapshot save through a
standby, restore, force restore of another cluster's snapshot, and a transit auto-unseal cluster.

    python3 Tests/Conformance/hvac_conformance.py --vault-sim .build/debug/vault-sim

Exit status 0 when every check passes; otherwise the first failure is printed with the step it belongs to.
Run by Tests/VaultSimTests/HvacConformanceTests.swift.
"""

import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings

import hvac
import hvac.exceptions as hx

warnings.simplefilter("ignore", DeprecationWarning)

STEP = ["start"]


def step(name):
    STEP[0] = name
    print("--", name, flush=True)


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def expect_error(fn, cls, contains=None):
    """fn() must raise hvac exception `cls` (whose message contains `contains`)."""
    try:
        fn()
    except cls as e:
        if contains is not None:
            check(contains in str(e), "expected %r in error %r" % (contains, str(e)))
        return e
    except hx.VaultError as e:
        raise AssertionError("expected %s, got %s: %s" % (cls.__name__, type(e).__name__, e))
    raise AssertionError("expected %s, got success" % cls.__name__)


def wait_for(what, cond, timeout=20.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if cond():
                return
        except Exception as e:  # a node restarting or sealed mid-poll
            last = e
        time.sleep(0.05)
    raise AssertionError("timed out waiting for %s (last error: %r)" % (what, last))


class Cluster:
    """One `vault-sim serve` process."""

    def __init__(self, binary, workdir, name, nodes, extra=(), env=None):
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        ready = os.path.join(self.dir, "ready.json")
        args = [binary, "serve", "--nodes", str(nodes), "--data-dir", os.path.join(self.dir, "data"),
                "--ready-file", ready, "--election-delay-ms", "100", "--restore-delay-ms", "100"] + list(extra)
        self.log = open(os.path.join(self.dir, "sim.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log,
                                     env=dict(os.environ, **(env or {})))
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise AssertionError("vault-sim %s exited with %s: %s" % (name, self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                raise AssertionError("vault-sim %s not ready after 30 s" % name)
            time.sleep(0.05)
        with open(ready) as f:
            info = json.load(f)
        self.addrs = [n["api_addr"] for n in info["nodes"]]

    def stderr(self):
        try:
            with open(os.path.join(self.dir, "sim.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def client(self, i=0, token=None, **kw):
        return hvac.Client(url=self.addrs[i], token=token, timeout=30, **kw)

    def alive(self):
        check(self.proc.poll() is None, "vault-sim exited (%s): %s" % (self.proc.returncode, self.stderr()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def leader_index(cluster):
    for i in range(len(cluster.addrs)):
        try:
            st = cluster.client(i).sys.read_leader_status()
            if st.get("is_self"):
                return i
        except hx.VaultError:
            pass
    return None


def init_and_unseal(cluster, shares, threshold):
    c = cluster.client(0)
    check(c.sys.is_initialized() is False, "a fresh cluster reports initialized=false")
    result = c.sys.initialize(secret_shares=shares, secret_threshold=threshold)
    keys = result["keys"]
    check(len(keys) == shares and len(result["keys_base64"]) == shares, "init returns %d keys" % shares)
    want = 66 if shares > 1 else 64  # shares carry an x-coordinate byte; a single share is the raw key
    check(all(len(k) == want for k in keys), "unseal keys are %d hex characters: %r" % (want, [len(k) for k in keys]))
    check(result["root_token"].startswith("hvs."), "root token has the hvs. prefix")
    check(c.sys.is_sealed(), "Shamir init leaves the node sealed")
    st = c.sys.submit_unseal_key(keys[0])
    check(st["sealed"] is (threshold > 1) and st["progress"] == (1 if threshold > 1 else 0), "progress after one key: %r" % st)
    if threshold > 1:
        st = c.sys.submit_unseal_keys(keys[1:threshold])
    check(st["sealed"] is False, "unsealed after threshold keys: %r" % st)
    wait_for("a leader", lambda: leader_index(cluster) == 0)
    return result


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vault-sim", required=True, help="path to the vault-sim executable")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    opts = ap.parse_args()
    work = tempfile.mkdtemp(prefix="hvac-conformance-")
    clusters = []
    try:
        run(opts.vault_sim, work, clusters)
        print("OK: every hvac conformance check passed", flush=True)
        return 0
    except Exception:
        print("FAILED in step %r:" % STEP[0], flush=True)
        traceback.print_exc(file=sys.stdout)
        for c in clusters:
            print("--- vault-sim %s stderr ---\n%s" % (c.dir, c.stderr()), flush=True)
        return 1
    finally:
        for c in clusters:
            c.stop()
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(binary, work, clusters):
    step("init, unseal and join a 3-node cluster")
    a = Cluster(binary, work, "a", 3)
    clusters.append(a)
    init = init_and_unseal(a, 3, 2)
    root = init["root_token"]
    keys = init["keys"]
    status = a.client(0).sys.read_seal_status()
    check(status["type"] == "shamir" and status["t"] == 2 and status["n"] == 3, "seal status t/n: %r" % status)
    for i in (1, 2):
        c = a.client(i)
        check(c.sys.is_initialized() is False, "node %d uninitialized before join" % i)
        joined = c.sys.join_raft_cluster(leader_api_addr=a.addrs[0])
        check(joined["joined"] is True, "join answers joined=true")
        check(c.sys.is_initialized() is True, "a node with a pending join reports initialized")
        st = c.sys.submit_unseal_keys(keys[:2])
        check(st["sealed"] is False, "node %d unsealed after join" % i)
    rc = a.client(0, token=root)
    servers = rc.sys.read_raft_config()["data"]["config"]["servers"]
    check(len(servers) == 3 and all(s["voter"] for s in servers), "raft configuration lists 3 voters: %r" % servers)
    health = a.client(1).sys.read_health_status(method="GET")
    check(health.status_code == 429, "a standby's sys/health is 429 (got %s)" % health.status_code)
    ok = a.client(1).sys.read_health_status(method="GET", standby_ok=True)
    check(isinstance(ok, dict) and ok["standby"] is True, "standbyok=true answers 200 with the health body: %r" % ok)

    step("mounts: list, enable, read, tune, disable")
    mounts = rc.sys.list_mounted_secrets_engines()
    data = mounts["data"]
    check("secret/" not in data, "a non-dev cluster starts without secret/ (%s)" % sorted(data))
    for p in ("sys/", "cubbyhole/", "identity/"):
        check(p in data and data[p]["uuid"] and data[p]["accessor"], "built-in mount %s with uuid and accessor" % p)
    check("sys/" in mounts, "sys/mounts also lists mounts at the top level")
    rc.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"}, description="v1 store")
    rc.sys.enable_secrets_engine("kv-v2", path="kv2")
    rc.sys.enable_secrets_engine("kv", path="secrets/team", options={"version": "2"})
    rc.sys.enable_secrets_engine("transit")
    data = rc.sys.list_mounted_secrets_engines()["data"]
    check(data["kv1/"]["type"] == "kv" and data["kv1/"]["options"] == {"version": "1"}, "kv1/ is kv v1: %r" % data["kv1/"])
    check(data["kv2/"]["type"] == "kv" and data["kv2/"]["options"] == {"version": "2"}, "kv-v2 alias mounts kv version 2")
    check(data["transit/"]["type"] == "transit", "transit/ mounted")
    check(data["kv1/"]["description"] == "v1 store", "description kept")
    check(len({m["uuid"] for m in data.values()}) == len(data), "every mount has its own uuid")
    # Vault answers 409 Conflict for a path in use; hvac has no class for 409 and raises UnexpectedError.
    expect_error(lambda: rc.sys.enable_secrets_engine("kv", path="kv1"), hx.UnexpectedError, "path is already in use at kv1/")
    expect_error(lambda: rc.sys.enable_secrets_engine("kv", path="kv1/nested"), hx.UnexpectedError, "path is already in use at kv1/")
    expect_error(lambda: rc.sys.enable_secrets_engine("nosuchengine", path="x"), hx.InvalidRequest,
                 "plugin not found in the catalog: nosuchengine")
    expect_error(lambda: rc.sys.enable_secrets_engine("kv", path="sys/x"), hx.Forbidden, 'cannot mount "sys/x/"')
    expect_error(lambda: rc.sys.enable_secrets_engine("transit", path="t2", options={"version": "2"}), hx.InvalidRequest,
                 'secrets engine "transit" does not allow setting a version')
    cfg = rc.sys.read_mount_configuration("kv1")["data"]
    check(cfg["default_lease_ttl"] == 2764800 and cfg["max_lease_ttl"] == 2764800, "tune read defaults to 768h: %r" % cfg)
    rc.sys.tune_mount_configuration("kv1", default_lease_ttl="1h", description="tuned")
    cfg = rc.sys.read_mount_configuration("kv1")["data"]
    check(cfg["default_lease_ttl"] == 3600 and cfg["description"] == "tuned", "tune applied: %r" % cfg)
    rc.sys.enable_secrets_engine("kv", path="scratch")
    rc.sys.disable_secrets_engine("scratch")
    rc.sys.disable_secrets_engine("scratch")  # a missing mount: success, as Vault (does not reveal existence)
    check("scratch/" not in rc.sys.list_mounted_secrets_engines()["data"], "disabled mount gone")
    expect_error(lambda: rc.sys.disable_secrets_engine("sys"), hx.InvalidRequest, 'cannot unmount "sys/"')
    expect_error(lambda: rc.secrets.kv.v1.read_secret("x", mount_point="scratch"), hx.InvalidPath, "no handler for route")

    step("KV version 1")
    kv1 = rc.secrets.kv.v1
    kv1.create_or_update_secret("app/db", {"user": "u", "password": "p"}, mount_point="kv1")
    kv1.create_or_update_secret("app/api", {"key": "k"}, mount_point="kv1")
    got = kv1.read_secret("app/db", mount_point="kv1")
    check(got["data"] == {"user": "u", "password": "p"}, "kv1 read: %r" % got)
    check(got["lease_duration"] == 3600, "kv1 lease follows the tuned default TTL: %r" % got["lease_duration"])
    check(sorted(kv1.list_secrets("app", mount_point="kv1")["data"]["keys"]) == ["api", "db"], "kv1 list")
    check(kv1.list_secrets("", mount_point="kv1")["data"]["keys"] == ["app/"], "kv1 list root shows the folder")
    kv1.delete_secret("app/api", mount_point="kv1")
    expect_error(lambda: kv1.read_secret("app/api", mount_point="kv1"), hx.InvalidPath)

    step("KV version 2 (data, metadata, delete, undelete, destroy)")
    kv2 = rc.secrets.kv.v2
    w1 = kv2.create_or_update_secret("svc/a", {"v": "1"}, mount_point="kv2")
    check(w1["data"]["version"] == 1, "first write is version 1: %r" % w1)
    w2 = kv2.create_or_update_secret("svc/a", {"v": "2"}, cas=1, mount_point="kv2")
    check(w2["data"]["version"] == 2, "cas write is version 2")
    expect_error(lambda: kv2.create_or_update_secret("svc/a", {"v": "x"}, cas=1, mount_point="kv2"), hx.InvalidRequest,
                 "check-and-set parameter did not match the current version")
    check(kv2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "2"}, "latest")
    check(kv2.read_secret_version("svc/a", version=1, mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "1"},
          "version 1")
    kv2.delete_latest_version_of_secret("svc/a", mount_point="kv2")
    expect_error(lambda: kv2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True), hx.InvalidPath)
    deleted = kv2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=False)
    check(deleted["data"]["data"] is None and deleted["data"]["metadata"]["deletion_time"] != "", "soft-deleted version")
    kv2.undelete_secret_versions("svc/a", versions=[2], mount_point="kv2")
    check(kv2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "2"}, "undeleted")
    kv2.delete_secret_versions("svc/a", versions=[1], mount_point="kv2")
    kv2.destroy_secret_versions("svc/a", versions=[1], mount_point="kv2")
    md = kv2.read_secret_metadata("svc/a", mount_point="kv2")["data"]
    check(md["current_version"] == 2 and md["versions"]["1"]["destroyed"] is True, "metadata shows version 1 destroyed: %r" % md)
    kv2.update_metadata("svc/a", max_versions=3, mount_point="kv2")
    check(kv2.read_secret_metadata("svc/a", mount_point="kv2")["data"]["max_versions"] == 3, "max_versions updated")
    kv2.create_or_update_secret("svc/b", {"v": "b"}, mount_point="kv2")
    check(sorted(kv2.list_secrets("svc", mount_point="kv2")["data"]["keys"]) == ["a", "b"], "kv2 list (LIST verb)")
    strict = a.client(0, token=root, strict_http=True)
    check(sorted(strict.secrets.kv.v2.list_secrets("svc", mount_point="kv2")["data"]["keys"]) == ["a", "b"], "kv2 list (GET ?list=true)")
    kv2.delete_metadata_and_all_versions("svc/b", mount_point="kv2")
    expect_error(lambda: kv2.read_secret_metadata("svc/b", mount_point="kv2"), hx.InvalidPath)
    kv2.create_or_update_secret("lifeboat/canary", {"value": "ok"}, mount_point="secrets/team")
    check(kv2.read_secret_version("lifeboat/canary", mount_point="secrets/team", raise_on_deleted_version=True)["data"]["data"]
          == {"value": "ok"}, "kv v2 at a nested mount path")

    step("transit")
    tr = rc.secrets.transit
    tr.create_key("app")
    k = tr.read_key("app")["data"]
    check(k["latest_version"] == 1 and k["type"] == "aes256-gcm96" and list(k["keys"]) == ["1"], "transit key read: %r" % k)
    plaintext = base64.b64encode(b"attack at dawn").decode()
    c1 = tr.encrypt_data("app", plaintext)["data"]["ciphertext"]
    check(c1.startswith("vault:v1:"), "ciphertext format: %r" % c1)
    check(tr.decrypt_data("app", c1)["data"]["plaintext"] == plaintext, "decrypt round trip")
    tr.rotate_key("app")
    check(tr.read_key("app")["data"]["latest_version"] == 2, "rotated to version 2")
    c2 = tr.encrypt_data("app", plaintext)["data"]["ciphertext"]
    check(c2.startswith("vault:v2:"), "new ciphertexts use version 2")
    check(tr.decrypt_data("app", c1)["data"]["plaintext"] == plaintext, "version 1 still decrypts")
    rw = tr.rewrap_data("app", c1)["data"]["ciphertext"]
    check(rw.startswith("vault:v2:"), "rewrap moves to the latest version")
    tr.update_key_configuration("app", min_decryption_version=2)
    expect_error(lambda: tr.decrypt_data("app", c1), hx.InvalidRequest, "too old")
    expect_error(lambda: tr.decrypt_data("app", "vault:v2:" + base64.b64encode(b"x" * 40).decode()), hx.InvalidRequest,
                 "message authentication failed")
    expect_error(lambda: tr.decrypt_data("app", "nope"), hx.InvalidRequest, "invalid ciphertext: no prefix")
    check("app" in tr.list_keys()["data"]["keys"], "list transit keys")
    batch = tr.encrypt_data("app", batch_input=[{"plaintext": plaintext}, {"plaintext": plaintext}])["data"]["batch_results"]
    check(len(batch) == 2 and all(b["ciphertext"].startswith("vault:v2:") for b in batch), "batch encrypt")

    step("policies and tokens")
    rc.sys.create_or_update_policy("kv-reader", 'path "kv2/data/*" {\n  capabilities = ["read"]\n}\n'
                                                'path "transit/encrypt/app" {\n  capabilities = ["update"]\n}\n')
    check("kv-reader" in rc.sys.list_policies()["data"]["policies"], "policy listed")
    check("kv2/data/*" in rc.sys.read_policy("kv-reader")["data"]["rules"], "policy read back")
    expect_error(lambda: rc.sys.create_or_update_policy("bad", "path {"), hx.InvalidRequest)
    tok = rc.auth.token.create(policies=["kv-reader"], ttl="1h")["auth"]
    check(sorted(tok["policies"]) == ["default", "kv-reader"] and tok["lease_duration"] == 3600, "token create: %r" % tok)
    lc = a.client(1, token=tok["client_token"])  # through a standby: forwarded
    check(lc.lookup_token()["data"]["policies"] == ["default", "kv-reader"], "lookup-self through a standby")
    check(lc.secrets.kv.v2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "2"},
          "policy allows reading kv2/data/*")
    expect_error(lambda: lc.secrets.kv.v2.create_or_update_secret("svc/a", {"v": "no"}, mount_point="kv2"), hx.Forbidden)
    expect_error(lambda: lc.secrets.kv.v1.read_secret("app/db", mount_point="kv1"), hx.Forbidden)
    check(lc.secrets.transit.encrypt_data("app", plaintext)["data"]["ciphertext"].startswith("vault:v2:"), "encrypt allowed")
    expect_error(lambda: lc.secrets.transit.decrypt_data("app", c2), hx.Forbidden)
    renewed = lc.auth.token.renew_self(increment="2h")["auth"]
    check(renewed["lease_duration"] == 7200, "renew-self with increment: %r" % renewed)
    expect_error(lambda: a.client(0, token="hvs.notatoken").lookup_token(), hx.Forbidden)

    step("AppRole")
    rc.sys.enable_auth_method("approle")
    check("approle/" in rc.sys.list_auth_methods()["data"], "approle enabled")
    rc.auth.approle.create_or_update_approle("drill", token_policies=["kv-reader"], token_ttl="10m")
    role_id = rc.auth.approle.read_role_id("drill")["data"]["role_id"]
    secret_id = rc.auth.approle.generate_secret_id("drill")["data"]["secret_id"]
    ac = a.client(2)
    login = ac.auth.approle.login(role_id=role_id, secret_id=secret_id)
    check(login["auth"]["lease_duration"] == 600 and "kv-reader" in login["auth"]["policies"], "approle login: %r" % login["auth"])
    check(ac.secrets.kv.v2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "2"},
          "approle token reads")
    expect_error(lambda: a.client(2).auth.approle.login(role_id=role_id, secret_id="wrong"), hx.InvalidRequest,
                 "invalid role or secret ID")

    step("snapshot save through a standby (307 to the active node)")
    standby = next(i for i in range(3) if i != leader_index(a))
    snap_resp = a.client(standby, token=root).sys.take_raft_snapshot()
    check(snap_resp.status_code == 200, "snapshot status %s" % snap_resp.status_code)
    check(any(r.status_code == 307 for r in snap_resp.history), "the standby redirected (history %r)" % snap_resp.history)
    snap = snap_resp.content
    check(snap[:2] == b"\x1f\x8b" and len(snap) > 1000, "snapshot is gzip (%d bytes)" % len(snap))

    step("restore rolls data back; mounts come back with it")
    kv2.create_or_update_secret("after/snapshot", {"v": "gone after restore"}, mount_point="kv2")
    rc.sys.disable_secrets_engine("kv1")
    r = rc.sys.restore_raft_snapshot(snap)
    check(r.status_code == 204, "restore answers 204 (got %s)" % r.status_code)
    wait_for("the restore to apply",
             lambda: "kv1/" in a.client(leader_index(a) or 0, token=root).sys.list_mounted_secrets_engines()["data"])
    rc = a.client(leader_index(a) or 0, token=root)
    expect_error(lambda: rc.secrets.kv.v2.read_secret_version("after/snapshot", mount_point="kv2", raise_on_deleted_version=True),
                 hx.InvalidPath)
    check(rc.secrets.kv.v1.read_secret("app/db", mount_point="kv1")["data"]["user"] == "u", "kv1 data back with its mount")

    step("force restore of another cluster's snapshot")
    b = Cluster(binary, work, "b", 1)
    clusters.append(b)
    b_init = init_and_unseal(b, 1, 1)
    bc = b.client(0, token=b_init["root_token"])
    expect_error(lambda: bc.sys.restore_raft_snapshot(snap), hx.InvalidRequest, "use the snapshot-force API to bypass this check")
    r = bc.sys.force_restore_raft_snapshot(snap)
    check(r.status_code == 204, "force restore answers 204 (got %s)" % r.status_code)
    wait_for("b to seal (its keys no longer open the restored keyring)", lambda: b.client(0).sys.is_sealed())
    st = b.client(0).sys.read_seal_status()
    check(st["t"] == 2 and st["n"] == 3, "seal status shows the snapshot's seal config: %r" % st)
    b.client(0).sys.submit_unseal_keys(keys[:2])
    wait_for("b active again", lambda: leader_index(b) == 0)
    br = b.client(0, token=root)
    check(br.secrets.kv.v2.read_secret_version("svc/a", mount_point="kv2", raise_on_deleted_version=True)["data"]["data"] == {"v": "2"},
          "a's data and root token work on b")
    expect_error(lambda: b.client(0, token=b_init["root_token"]).lookup_token(), hx.Forbidden)

    step("transit auto-unseal cluster")
    # The seal token: a policy that allows exactly the seal's two transit calls.
    rc.sys.create_or_update_policy("autounseal", 'path "transit/encrypt/autounseal" { capabilities = ["update"] }\n'
                                                 'path "transit/decrypt/autounseal" { capabilities = ["update"] }\n')
    rc.secrets.transit.create_key("autounseal")
    seal_token = rc.auth.token.create(policies=["autounseal"], period="24h", no_parent=True)["auth"]["client_token"]
    transit_args = ["--transit-seal-address", a.addrs[0], "--transit-seal-key-name", "autounseal",
                    "--transit-seal-mount-path", "transit/"]
    c = Cluster(binary, work, "c", 2, extra=transit_args, env={"VAULT_TOKEN": seal_token})
    clusters.append(c)
    cc = c.client(0)
    st = cc.sys.read_seal_status()
    check(st["type"] == "transit" and st["initialized"] is False, "seal status type transit before init: %r" % st)
    expect_error(lambda: cc.sys.initialize(secret_shares=1, secret_threshold=1), hx.InvalidRequest,
                 "not applicable to seal type transit")
    ci = cc.sys.initialize(recovery_shares=3, recovery_threshold=2)
    check(ci["keys"] == [] and len(ci["recovery_keys"]) == 3 and len(ci["recovery_keys_base64"]) == 3, "recovery keys: %r" % list(ci))
    wait_for("c unsealed by itself", lambda: not cc.sys.is_sealed())
    st = cc.sys.read_seal_status()
    check(st["recovery_seal"] is True and st["t"] == 2 and st["n"] == 3, "t/n from the recovery config: %r" % st)
    wait_for("c leader", lambda: leader_index(c) == 0)
    croot = ci["root_token"]
    c.client(1).sys.join_raft_cluster(leader_api_addr=c.addrs[0])
    wait_for("c node 2 unsealed by itself after joining", lambda: not c.client(1).sys.is_sealed())
    c.client(0, token=croot).sys.enable_secrets_engine("kv-v2", path="kv")
    c.client(0, token=croot).secrets.kv.v2.create_or_update_secret("x", {"v": "c"}, mount_point="kv")
    csnap = c.client(1, token=croot).sys.take_raft_snapshot().content
    check(csnap[:2] == b"\x1f\x8b", "auto-unseal cluster snapshot")
    r = c.client(0, token=croot).sys.restore_raft_snapshot(csnap)
    check(r.status_code == 204, "same-cluster restore through the transit seal: %s" % r.status_code)
    for cl in clusters:
        cl.alive()


if __name__ == "__main__":
    sys.exit(main())
