"""Detection and alerts end to end: a Sigma rule posted through the API fires on ingested
process events, matches are deduplicated into one alert whose count grows, the live stream
carries `event: alert`, a bad rule is refused with the loader's reason, disabling a rule stops
new alerts, rules and alerts are tenant-scoped, triage (PATCH) is audited, an alert lists its
events, rules from detect.rules_dir apply to every tenant, and a real SigmaHQ Linux rule fires
on a crafted event (VIG_SHARED_DIR; skipped when absent)."""

import json
import os
import shutil
import sys
import threading
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server, ServerTestCase  # noqa: E402

YAML = {"Content-Type": "application/yaml"}
RA = "/api/v1/rules?tenant=alert-a"     # rules are managed by the provider, per tenant
RP = "/api/v1/rules/%s?tenant=alert-a"

RULE_FMT = """title: Marker %(marker)s in a command line
id: %(id)s
status: experimental
level: high
tags:
  - attack.execution
  - attack.t1059.004
logsource:
  category: process_creation
  product: linux
detection:
  sel:
    CommandLine|contains: '%(marker)s'
  condition: sel
"""


def proc_event(cmd, host="web-1", user="root", **extra):
    ev = {"event": {"category": "process", "type": "start"}, "agent": {"id": "agent-1"},
          "host": {"name": host}, "user": {"name": user},
          "process": {"command_line": cmd, "executable": cmd.split()[0]}}
    ev.update(extra)
    return ev


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = fn()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


class StreamReader(threading.Thread):
    """Reads /api/v1/stream in the background and keeps what arrived."""

    def __init__(self, server, token):
        super().__init__(daemon=True)
        self.conn = server.connection(timeout=60)
        self.conn.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + token})
        self.resp = self.conn.getresponse()
        assert self.resp.status == 200, self.resp.status
        self.buf = b""
        self.lock = threading.Lock()
        self.start()

    def run(self):
        try:
            while True:
                chunk = self.resp.read1(4096)
                if not chunk:
                    return
                with self.lock:
                    self.buf += chunk
        except Exception:  # noqa: BLE001 - the connection ends at close()
            return

    def alerts(self):
        return self.events("alert")

    def events(self, name):
        """The data of every `event: name` that arrived, decoded."""
        with self.lock:
            text = self.buf.decode(errors="replace")
        out = []
        for block in text.split("\n\n"):
            lines = block.split("\n")
            if "event: " + name in lines:
                data = [x[6:] for x in lines if x.startswith("data: ")]
                if data:
                    out.append(json.loads(data[0]))
        return out

    def close(self):
        sock = self.conn.sock or getattr(self.resp.fp, "raw", None)
        try:
            if hasattr(sock, "_sock"):
                sock._sock.shutdown(2)
            elif sock is not None and hasattr(sock, "shutdown"):
                sock.shutdown(2)
        except OSError:
            pass
        self.resp.close()
        self.conn.close()
        self.join(5)


class AlertsTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("alert-a", "alert-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "alert-a-admin", role="tenant_admin", tenant="alert-a")
        cls.tok_b = s.make_token(t, "alert-b-admin", role="tenant_admin", tenant="alert-b")

    # ---- helpers ----

    def post_rule(self, token, marker, rule_id=None, tenant="alert-a"):
        """Posts a rule as the provider admin into tenant (None: the provider's own)."""
        rule_id = rule_id or str(uuid.uuid4())
        token = self.token
        path = "/api/v1/rules" + ("?tenant=" + tenant if tenant else "")
        r = self.server.request("POST", path, RULE_FMT % {"marker": marker, "id": rule_id},
                                token=token, headers=YAML)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["tenant"], tenant or "default")
        self.wait_loaded(token, rule_id, True, tenant)
        return rule_id

    def wait_loaded(self, token, rule_id, loaded, tenant="alert-a"):
        path = "/api/v1/rules?limit=1000" + ("&tenant=" + tenant if tenant else "")

        def check():
            j = self.server.request("GET", path, token=token).json()
            rows = [x for x in j["rules"] if x["id"] == rule_id]
            return not j["engine"]["pending"] and bool(rows) and rows[0]["loaded"] == loaded
        wait_for(check, what="rule %s loaded=%s" % (rule_id, loaded))

    def alerts(self, token, query=""):
        r = self.server.request("GET", "/api/v1/alerts?limit=1000" + query, token=token)
        self.assertEqual(r.status, 200, r)
        return r.json()["alerts"]

    def ingest_ok(self, token, events):
        r = self.server.ingest(token, events)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], len(events), r)

    # ---- tests ----

    def test_rule_fires_dedupes_and_streams(self):
        s = self.server
        marker = "mk" + uuid.uuid4().hex[:10]
        rule_id = self.post_rule(self.tok_a, marker)
        stream = StreamReader(s, self.tok_a)
        stream_b = StreamReader(s, self.tok_b)
        try:
            self.ingest_ok(self.tok_a, [proc_event("/bin/sh -c echo " + marker),
                                        proc_event("/bin/ls -la /tmp"),
                                        {"message": marker, "host": {"name": "web-1"}}])
            rows = [a for a in self.alerts(self.tok_a) if a["rule_id"] == rule_id]
            self.assertEqual(len(rows), 1, rows)
            a = rows[0]
            self.assertEqual(a["count"], 1)
            self.assertEqual(a["tenant"], "alert-a")
            self.assertEqual(a["severity"], "high")
            self.assertEqual(a["status"], "open")
            self.assertEqual(a["title"], "Marker %s in a command line" % marker)
            self.assertEqual(a["host"], "web-1")
            self.assertEqual(a["user"], "root")
            self.assertEqual(a["entity"], {"field": "host.name", "value": "web-1"})
            self.assertEqual(a["techniques"], ["T1059.004"])
            self.assertEqual(len(a["event_ids"]), 1)

            # same rule, same host: the count grows, no second alert
            self.ingest_ok(self.tok_a, [proc_event("/usr/bin/env " + marker + " again")])
            rows = [a for a in self.alerts(self.tok_a) if a["rule_id"] == rule_id]
            self.assertEqual(len(rows), 1, rows)
            self.assertEqual(rows[0]["count"], 2)
            self.assertEqual(len(rows[0]["event_ids"]), 2)
            # another host is another entity: a second alert
            self.ingest_ok(self.tok_a, [proc_event("sh " + marker, host="db-9")])
            rows = [a for a in self.alerts(self.tok_a, "&rule=" + quote(rule_id))]
            self.assertEqual(sorted(x["host"] for x in rows), ["db-9", "web-1"])
            self.assertEqual(len(self.alerts(self.tok_a, "&host=db-9&rule=" + quote(rule_id))), 1)

            # the stream carried the new alert, to A's subscriber only
            got = wait_for(lambda: [x for x in stream.alerts() if x["rule_id"] == rule_id
                                    and x["host"] == "web-1"], what="alert on the stream")
            self.assertEqual(got[0]["count"], 1)
            self.assertEqual(got[0]["tenant"], "alert-a")
            time.sleep(0.3)
            self.assertEqual([x for x in stream_b.alerts() if x["rule_id"] == rule_id], [])
        finally:
            stream.close()
            stream_b.close()

        # the alert with its events, fetched from the store
        aid = a["id"]
        r = s.request("GET", "/api/v1/alerts/%d" % aid, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["id"], aid)
        self.assertEqual(len(j["events"]), 2)
        self.assertTrue(all(marker in e["process"]["command_line"] for e in j["events"]))
        self.assertEqual(sorted(e["event"]["id"] for e in j["events"]), sorted(j["event_ids"]))

        # metrics count what happened
        m = s.request("GET", "/metrics").body.decode()
        for name in ("vigil_rules_loaded", "vigil_detect_events_total", "vigil_detect_matches_total",
                     "vigil_alerts_created_total", "vigil_alerts_deduplicated_total",
                     "vigil_rule_load_failures_total", "vigil_detect_seconds_total"):
            self.assertIn(name + " ", m)
        dedup = [ln for ln in m.splitlines() if ln.startswith("vigil_alerts_deduplicated_total ")]
        self.assertGreaterEqual(int(dedup[0].split()[1]), 1)

    def test_bad_rule_refused_with_reason(self):
        s = self.server
        bad = RULE_FMT % {"marker": "x", "id": str(uuid.uuid4())}
        bad = bad.replace("CommandLine|contains", "CommandLine|nosuchmod")
        r = s.request("POST", RA, bad, token=self.token, headers=YAML)
        self.assertEqual(r.status, 400, r)
        self.assertIn("nosuchmod", r.json()["error"])
        r = s.request("POST", RA, "title: x\nlogsource: {product: linux}\n",
                      token=self.token, headers=YAML)
        self.assertEqual(r.status, 400, r)
        self.assertIn("detection", r.json()["error"])
        r = s.request("POST", RA, "a: [unclosed\n", token=self.token, headers=YAML)
        self.assertEqual(r.status, 400, r)
        two = RULE_FMT % {"marker": "y", "id": str(uuid.uuid4())}
        r = s.request("POST", RA, two + "---\n" + two.replace("id: ", "id: 1"),
                      token=self.token, headers=YAML)
        self.assertEqual(r.status, 400, r)
        r = s.request("POST", RA, RULE_FMT % {"marker": "w", "id": "a/b"}, token=self.token,
                      headers=YAML)
        self.assertEqual(r.status, 400, r)
        self.assertIn("id must not contain", r.json()["error"])
        # duplicate id in the same tenant
        rid = self.post_rule(self.tok_a, "dup" + uuid.uuid4().hex[:8])
        r = s.request("POST", RA, RULE_FMT % {"marker": "z", "id": rid},
                      token=self.token, headers=YAML)
        self.assertEqual(r.status, 409, r)

    def test_disable_enable_delete_and_audit(self):
        s = self.server
        marker = "dis" + uuid.uuid4().hex[:10]
        rule_id = self.post_rule(self.tok_a, marker)
        listed = [x for x in s.request("GET", "/api/v1/rules", token=self.tok_a).json()["rules"]
                  if x["id"] == rule_id][0]
        self.assertEqual(listed["level"], "high")
        self.assertEqual(listed["status"], "experimental")
        self.assertEqual(listed["tags"], ["attack.execution", "attack.t1059.004"])
        self.assertTrue(listed["enabled"])
        self.assertTrue(listed["loaded"])

        r = s.request("PATCH", RP % rule_id, {"enabled": False}, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertFalse(r.json()["enabled"])
        self.wait_loaded(self.tok_a, rule_id, False)
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker)])
        self.assertEqual(self.alerts(self.tok_a, "&rule=" + quote(rule_id)), [])

        r = s.request("PATCH", RP % rule_id, {"enabled": True}, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.wait_loaded(self.tok_a, rule_id, True)
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker)])
        self.assertEqual(len(self.alerts(self.tok_a, "&rule=" + quote(rule_id))), 1)

        self.assertEqual(s.request("PATCH", RP % rule_id, {"enabled": "no"},
                                   token=self.token).status, 400)
        self.assertEqual(s.request("PATCH", RP % "nope", {"enabled": True},
                                   token=self.token).status, 404)
        # the provider's own tenant has no such rule
        self.assertEqual(s.request("PATCH", "/api/v1/rules/" + rule_id, {"enabled": False},
                                   token=self.token).status, 404)
        # tenant admins cannot change rules (rules:write is a provider permission)
        self.assertEqual(s.request("PATCH", RP % rule_id, {"enabled": False},
                                   token=self.tok_a).status, 403)
        self.assertEqual(s.request("DELETE", RP % rule_id, token=self.tok_b).status, 403)

        r = s.request("DELETE", RP % rule_id, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual([x for x in s.request("GET", "/api/v1/rules", token=self.tok_a).json()["rules"]
                          if x["id"] == rule_id], [])
        self.assertEqual(s.request("DELETE", RP % rule_id, token=self.token).status, 404)

        actions = [(x["action"], x.get("object_id")) for x in
                   s.request("GET", "/api/v1/audit?limit=200", token=self.token).json()["audit"]]
        for act in ("rule.create", "rule.update", "rule.delete"):
            self.assertIn((act, rule_id), actions)

    def test_triage_patch(self):
        s = self.server
        marker = "tri" + uuid.uuid4().hex[:10]
        rule_id = self.post_rule(self.tok_a, marker)
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker, host="tri-host")])
        a = self.alerts(self.tok_a, "&rule=" + quote(rule_id))[0]
        path = "/api/v1/alerts/%d" % a["id"]
        r = s.request("PATCH", path, {"status": "acknowledged", "assignee": "alice"}, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["status"], r.json()["assignee"]), ("acknowledged", "alice"))
        self.assertEqual(len(self.alerts(self.tok_a, "&status=acknowledged&rule=" + quote(rule_id))), 1)
        self.assertEqual(s.request("PATCH", path, {"status": "bogus"}, token=self.tok_a).status, 400)
        self.assertEqual(s.request("PATCH", path, {}, token=self.tok_a).status, 400)
        # B cannot see or change it
        self.assertEqual(s.request("GET", path, token=self.tok_b).status, 404)
        self.assertEqual(s.request("PATCH", path, {"status": "closed"}, token=self.tok_b).status, 404)
        # closing it: the next match opens a new alert
        r = s.request("PATCH", path, {"status": "closed", "assignee": None}, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertIsNone(r.json()["assignee"])
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker, host="tri-host")])
        rows = self.alerts(self.tok_a, "&rule=" + quote(rule_id))
        self.assertEqual(sorted(x["status"] for x in rows), ["closed", "open"])
        rows = [x for x in s.request("GET", "/api/v1/audit?limit=200", token=self.token).json()["audit"]
                if x["action"] == "alert.update" and x.get("object_id") == str(a["id"])]
        self.assertEqual(len(rows), 2)
        self.assertEqual(s.request("GET", "/api/v1/alerts?status=weird", token=self.tok_a).status, 400)
        self.assertEqual(s.request("GET", "/api/v1/alerts/abc", token=self.tok_a).status, 404)

    def test_tenant_isolation(self):
        s = self.server
        marker = "iso" + uuid.uuid4().hex[:10]
        rule_id = self.post_rule(self.tok_a, marker)
        # A's rule does not apply to B's events, B sees none of A's alerts
        self.ingest_ok(self.tok_b, [proc_event("sh " + marker)])
        self.assertEqual(self.alerts(self.tok_b, "&rule=" + quote(rule_id)), [])
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker)])
        self.assertEqual(len(self.alerts(self.tok_a, "&rule=" + quote(rule_id))), 1)
        self.assertEqual([x for x in self.alerts(self.tok_b) if x["tenant"] != "alert-b"], [])
        self.assertEqual(s.request("GET", "/api/v1/alerts?tenant=alert-a", token=self.tok_b).status, 403)
        self.assertEqual([x for x in s.request("GET", "/api/v1/rules", token=self.tok_b).json()["rules"]
                          if x["id"] == rule_id], [])
        # the provider sees A's alert, and narrows by tenant
        self.assertEqual(len(self.alerts(self.token, "&tenant=alert-a&rule=" + quote(rule_id))), 1)
        self.assertEqual(self.alerts(self.token, "&tenant=alert-b&rule=" + quote(rule_id)), [])

    def test_provider_rule_applies_to_every_tenant(self):
        marker = "prov" + uuid.uuid4().hex[:10]
        rule_id = self.post_rule(self.token, marker, tenant=None)  # provider tenant
        self.ingest_ok(self.tok_a, [proc_event("sh " + marker)])
        self.ingest_ok(self.tok_b, [proc_event("sh " + marker)])
        rows = self.alerts(self.token, "&rule=" + quote(rule_id))
        self.assertEqual(sorted(x["tenant"] for x in rows), ["alert-a", "alert-b"])
        self.assertEqual(len(self.alerts(self.tok_b, "&rule=" + quote(rule_id))), 1)

    def test_rule_swaps_lose_and_repeat_nothing(self):
        """Rebuilds triggered while batches are ingested: every matching event of a rule that
        stays enabled is counted exactly once."""
        s = self.server
        marker = "swap" + uuid.uuid4().hex[:8]
        rule_id = self.post_rule(self.token, marker)
        other = self.post_rule(self.token, "other" + uuid.uuid4().hex[:8])
        stop = threading.Event()
        flips = [0]

        def flip():
            on = False
            while not stop.is_set():
                r = s.request("PATCH", RP % other, {"enabled": on}, token=self.token)
                assert r.status == 200, r
                flips[0] += 1
                on = not on
                time.sleep(0.02)
        t = threading.Thread(target=flip, daemon=True)
        t.start()
        try:
            batches, per = 25, 8
            for b in range(batches):
                evs = [proc_event("sh %s %d-%d" % (marker, b, i), host="swap-host")
                       for i in range(per)]
                evs.append(proc_event("sh nothing %d" % b, host="swap-host"))
                r = s.ingest(self.tok_a, evs)
                self.assertEqual(r.json()["accepted"], per + 1, r)
        finally:
            stop.set()
            t.join(30)
        self.assertGreater(flips[0], 3)
        rows = self.alerts(self.tok_a, "&rule=" + quote(rule_id))
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["count"], batches * per)
        gen = s.request("GET", RA, token=self.token).json()["engine"]["generation"]
        self.assertGreater(gen, 3)

    def test_sigmahq_linux_rule(self):
        shared = os.environ.get("VIG_SHARED_DIR")
        path = os.path.join(shared or "", "data", "sigma", "rules", "linux", "process_creation",
                            "proc_creation_lnx_base64_decode.yml")
        if not shared or not os.path.exists(path):
            self.skipTest("VIG_SHARED_DIR/sigma not available")
        with open(path) as f:
            text = f.read()
        s = self.server
        r = s.request("POST", RA, text, token=self.token, headers=YAML)
        self.assertEqual(r.status, 201, r)
        rule_id = r.json()["id"]
        self.assertEqual(rule_id, "e2072cab-8c9a-459b-b63c-40ae79e27031")
        self.wait_loaded(self.tok_a, rule_id, True)
        host = "b64-" + uuid.uuid4().hex[:6]
        self.ingest_ok(self.tok_a, [proc_event("/usr/bin/base64 -d /tmp/payload.b64", host=host),
                                    proc_event("/usr/bin/base64 /tmp/plain", host=host)])
        rows = self.alerts(self.tok_a, "&host=" + host)
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual(rows[0]["rule_id"], rule_id)
        self.assertEqual(rows[0]["severity"], "low")
        self.assertEqual(rows[0]["techniques"], ["T1027"])
        self.assertEqual(rows[0]["count"], 1)


class RulesDirTest(unittest.TestCase):
    """detect.rules_dir: rules from files apply to every tenant; a broken file is counted."""

    def test_rules_dir(self):
        s = Server()
        self.addCleanup(s.cleanup)
        rules = os.path.join(s.tmp.name, "rules")
        os.makedirs(os.path.join(rules, "linux"))
        marker = "dir" + uuid.uuid4().hex[:10]
        with open(os.path.join(rules, "linux", "marker.yml"), "w") as f:
            f.write(RULE_FMT % {"marker": marker, "id": "dir-rule-0001"})
        with open(os.path.join(rules, "broken.yaml"), "w") as f:
            f.write("title: broken\n")
        s.config_text = "detect:\n  rules_dir: %s\nalerts:\n  dedupe_window_s: 600\n" % rules
        s.start()
        s.setup()
        tok = s.admin_token()
        r = s.request("POST", "/api/v1/tenants", {"id": "dir-t", "name": "dir-t"}, token=tok)
        self.assertEqual(r.status, 201, r)
        tok_t = s.make_token(tok, "dir-t-admin", role="tenant_admin", tenant="dir-t")
        r = s.ingest(tok_t, [proc_event("sh " + marker), proc_event("sh " + marker)])
        self.assertEqual(r.json()["accepted"], 2, r)
        rows = s.request("GET", "/api/v1/alerts", token=tok_t).json()["alerts"]
        self.assertEqual(len(rows), 1, rows)
        self.assertEqual((rows[0]["rule_id"], rows[0]["count"]), ("dir-rule-0001", 2))
        m = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_rules_loaded 1\n", m)
        self.assertIn("vigil_rule_load_failures_total 1\n", m)
        s.stop()
        shutil.rmtree(rules)


if __name__ == "__main__":
    unittest.main()
