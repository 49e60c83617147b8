"""Several `fedgate serve` processes on one PostgreSQL, and the faults a deployment meets,
driven as an operator would run them: real processes on loopback ports, the real database
stopped and started with pg_ctlcluster, SIGTERM, an embedded SQLite file that fills up.

usage: replicas.py FEDGATE_BIN WORKDIR
Prints `ok   name` / `FAIL name` lines, `measured: ...` lines with the figures, and
`replicas: N passed, M failed`. PostgreSQL is always started again before this exits."""

import base64
import hashlib
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests
from checks import Checks, free_port
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

BIN, WORK = sys.argv[1:3]
PASSWORD = "Replica-passw0rd"
PG = "postgres://postgres@127.0.0.1:5432"
DB = f"fedgate_replicas_{os.getpid()}"
DB_URL = f"{PG}/{DB}"
checks = Checks("replicas")
report = checks.report
figures = []


def measured(line):
    figures.append(line)
    print(f"measured: {line}")


def psql(sql, db="test"):
    subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-U", "postgres", "-d", db, "-c", sql],
                   check=True, capture_output=True)


def pg_cluster():
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout
    version, name = next(line.split()[:2] for line in out.splitlines() if " 5432 " in f" {line} ")
    return version, name


def pg_ctl(action):
    version, name = pg_cluster()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, action, *(
        ["-m", "fast"] if action == "stop" else [])], check=True, capture_output=True)


def pg_ready():
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


class Replica:
    """One `fedgate serve` process."""

    def __init__(self, name, store_args, public_url=None, prefix=(), port=None):
        self.name, self.port = name, port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = f"{WORK}/{name}.log"
        os.makedirs(f"{WORK}/{name}", exist_ok=True)
        self.proc = subprocess.Popen(
            [*prefix, BIN, "serve", *store_args, "--listen", f"127.0.0.1:{self.port}",
             "--public-url", public_url or self.url],
            stdout=open(self.log_path, "w"), stderr=subprocess.STDOUT,
            env={**os.environ, "FEDGATE_LOG": os.environ.get("FEDGATE_LOG", "warn")})
        for _ in range(240):
            try:
                if requests.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None:
                raise RuntimeError(f"{name} exited: {self.log()}")
            time.sleep(0.25)
        raise RuntimeError(f"{name} did not become ready: {self.log()}")

    def log(self):
        return open(self.log_path).read()[-2000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def password_token(base, user="admin", domain="admin", project="admin", password=PASSWORD):
    scope = {"project": {"name": project, "domain": {"name": domain}}} if project else None
    auth = {"identity": {"methods": ["password"], "password": {
        "user": {"name": user, "domain": {"name": domain}, "password": password}}}}
    if scope:
        auth["scope"] = scope
    r = requests.post(f"{base}/v3/auth/tokens", json={"auth": auth}, timeout=10)
    if r.status_code != 201:
        raise RuntimeError(f"password token: {r.status_code} {r.text}")
    return r.headers["X-Subject-Token"]


def api(base, token, method, path, body=None, want=None):
    r = requests.request(method, base + path, json=body, headers={"X-Auth-Token": token}, timeout=10)
    if (want and r.status_code != want) or (not want and r.status_code >= 300):
        raise RuntimeError(f"{method} {path}: {r.status_code} {r.text}")
    return r.json() if r.text else None


def validate(session, base, caller, subject, timeout=30):
    return session.get(f"{base}/v3/auth/tokens", timeout=timeout,
                       headers={"X-Auth-Token": caller, "X-Subject-Token": subject}).status_code


class Key:
    def __init__(self, ak, sk):
        self.ak, self.sk = ak, sk


def signed_validate(session, base, cred, subject, timeout=30):
    """GET /v3/auth/tokens signed by the Huawei SDK's own signer with a temporary credential."""
    host = base.split("://", 1)[1]
    request = SdkRequest(method="GET", schema="http", host=host, resource_path="/v3/auth/tokens", query_params=[],
                         header_params={"X-Subject-Token": subject, "X-Security-Token": cred["securitytoken"],
                                        "Content-Type": "application/json"})
    Signer(Key(cred["access"], cred["secret"])).sign(request)
    headers = {k: v for k, v in request.header_params.items() if k.lower() != "host"}
    return session.get(f"{base}/v3/auth/tokens", headers=headers, timeout=timeout).status_code


def temporary_credential(base, token):
    body = {"auth": {"identity": {"methods": ["token"], "token": {"duration_seconds": 900}}}}
    return api(base, token, "POST", "/v3.0/OS-CREDENTIAL/securitytokens", body)["credential"]


class Load:
    """Threads calling `work(session)` until stopped; every call's (start, end, outcome)."""

    def __init__(self, name, work, threads=2, pause=0.0):
        self.name, self.work, self.pause = name, work, pause
        self.calls, self.stopping = [], threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, daemon=True) for _ in range(threads)]
        for t in self.threads:
            t.start()

    def run(self):
        session = requests.Session()
        while not self.stopping.is_set():
            start = time.monotonic()
            try:
                outcome = self.work(session)
            except requests.RequestException as e:
                outcome = type(e).__name__
                session = requests.Session()
            with self.lock:
                self.calls.append((start, time.monotonic(), outcome))
            if self.pause:
                time.sleep(self.pause)

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(60)
        return self.calls


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """An OpenID provider reduced to its signing key: id_tokens signed RS256 here, its JWKS
    pasted into fedgate's configuration as a static key set."""

    ISSUER = "https://issuer.replicas.example"

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        n = self.key.public_key().public_numbers()
        self.jwk = {"kty": "RSA", "kid": "replicas-1", "use": "sig", "alg": "RS256",
                    "n": b64url(n.n.to_bytes((n.n.bit_length() + 7) // 8, "big")),
                    "e": b64url(n.e.to_bytes(3, "big"))}

    def id_token(self, sub, audience):
        now = int(time.time())
        header = b64url(json.dumps({"alg": "RS256", "kid": "replicas-1", "typ": "JWT"}).encode())
        claims = b64url(json.dumps({"iss": self.ISSUER, "sub": sub, "aud": audience, "iat": now,
                                    "exp": now + 300, "jti": str(uuid.uuid4())}).encode())
        signature = self.key.sign(f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{header}.{claims}.{b64url(signature)}"


def exchange(base, idp, id_token):
    auth = {"id_token": {"id": id_token}, "scope": {"project": {"name": "admin", "domain": {"name": "admin"}}}}
    return requests.post(f"{base}/v3.0/OS-AUTH/id-token/tokens", json={"auth": auth},
                         headers={"X-Idp-Id": idp}, timeout=10)


def summarize(calls, ok):
    """(count, failures, the slowest in s, calls slower than 5 s)"""
    failures = [c for c in calls if not ok(c[2])]
    slowest = max((c[1] - c[0] for c in calls), default=0.0)
    return len(calls), failures, slowest, sum(1 for c in calls if c[1] - c[0] > 5)


def outcomes(calls):
    counts = {}
    for c in calls:
        counts[c[2]] = counts.get(c[2], 0) + 1
    return counts


# ---------------------------------------------------------------------------------------------
# Two replicas on one PostgreSQL database.


def replicas_share_everything(a, b):
    admin_a = password_token(a.url)
    s = requests.Session()
    report("a token minted on A validates on B", validate(s, b.url, admin_a, admin_a) == 200)

    cred = temporary_credential(a.url, admin_a)
    report("a temporary credential minted on A signs a request on B",
           signed_validate(s, b.url, cred, admin_a) == 200)

    # id_token replay: the jti taken on A is refused on B.
    issuer = Issuer()
    group = api(a.url, admin_a, "POST", "/v3/groups", {"group": {"name": "replica-ops"}})["group"]["id"]
    member = api(a.url, admin_a, "GET", "/v3/roles?name=member")["roles"][0]["id"]
    project = [p for p in api(a.url, admin_a, "GET", "/v3/auth/projects")["projects"] if p["name"] == "admin"][0]["id"]
    api(a.url, admin_a, "PUT", f"/v3/projects/{project}/groups/{group}/roles/{member}")
    api(a.url, admin_a, "PUT", "/v3/OS-FEDERATION/mappings/replicas-oidc", {"mapping": {"rules": [{
        "remote": [{"type": "sub"}],
        "local": [{"user": {"name": "{0}"}}, {"group": {"id": group}}]}]}})
    api(a.url, admin_a, "PUT", "/v3/OS-FEDERATION/identity_providers/replicas", {"identity_provider": {"enabled": True}})
    api(a.url, admin_a, "PUT", "/v3/OS-FEDERATION/identity_providers/replicas/protocols/oidc",
        {"protocol": {"mapping_id": "replicas-oidc"}})
    api(a.url, admin_a, "POST", "/v3.0/OS-FEDERATION/identity-providers/replicas/openid-connect-config",
        {"openid_connect_config": {"access_mode": "program", "idp_url": Issuer.ISSUER, "client_id": "replicas",
                                   "signing_key": json.dumps({"keys": [issuer.jwk]})}})
    token = issuer.id_token("carol", "replicas")
    first = exchange(a.url, "replicas", token)
    report("an id_token exchanged on A", first.status_code == 201, f"{first.status_code} {first.text}")
    again = exchange(b.url, "replicas", token)
    report("the same id_token (its jti) is refused on B", again.status_code == 401, f"{again.status_code} {again.text}")
    fresh = exchange(b.url, "replicas", issuer.id_token("carol", "replicas"))
    report("a fresh id_token is exchanged on B", fresh.status_code == 201, f"{fresh.status_code} {fresh.text}")

    # Revocation on A, seen on B: the time from A's 204 to B's first 404.
    delays, derived_refused = [], True
    for _ in range(20):
        victim = password_token(a.url)
        victim_cred = temporary_credential(a.url, victim)
        assert validate(s, b.url, admin_a, victim) == 200
        r = requests.delete(f"{a.url}/v3/auth/tokens", headers={"X-Auth-Token": admin_a, "X-Subject-Token": victim})
        assert r.status_code == 204, r.text
        revoked_at = time.monotonic()
        while validate(s, b.url, admin_a, victim) != 404:
            if time.monotonic() - revoked_at > 30:
                break
            time.sleep(0.002)
        delays.append((time.monotonic() - revoked_at) * 1000)
        derived_refused &= signed_validate(s, b.url, victim_cred, admin_a) == 401
    delays.sort()
    measured(f"revocation on A seen on B: median {statistics.median(delays):.0f} ms, "
             f"max {max(delays):.0f} ms over {len(delays)} revocations (LISTEN/NOTIFY; polling every 5 s behind it)")
    report("a token revoked on A is refused on B within one second", max(delays) < 1000, f"{delays}")
    report("the temporary credential derived from it is refused on B too", derived_refused)

    # A role removed on A: B's cached view is dropped as well.
    api(a.url, admin_a, "DELETE", f"/v3/projects/{project}/groups/{group}/roles/{member}")
    fed = exchange(b.url, "replicas", issuer.id_token("dave", "replicas"))
    report("a grant removed on A is no longer used on B", fed.status_code == 401, f"{fed.status_code} {fed.text}")
    api(a.url, admin_a, "PUT", f"/v3/projects/{project}/groups/{group}/roles/{member}")

    # Key rotation under load: tokens issued on either replica keep validating on the other.
    def cross(src, dst):
        def work(session):
            r = session.post(f"{src.url}/v3/auth/tokens", timeout=30, json={"auth": {"identity": {
                "methods": ["token"], "token": {"id": admin_a}}}})
            if r.status_code != 201:
                return r.status_code
            return validate(session, dst.url, admin_a, r.headers["X-Subject-Token"])
        return work
    loads = [Load("A->B", cross(a, b)), Load("B->A", cross(b, a))]
    time.sleep(1)
    rotated = subprocess.run([BIN, "keys", "rotate", "--database-url", DB_URL], capture_output=True, text=True)
    time.sleep(2)
    calls = [c for load in loads for c in load.stop()]
    count, failures, _, _ = summarize(calls, lambda o: o == 200)
    report("`fedgate keys rotate` on a live pair: no failed request", rotated.returncode == 0 and count > 0 and not failures,
           f"{rotated.stdout}{rotated.stderr} {outcomes(calls)}")
    measured(f"key rotation under load: {count} cross-replica issue+validate pairs, {len(failures)} failed")

    meta = [requests.get(f"{r.url}/v3-ext/auth/OS-FEDERATION/SSO/metadata", timeout=10) for r in (a, b)]
    report("SP metadata (key pair and signature) is identical on both replicas",
           meta[0].status_code == 200 and meta[0].content == meta[1].content)
    return admin_a, cred


def database_restart_under_load(a, b, admin_a, cred):
    """PostgreSQL stopped for 4 s and started again while validations, signed requests and
    writes run against both replicas."""
    tokens = [password_token(a.url) for _ in range(4)]
    s = requests.Session()
    for t in tokens:  # each replica has seen them once, as a busy replica would have
        validate(s, a.url, admin_a, t), validate(s, b.url, admin_a, t)
    counter = iter(range(10**9))

    def validations(replica):
        return lambda session: validate(session, replica.url, admin_a, tokens[next(counter) % len(tokens)])

    acked, write_log = [], []

    def writer(session):
        name = f"acked-{uuid.uuid4().hex[:12]}"
        start = time.monotonic()
        r = session.post(f"{a.url}/v3/users", timeout=30, headers={"X-Auth-Token": admin_a},
                         json={"user": {"name": name, "password": "Acked-passw0rd"}})
        write_log.append((start, time.monotonic(), r.status_code, r.text[:200]))
        if r.status_code == 201:
            acked.append(name)
        return r.status_code

    val = [Load("validate A", validations(a)), Load("validate B", validations(b))]
    signed = Load("signed B", lambda session: signed_validate(session, b.url, cred, tokens[0]), threads=1)
    writes = Load("writes A", writer, threads=1, pause=0.05)
    time.sleep(2)
    down_at = time.monotonic()
    pg_ctl("stop")
    time.sleep(4)
    pg_ctl("start")
    while not pg_ready():
        time.sleep(0.05)
    up_at = time.monotonic()
    time.sleep(6)
    val_calls = [c for load in val for c in load.stop()]
    signed_calls = signed.stop()
    writes.stop()

    n, failures, slowest, hung = summarize(val_calls, lambda o: o == 200)
    report("token validation answers 200 throughout a PostgreSQL restart", not failures and not hung,
           f"{outcomes(val_calls)} slowest {slowest:.2f}s")
    measured(f"PostgreSQL down {up_at - down_at:.1f} s under load: {n} token validations on two replicas, "
             f"{len(failures)} failed, slowest {slowest * 1000:.0f} ms, {hung} over 5 s")
    n, failures, slowest, hung = summarize(signed_calls, lambda o: o == 200)
    report("signed requests answer 200 throughout", not failures and not hung, f"{outcomes(signed_calls)}")
    measured(f"signed requests (temporary credential) on B: {n}, {len(failures)} failed, slowest {slowest * 1000:.0f} ms")

    refused = [w for w in write_log if w[2] != 201]
    bad = [w for w in refused if w[2] != 503 or "Service unavailable" not in w[3]]
    slow = [w for w in write_log if w[1] - w[0] > 5]
    report("writes while it is down answer 503 with a message, none 500 and none hanging",
           refused and not bad and not slow, f"{bad[:3]} slow={len(slow)}")
    first_refused = min((w[0] for w in refused), default=down_at)
    back = min((w[1] for w in write_log if w[2] == 201 and w[0] > first_refused), default=None)
    report("writes succeed again after it is back, without restarting fedgate", back is not None)
    measured(f"writes: {len(write_log)} sent, {len(refused)} answered 503 (slowest in "
             f"{max((w[1] - w[0] for w in refused), default=0) * 1000:.0f} ms); refused from the first 503 "
             f"for {((back or first_refused) - first_refused):.1f} s, until {((back or up_at) - up_at) * 1000:+.0f} ms "
             f"from PostgreSQL answering again")

    users = {u["name"] for u in api(a.url, password_token(a.url), "GET", "/v3/users")["users"]}
    lost = [name for name in acked if name not in users]
    report("every acknowledged write is there afterwards", acked and not lost, f"lost {lost[:5]} of {len(acked)}")


def sigterm_under_load(b, admin_a):
    """SIGTERM to one replica under load: what it accepted finishes, then it stops taking work."""
    def work(session):
        r = session.post(f"{b.url}/v3/auth/tokens", timeout=30, json={"auth": {"identity": {
            "methods": ["password"], "password": {"user": {"name": "admin", "domain": {"name": "admin"},
                                                             "password": PASSWORD}}}}})
        return r.status_code
    load = Load("B", work, threads=4)
    time.sleep(1.5)
    term_at = time.monotonic()
    b.proc.send_signal(signal.SIGTERM)
    try:
        code = b.proc.wait(20)
    except subprocess.TimeoutExpired:
        code = None
    exited_at = time.monotonic()
    time.sleep(0.5)
    calls = load.stop()
    # A request reaches B some time after its thread takes the start time (on a loaded machine
    # the thread may wait to run, or send on a kept-alive connection B is closing as idle): one
    # started this close to the signal must only end cleanly, as later ones must.
    settled = term_at - 0.1
    before = [c for c in calls if c[0] < settled]
    in_flight = [c for c in before if c[1] > term_at]
    bad_before = [c for c in before if c[2] != 201]
    after = [c for c in calls if c[0] >= settled]
    unclean = [c for c in after if c[2] not in (201, "ConnectionError")]
    report("SIGTERM: every request sent 100 ms before it finishes with 201", before and not bad_before,
           f"{outcomes(bad_before)} in flight {len(in_flight)}")
    report("SIGTERM: requests sent later are refused at connect or served, none hangs or gets a 5xx", not unclean and all(
        c[1] - c[0] < 5 for c in after), f"{outcomes(unclean)}")
    report("SIGTERM: the process exits 0", code == 0, f"exit {code}: {b.log()}")
    measured(f"SIGTERM under load: {len(in_flight)} requests in flight finished, exit after "
             f"{(exited_at - term_at) * 1000:.0f} ms, {len(after)} later requests refused or served cleanly")


# ---------------------------------------------------------------------------------------------
# The embedded default (SQLite) when its disk fills up or its file is read-only.


def sqlite_full_disk():
    data = f"{WORK}/sqlite-full"
    os.makedirs(data, exist_ok=True)
    subprocess.run([BIN, "bootstrap", "--data-dir", data, "--password", PASSWORD], check=True, capture_output=True)
    db = next(f"{data}/{f}" for f in os.listdir(data) if f.endswith(".db"))
    room = max(os.path.getsize(f"{data}/{f}") for f in os.listdir(data)) + 2 * 1024 * 1024
    # The operating system refuses writes past `room` bytes in any file: a disk that is full.
    server = Replica("sqlite-full", ["--data-dir", data], prefix=["prlimit", f"--fsize={room}"])
    admin = password_token(server.url)
    s = requests.Session()
    def add_user(name):
        return s.post(f"{server.url}/v3/users", headers={"X-Auth-Token": admin}, timeout=30,
                      json={"user": {"name": name, "description": "x" * 250, "password": "Filler-passw0rd"}})

    acked, statuses, full = [], [], None
    for i in range(4000):
        name = f"filler-{i:05d}"
        r = add_user(name)
        statuses.append(r.status_code)
        if r.status_code == 201:
            acked.append(name)
        else:
            full = r
            break
    report("a full disk: the write answers 503 with a message, not 500",
           full is not None and full.status_code == 503 and "Service unavailable" in full.text,
           f"{full.status_code if full is not None else 'never full'} {full.text if full is not None else ''}")
    report("a full disk: token validation keeps answering", validate(s, server.url, admin, admin) == 200)
    # SQLite may find room again (a checkpoint lets the WAL restart from its beginning), so a later
    # write can succeed; what must hold is that none fails any other way and none acknowledged is lost.
    later = []
    for i in range(20):
        name = f"after-full-{i:02d}"
        r = add_user(name)
        later.append(r.status_code)
        if r.status_code == 201:
            acked.append(name)
    report("a full disk: later writes are refused the same way or succeed, never anything else",
           all(code in (201, 503) for code in later), f"{later}")
    server.stop()
    report("a full disk: the process stays up and stops cleanly", server.proc.returncode == 0, server.log())
    con = sqlite3.connect(db)
    integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
    names = {row[0] for row in con.execute("SELECT name FROM users")}
    con.close()
    report("a full disk: the file passes integrity_check", integrity == "ok", integrity)
    report("a full disk: every acknowledged user is there", acked and all(n in names for n in acked),
           f"{len(acked)} acked")
    measured(f"SQLite with {room // 1024} KiB of room: {len(acked) - later.count(201)} writes acknowledged, then "
             f"{full.status_code if full is not None else '-'}; of 20 later writes {later.count(503)} refused, "
             f"{later.count(201)} accepted; integrity_check {integrity}")


def sqlite_read_only():
    # Its own directory, open to the unprivileged user (WORK may be private to root).
    data = os.path.join(tempfile.mkdtemp(prefix="fedgate-ro-"), "data")
    os.chmod(os.path.dirname(data), 0o755)
    os.makedirs(data)
    subprocess.run([BIN, "bootstrap", "--data-dir", data, "--password", PASSWORD], check=True, capture_output=True)
    # The credential key a first `serve` would have made (32 raw bytes), so the store is what
    # the read-only directory stops.
    with open(f"{data}/credential.key", "wb") as key:
        key.write(os.urandom(32))
    before = {f: hashlib.sha256(open(f"{data}/{f}", "rb").read()).hexdigest() for f in os.listdir(data)}
    # Owned by root, run as nobody: the operator's volume mounted read-only, in effect.
    os.chmod(data, 0o755)
    for f in os.listdir(data):
        os.chmod(f"{data}/{f}", 0o644)
    run = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", BIN, "serve",
                          "--data-dir", data, "--listen", f"127.0.0.1:{free_port()}"],
                         capture_output=True, text=True, timeout=60)
    after = {f: hashlib.sha256(open(f"{data}/{f}", "rb").read()).hexdigest() for f in os.listdir(data)}
    said = [line for line in (run.stdout + run.stderr).strip().splitlines() if line.startswith("fedgate: ")]
    report("a read-only data directory: serve exits non-zero saying the database is read-only",
           run.returncode != 0 and any("readonly database" in line for line in said), "\n".join(said[-5:]))
    report("a read-only data directory: nothing in it changed", before == after)
    measured(f"read-only SQLite: exit {run.returncode}: {said[-1] if said else ''}")


def main():
    os.makedirs(WORK, exist_ok=True)
    pg_started_here = False
    a = b = None
    try:
        psql(f"DROP DATABASE IF EXISTS {DB}")
        psql(f"CREATE DATABASE {DB}")
        subprocess.run([BIN, "bootstrap", "--database-url", DB_URL, "--password", PASSWORD], check=True,
                       capture_output=True)
        # One credential key for both, as replicas sharing a store must (a mounted secret).
        key = ["--credential-key-file", f"{WORK}/credential.key"]
        a = Replica("A", ["--database-url", DB_URL, "--data-dir", f"{WORK}/A", *key])
        # Behind one load balancer address: the same public URL on both.
        b = Replica("B", ["--database-url", DB_URL, "--data-dir", f"{WORK}/B", *key], public_url=a.url)
        admin_a, cred = replicas_share_everything(a, b)
        pg_started_here = True
        database_restart_under_load(a, b, admin_a, cred)
        sigterm_under_load(b, admin_a)
    except Exception as e:  # a broken setup is a failure with a report, not a crash
        import traceback
        traceback.print_exc()
        report("replicas setup", False, repr(e))
    finally:
        if pg_started_here and not pg_ready():
            pg_ctl("start")
        for r in (a, b):
            if r:
                r.stop()
        try:
            psql(f"DROP DATABASE IF EXISTS {DB}")
        except subprocess.CalledProcessError:
            pass
    for fault in (sqlite_full_disk, sqlite_read_only):
        try:
            fault()
        except Exception as e:
            import traceback
            traceback.print_exc()
            report(fault.__name__, False, repr(e))
    return checks.summary()


sys.exit(main())
