#!/usr/bin/env python3
"""Fault drills for a scaled-out campus system (issue 17; docs/DEPLOY.md).

Run through bench/drill.sh, which builds the release binary, starts moto_server
and nginx, creates the database and calls this driver once per system. The
driver migrates the database once, creates the administrator (and for oryne a
school), starts three `campus serve <system>` nodes on 127.0.0.1:18101-18103
(metrics on 18201-18203) behind nginx on 127.0.0.1:18100, runs the drills and
prints one results table:

  0  start-up     /livez, /readyz on every node, `campus check <system>`
  1  kill -9      mixed read/write load through nginx, one node killed mid-run:
                  writes acked and lost, errors during failover, p50/p99
  2  SIGTERM      the same load, one node stopped gracefully: requests dropped
  3  PostgreSQL   stopped: /readyz and an API read on each node (503, never 500
                  or a hang), started again: seconds until every node answers 200
  4  Redis        stopped: /readyz 503, sign-in 503, throttles fail open
                  (nodes 1, 2) or closed (node 3); restarted: recovery
  5  shared       CAMPUS_THROTTLE_ANON=20/min: 50 anonymous requests alternating
                  over nodes 1 and 2 admit exactly 20; wrong passwords spread over
                  the nodes lock after exactly CAMPUS_LOGIN_MAX_FAILURES
  6  live events  the notification stream on node 2, 100 notifications created
                  through node 1: delay p50/p99 (target p99 < 100 ms)
  7  uploads      CAMPUS_STORAGE_URL=s3://drill (moto): upload through node 1,
                  download through node 2, same bytes
  8  metrics      /metrics on CAMPUS_METRICS_BIND of each node, a few series

Every check is one row: PASS, FAIL (with the reason), INFO or n/a. A drill that
cannot run (a feature not there yet) is a FAIL row and the next drill runs.
Python 3.11 standard library only.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import traceback
import uuid

HOST = "127.0.0.1"
NGINX_PORT = 18100
NODE_PORTS = [18101, 18102, 18103]
METRICS_PORTS = [18201, 18202, 18203]
PASSWORD = "Kestrel-Harbor-Pass-42!"
MAX_FAILURES = 5
ANON_RATE = 20
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\n% campus drill " + uuid.uuid4().hex.encode() + b"\ntrailer<<>>\n%%EOF\n"
# A 1x1 PNG.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

# --------------------------------------------------------------------- HTTP


class Resp:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    @property
    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def __repr__(self):
        return f"<{self.status} {self.body[:200]!r}>"


def request(port, method, path, body=None, headers=None, timeout=10.0, conn=None):
    """One request; a fresh connection unless `conn` is given. Raises OSError /
    http.client exceptions on transport failures."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        if isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        else:
            data = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
    own = conn is None
    if own:
        conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    t0 = time.perf_counter()
    try:
        conn.request(method, path, body=data, headers=hdrs)
        r = conn.getresponse()
        payload = r.read()
        return Resp(r.status, dict((k.lower(), v) for k, v in r.getheaders()), payload, time.perf_counter() - t0)
    finally:
        if own:
            conn.close()


def try_request(port, method, path, **kw):
    """Like request() but a transport failure is a Resp with status 0 (body: the error)."""
    t0 = time.perf_counter()
    try:
        return request(port, method, path, **kw)
    except (OSError, http.client.HTTPException) as e:
        return Resp(0, {}, f"{type(e).__name__}: {e}".encode(), time.perf_counter() - t0)


class Client:
    """A keep-alive connection (to nginx), reopened after a transport error."""

    def __init__(self, port, headers=None, timeout=15.0):
        self.port = port
        self.headers = headers or {}
        self.timeout = timeout
        self.conn = None

    def call(self, method, path, body=None, headers=None):
        h = dict(self.headers)
        h.update(headers or {})
        if self.conn is None:
            self.conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        t0 = time.perf_counter()
        try:
            r = request(self.port, method, path, body=body, headers=h, conn=self.conn)
            if r.headers.get("connection", "").lower() == "close":
                self.close()
            return r
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return Resp(0, {}, f"{type(e).__name__}: {e}".encode(), time.perf_counter() - t0)

    def close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None


def multipart(fields, files):
    """(content-type, body) for fields {name: text} and files [(name, filename, type, bytes)]."""
    boundary = "campusdrill" + uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n".encode()
    for name, filename, ctype, data in files:
        out += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {ctype}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", bytes(out)


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    k = min(len(s) - 1, max(0, int(round(p / 100.0 * (len(s) - 1)))))
    return s[k]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms" if seconds == seconds else "n/a"


def fresh_ip():
    """A made-up client address, sent as X-Forwarded-For straight to a node
    (CAMPUS_TRUSTED_PROXIES=1 trusts the driver as the proxy), so each
    throttle/lockout check starts from an empty count."""
    return f"10.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(1, 254)}"


# ------------------------------------------------------------------ systems


class System:
    """What the drills need to know of one system. Subclasses fill it in."""

    name = "?"
    health = "/api/health/"
    signin_path = "/api/auth/token/"
    stream_path = None  # None: no live stream (drill 6 is n/a)
    anon_probe = "/api/auth/profile/"  # an anonymous request the throttle counts (any answer but 429/503 is "admitted")
    host = None  # oryne: the school's host name

    def __init__(self, drill):
        self.d = drill
        self.admin_email = f"drill-admin-{uuid.uuid4().hex[:6]}@example.org"
        self.token = None
        self.user_id = None

    # -- setup (run once, after `campus migrate`)
    def create_admin(self):
        self.d.campus("createsuperuser", self.name, "--email", self.admin_email, "--password", PASSWORD,
                      "--full-name", "Drill Admin")

    def setup(self):
        """Anything needed after the nodes are up (signed in as the admin)."""

    def headers(self, token=None):
        h = {}
        if self.host:
            h["Host"] = self.host
        if token or self.token:
            h["Authorization"] = f"Bearer {token or self.token}"
        return h

    def signin_body(self, email, password):
        return {"email": email, "password": password}

    def parse_signin(self, j):
        """(access token, the account's id or None) from the sign-in answer."""
        if isinstance(j.get("data"), dict):
            j = j["data"]
        user = j.get("user") or {}
        uid = user.get("id") if isinstance(user, dict) else None
        return j["access"], (str(uid) if uid is not None else None)

    def sign_in(self, port, email=None, password=PASSWORD, extra=None):
        h = {"Host": self.host} if self.host else {}
        h.update(extra or {})
        return try_request(port, "POST", self.signin_path, body=self.signin_body(email or self.admin_email, password),
                           headers=h)

    # -- one cheap write whose id is returned, and its read
    def write(self, i):
        """(method, path, body) of write number i."""
        raise NotImplementedError

    def written_id(self, j):
        return str(j["id"])

    def read_path(self, ident):
        raise NotImplementedError

    def list_path(self):
        """A read used in the mixed load and the probes."""
        raise NotImplementedError

    # -- live events: a write through node A that shows on the stream of node B
    def event_write(self, key):
        """(method, path, body) creating a notification for the admin titled `key`."""
        raise NotImplementedError

    def event_key(self, event_name, data):
        """The title the event carries (None: not a notification)."""
        if event_name in ("ready", "ping", "keepalive"):
            return None
        try:
            j = json.loads(data)
        except ValueError:
            return None
        if isinstance(j, dict):
            if isinstance(j.get("data"), dict):
                j = j["data"]
            t = j.get("title")
            return str(t) if t is not None else None
        return None

    # -- uploads: (bytes sent, bytes read back through node B) or raise Skip
    def upload(self, port_a, port_b):
        raise Skip("no uploads")


class Skip(Exception):
    pass


class Clearance(System):
    name = "clearance"
    stream_path = "/api/notifications/stream/"
    anon_probe = "/api/departments/"

    def write(self, i):
        return ("POST", "/api/notifications/",
                {"user": self.user_id, "title": f"drill {i}", "message": f"drill write {i}"})

    def read_path(self, ident):
        return f"/api/notifications/{ident}/"

    def list_path(self):
        return "/api/notifications/?page_size=5"

    def event_write(self, key):
        return ("POST", "/api/notifications/", {"user": self.user_id, "title": key, "message": "live"})

    def upload(self, port_a, port_b):
        tag = uuid.uuid4().hex[:6].upper()
        h = self.headers()
        r = request(port_a, "POST", "/api/departments/", headers=h,
                    body={"name": f"Drill Library {tag}", "code": f"L{tag}", "department_type": "library",
                          "head_email": "head@example.org", "approval_order": 1})
        expect(r, 201, "create office")
        office = r.json["id"]
        email = f"drill-student-{tag.lower()}@example.org"
        r = request(port_a, "POST", "/api/students/", headers=h,
                    body={"email": email, "full_name": "Drill Student", "password": PASSWORD,
                          "registration_number": f"SDR/DR/{random.randint(1000, 9999)}/2026",
                          "faculty": "Engineering",
                          "program": "BSc Drills", "graduation_year": 2026})
        expect(r, 201, "create student")
        r = self.sign_in(port_a, email)
        expect(r, 200, "student sign-in")
        student = r.json["access"]
        r = request(port_a, "POST", "/api/clearances/", headers=self.headers(student))
        expect(r, 201, "submit clearance")
        clearance = r.json["id"]
        r = request(port_a, "GET", f"/api/approvals/?clearance_request={clearance}&department={office}", headers=h)
        expect(r, 200, "find approval")
        approval = r.json["results"][0]["id"]
        ctype, body = multipart({"notes": "drill"}, [("evidence_file", "drill.pdf", "application/pdf", PDF)])
        hh = dict(h)
        hh["Content-Type"] = ctype
        r = request(port_a, "PATCH", f"/api/approvals/{approval}/", headers=hh, body=body)
        expect(r, 200, "upload evidence through node 1")
        r = request(port_b, "GET", f"/api/approvals/{approval}/evidence/", headers=h)
        return PDF, r, "evidence PATCH approvals/{id}/ -> GET {id}/evidence/"


class Pss(System):
    name = "pss"
    signin_path = "/api/auth/login/"
    anon_probe = "/api/auth/me/"

    def write(self, i):
        return ("POST", "/api/journal/",
                {"title": f"drill {i}", "content": f"drill write {i}", "mood": "good", "energy_level": 5})

    def read_path(self, ident):
        return f"/api/journal/{ident}/"

    def list_path(self):
        return "/api/journal/?page_size=5"

    def upload(self, port_a, port_b):
        raise Skip("PSS stores no files")


class Axis(System):
    name = "axis"
    anon_probe = "/api/auth/me/"

    def write(self, i):
        return ("POST", "/api/tags/", {"name": f"drill {uuid.uuid4().hex[:12]} {i}"})

    def read_path(self, ident):
        return f"/api/tags/{ident}/"

    def list_path(self):
        return "/api/tags/?page_size=5"

    def upload(self, port_a, port_b):
        ctype, body = multipart({"title": "Drill document", "type": "contract"},
                                [("file", "drill.pdf", "application/pdf", PDF)])
        h = self.headers()
        h["Content-Type"] = ctype
        r = request(port_a, "POST", "/api/documents/", headers=h, body=body)
        expect(r, 201, "upload document through node 1")
        doc = r.json["id"]
        r = request(port_b, "GET", f"/api/documents/{doc}/download/", headers=self.headers())
        return PDF, r, "document POST documents/ -> GET {id}/download/"


class Roster(System):
    name = "roster"
    stream_path = "/api/notifications/stream/"
    anon_probe = "/api/auth/me/"

    def write(self, i):
        name = f"DR-{uuid.uuid4().hex[:10]}-{i}"
        return ("POST", "/api/rooms/", {"name": name, "code": name, "room_type": "classroom", "capacity": 30,
                                        "building": "Drill", "latitude": -1.2921, "longitude": 36.8219})

    def read_path(self, ident):
        return f"/api/rooms/{ident}/"

    def list_path(self):
        return "/api/rooms/?page_size=5"

    def event_write(self, key):
        return ("POST", "/api/notifications/", {"recipients": [self.user_id], "title": key, "message": "live"})

    def upload(self, port_a, port_b):
        r = request(port_a, "POST", "/api/school/", headers=self.headers(),
                    body={"name": "Drill Technical Institute", "code": "DTI", "latitude": -1.2921,
                          "longitude": 36.8219, "geofence_radius_m": 200, "timezone": "UTC"})
        if r.status not in (200, 201, 400):
            expect(r, 201, "create the school")
        ctype, body = multipart({}, [("logo", "logo.png", "image/png", PNG)])
        h = self.headers()
        h["Content-Type"] = ctype
        r = request(port_a, "POST", "/api/school/logo/", headers=h, body=body)
        expect(r, 200, "upload the school logo through node 1")
        r = request(port_b, "GET", "/api/school/logo/", headers=self.headers())
        return PNG, r, "school logo POST school/logo/ -> GET school/logo/"


class Oryne(System):
    name = "oryne"
    health = "/api/v1/health/"
    signin_path = "/api/v1/auth/login/"
    stream_path = "/api/v1/notifications/stream/"
    anon_probe = "/api/v1/auth/profile/"

    def __init__(self, drill):
        super().__init__(drill)
        self.subdomain = "drill" + uuid.uuid4().hex[:6]
        self.host = f"{self.subdomain}.localhost"

    def create_admin(self):
        self.d.campus("createsuperuser", self.name, "--email", f"root-{self.admin_email}", "--password", PASSWORD,
                      "--full-name", "Drill Root")
        self.d.campus("create-tenant", "oryne", "--name", "Drill School", "--subdomain", self.subdomain,
                      "--admin-email", self.admin_email, "--admin-password", PASSWORD)

    def written_id(self, j):
        return str(j.get("data", j)["id"])

    def write(self, i):
        code = f"D{uuid.uuid4().hex[:8].upper()}"
        return ("POST", "/api/v1/erp/subjects/", {"name": f"Drill subject {code} {i}", "code": code})

    def read_path(self, ident):
        return f"/api/v1/erp/subjects/{ident}/"

    def list_path(self):
        return "/api/v1/erp/subjects/?per_page=5"

    def event_write(self, key):
        return ("POST", "/api/v1/notifications/send/",
                {"title": key, "body": "live", "channels": ["in_app"], "to": {"user_ids": [int(self.user_id)]}})

    def upload(self, port_a, port_b):
        raise Skip("oryne part 1 has no file uploads yet (the files block comes later)")


SYSTEMS = {c.name: c for c in (Clearance, Pss, Axis, Roster, Oryne)}


def expect(r, status, what):
    if r.status != status:
        raise DrillError(f"{what}: expected {status}, got {r.status} {r.body[:300]!r}")


class DrillError(Exception):
    pass


# -------------------------------------------------------------------- nodes


class Node:
    def __init__(self, drill, index, extra_env):
        self.d = drill
        self.index = index
        self.port = NODE_PORTS[index]
        self.metrics_port = METRICS_PORTS[index]
        self.extra_env = extra_env
        self.proc = None
        self.log = os.path.join(drill.work, f"{drill.system_name}-node{index + 1}.log")

    def env(self):
        e = dict(self.d.base_env)
        e.update({
            "CAMPUS_BIND": f"{HOST}:{self.port}",
            "CAMPUS_METRICS_BIND": f"{HOST}:{self.metrics_port}",
            "CAMPUS_MEDIA_ROOT": os.path.join(self.d.work, f"{self.d.system_name}-media-node{self.index + 1}"),
        })
        e.update(self.extra_env)
        return e

    def start(self):
        logf = open(self.log, "ab")
        self.proc = subprocess.Popen([self.d.bin, "serve", self.d.system_name], env=self.env(), stdout=logf,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                                     cwd=self.d.work)
        logf.close()
        with open(os.path.join(self.d.work, "pids", f"node{self.index + 1}.pid"), "w") as f:
            f.write(str(self.proc.pid))

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_ready(self, timeout=90):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise DrillError(f"node {self.index + 1} exited ({self.proc.returncode}); see {self.log}")
            r = try_request(self.port, "GET", self.d.sys.health, headers=self.d.sys.headers(token=""), timeout=2)
            if r.status == 200:
                return
            time.sleep(0.2)
        raise DrillError(f"node {self.index + 1} not healthy after {timeout}s; see {self.log}")

    def signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        if self.alive():
            self.proc.terminate()
            if self.wait_exit(15) is None:
                self.proc.kill()
                self.proc.wait()


# -------------------------------------------------------------------- drill


class Drill:
    def __init__(self, args):
        self.args = args
        self.quick = args.quick
        self.work = args.work
        self.bin = args.bin
        self.system_name = args.system
        self.rows = []
        self.db_url = args.database_url
        self.base_env = self.make_env()
        self.sys = SYSTEMS[args.system](self)
        self.nodes = []
        self.probe_timeout = 8
        # /livez and /readyz, or the spelling that answers (see start()).
        self.livez, self.readyz = "/livez", "/readyz"
        # False when no spelling of /readyz answers: recovery is then timed by the API alone.
        self.readyz_served = True
        os.makedirs(os.path.join(self.work, "pids"), exist_ok=True)

    # -- bookkeeping
    def row(self, drill, check, value, expected, verdict):
        self.rows.append((drill, check, str(value), str(expected), verdict))
        print(f"  [{verdict}] {drill} | {check}: {value} (expected {expected})", flush=True)

    def check(self, drill, check, value, expected, ok):
        self.row(drill, check, value, expected, "PASS" if ok else "FAIL")

    def make_env(self):
        e = {k: v for k, v in os.environ.items() if not k.startswith("CAMPUS_")}
        e.update({
            "CAMPUS_DATABASE_URL": self.db_url,
            "CAMPUS_SECRET_KEY": "campus-drill-secret-key-0123456789abcdef",
            "CAMPUS_REDIS_URL": self.args.redis_url,
            # Keys of this run apart from every other user of the Redis.
            "CAMPUS_REDIS_PREFIX": f"campus-drill-{self.system_name}-{uuid.uuid4().hex[:8]}",
            "CAMPUS_TRUSTED_PROXIES": "1",
            "CAMPUS_THROTTLE_ANON": f"{ANON_RATE}/minute",
            "CAMPUS_THROTTLE_USER": "off",
            "CAMPUS_THROTTLE_FAIL": "open",
            "CAMPUS_LOGIN_MAX_FAILURES": str(MAX_FAILURES),
            "CAMPUS_ACCESS_TOKEN_LIFETIME": "7200",
            "CAMPUS_SHUTDOWN_TIMEOUT": "20",
            "CAMPUS_JOB_LEASE_SECONDS": "30",
            "CAMPUS_STORAGE_URL": "s3://drill",
            "CAMPUS_S3_ENDPOINT": self.args.s3_endpoint,
            "AWS_ACCESS_KEY_ID": "drill",
            "AWS_SECRET_ACCESS_KEY": "drill",
            "AWS_REGION": "us-east-1",
            "CAMPUS_FIELD_ENCRYPTION_KEY": base64.b64encode(b"campus-drill-field-key-32-bytes!").decode(),
            "CAMPUS_ORYNE_TENANT_POOLS": "8",
            "RUST_LOG": "warn",
            "MALLOC_ARENA_MAX": "2",
        })
        return e

    def campus(self, *argv, check=True, timeout=300):
        r = subprocess.run([self.bin, *argv], env=self.base_env, cwd=self.work, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise DrillError(f"campus {' '.join(argv)} failed ({r.returncode}): {(r.stderr or r.stdout).strip()[-500:]}")
        return r

    def port(self, i):
        return NODE_PORTS[i]

    def all_ready(self):
        for n in self.nodes:
            n.wait_ready()

    def restart(self, n):
        if n.alive():
            n.stop()
        n.start()
        n.wait_ready()

    # -- start-up
    def start(self):
        t0 = time.time()
        self.campus("migrate", self.system_name)
        self.row("0 start-up", "campus migrate (once, before nodes)", f"{time.time() - t0:.1f} s", "exit 0", "PASS")
        self.sys.create_admin()
        for i in range(3):
            extra = {"CAMPUS_THROTTLE_FAIL": "closed"} if i == 2 else {}
            self.nodes.append(Node(self, i, extra))
        for n in self.nodes:
            n.start()
        self.all_ready()
        r = self.sys.sign_in(NGINX_PORT)
        expect(r, 200, "admin sign-in through nginx")
        self.sys.token, self.sys.user_id = self.sys.parse_signin(r.json)
        self.sys.setup()
        r = self.campus("check", self.system_name, check=False, timeout=60)
        out = (r.stdout + r.stderr).strip().replace("\n", " / ")
        self.check("0 start-up", "campus check", f"exit {r.returncode}: {out[:120]}", "exit 0", r.returncode == 0)
        for attr in ("livez", "readyz"):
            path = getattr(self, attr)
            got = [try_request(n.port, "GET", path, timeout=5).status for n in self.nodes]
            self.check("0 start-up", f"GET {path} on nodes 1-3", got, [200] * 3, got == [200] * 3)
            if got != [200] * 3:
                alt = [try_request(n.port, "GET", path + "/", timeout=5).status for n in self.nodes]
                if alt == [200] * 3:
                    # The drills go on with the spelling that works; the FAIL above stays.
                    setattr(self, attr, path + "/")
                    self.row("0 start-up", f"GET {path}/ (with a slash) on nodes 1-3", alt,
                             f"drills below probe {path}/", "INFO")
                elif attr == "readyz" and all(x == 404 for x in got):
                    self.readyz_served = False
                    self.row("0 start-up", "GET /readyz and /readyz/ answer 404",
                             "readiness cannot be probed", "recovery below timed by the API read alone", "INFO")

    def stop(self):
        for n in self.nodes:
            n.stop()

    # -- drills 1, 2: load
    def load(self, seconds, threads, action, at_fraction=0.4):
        """Mixed load through nginx; `action()` runs at `at_fraction` of the run.
        Returns the samples [(t, kind, status, latency, id)] and the action's time."""
        stop = threading.Event()
        samples = []
        lock = threading.Lock()
        t_start = time.time()
        counter = [0]

        def worker(k):
            c = Client(NGINX_PORT, self.sys.headers())
            rnd = random.Random(k)
            mine = []
            while not stop.is_set():
                with lock:
                    counter[0] += 1
                    i = counter[0]
                t = time.time()
                if rnd.random() < 0.5:
                    method, path, body = self.sys.write(i)
                    r = c.call(method, path, body)
                    ident = None
                    if 200 <= r.status < 300:
                        try:
                            ident = self.sys.written_id(r.json)
                        except (KeyError, TypeError):
                            ident = None
                    mine.append((t, "write", r.status, r.elapsed, ident, r.body[:160]))
                else:
                    r = c.call("GET", self.sys.list_path())
                    mine.append((t, "read", r.status, r.elapsed, None, r.body[:160]))
            c.close()
            with lock:
                samples.extend(mine)

        ts = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(threads)]
        for t in ts:
            t.start()
        time.sleep(seconds * at_fraction)
        t_action = time.time()
        action_result = action()
        remaining = seconds - (time.time() - t_start)
        if remaining > 0:
            time.sleep(remaining)
        stop.set()
        for t in ts:
            t.join(60)
        return samples, t_action - t_start, action_result

    def summarize_errors(self, errors):
        kinds = {}
        for s in errors:
            key = f"{s[1]} {s[2] or s[5].decode(errors='replace').split(':')[0]}"
            kinds[key] = kinds.get(key, 0) + 1
        return ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items())) or "none"

    def drill_kill9(self):
        D = "1 kill -9"
        seconds, threads = (6, 4) if self.quick else (20, 8)
        victim = self.nodes[1]

        def kill():
            victim.signal(signal.SIGKILL)
            victim.wait_exit(5)

        samples, t_kill, _ = self.load(seconds, threads, kill)
        ok = [s for s in samples if 200 <= s[2] < 300]
        errors = [s for s in samples if not (200 <= s[2] < 300)]
        acked = [s[4] for s in ok if s[1] == "write" and s[4]]
        self.row(D, f"requests ({threads} threads, {seconds} s, node 2 killed at {t_kill:.1f} s)",
                 len(samples), "-", "INFO")
        lost = self.verify_ids(acked)
        self.check(D, "writes acked (2xx) / lost after verification", f"{len(acked)} / {len(lost)}", "lost 0",
                   len(acked) > 0 and not lost)
        if lost:
            self.row(D, "lost ids (first 5)", lost[:5], "-", "INFO")
        rate = len(errors) / max(1, len(samples))
        self.row(D, "errors during failover (count, rate)", f"{len(errors)} ({rate:.2%}): {self.summarize_errors(errors)}",
                 "few, only around the kill", "INFO")
        unknown = [s for s in errors if s[1] == "write"]
        self.row(D, "writes with unknown outcome (POST not acked)", len(unknown), "-", "INFO")
        lat = [s[3] for s in ok]
        self.row(D, "latency p50 / p99 (2xx)", f"{ms(pct(lat, 50))} / {ms(pct(lat, 99))}", "-", "INFO")
        t0 = time.time()
        self.restart(victim)
        self.row(D, "killed node restarted, healthy after", f"{time.time() - t0:.1f} s", "-", "INFO")

    def verify_ids(self, ids):
        """Ids whose read through nginx does not answer 200."""
        lost = []
        lock = threading.Lock()
        queue = list(ids)

        def worker():
            c = Client(NGINX_PORT, self.sys.headers())
            while True:
                with lock:
                    if not queue:
                        break
                    ident = queue.pop()
                for attempt in range(3):
                    r = c.call("GET", self.sys.read_path(ident))
                    if r.status == 200 or r.status == 404:
                        break
                    time.sleep(0.2)
                if r.status != 200:
                    with lock:
                        lost.append((ident, r.status))
            c.close()

        ts = [threading.Thread(target=worker, daemon=True) for _ in range(8)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return lost

    def drill_sigterm(self):
        D = "2 SIGTERM"
        seconds, threads = (6, 4) if self.quick else (15, 8)
        victim = self.nodes[2]
        result = {}

        def term():
            t0 = time.time()
            victim.signal(signal.SIGTERM)

            def waiter():
                code = victim.wait_exit(60)
                result["exit"] = code
                result["seconds"] = time.time() - t0

            th = threading.Thread(target=waiter, daemon=True)
            th.start()
            result["thread"] = th

        samples, t_term, _ = self.load(seconds, threads, term)
        result["thread"].join(60)
        errors = [s for s in samples if not (200 <= s[2] < 300)]
        self.row(D, f"requests ({threads} threads, {seconds} s, SIGTERM to node 3 at {t_term:.1f} s)",
                 len(samples), "-", "INFO")
        code = result.get("exit")
        self.check(D, "node 3 exit after SIGTERM (code, seconds)",
                   f"{code}, {result.get('seconds', float('nan')):.2f} s", "0 within CAMPUS_SHUTDOWN_TIMEOUT",
                   code == 0)
        self.check(D, "requests dropped (502/reset)", f"{len(errors)}: {self.summarize_errors(errors)}", 0,
                   not errors)
        acked = [s[4] for s in samples if s[1] == "write" and 200 <= s[2] < 300 and s[4]]
        lost = self.verify_ids(acked)
        self.check(D, "writes acked / lost", f"{len(acked)} / {len(lost)}", "lost 0", not lost)
        t0 = time.time()
        self.restart(victim)
        self.row(D, "node 3 restarted, healthy after", f"{time.time() - t0:.1f} s", "-", "INFO")

    # -- drill 3: PostgreSQL
    def probe_all(self):
        """[(node, readyz status, readyz s, api status, api s, api body)], the nodes probed at once."""
        out = [None] * len(self.nodes)

        def probe(k, n):
            rz = try_request(n.port, "GET", self.readyz, timeout=self.probe_timeout)
            api = try_request(n.port, "GET", self.sys.list_path(), headers=self.sys.headers(),
                              timeout=self.probe_timeout)
            out[k] = (n.index + 1, rz.status, rz.elapsed, api.status, api.elapsed, api.body[:120])

        ts = [threading.Thread(target=probe, args=(k, n), daemon=True) for k, n in enumerate(self.nodes)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return out

    def drill_postgres(self):
        D = "3 PostgreSQL"
        ver = self.args.pg_version
        stop_cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", ver, "main", "stop", "-m", "fast"]
        start_cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", ver, "main", "start"]
        before = self.probe_all()
        self.check(D, "before: readyz/api on nodes 1-3", [(p[1], p[3]) for p in before], "(200, 200) x3",
                   all(p[1] == 200 and p[3] == 200 for p in before))
        r = subprocess.run(stop_cmd, capture_output=True, text=True)
        if r.returncode != 0:
            self.row(D, "pg_ctlcluster stop", r.stderr.strip()[:200], "exit 0", "FAIL")
            return
        try:
            probes = []
            rounds = 2 if self.quick else 3
            # Long enough to see what a hanging request finally answers.
            self.probe_timeout = 40
            for k in range(rounds):
                t_round = time.time()
                got = self.probe_all()
                probes.extend(got)
                self.row(D, f"down: round {k + 1} (node: readyz status/s, API status/s)",
                         "; ".join(f"{p[0]}: {p[1]}/{p[2]:.1f}s {p[3]}/{p[4]:.1f}s" for p in got), "-", "INFO")
                time.sleep(max(0.0, 1 - (time.time() - t_round)))
            rz = sorted({p[1] for p in probes})
            api = sorted({p[3] for p in probes})
            slowest = max(max(p[2], p[4]) for p in probes)
            self.check(D, "down: /readyz statuses", rz, "[503]", rz == [503])
            bad = [p for p in probes if p[3] != 503]
            self.check(D, "down: API read statuses (0 = no answer in 40 s)", api, "[503] (never 500)", api == [503])
            if bad:
                self.row(D, "down: API read, first unexpected answer", bad[0][5], "-", "INFO")
            self.check(D, "down: slowest probe", ms(slowest), "< 5 s (no hang)", slowest < 5)
        finally:
            self.probe_timeout = 8
            subprocess.run(start_cmd, capture_output=True, text=True)
        t0 = time.time()
        recovered = None
        while time.time() - t0 < 120:
            p = self.probe_all()
            api_ok = all(x[3] == 200 for x in p)
            rz_ok = all(x[1] == 200 for x in p) or not self.readyz_served
            if api_ok and rz_ok:
                recovered = time.time() - t0
                break
            time.sleep(0.2)
        if recovered is None:
            p = self.probe_all()
            self.check(D, "up again: every node 200 by itself", [(x[1], x[3]) for x in p], "within 30 s", False)
        else:
            what = "readyz + API" if self.readyz_served else "API only: /readyz not served"
            self.check(D, f"up again: every node 200 ({what}) after", f"{recovered:.1f} s", "< 30 s",
                       recovered < 30)

    # -- drill 4: Redis
    def drill_redis(self):
        D = "4 Redis"
        before = [try_request(n.port, "GET", self.readyz, timeout=5).status for n in self.nodes]
        self.check(D, "before: /readyz nodes 1-3", before, [200] * 3, before == [200] * 3)
        r = subprocess.run(["redis-cli", "-h", HOST, "-p", "6379", "shutdown", "nosave"], capture_output=True,
                           text=True)
        time.sleep(0.5)
        try:
            rz = [try_request(n.port, "GET", self.readyz, timeout=8) for n in self.nodes]
            self.check(D, "down: /readyz nodes 1-3", [x.status for x in rz], [503] * 3,
                       [x.status for x in rz] == [503] * 3)
            ip = fresh_ip()
            signin = [self.sys.sign_in(n.port, extra={"X-Forwarded-For": ip}) for n in self.nodes]
            st = [x.status for x in signin]
            self.check(D, "down: sign-in (right password) nodes 1-3", st, [503] * 3, st == [503] * 3)
            slow = max(x.elapsed for x in signin + rz)
            self.check(D, "down: slowest answer", ms(slow), "< 5 s", slow < 5)
            ip = fresh_ip()
            h = {"X-Forwarded-For": ip}
            if self.sys.host:
                h["Host"] = self.sys.host
            open_ = [try_request(self.nodes[i].port, "GET", self.sys.anon_probe, headers=h).status for i in (0, 1)]
            closed = try_request(self.nodes[2].port, "GET", self.sys.anon_probe, headers=h).status
            self.check(D, "down: throttled anon request, CAMPUS_THROTTLE_FAIL=open (nodes 1, 2)", open_,
                       "let through (not 429/503)", all(s not in (0, 429, 500, 503) for s in open_))
            self.check(D, "down: throttled anon request, CAMPUS_THROTTLE_FAIL=closed (node 3)", closed, 503,
                       closed == 503)
            authed = try_request(self.nodes[0].port, "GET", self.sys.list_path(), headers=self.sys.headers())
            self.row(D, "down: authenticated API read (user throttle off)", authed.status, "200", "INFO")
        finally:
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port", "6379",
                            "--save", "", "--appendonly", "no"], capture_output=True, text=True, cwd="/")
        t0 = time.time()
        rec = None
        while time.time() - t0 < 60:
            rz = [try_request(n.port, "GET", self.readyz, timeout=5).status for n in self.nodes]
            si = self.sys.sign_in(self.nodes[0].port, extra={"X-Forwarded-For": fresh_ip()}).status
            if (rz == [200] * 3 or not self.readyz_served) and si == 200:
                rec = time.time() - t0
                break
            time.sleep(0.2)
        self.check(D, "up again: readyz 200 and sign-in 200 after" if self.readyz_served
                   else "up again: sign-in 200 after (/readyz not served)",
                   f"{rec:.1f} s" if rec is not None else f"not within 60 s (readyz {rz}, sign-in {si})", "< 10 s",
                   rec is not None and rec < 10)

    # -- drill 5: shared throttle and lockout
    def drill_shared(self):
        D = "5 shared limits"
        ip = fresh_ip()
        h = {"X-Forwarded-For": ip}
        if self.sys.host:
            h["Host"] = self.sys.host
        statuses = []
        for i in range(50):
            port = self.nodes[i % 2].port
            statuses.append(try_request(port, "GET", self.sys.anon_probe, headers=h).status)
        admitted = sum(1 for s in statuses if s not in (429,))
        self.check(D, f"anon throttle {ANON_RATE}/minute: 50 requests alternating nodes 1/2 admitted", admitted,
                   ANON_RATE, admitted == ANON_RATE)
        ip = fresh_ip()
        statuses = []
        for i in range(MAX_FAILURES + 3):
            port = self.nodes[i % 3].port
            statuses.append(self.sys.sign_in(port, password="Wrong-Password-1!", extra={"X-Forwarded-For": ip}).status)
        locked_after = next((i for i, s in enumerate(statuses) if s == 429), None)
        right = self.sys.sign_in(self.nodes[0].port, extra={"X-Forwarded-For": ip}).status
        self.check(D, f"lockout (CAMPUS_LOGIN_MAX_FAILURES={MAX_FAILURES}) over nodes 1-3: locked after",
                   f"{locked_after} failures; statuses {statuses}", MAX_FAILURES, locked_after == MAX_FAILURES)
        self.check(D, "lockout: right password from the locked address", right, 429, right == 429)

    # -- drill 6: live events
    def drill_events(self):
        D = "6 live events"
        if not self.sys.stream_path:
            self.row(D, "notification stream", "no live stream in this system", "-", "n/a")
            return
        n_events = 30 if self.quick else 100
        arrivals = {}
        ready = threading.Event()
        stop = threading.Event()
        err = []

        def reader():
            sep = "&" if "?" in self.sys.stream_path else "?"
            path = f"{self.sys.stream_path}{sep}token={self.sys.token}"
            h = {"Accept": "text/event-stream"}
            if self.sys.host:
                h["Host"] = self.sys.host
            try:
                conn = http.client.HTTPConnection(HOST, self.nodes[1].port, timeout=30)
                conn.request("GET", path, headers=h)
                r = conn.getresponse()
                if r.status != 200:
                    err.append(f"stream answered {r.status}: {r.read(200)!r}")
                    ready.set()
                    return
                name, eid, data = None, None, []
                while not stop.is_set():
                    line = r.fp.readline()
                    if not line:
                        break
                    line = line.decode().rstrip("\r\n")
                    if line == "":
                        now = time.time()
                        if name == "ready" or (name is None and not data and eid is None):
                            ready.set()
                        elif data:
                            key = self.sys.event_key(name, "\n".join(data))
                            if key is not None:
                                arrivals.setdefault(key, now)
                        ready.set() if name == "ready" else None
                        name, eid, data = None, None, []
                    elif line.startswith(":"):
                        ready.set()
                        continue
                    else:
                        field, _, value = line.partition(":")
                        value = value[1:] if value.startswith(" ") else value
                        if field == "event":
                            name = value
                        elif field == "id":
                            eid = value
                        elif field == "data":
                            data.append(value)
                conn.close()
            except (OSError, http.client.HTTPException) as e:
                if not stop.is_set():
                    err.append(f"{type(e).__name__}: {e}")
                ready.set()

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        if not ready.wait(10) or err:
            self.row(D, "open stream on node 2", err[0] if err else "no ready event in 10 s", "200 + ready", "FAIL")
            stop.set()
            return
        sent = {}
        c = Client(self.nodes[0].port, self.sys.headers())
        failures = []
        run = uuid.uuid4().hex[:8]
        for i in range(n_events):
            key = f"drill-live-{run}-{i}"
            method, path, body = self.sys.event_write(key)
            r = c.call(method, path, body)
            done = time.time()
            if 200 <= r.status < 300:
                sent[key] = done
            else:
                failures.append(r)
            time.sleep(0.02)
        c.close()
        if failures:
            self.row(D, "create failures (first)", repr(failures[0])[:200], "none", "FAIL")
        deadline = time.time() + 6
        while time.time() < deadline and not all(k in arrivals for k in sent):
            time.sleep(0.05)
        stop.set()
        delays = [arrivals[k] - t for k, t in sent.items() if k in arrivals]
        missing = [k for k in sent if k not in arrivals]
        self.check(D, f"{n_events} notifications created on node 1, seen on node 2's stream",
                   f"{len(delays)} seen, {len(missing)} missing, {len(failures)} creates failed", f"{n_events} seen",
                   len(delays) == n_events)
        if delays:
            p50, p99 = pct(delays, 50), pct(delays, 99)
            self.check(D, "delay create-response -> event on the other node: p50 / p99 (max)",
                       f"{ms(p50)} / {ms(p99)} ({ms(max(delays))})", "p99 < 100 ms", p99 < 0.1)

    # -- drill 7: uploads
    def drill_upload(self):
        D = "7 uploads (S3)"
        try:
            sent, r, what = self.sys.upload(self.nodes[0].port, self.nodes[1].port)
        except Skip as e:
            self.row(D, "upload on node 1, download on node 2", str(e), "-", "n/a")
            return
        except DrillError as e:
            self.row(D, "upload on node 1, download on node 2", str(e)[:200], "same bytes", "FAIL")
            return
        same = r.status == 200 and r.body == sent
        self.check(D, f"{what}: download on node 2", f"{r.status}, {len(r.body)} bytes, same={same}"
                   + ("" if same else f" {r.body[:120]!r}"), f"200, {len(sent)} bytes, same", same)
        listing = try_request(int(self.args.s3_endpoint.rsplit(":", 1)[1]), "GET", "/drill?list-type=2")
        objects = listing.body.count(b"<Key>") if listing.status == 200 else 0
        self.check(D, "objects in bucket s3://drill (moto)", objects, ">= 1", objects >= 1)

    # -- drill 8: metrics
    def drill_metrics(self):
        D = "8 metrics"
        # (label, metric-name prefixes): campus's own names first, generic ones after.
        wanted = [
            ("requests by route", ("campus_http_requests_total", "http_requests_total")),
            ("latency histogram count", ("campus_http_request_duration_seconds_count",
                                         "http_request_duration_seconds_count")),
            ("db pool", ("campus_db_pool_",)),
            ("job queue depth", ("campus_job_queue_depth",)),
        ]
        for n in self.nodes:
            r = try_request(n.metrics_port, "GET", "/metrics", timeout=5)
            where = f"CAMPUS_METRICS_BIND {HOST}:{n.metrics_port}"
            if r.status != 200:
                alt = try_request(n.port, "GET", "/metrics", timeout=5)
                self.row(D, f"node {n.index + 1} GET /metrics on {where}",
                         f"{r.status} {r.body[:80]!r}; on the API port: {alt.status}", "200 Prometheus text", "FAIL")
                continue
            text = r.body.decode(errors="replace")
            lines = [l for l in text.splitlines() if l and not l.startswith("#")]
            self.check(D, f"node {n.index + 1} GET /metrics ({where})", f"{len(lines)} samples", "200, > 0 samples",
                       len(lines) > 0)
            if n.index != 0:
                continue
            for label, prefixes in wanted:
                hits = [l for l in lines if l.split("{")[0].split(" ")[0].startswith(prefixes)]
                if label == "requests by route":
                    hits.sort(key=lambda l: -float(l.rsplit(" ", 1)[-1]) if l.rsplit(" ", 1)[-1][0].isdigit() else 0)
                self.check(D, f"node 1 series: {label}", " ; ".join(hits[:3])[:300] if hits else "none",
                           "present", bool(hits))

    # -- all
    def run(self):
        print(f"== {self.system_name}: database {self.db_url}, nodes {NODE_PORTS}, nginx {NGINX_PORT}", flush=True)
        try:
            self.start()
        except Exception as e:  # the system could not be started: nothing else can run
            self.row("0 start-up", "nodes up", f"{type(e).__name__}: {e}"[:300], "3 healthy nodes", "FAIL")
            traceback.print_exc()
            return
        drills = [
            ("1", self.drill_kill9), ("2", self.drill_sigterm), ("3", self.drill_postgres),
            ("4", self.drill_redis), ("5", self.drill_shared), ("6", self.drill_events),
            ("7", self.drill_upload), ("8", self.drill_metrics),
        ]
        only = set(self.args.only.split(",")) if self.args.only else None
        for key, fn in drills:
            if only and key not in only:
                continue
            print(f"-- drill {key}: {fn.__name__[6:]}", flush=True)
            try:
                fn()
            except Exception as e:
                traceback.print_exc()
                self.row(f"{key} {fn.__name__[6:]}", "drill aborted", f"{type(e).__name__}: {e}"[:300], "-", "FAIL")
            # Every drill leaves three healthy nodes for the next.
            for n in self.nodes:
                if not n.alive():
                    try:
                        self.restart(n)
                    except Exception as e:
                        self.row(f"{key}", f"restart node {n.index + 1}", str(e)[:200], "healthy", "FAIL")

    def table(self):
        head = ("system", "drill", "check", "result", "expected", "verdict")
        rows = [(self.system_name,) + r for r in self.rows]
        return rows, head


def render(rows, head):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
    return "\n".join(out)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    p.add_argument("--bin", required=True, help="the release campus binary")
    p.add_argument("--work", required=True, help="a scratch folder (logs, media, pid files)")
    p.add_argument("--database-url", required=True)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--s3-endpoint", default="http://127.0.0.1:5056")
    p.add_argument("--pg-version", default="15")
    p.add_argument("--quick", action="store_true", help="short loads (CI)")
    p.add_argument("--only", help="comma-separated drill numbers, e.g. 1,5")
    p.add_argument("--results", help="append the table (markdown) to this file")
    args = p.parse_args()
    drill = Drill(args)

    def on_signal(signum, frame):
        drill.stop()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        drill.run()
    finally:
        drill.stop()
    rows, head = drill.table()
    table = render(rows, head)
    print()
    print(table)
    fails = sum(1 for r in rows if r[-1] == "FAIL")
    passes = sum(1 for r in rows if r[-1] == "PASS")
    print(f"\n{drill.system_name}: {passes} PASS, {fails} FAIL")
    if args.results:
        with open(args.results, "a") as f:
            f.write(json.dumps({"rows": rows}) + "\n")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
