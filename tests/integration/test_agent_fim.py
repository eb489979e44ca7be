"""File-integrity monitoring end to end: the real vigil-agent (env VIGIL_AGENT) enrolled to the real
vigild, watching a temporary directory with --fim-path.

The first scan's state event reaches the search API; a changed file arrives as fim_modified with
the baseline's previous sha256; a fim_accept action queued through POST /api/v1/agents/{id}/actions
succeeds with the number of entries accepted, after which the next change is compared with the
accepted state; fim_accept of a path the baseline does not hold fails with the reason, and bad
parameters are refused. Needs root (the agent's sensors) and the agent binary; skips otherwise.
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
from urllib.parse import quote

import harness

REPO = harness.REPO
VIGIL_AGENT = harness.VIGIL_AGENT


skip_reason = harness.agent_skip_reason


def wait_for(fn, what, timeout=60, interval=0.3):
    return harness.wait_until(fn, what, timeout, interval)


def field(ev, name):
    """A dotted field of a returned event, nested or flat."""
    if name in ev:
        return ev[name]
    v = ev
    for part in name.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    return v


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@unittest.skipIf(skip_reason(), skip_reason() or "")
class AgentFimTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="vigil-fim-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.watched = os.path.join(cls.tmp, "watched")
        os.makedirs(os.path.join(cls.watched, "sudoers.d"))
        cls.target = os.path.join(cls.watched, "sudoers.d", "90-ops")
        with open(cls.target, "w") as f:
            f.write("ops ALL=(ALL) /usr/bin/systemctl\n")
        cls.agent = harness.EnrolledAgent(cls.server, cls.token, cls.tmp, name="it-fim",
                                          sensors=("--no-ebpf", "--fim-path", cls.watched))
        cls.addClassCleanup(cls.agent.stop)
        cls.state, cls.log_path, cls.agent_id = cls.agent.state, cls.agent.log_path, cls.agent.agent_id

    def agent_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def search(self, q):
        r = self.server.request("GET", "/api/v1/events?q=%s&limit=50" % quote(q), token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()["events"]

    def fim_event(self, action, want_sha):
        q = 'event.action:%s and file.path:"%s"' % (action, self.target)

        def found():
            for ev in self.search(q):
                if field(ev, "file.hash.sha256") == want_sha:
                    return ev
            return None
        try:
            return wait_for(found, "%s of %s with sha256 %s" % (action, self.target, want_sha))
        except AssertionError as e:
            raise AssertionError("%s\nagent log:\n%s" % (e, self.agent_log()[-3000:]))

    def act(self, params):
        return harness.run_action(self.server, self.token, self.agent_id, "fim_accept", params)

    def test_change_accept_change(self):
        sha0 = sha256_of(self.target)
        wait_for(lambda: self.search("event.action:fim_scan and agent.id:%s" % self.agent_id), "first FIM scan")

        with open(self.target, "a") as f:
            f.write("ops ALL=(ALL) NOPASSWD: ALL\n")
        sha1 = sha256_of(self.target)
        ev = self.fim_event("fim_modified", sha1)
        self.assertEqual(field(ev, "vigil.fim.previous.sha256"), sha0)
        self.assertEqual(field(ev, "event.dataset"), "vigil.agent.fim")
        self.assertEqual(field(ev, "event.category"), "file")

        a = self.act({"path": self.target})
        self.assertEqual(a["status"], "succeeded", "%s\n%s" % (a, self.agent_log()[-3000:]))
        self.assertEqual(a["result"]["accepted"], 1)

        with open(self.target, "w") as f:
            f.write("ops ALL=(ALL) /usr/bin/journalctl\n")
        sha2 = sha256_of(self.target)
        ev = self.fim_event("fim_modified", sha2)
        self.assertEqual(field(ev, "vigil.fim.previous.sha256"), sha1, "compared with the accepted state")

        a = self.act({"path": os.path.join(self.watched, "never-there")})
        self.assertEqual(a["status"], "failed")
        self.assertIn("no baseline entry", a["error"])
        a = self.act({"path": "relative"})
        self.assertEqual(a["status"], "failed")
        self.assertIn("absolute", a["error"])
        a = self.act({})
        self.assertEqual(a["status"], "succeeded", a)
        self.assertGreaterEqual(a["result"]["accepted"], 1)


if __name__ == "__main__":
    unittest.main()
