"""The agent transport end to end: the real vigil-agent (env VIGIL_AGENT) against the real vigild.

Enrolment with a one-time token and the stored identity; a uniquely named command's process
event arriving with agent.id; vigild stopped for 60 s while uniquely named commands keep running,
restarted on the same data directory and port, and every marker arriving exactly once (the disk
spool and batch ids); a revoked agent's certificate refused; a tailed log file followed across
rotation. Needs root (the agent's sensors) and the agent binary; skips with a message otherwise.
"""

import json
import os
import shutil
import signal
import ssl
import stat
import struct
import subprocess
import tempfile
import time
import unittest
import uuid
from urllib.parse import quote

import harness

REPO = harness.REPO
VIGIL_AGENT = os.environ.get("VIGIL_AGENT", os.path.join(REPO, "build", "asan", "src", "agent", "vigil-agent"))
OUTAGE_S = int(os.environ.get("VIG_AGENT_OUTAGE_S", "60"))


def skip_reason():
    if os.geteuid() != 0:
        return "needs root (the agent's sensors)"
    if not os.access(VIGIL_AGENT, os.X_OK):
        return "no agent binary at %s (set VIGIL_AGENT)" % VIGIL_AGENT
    return None


class Agent:
    """One vigil-agent process with its own state directory."""

    def __init__(self, server, state_dir, token=None, extra=()):
        self.server = server
        self.state_dir = state_dir
        self.token = token
        self.extra = list(extra)
        self.proc = None
        self.log_path = os.path.join(os.path.dirname(state_dir), os.path.basename(state_dir) + ".log")

    def start(self):
        args = [VIGIL_AGENT, "--server", "https://127.0.0.1:%d" % self.server.port,
                "--cacert", os.path.join(self.server.data_dir, "tls", "server.crt"),
                "--state-dir", self.state_dir, "--heartbeat", "2", "--log-level", "debug",
                "--no-fim"]  # the file-integrity baseline has its own test (test_agent_fim)
        if self.token:
            args += ["--enroll", self.token]
        args += self.extra
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=self.log, env=env)
        return self

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def identity(self):
        with open(os.path.join(self.state_dir, "agent.json")) as f:
            return json.load(f)

    def stop(self, check=True):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        self.log.close()
        if check:
            log = self.read_log()
            for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
                if bad in log:
                    raise AssertionError("sanitizer report in the agent log:\n" + log[-8000:])
            if rc != 0:
                raise AssertionError("vigil-agent exited with %d:\n%s" % (rc, log[-4000:]))


def wait_for(fn, what, timeout=90, interval=0.5):
    return harness.wait_until(fn, what, timeout, interval)


def run_marker(marker):
    """Runs a command whose command line carries marker."""
    subprocess.run(["/bin/sh", "-c", ": %s; /bin/true %s" % (marker, marker)], check=True)


@unittest.skipIf(skip_reason(), skip_reason() or "")
class AgentTransportTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-agent-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)

    def enroll_token(self, uses=1):
        r = self.server.request("POST", "/api/v1/enroll-tokens",
                                {"name": "it-" + uuid.uuid4().hex[:8], "uses": uses, "expires_in_s": 3600},
                                token=self.token)
        self.assertEqual(r.status, 201, r)
        return r.json()["token"]

    def new_agent(self, extra=(), token=True):
        state = os.path.join(self.tmp, "state-" + uuid.uuid4().hex[:8])
        a = Agent(self.server, state, self.enroll_token() if token else None, extra)
        self.addCleanup(a.stop, False)
        return a

    def count(self, q):
        return self.server.count(self.token, q)

    def search(self, q, limit=20):
        r = self.server.request("GET", "/api/v1/events?q=%s&limit=%d" % (quote(q), limit), token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()["events"]

    def agent_request(self, agent, method, path, body):
        ctx = ssl.create_default_context(cafile=os.path.join(self.server.data_dir, "tls", "server.crt"))
        ctx.load_cert_chain(os.path.join(agent.state_dir, "agent.crt"), os.path.join(agent.state_dir, "agent.key"))
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=30, context=ctx)
        try:
            conn.request(method, path, body=json.dumps(body), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    # ---- tests ----

    def test_1_enrol_and_process_event(self):
        a = self.new_agent().start()
        wait_for(lambda: os.path.exists(os.path.join(a.state_dir, "agent.json")), "enrolment")
        ident = a.identity()
        self.assertRegex(ident["agent_id"], r"^[0-9a-f]{32}$")
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(a.state_dir, "agent.key")).st_mode), 0o600)
        self.assertEqual(stat.S_IMODE(os.stat(a.state_dir).st_mode), 0o700)
        for f in ("agent.crt", "agent-ca.crt", "server-ca.crt"):
            self.assertTrue(os.path.exists(os.path.join(a.state_dir, f)), f)
        marker = "vigmark" + uuid.uuid4().hex[:12]
        time.sleep(3)  # sensors attached
        run_marker(marker)
        q = "process.command_line:*%s*" % marker
        events = wait_for(lambda: self.search(q), "the marker's process event")
        self.assertEqual(events[0]["agent"]["id"], ident["agent_id"])
        # the heartbeat reached the server
        def seen():
            r = self.server.request("GET", "/api/v1/agents/%s" % ident["agent_id"], token=self.token)
            return r.status == 200 and r.json().get("last_seen")
        wait_for(seen, "the agent's heartbeat")
        # the sensor mode found by the fentry/LSM upgrade probes reaches the agents list
        def mode():
            r = self.server.request("GET", "/api/v1/agents/%s" % ident["agent_id"], token=self.token)
            return r.status == 200 and r.json().get("mode") in ("ebpf-tracepoint", "ebpf-fentry", "ebpf-lsm")
        wait_for(mode, "the sensor mode in the agents list")
        # a second start with the same arguments keeps the identity
        a.stop()
        a.start()
        time.sleep(2)
        self.assertEqual(a.identity()["agent_id"], ident["agent_id"])
        self.assertIn("already enrolled", a.read_log())
        a.stop()

    def test_2_outage_every_marker_exactly_once(self):
        a = self.new_agent().start()
        wait_for(lambda: os.path.exists(os.path.join(a.state_dir, "agent.json")), "enrolment")
        time.sleep(3)
        tag = "vigout" + uuid.uuid4().hex[:10]
        before = tag + "-before"
        run_marker(before)
        wait_for(lambda: self.count("process.command_line:*%s*" % before) >= 1, "the first marker")
        port = self.server.port
        self.server.stop()
        markers = []
        t_end = time.time() + OUTAGE_S
        i = 0
        while time.time() < t_end:
            m = "%s-%03d" % (tag, i)
            run_marker(m)
            markers.append(m)
            i += 1
            time.sleep(2)
        # restart on the same data directory and port
        orig = harness.free_port
        harness.free_port = lambda: port
        try:
            self.server.start()
        finally:
            harness.free_port = orig
        for m in markers:
            wait_for(lambda: self.count("process.command_line:*%s*" % m) >= 1, "marker " + m, timeout=120)
        time.sleep(3)  # any duplicate resend would land now
        for m in [before] + markers:
            # exactly one exec of /bin/true per marker: a resent batch would make it two
            n = self.count("process.name:true and event.action:exec and process.command_line:*%s*" % m)
            self.assertEqual(n, 1, m)
        log = a.read_log()
        self.assertIn("kept in the spool", log)  # the outage was seen and spooled
        self.assertNotIn("batch refused", log)
        a.stop()

    def test_3_revoked_agent_refused(self):
        a = self.new_agent(extra=["--no-actions"]).start()
        wait_for(lambda: os.path.exists(os.path.join(a.state_dir, "agent.json")), "enrolment")
        agent_id = a.identity()["agent_id"]
        hb = {"version": "it", "mode": "fallback", "hostname": "it", "uptime_s": 1, "probes": {},
              "counters": {}, "spool": {"bytes": 0, "batches": 0, "oldest": None}, "isolated": False}
        status, body = self.agent_request(a, "POST", "/api/v1/agent/heartbeat", hb)
        self.assertEqual(status, 200, body)
        r = self.server.request("POST", "/api/v1/agents/%s/revoke" % agent_id, {}, token=self.token)
        self.assertIn(r.status, (200, 204), r)
        status, body = self.agent_request(a, "POST", "/api/v1/agent/heartbeat", hb)
        self.assertEqual(status, 401, body)
        wait_for(lambda: "status=401" in a.read_log(), "the agent to be refused")
        a.stop()

    def test_4_tail_rotation(self):
        logdir = tempfile.mkdtemp(prefix="vigil-tail-", dir=self.tmp)
        path = os.path.join(logdir, "app.log")
        open(path, "w").close()
        a = self.new_agent(extra=["--tail", path + ":kv", "--no-actions"]).start()
        wait_for(lambda: "tailing" in a.read_log(), "the tailer")
        tag = "vigtail" + uuid.uuid4().hex[:10]
        with open(path, "a") as f:
            f.write("msg=%s-1 src=10.0.0.1\n" % tag)
        os.rename(path, path + ".1")
        with open(path + ".1", "a") as f:
            f.write("msg=%s-2 src=10.0.0.1\n" % tag)
        with open(path, "a") as f:
            f.write("msg=%s-3 src=10.0.0.1\n" % tag)
        for i in (1, 2, 3):
            wait_for(lambda: self.count("message:*%s-%d*" % (tag, i)) == 1, "tailed line %d" % i)
        a.stop()

    def test_5_logins_from_wtmp_and_journal(self):
        """The issue's "find an su or login event": a wtmp login record and an su entry of the
        journal (journald is started here when it is not running; skipped when it cannot)."""
        wtmp = os.path.join(self.tmp, "wtmp-" + uuid.uuid4().hex[:6])
        open(wtmp, "wb").close()
        journald = None
        extra = ["--tail", wtmp + ":wtmp", "--no-actions"]
        if shutil.which("systemd-cat"):
            def journald_up():
                return subprocess.run(["systemd-cat", "-t", "vigil-it", "true"],
                                      capture_output=True).returncode == 0
            if not journald_up():
                os.makedirs("/run/systemd/journal", exist_ok=True)
                jd = "/lib/systemd/systemd-journald"
                if os.access(jd, os.X_OK):
                    journald = subprocess.Popen([jd], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    self.addCleanup(lambda: (journald.terminate(), journald.wait(10)))
                    try:
                        wait_for(journald_up, "journald", timeout=10)
                    except AssertionError:
                        pass
            if journald_up():
                extra.append("--journal")
        a = self.new_agent(extra=extra).start()
        wait_for(lambda: "tailing" in a.read_log(), "the wtmp tailer")
        user = "w" + uuid.uuid4().hex[:10]
        rec = struct.pack("<hhi32s4s32s256shhiii4i20s", 7, 0, 4242, b"pts/9", b"ts/9", user.encode(),
                          b"192.0.2.44", 0, 0, 0, int(time.time()), 0, 0, 0, 0, 0, b"")
        self.assertEqual(len(rec), 384)
        with open(wtmp, "ab") as f:
            f.write(rec)
        wait_for(lambda: self.count("user.name:%s and event.action:user_login" % user) == 1, "the wtmp login")
        if "--journal" not in extra:
            a.stop()
            self.skipTest("no journald could be reached or started here: journal part skipped")
        if "reading the journal" not in a.read_log():
            a.stop()
            self.skipTest("the journal could not be opened here: " + a.read_log()[-500:])
        time.sleep(1)
        who = "j" + uuid.uuid4().hex[:10]
        subprocess.run(["systemd-cat", "-t", "su", "-p", "info"], check=True,
                       input=("pam_unix(su:session): session opened for user root(uid=0) by %s(uid=1000)\n"
                              % who).encode())
        wait_for(lambda: self.count("user.name:%s and event.action:session_opened" % who) == 1,
                 "the journal's su event")
        a.stop()

    def test_6_action_round_trip(self):
        a = self.new_agent().start()
        wait_for(lambda: os.path.exists(os.path.join(a.state_dir, "agent.json")), "enrolment")
        agent_id = a.identity()["agent_id"]
        r = self.server.request("POST", "/api/v1/agents/%s/actions" % agent_id,
                                {"type": "query", "params": {"what": "users"}, "reason": "it"}, token=self.token)
        self.assertEqual(r.status, 201, r)
        action_id = r.json()["id"]

        def done():
            j = self.server.request("GET", "/api/v1/actions/%s" % action_id, token=self.token).json()
            return j if j.get("status") in ("succeeded", "failed") else None
        try:
            j = wait_for(done, "the action's result")
        except AssertionError as e:
            raise AssertionError("%s\nagent log:\n%s" % (e, a.read_log()[-3000:]))
        self.assertEqual(j["status"], "succeeded", j)
        self.assertTrue(any(row.get("name") == "root" for row in j["result"]["rows"]), j)
        log = a.read_log()
        self.assertIn("action=%s type=query requested_by=" % action_id, log)
        a.stop()


if __name__ == "__main__":
    unittest.main()
