"""Alert management and rule engineering end to end against the real vigild: a rule exception
keeps the excepted host from alerting while another host still alerts (and its hit is
counted); a suppression holds until its time and not after; asset criticality raises the
severity; rules are validated and tested against sample events; a retro-hunt over events
ingested with past timestamps finds them (and creates alerts when asked), a hunt can be
cancelled; every new endpoint refuses another tenant; and vigilctl's rules validate / test /
import / enable / disable and hunt run --wait / show work (when VIGILCTL is set)."""

import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

YAML = {"Content-Type": "application/yaml"}
TA, TB = "dm-a", "dm-b"

RULE_FMT = """title: Marker %(marker)s
id: %(id)s
level: %(level)s
logsource:
  category: process_creation
  product: linux
detection:
  sel:
    CommandLine|contains: '%(marker)s'
  condition: sel
"""


def rule_yaml(marker, rule_id=None, level="medium"):
    return RULE_FMT % {"marker": marker, "id": rule_id or str(uuid.uuid4()), "level": level}


def proc_event(cmd, host="web-1", user="www", ts=None):
    ev = {"event": {"category": "process", "type": "start"}, "agent": {"id": "agent-1"},
          "host": {"name": host}, "user": {"name": user}, "process": {"command_line": cmd}}
    if ts is not None:
        ev["@timestamp"] = ts
    return ev


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def wait_for(fn, timeout=60.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class DetectMgmtTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in (TA, TB):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "dm-a-admin", role="tenant_admin", tenant=TA)
        cls.tok_b = s.make_token(t, "dm-b-admin", role="tenant_admin", tenant=TB)

    # ---- helpers ----

    def req(self, method, path, body=None, token=None, status=200):
        r = self.server.request(method, path, body, token=token or self.token)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def post_rule(self, marker, level="medium", tenant=TA):
        rule_id = str(uuid.uuid4())
        r = self.server.request("POST", "/api/v1/rules?tenant=" + tenant,
                                rule_yaml(marker, rule_id, level), token=self.token, headers=YAML)
        self.assertEqual(r.status, 201, r)

        def loaded():
            j = self.req("GET", "/api/v1/rules?limit=1000&tenant=" + tenant)
            rows = [x for x in j["rules"] if x["id"] == rule_id]
            return not j["engine"]["pending"] and rows and rows[0]["loaded"]
        wait_for(loaded, what="rule loaded")
        return rule_id

    def ingest(self, token, events):
        r = self.server.ingest(token, events)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], len(events), r)

    def alerts(self, rule_id, token=None):
        j = self.req("GET", "/api/v1/alerts?limit=1000&rule=" + quote(rule_id), token=token or self.tok_a)
        return j["alerts"]

    def hunt_done(self, hid, token=None):
        return wait_for(lambda: (lambda h: h if h["state"] not in ("queued", "running") else None)(
            self.req("GET", "/api/v1/hunts/%d" % hid, token=token or self.tok_a)), what="hunt end")

    # ---- exceptions and suppressions ----

    def test_exception_spares_one_host(self):
        marker = "exc" + uuid.uuid4().hex[:8]
        rid = self.post_rule(marker)
        path = "/api/v1/rules/%s/exceptions?tenant=%s" % (rid, TA)
        # bad bodies are refused with a reason
        r = self.server.request("POST", path, {"conditions": "host.name=x"}, token=self.token)
        self.assertEqual(r.status, 400, r)
        self.assertIn("conditions", r.json()["error"])
        exc = self.req("POST", path, {"conditions": {"host.name": "scanner-*"}, "reason": "scanner"},
                       status=201)
        self.assertEqual(exc["rule_id"], rid)
        self.assertEqual(exc["tenant"], TA)
        self.assertEqual(exc["conditions"], {"host.name": ["scanner-*"]})
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="SCANNER-7"),
                                 proc_event("sh " + marker, host="web-3")])
        rows = self.alerts(rid)
        self.assertEqual([a["host"] for a in rows], ["web-3"])
        lst = self.req("GET", path)
        self.assertEqual(lst["count"], 1)
        self.assertEqual(lst["hits"], 1)
        self.assertEqual(lst["exceptions"][0]["hits"], 1)
        # tenant B's listing of the same rule shows none of A's exceptions
        self.assertEqual(self.req("GET", "/api/v1/rules/%s/exceptions" % rid, token=self.tok_b)["count"], 0)
        # deleting it lets the host alert again; both changes are audited
        self.req("DELETE", "/api/v1/exceptions/%d" % exc["id"])
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="scanner-7")])
        self.assertEqual(sorted(a["host"] for a in self.alerts(rid)), ["scanner-7", "web-3"])
        actions = [x["action"] for x in self.req("GET", "/api/v1/audit?limit=200")["audit"]]
        self.assertIn("exception.create", actions)
        self.assertIn("exception.delete", actions)
        metrics = self.server.request("GET", "/metrics").body.decode()
        self.assertRegex(metrics, r"vigil_alerts_excepted_total [1-9]")

    def test_suppression_until(self):
        marker = "sup" + uuid.uuid4().hex[:8]
        rid = self.post_rule(marker)
        r = self.server.request("POST", "/api/v1/suppressions?tenant=" + TA,
                                {"conditions": {"user.name": "patcher"}, "until": iso(time.time() - 60)},
                                token=self.token)
        self.assertEqual(r.status, 400, r)
        self.assertIn("future", r.json()["error"])
        until = time.time() + 4
        sup = self.req("POST", "/api/v1/suppressions?tenant=" + TA,
                       {"conditions": {"user.name": "patcher"}, "rule_id": rid, "until": int(until),
                        "reason": "patch window"}, status=201)
        self.assertEqual(sup["rule_id"], rid)
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="p-1", user="patcher")])
        self.assertEqual(self.alerts(rid), [])
        lst = self.req("GET", "/api/v1/suppressions?tenant=" + TA)
        self.assertEqual([x["hits"] for x in lst["suppressions"] if x["id"] == sup["id"]], [1])
        time.sleep(max(0.0, until - time.time()) + 1.2)
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="p-1", user="patcher")])
        self.assertEqual(len(self.alerts(rid)), 1)
        # expired: gone from the default listing, still in ?all=1
        lst = self.req("GET", "/api/v1/suppressions?tenant=" + TA)
        self.assertNotIn(sup["id"], [x["id"] for x in lst["suppressions"]])
        lst = self.req("GET", "/api/v1/suppressions?all=1&tenant=" + TA)
        self.assertIn(sup["id"], [x["id"] for x in lst["suppressions"]])

    # ---- assets ----

    def test_asset_criticality_raises_severity(self):
        marker = "ast" + uuid.uuid4().hex[:8]
        rid = self.post_rule(marker, level="medium")
        crown = self.req("POST", "/api/v1/assets", {"hostname": "crown-" + marker, "criticality": "critical",
                                                    "owner": "it", "tags": ["pci"]},
                         token=self.tok_a, status=201)
        self.assertEqual(crown["tenant"], TA)
        self.assertEqual(crown["criticality"], "critical")
        web = self.req("POST", "/api/v1/assets", {"ip": "192.0.2.44", "criticality": "high"},
                       token=self.tok_a, status=201)
        self.assertEqual(web["hostname"], "192.0.2.44")
        r = self.server.request("POST", "/api/v1/assets", {"hostname": "x", "criticality": "urgent"},
                                token=self.tok_a)
        self.assertEqual(r.status, 400, r)
        ev_ip = proc_event("sh " + marker, host="ws-" + marker)
        ev_ip["source"] = {"ip": "192.0.2.44"}
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="CROWN-" + marker), ev_ip,
                                 proc_event("sh " + marker, host="plain-" + marker)])
        sev = {a["host"].lower(): a["severity"] for a in self.alerts(rid)}
        self.assertEqual(sev, {"crown-" + marker: "critical", "ws-" + marker: "high",
                               "plain-" + marker: "medium"})
        # lowering the criticality applies to the next alerts
        self.req("PATCH", "/api/v1/assets/%d" % crown["id"], {"criticality": "low"}, token=self.tok_a)
        self.assertEqual(self.req("GET", "/api/v1/assets/%d" % crown["id"], token=self.tok_a)["criticality"], "low")
        self.req("DELETE", "/api/v1/assets/%d" % web["id"], token=self.tok_a)
        self.assertEqual(self.server.request("GET", "/api/v1/assets/%d" % web["id"], token=self.tok_a).status, 404)

    # ---- validate and test ----

    def test_validate_and_test(self):
        good = rule_yaml("vt-marker", level="high")
        j = self.req("POST", "/api/v1/rules/validate", {"yaml": good})
        self.assertTrue(j["ok"])
        self.assertIsNone(j["error"])
        self.assertEqual(j["kind"], "detection")
        self.assertEqual(j["title"], "Marker vt-marker")
        self.assertGreaterEqual(j["atoms"], 1)
        self.assertIn("process.command_line", j["prefilter"])
        j = self.req("POST", "/api/v1/rules/validate",
                     {"yaml": "title: x\nlogsource: {product: linux}\ndetection:\n  s: {a|nope: 1}\n  condition: s\n"})
        self.assertFalse(j["ok"])
        self.assertIn("nope", j["error"])
        r = self.server.request("POST", "/api/v1/rules/validate", {"no": "yaml"}, token=self.token)
        self.assertEqual(r.status, 400, r)
        corr = ("title: many\nname: many\ncorrelation:\n  type: event_count\n  rules: [x]\n"
                "  group-by: [User]\n  timespan: 5m\n  condition: {gte: 3}\n")
        j = self.req("POST", "/api/v1/rules/test", {
            "yaml": good + "---\n" + corr,
            "events": [proc_event("bash -c vt-marker"), proc_event("ls"), "not an object",
                       {"process": {"pid": "x"}}]})
        res = j["results"]
        self.assertEqual([x["title"] for x in res[0]["matched"]], ["Marker vt-marker"])
        self.assertEqual(res[1]["matched"], [])
        self.assertIn("error", res[2])
        self.assertIn("error", res[3])
        self.assertEqual(j["detection_rules"], 1)
        self.assertEqual([x["kind"] for x in j["not_evaluated"]], ["correlation"])
        r = self.server.request("POST", "/api/v1/rules/test", {"yaml": good, "events": {}}, token=self.token)
        self.assertEqual(r.status, 400, r)
        # a correlation over the detection rule runs through the correlation engine
        base_id = str(uuid.uuid4())
        twice = ("title: twice per host\ncorrelation:\n  type: event_count\n  rules: [%s]\n"
                 "  group-by: [Computer]\n  timespan: 10m\n  condition: {gte: 2}\nlevel: high\n" % base_id)
        j = self.req("POST", "/api/v1/rules/test", {
            "yaml": rule_yaml("vt-corr", base_id) + "---\n" + twice,
            "events": [proc_event("a vt-corr", host="h1", ts="2026-01-01T00:00:00Z"),
                       proc_event("b vt-corr", host="h2", ts="2026-01-01T00:00:01Z"),
                       proc_event("c vt-corr", host="h1", ts="2026-01-01T00:00:02Z")]})
        self.assertEqual(j["not_evaluated"], [])
        fired = [x["correlations"] for x in j["results"]]
        self.assertEqual([len(f) for f in fired], [0, 0, 1], j)
        self.assertEqual(fired[2][0]["title"], "twice per host")
        self.assertEqual(fired[2][0]["events"], 2)

    def test_slow_requests_leave_the_loop_free(self):
        """A rule test that takes a while runs on an offload worker: health checks are answered
        while it is in flight, and it is counted."""
        import threading
        # regular expressions with bounded repeats make the matcher's compilation take a while
        rules = "---\n".join(rule_yaml("slow-%03d-marker" % i) + "  re%d:\n    CommandLine|re: "
                              "'[a-z]{1,%d}x[0-9]{2,30}y[^q]{3,20}z%03d'\n" % (i, 20 + i, i)
                              for i in range(60))
        rules = rules.replace("condition: sel\n", "condition: sel or 1 of re*\n")
        events = [proc_event("bash -c slow-%03d-marker and more words" % (i % 75)) for i in range(1000)]
        done = {}

        def slow():
            t0 = time.monotonic()
            done["r"] = self.server.request("POST", "/api/v1/rules/test", {"yaml": rules, "events": events},
                                            token=self.token, timeout=120)
            done["t"] = time.monotonic() - t0
        th = threading.Thread(target=slow)
        th.start()
        answered_during = 0
        while th.is_alive():
            r = self.server.request("GET", "/api/v1/health")
            self.assertEqual(r.status, 200)
            if th.is_alive():
                answered_during += 1
            time.sleep(0.02)
        th.join()
        self.assertEqual(done["r"].status, 200, done["r"])
        res = done["r"].json()["results"]
        self.assertEqual(len(res), 1000)
        self.assertEqual(len(res[7]["matched"]), 1)
        self.assertGreaterEqual(answered_during, 5, "few health answers (%d) while the rule test ran (%.2f s)" % (answered_during, done["t"]))
        m = self.server.request("GET", "/metrics").body.decode()
        self.assertRegex(m, r"vigil_offload_requests_total [1-9]")

    # ---- hunts ----

    def test_hunt_finds_past_events(self):
        marker = "hnt" + uuid.uuid4().hex[:8]
        now = time.time()
        self.ingest(self.tok_a, [proc_event("sh " + marker, host="old-1", ts=iso(now - 3 * 86400)),
                                 proc_event("sh " + marker, host="old-2", ts=iso(now - 2 * 86400)),
                                 proc_event("ls " + marker[:-1], host="old-3", ts=iso(now - 2 * 86400))])
        self.ingest(self.tok_b, [proc_event("sh " + marker, host="b-1", ts=iso(now - 2 * 86400))])
        # the provider names the tenant whose history is hunted
        h = self.req("POST", "/api/v1/hunts?tenant=" + TA,
                     {"yaml": rule_yaml(marker, level="high"), "from": iso(now - 5 * 86400),
                      "to": iso(now), "create_alerts": True}, status=202)
        self.assertIn("process.command_line", h["prefilter"])
        h = self.hunt_done(h["id"])
        self.assertEqual(h["state"], "done", h)
        self.assertEqual(h["hits"], 2)
        self.assertEqual(len(h["hit_ids"]), 2)
        self.assertEqual(h["days_done"], h["days_total"])
        self.assertEqual(h["alerts_created"], 2)
        self.assertEqual(sorted(a["host"] for a in self.alerts(h["rule_id"])), ["old-1", "old-2"])
        # B cannot see, list or cancel it
        self.assertEqual(self.server.request("GET", "/api/v1/hunts/%d" % h["id"], token=self.tok_b).status, 404)
        self.assertNotIn(h["id"], [x["id"] for x in self.req("GET", "/api/v1/hunts", token=self.tok_b)["hunts"]])
        self.assertEqual(self.server.request("POST", "/api/v1/hunts/%d/cancel" % h["id"], token=self.tok_b).status, 404)
        self.assertEqual(self.server.request("POST", "/api/v1/hunts/%d/cancel" % h["id"], token=self.tok_a).status, 409)
        # B's own hunt sees B's event only; alerts need alerts:write (tenant_admin has it)
        hb = self.req("POST", "/api/v1/hunts", {"yaml": rule_yaml(marker), "from": int(now - 5 * 86400)},
                      token=self.tok_b, status=202)
        hb = self.hunt_done(hb["id"], token=self.tok_b)
        self.assertEqual((hb["tenant"], hb["hits"], hb["alerts_created"]), (TB, 1, 0))
        # a stored rule by id
        rid = self.post_rule(marker)
        hr = self.req("POST", "/api/v1/hunts?tenant=" + TA, {"rule_id": rid, "from": int(now - 5 * 86400)},
                      status=202)
        self.assertEqual(hr["rule_id"], rid)
        self.assertEqual(self.hunt_done(hr["id"])["hits"], 2)
        # refusals
        for body in ({"yaml": "title: x\n"}, {}, {"yaml": rule_yaml(marker), "rule_id": rid},
                     {"yaml": rule_yaml(marker), "from": iso(now), "to": iso(now - 60)},
                     {"yaml": rule_yaml(marker), "from": "yesterday"}):
            r = self.server.request("POST", "/api/v1/hunts?tenant=" + TA, body, token=self.token)
            self.assertEqual(r.status, 400, (body, r))
        r = self.server.request("POST", "/api/v1/hunts", {"rule_id": "no-such-rule"}, token=self.tok_a)
        self.assertEqual(r.status, 404, r)
        r = self.server.request("POST", "/api/v1/hunts", {"yaml": rule_yaml(marker), "tenant": TA},
                                token=self.tok_b)
        self.assertEqual(r.status, 403, r)

    def test_hunt_cancel(self):
        marker = "cnl" + uuid.uuid4().hex[:8]
        now = time.time()
        # enough candidates that the first hunt is still busy when the second is cancelled
        events = [proc_event("sh %s %d" % (marker, i), host="h%d" % (i % 50), ts=iso(now - 86400 - i))
                  for i in range(3000)]
        for i in range(0, len(events), 1000):
            self.ingest(self.tok_a, events[i:i + 1000])
        regex_rule = ("title: every process\nlogsource: {product: linux}\ndetection:\n"
                      "  s: {CommandLine|re: '^sh " + marker + " [0-9]+$'}\n  condition: s\n")
        h1 = self.req("POST", "/api/v1/hunts", {"yaml": regex_rule, "from": int(now - 3 * 86400)},
                      token=self.tok_a, status=202)
        self.assertEqual(h1["prefilter"], "")
        h2 = self.req("POST", "/api/v1/hunts", {"yaml": regex_rule, "from": int(now - 3 * 86400)},
                      token=self.tok_a, status=202)
        c = self.req("POST", "/api/v1/hunts/%d/cancel" % h2["id"], token=self.tok_a)
        self.assertIn(c["state"], ("cancelled", "running"))
        self.assertEqual(self.hunt_done(h2["id"])["state"], "cancelled")
        done = self.hunt_done(h1["id"])
        self.assertEqual(done["state"], "done")
        self.assertEqual(done["hits"], 3000)
        self.assertEqual(len(done["hit_ids"]), 1000)
        self.assertTrue(done["hit_ids_truncated"])
        actions = [x["action"] for x in self.req("GET", "/api/v1/audit?limit=200")["audit"]]
        self.assertIn("hunt.cancel", actions)

    # ---- tenancy ----

    def test_cross_tenant_denial(self):
        asset = self.req("POST", "/api/v1/assets", {"hostname": "a-only-" + uuid.uuid4().hex[:6]},
                         token=self.tok_a, status=201)
        sup = self.req("POST", "/api/v1/suppressions?tenant=" + TA,
                       {"conditions": {"host.name": "x"}, "until": int(time.time() + 3600)}, status=201)
        exc = self.req("POST", "/api/v1/rules/some-rule/exceptions?tenant=" + TA,
                       {"conditions": {"host.name": "x"}}, status=201)
        b = self.tok_b
        checks = [
            ("GET", "/api/v1/assets?tenant=" + TA, None, 403),
            ("POST", "/api/v1/assets?tenant=" + TA, {"hostname": "evil"}, 403),
            ("GET", "/api/v1/assets/%d" % asset["id"], None, 404),
            ("PATCH", "/api/v1/assets/%d" % asset["id"], {"criticality": "low"}, 404),
            ("DELETE", "/api/v1/assets/%d" % asset["id"], None, 404),
            ("GET", "/api/v1/suppressions?tenant=" + TA, None, 403),
            ("POST", "/api/v1/suppressions", {"conditions": {"host.name": "x"}, "until": int(time.time() + 60)}, 403),
            ("DELETE", "/api/v1/suppressions/%d" % sup["id"], None, 403),
            ("GET", "/api/v1/rules/some-rule/exceptions?tenant=" + TA, None, 403),
            ("POST", "/api/v1/rules/some-rule/exceptions", {"conditions": {"host.name": "x"}}, 403),
            ("DELETE", "/api/v1/exceptions/%d" % exc["id"], None, 403),
            ("GET", "/api/v1/hunts?tenant=" + TA, None, 403),
        ]
        for method, path, body, want in checks:
            r = self.server.request(method, path, body, token=b)
            self.assertEqual(r.status, want, (method, path, r))
        # what B lists holds nothing of A's
        self.assertNotIn(asset["id"], [x["id"] for x in self.req("GET", "/api/v1/assets", token=b)["assets"]])
        self.assertEqual([x for x in self.req("GET", "/api/v1/suppressions", token=b)["suppressions"]
                          if x["tenant"] == TA], [])
        # A's objects are all still there
        self.assertEqual(self.req("GET", "/api/v1/assets/%d" % asset["id"], token=self.tok_a)["id"], asset["id"])
        # (suppressions and exceptions need rules:write, which customer roles lack); the
        # provider deletes them
        self.req("DELETE", "/api/v1/suppressions/%d" % sup["id"])
        self.req("DELETE", "/api/v1/exceptions/%d" % exc["id"])

    # ---- vigilctl ----

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl commands not tested")
    def test_vigilctl(self):
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port, VIGIL_TOKEN=self.token,
                   VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))

        def ctl(*args):
            return subprocess.run([os.environ["VIGILCTL"]] + list(args), env=env, capture_output=True,
                                  text=True, timeout=180)
        marker = "ctl" + uuid.uuid4().hex[:8]
        with tempfile.TemporaryDirectory() as d:
            good = os.path.join(d, "a_good.yml")
            bad = os.path.join(d, "b_bad.yaml")
            evf = os.path.join(d, "events.ndjson")
            rid = str(uuid.uuid4())
            with open(good, "w") as f:
                f.write(rule_yaml(marker, rid))
            with open(bad, "w") as f:
                f.write("title: broken\nlogsource: {product: linux}\ndetection:\n  condition: nothing\n")
            with open(os.path.join(d, "notes.txt"), "w") as f:
                f.write("not a rule")
            with open(evf, "w") as f:
                f.write(json.dumps(proc_event("sh " + marker)) + "\n\n" + json.dumps(proc_event("ls")) + "\n")
            p = ctl("rules", "validate", good)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("ok: detection rule", p.stdout)
            p = ctl("rules", "validate", bad)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("invalid:", p.stdout)
            p = ctl("rules", "test", good, evf)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("event 1: matched 'Marker %s'" % marker, p.stdout)
            self.assertIn("event 2: no match", p.stdout)
            p = ctl("rules", "import", d, "--tenant", TA)
            self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
            self.assertIn("a_good.yml: loaded (id %s)" % rid, p.stdout)
            self.assertIn("b_bad.yaml: refused:", p.stdout)
            self.assertNotIn("notes.txt", p.stdout)
            self.assertIn("1 loaded, 1 refused", p.stdout)
            p = ctl("rules", "disable", rid, "--tenant", TA)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            rows = [x for x in self.req("GET", "/api/v1/rules?limit=1000&tenant=" + TA)["rules"] if x["id"] == rid]
            self.assertFalse(rows[0]["enabled"])
            p = ctl("rules", "enable", rid, "--tenant", TA)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.ingest(self.tok_a, [proc_event("sh " + marker, ts=iso(time.time() - 86400))])
            p = ctl("hunt", "run", good, "--from", "-3d", "--tenant", TA, "--wait")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn(": done", p.stdout)
            self.assertIn("hits: 1", p.stdout)
            hid = p.stdout.split(":")[0].split()[1]
            p = ctl("hunt", "show", hid)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("hit: ", p.stdout)
            p = ctl("hunt", "show", "99999")
            self.assertEqual(p.returncode, 1)
        # the alert policy from the command line
        host = "ctl-host-" + marker
        p = ctl("assets", "add", host, "--criticality", "critical", "--tenant", TA)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("(critical)", p.stdout)
        p = ctl("assets", "list", "--tenant", TA)
        self.assertIn(host, p.stdout)
        aid = [x.split("\t")[0] for x in p.stdout.splitlines() if host in x][0]
        p = ctl("exceptions", "add", rid, "host.name=skip-*", "user.name=a", "user.name=b",
                "--reason", "lab", "--tenant", TA)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        eid = p.stdout.split()[1]
        p = ctl("exceptions", "list", rid, "--tenant", TA)
        self.assertIn('"user.name":["a","b"]', p.stdout)
        p = ctl("exceptions", "add", rid, "nonsense", "--tenant", TA)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        p = ctl("suppressions", "add", "host.name=" + host, "--for", "1h", "--rule", rid, "--tenant", TA)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        sid = p.stdout.split()[1]
        p = ctl("suppressions", "list", "--tenant", TA)
        self.assertIn(host, p.stdout)
        p = ctl("suppressions", "add", "host.name=x", "--tenant", TA)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        for args in (("suppressions", "delete", sid), ("exceptions", "delete", eid), ("assets", "delete", aid)):
            p = ctl(*args)
            self.assertEqual(p.returncode, 0, (args, p.stdout + p.stderr))
        self.assertEqual(ctl("assets", "delete", aid).returncode, 1)


if __name__ == "__main__":
    unittest.main()
