"""Sigma correlation rules live in vigild: a brute-force rule set loaded from detect.rules_dir
(event_count of failed sshd logins per source.ip, chained into a temporal_ordered "failures
then success"), events posted through the API, the correlation alerts appear with the ids of
the events that made them, `generate` decides which referenced rules alert on their own, and
a restart of vigild in the middle of a window keeps the state (DATA/correlation.state)."""

import datetime
import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402

RULES = """title: SSH brute force followed by a successful login
id: corr-bf-then-success
level: critical
correlation:
  type: temporal_ordered
  rules:
    - ssh_bruteforce
    - ssh_success
  group-by:
    - source.ip
  timespan: 10m
  generate: true
---
title: SSH brute force
id: corr-ssh-bruteforce
name: ssh_bruteforce
level: high
correlation:
  type: event_count
  rules:
    - ssh_failed
  group-by:
    - source.ip
  timespan: 10m
  condition:
    gte: 5
---
title: SSH failed login
id: base-ssh-failed
name: ssh_failed
logsource:
  product: linux
  service: sshd
detection:
  sel:
    event.category: authentication
    event.outcome: failure
  condition: sel
---
title: SSH successful login
id: base-ssh-success
name: ssh_success
logsource:
  product: linux
  service: sshd
detection:
  sel:
    event.category: authentication
    event.outcome: success
  condition: sel
"""


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def ssh_event(ip, outcome, user="root"):
    return {"@timestamp": now_iso(), "event": {"id": "ev-" + uuid.uuid4().hex, "category": "authentication",
                                               "outcome": outcome, "dataset": "system.auth"},
            "process": {"name": "sshd"}, "source": {"ip": ip}, "user": {"name": user},
            "host": {"name": "bastion"}, "message": "sshd %s for %s from %s" % (outcome, user, ip)}


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class CorrelationTest(unittest.TestCase):

    def start(self, s):
        s.start()
        if not os.path.exists(os.path.join(s.data_dir, ".it-setup")):
            s.setup()
            open(os.path.join(s.data_dir, ".it-setup"), "w").close()
        return s.admin_token()

    def server(self):
        s = Server()
        self.addCleanup(s.cleanup)
        rules = os.path.join(s.tmp.name, "rules")
        os.makedirs(rules)
        with open(os.path.join(rules, "mr_ssh_bruteforce.yml"), "w") as f:
            f.write(RULES)
        s.config_text = ("detect:\n  rules_dir: %s\nalerts:\n  dedupe_window_s: 600\n"
                         "correlation:\n  snapshot_interval_s: 3600\n" % rules)
        return s

    def alerts(self, s, tok, rule_id):
        r = s.request("GET", "/api/v1/alerts?rule=" + rule_id, token=tok)
        self.assertEqual(r.status, 200, r)
        return r.json()["alerts"]

    def post(self, s, tok, events):
        r = s.ingest(tok, events)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], len(events), r)

    def test_brute_force_then_success(self):
        s = self.server()
        tok = self.start(s)
        fails = [ssh_event("203.0.113.5", "failure") for _ in range(4)]
        self.post(s, tok, fails)
        self.post(s, tok, [ssh_event("198.51.100.9", "failure") for _ in range(4)])  # other group
        time.sleep(0.5)
        self.assertEqual(self.alerts(s, tok, "corr-ssh-bruteforce"), [])
        fifth = ssh_event("203.0.113.5", "failure")
        self.post(s, tok, [fifth])
        bf = wait_for(lambda: self.alerts(s, tok, "corr-ssh-bruteforce"), what="brute-force alert")
        self.assertEqual(len(bf), 1, bf)
        self.assertEqual(bf[0]["severity"], "high")
        ids = [e["event"]["id"] for e in fails + [fifth]]
        self.assertEqual(bf[0]["event_ids"], ids)
        # the failed-login rule only feeds the correlation (generate is false there)
        self.assertEqual(self.alerts(s, tok, "base-ssh-failed"), [])
        # success from the same address completes the ordered correlation
        ok = ssh_event("203.0.113.5", "success")
        self.post(s, tok, [ok])
        outer = wait_for(lambda: self.alerts(s, tok, "corr-bf-then-success"), what="ordered alert")
        self.assertEqual(outer[0]["severity"], "critical")
        self.assertEqual(outer[0]["event_ids"], ids + [ok["event"]["id"]])
        # the outer correlation says generate: true, so its references alert as well
        self.assertEqual(len(self.alerts(s, tok, "base-ssh-success")), 1)
        # linked events are retrievable through the alert
        full = s.request("GET", "/api/v1/alerts/%d" % outer[0]["id"], token=tok)
        self.assertEqual(full.status, 200, full)
        m = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_correlation_rules 2\n", m)
        self.assertIn("vigil_correlation_fired_total 2\n", m)
        s.stop()

    def test_restart_mid_window(self):
        s = self.server()
        tok = self.start(s)
        before = [ssh_event("192.0.2.77", "failure") for _ in range(3)]
        self.post(s, tok, before)
        time.sleep(0.3)
        s.stop()  # SIGTERM: the state is written to DATA/correlation.state
        self.assertTrue(os.path.exists(os.path.join(s.data_dir, "correlation.state")))
        tok = self.start(s)
        after = [ssh_event("192.0.2.77", "failure") for _ in range(2)]
        self.post(s, tok, after)
        bf = wait_for(lambda: self.alerts(s, tok, "corr-ssh-bruteforce"), what="alert after restart")
        self.assertEqual(bf[0]["event_ids"], [e["event"]["id"] for e in before + after])
        m = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_correlation_restored_groups_total 1\n", m)
        s.stop()


if __name__ == "__main__":
    unittest.main()
