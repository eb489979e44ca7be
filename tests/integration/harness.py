"""Integration harness for vigild (Python 3 standard library only).

Starts the real vigild binary (env VIGILD, default build/asan/src/server/vigild) on a free
loopback port with a temporary data directory, trusts the self-signed certificate it generates
(so TLS and its subjectAltName are verified for real), completes first-run setup with the token
from DATA/setup-token, and offers small helpers for requests, logins and API tokens.

Every server's stderr goes to DATA/vigild.log; stopping a server checks that it exited 0 and
that no AddressSanitizer / UBSan report was written.
"""

import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
VIGILD = os.environ.get("VIGILD", os.path.join(REPO, "build", "asan", "src", "server", "vigild"))
ADMIN_USER = "admin"
ADMIN_PASSWORD = "integration-admin-pass"


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode())

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def __repr__(self):
        return "Response(%d, %r)" % (self.status, self.body[:300])


class Server:
    """One vigild process."""

    def __init__(self, data_dir=None, config_text=None, extra_args=()):
        self.tmp = None
        if data_dir is None:
            self.tmp = tempfile.TemporaryDirectory(prefix="vigil-it-")
            data_dir = os.path.join(self.tmp.name, "data")
        self.data_dir = data_dir
        self.config_text = config_text
        self.extra_args = list(extra_args)
        self.port = None
        self.proc = None
        self.log_path = None

    def start(self, timeout=60):
        self.port = free_port()
        os.makedirs(self.data_dir, exist_ok=True)
        args = [VIGILD, "--data", self.data_dir, "--listen", "127.0.0.1:%d" % self.port]
        if self.config_text is not None:
            cfg = os.path.join(os.path.dirname(self.data_dir), "vigild.yaml")
            with open(cfg, "w") as f:
                f.write(self.config_text)
            args += ["--config", cfg]
        args += self.extra_args
        self.log_path = os.path.join(os.path.dirname(self.data_dir), "vigild.log")
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("vigild exited with %d:\n%s" % (self.proc.returncode, self.read_log()))
            try:
                if self.request("GET", "/api/v1/health").status == 200:
                    return self
            except (OSError, ssl.SSLError, http.client.HTTPException):
                pass
            time.sleep(0.1)
        raise RuntimeError("vigild did not become healthy:\n" + self.read_log())

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=90, check=True):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        log = self.read_log()
        if check:
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if bad in log:
                    raise AssertionError("sanitizer report in vigild log:\n" + log[-8000:])
            if rc != 0:
                raise AssertionError("vigild exited with %d:\n%s" % (rc, log[-4000:]))
        return rc

    def cleanup(self):
        if self.proc is not None:
            self.stop(check=False)
        if self.tmp is not None:
            self.tmp.cleanup()

    # ---- HTTP ----

    def ssl_context(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.data_dir, "tls", "server.crt"))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    def connection(self, timeout=120):
        return http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.ssl_context())

    def request(self, method, path, body=None, token=None, session=None, headers=None,
                csrf=True, timeout=120):
        """body: dict/list (JSON), str or bytes. session: (cookie, csrf) from login()."""
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if token:
            h["Authorization"] = "Bearer " + token
        if session:
            h["Cookie"] = "vigil_session=" + session[0]
            if csrf and method not in ("GET", "HEAD"):
                h["X-CSRF-Token"] = session[1]
        conn = self.connection(timeout)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()

    # ---- auth helpers ----

    def setup_token(self):
        with open(os.path.join(self.data_dir, "setup-token")) as f:
            return f.read().strip()

    def setup(self, username=ADMIN_USER, password=ADMIN_PASSWORD):
        r = self.request("POST", "/api/v1/setup", {"setup_token": self.setup_token(),
                                                   "username": username, "password": password})
        if r.status != 201:
            raise AssertionError("setup failed: %r" % r)
        return r

    def login(self, username=ADMIN_USER, password=ADMIN_PASSWORD):
        r = self.request("POST", "/api/v1/login", {"username": username, "password": password})
        if r.status != 200:
            raise AssertionError("login failed: %r" % r)
        cookie = r.header("Set-Cookie")
        sid = cookie.split(";")[0].split("=", 1)[1]
        return (sid, r.json()["csrf_token"]), cookie

    def make_token(self, auth_token, name, role="admin", tenant=None):
        body = {"name": name, "role": role}
        if tenant:
            body["tenant"] = tenant
        r = self.request("POST", "/api/v1/tokens", body, token=auth_token)
        if r.status != 201:
            raise AssertionError("token create failed: %r" % r)
        return r.json()["token"]

    def admin_token(self):
        session, _ = self.login()
        r = self.request("POST", "/api/v1/tokens", {"name": "it-admin", "role": "admin"},
                         session=session)
        if r.status != 201:
            raise AssertionError("admin token failed: %r" % r)
        return r.json()["token"]

    def ingest(self, token, events, batch_id=None, timeout=300):
        body = "\n".join(e if isinstance(e, str) else json.dumps(e) for e in events) + "\n"
        h = {"Content-Type": "application/x-ndjson"}
        if batch_id:
            h["X-Vigil-Batch-Id"] = batch_id
        return self.request("POST", "/api/v1/events", body, token=token, headers=h,
                            timeout=timeout)

    def count(self, token, q, extra=""):
        from urllib.parse import quote
        r = self.request("GET", "/api/v1/events/count?q=%s%s" % (quote(q), extra), token=token)
        if r.status != 200:
            raise AssertionError("count failed: %r" % r)
        return r.json()["count"]


class ServerTestCase(unittest.TestCase):
    """A class-wide server, set up with an admin and an admin API token."""

    config_text = None

    @classmethod
    def setUpClass(cls):
        cls.server = Server(config_text=cls.config_text)
        # runs even when setUpClass (of a subclass too) fails, so no vigild is left behind
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()
        cls.server.setup()
        cls.token = cls.server.admin_token()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()


# ---- a real agent ----

VIGIL_AGENT = os.environ.get("VIGIL_AGENT", os.path.join(REPO, "build", "asan", "src", "agent", "vigil-agent"))
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def agent_skip_reason():
    """Why the tests that run vigil-agent cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (the agent)"
    if not os.access(VIGIL_AGENT, os.X_OK):
        return "no agent binary at %s (set VIGIL_AGENT)" % VIGIL_AGENT
    return None


def wait_until(fn, what, timeout=90, interval=0.3):
    """fn() until it returns something true (returned), or AssertionError after timeout s."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


class EnrolledAgent:
    """vigil-agent enrolled to server with a one-use token; state and log under tmp. The sensor
    options default to --no-ebpf --no-fim (the transport and actions only); pass others in
    sensors. stop() ends it and fails on a sanitizer report in its log."""

    def __init__(self, server, token, tmp, name="it-agent", sensors=("--no-ebpf", "--no-fim"), extra=()):
        r = server.request("POST", "/api/v1/enroll-tokens", {"name": name, "uses": 1, "expires_in_s": 3600},
                           token=token)
        if r.status != 201:
            raise AssertionError("enroll token: %r" % r)
        self.state = os.path.join(tmp, "state")
        self.log_path = os.path.join(tmp, "agent.log")
        self.log = open(self.log_path, "ab")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.proc = subprocess.Popen(
            [VIGIL_AGENT, "--server", "https://127.0.0.1:%d" % server.port,
             "--cacert", os.path.join(server.data_dir, "tls", "server.crt"),
             "--state-dir", self.state, "--enroll", r.json()["token"]] + list(sensors) +
            ["--heartbeat", "2", "--log-level", "debug"] + list(extra),
            stdout=self.log, stderr=self.log, env=env)
        try:
            wait_until(lambda: os.path.exists(os.path.join(self.state, "agent.json")), "enrolment")
        except AssertionError:
            self.stop()
            raise
        with open(os.path.join(self.state, "agent.json")) as f:
            self.agent_id = json.load(f)["agent_id"]

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        log = self.log_text()
        for bad in SANITIZER_MARKS:
            if bad in log:
                raise AssertionError("sanitizer report in the agent log:\n" + log[-8000:])


def run_action(server, token, agent_id, type_, params, timeout=60, reason="integration test"):
    """Queues a response action for agent_id and waits for its end; returns the action object."""
    r = server.request("POST", "/api/v1/agents/%s/actions" % agent_id,
                       {"type": type_, "params": params, "reason": reason}, token=token)
    if r.status != 201:
        raise AssertionError("action %s not queued: %r" % (type_, r))
    action_id = r.json()["id"]

    def done():
        g = server.request("GET", "/api/v1/actions/%s" % action_id, token=token)
        if g.status != 200:
            raise AssertionError("action %s: %r" % (action_id, g))
        a = g.json()
        return a if a["status"] in ("succeeded", "failed", "expired", "cancelled") else None
    return wait_until(done, "action %s (%s)" % (action_id, type_), timeout=timeout)
