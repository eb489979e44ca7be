"""Response actions end to end: actions queued through vigild's API (POST /api/v1/agents/{id}/actions),
delivered to the real vigil-agent (env VIGIL_AGENT) by its long poll, run on this host, and their
results read back from GET /api/v1/actions/{id}.

kill of a real process tree, quarantine and restore of a real file (sha256 checked against
hashlib), collect of a 3 MiB file downloaded again from GET /api/v1/actions/{id}/file, query of
processes, a YARA scan, the inventory, and refusals (pid 1, a relative path) that come back as
failed actions with their reason. Isolation is not run here: it would change the host's own
firewall (src/agent/test_actions_live.sh covers it inside network namespaces). Needs root (the
agent) and the agent binary; skips with a message otherwise.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest
import uuid

import harness

REPO = harness.REPO
VIGIL_AGENT = harness.VIGIL_AGENT
skip_reason = harness.agent_skip_reason


def wait_for(fn, what, timeout=90, interval=0.3):
    return harness.wait_until(fn, what, timeout, interval)


@unittest.skipIf(skip_reason(), skip_reason() or "")
class AgentResponseActionsTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-actions-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.agent = harness.EnrolledAgent(cls.server, cls.token, cls.tmp, name="it-actions")
        cls.addClassCleanup(cls.agent.stop)
        cls.state, cls.log_path, cls.agent_id = cls.agent.state, cls.agent.log_path, cls.agent.agent_id

    def agent_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def act(self, type_, params, timeout=60):
        """Queues an action, waits for its end, returns the action object."""
        try:
            return harness.run_action(self.server, self.token, self.agent_id, type_, params, timeout)
        except AssertionError as e:
            raise AssertionError("%s\nagent log:\n%s" % (e, self.agent_log()[-3000:]))

    def succeeded(self, type_, params, timeout=60):
        a = self.act(type_, params, timeout)
        self.assertEqual(a["status"], "succeeded", "%s\n%s" % (a, self.agent_log()[-3000:]))
        return a

    # ---- tests ----

    def test_kill_tree(self):
        marker = "vigkill" + uuid.uuid4().hex[:8]
        p = subprocess.Popen(["/bin/sh", "-c", "sleep 300 & sleep 301; : %s" % marker])
        self.addCleanup(lambda: p.poll() is None and p.kill())
        def children():
            kids = []
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        with open("/proc/%s/stat" % d) as f:
                            if int(f.read().rsplit(")", 1)[1].split()[1]) == p.pid:
                                kids.append(int(d))
                    except (OSError, ValueError, IndexError):
                        pass
            return kids if len(kids) == 2 else None
        kids = wait_for(children, "the two sleeps")
        a = self.succeeded("kill", {"pid": p.pid, "tree": True})
        killed = a["result"]["killed"]
        self.assertEqual(sorted(killed), sorted(kids + [p.pid]))
        self.assertEqual(killed[-1], p.pid)  # the parent last
        self.assertEqual(p.wait(10), -signal.SIGKILL)

        def running(pid):
            try:
                with open("/proc/%d/stat" % pid) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
            except OSError:
                return False
        for k in kids:
            wait_for(lambda: not running(k), "child %d to die" % k, timeout=10)

    def test_refusals_come_back_failed(self):
        a = self.act("kill", {"pid": 1})
        self.assertEqual(a["status"], "failed")
        self.assertEqual(a["error"], "refusing to kill pid 1")
        a = self.act("quarantine", {"path": "relative/file"})
        self.assertEqual(a["status"], "failed")
        self.assertEqual(a["error"], "parameter path must be an absolute path")
        a = self.act("query", {"what": "secrets"})
        self.assertEqual(a["status"], "failed")
        self.assertIn("parameter what must be one of", a["error"])

    def test_quarantine_and_restore(self):
        path = os.path.join(self.tmp, "dropper-" + uuid.uuid4().hex[:6])
        data = b"#!/bin/sh\necho pwned\n" + os.urandom(100)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o755)
        a = self.succeeded("quarantine", {"path": path})
        res = a["result"]
        self.assertEqual(res["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(res["size"], len(data))
        self.assertEqual(res["mode"], "0755")
        self.assertFalse(os.path.exists(path))
        qfile = os.path.join(self.state, "quarantine", res["quarantine_id"], "file")
        self.assertEqual(os.stat(qfile).st_mode & 0o7777, 0o400)
        a = self.succeeded("restore", {"quarantine_id": res["quarantine_id"]})
        self.assertEqual(a["result"]["path"], path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(), data)
        self.assertEqual(os.stat(path).st_mode & 0o7777, 0o755)

    def test_collect(self):
        path = os.path.join(self.tmp, "evidence-" + uuid.uuid4().hex[:6])
        data = os.urandom(3 * 1024 * 1024 + 777)
        with open(path, "wb") as f:
            f.write(data)
        a = self.succeeded("collect", {"path": path})
        self.assertEqual(a["result"]["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(a["result"]["size"], len(data))
        r = self.server.request("GET", "/api/v1/actions/%s/file" % a["id"], token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, data)
        self.assertEqual(r.header("X-Vigil-Sha256"), hashlib.sha256(data).hexdigest())

    def test_query_processes(self):
        a = self.succeeded("query", {"what": "processes"})
        rows = {row["pid"]: row for row in a["result"]["rows"]}
        self.assertIn(self.agent.proc.pid, rows)
        self.assertEqual(rows[self.agent.proc.pid]["ppid"], os.getpid())
        self.assertEqual(rows[self.agent.proc.pid]["name"], "vigil-agent")
        self.assertFalse(a["result"]["truncated"])

    def test_yara(self):
        d = tempfile.mkdtemp(prefix="yara-", dir=self.tmp)
        os.makedirs(os.path.join(d, "sub"))
        with open(os.path.join(d, "sub", "bad.bin"), "wb") as f:
            f.write(b"\x00\x01EVIL-" + b"MARKER-77\x00")
        with open(os.path.join(d, "good.txt"), "w") as f:
            f.write("nothing here")
        rules = 'rule evil_marker : it { strings: $a = "EVIL-MARKER-77" condition: $a }'
        a = self.succeeded("yara", {"rules": rules, "path": d, "recursive": True})
        res = a["result"]
        self.assertEqual(res["scanned"], 2)
        self.assertEqual(res["errors"], 0)
        self.assertEqual([(m["rule"], m["file"], m["tags"]) for m in res["matches"]],
                         [("evil_marker", os.path.join(d, "sub", "bad.bin"), ["it"])])

    def test_inventory(self):
        a = self.succeeded("inventory", {})
        inv = a["result"]
        self.assertEqual(inv["kernel"], os.uname().release)
        self.assertEqual(inv["hostname"], os.uname().nodename)
        self.assertRegex(inv["hash"], r"^[0-9a-f]{64}$")
        self.assertTrue(inv["users"])
        # the transport posts the same document at start; the server keeps it with its hash
        def stored():
            r = self.server.request("GET", "/api/v1/agents/%s/inventory" % self.agent_id, token=self.token)
            return r.json() if r.status == 200 else None
        doc = wait_for(stored, "the stored inventory", timeout=30)
        self.assertEqual(doc["inventory"]["kernel"], os.uname().release)
        self.assertEqual(doc["hash"], doc["inventory"]["hash"])


if __name__ == "__main__":
    unittest.main()
