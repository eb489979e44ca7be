"""Reports end to end: alerts and incidents seeded through the API (events matching a rule,
automatic grouping), every kind in every format run on demand, downloaded and checked (content,
escaping of hostile host names, Content-Type, Content-Disposition, ETag = sha256 of the bytes);
a definition scheduled for the next minute runs exactly once; the report.ready notification
reaches a local webhook receiver; a customer viewer lists and downloads their tenant's runs but
cannot define or run reports; another tenant's definitions and runs are 404; vigilctl's
`reports` commands."""

import hashlib
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402
from test_alerts import RULE_FMT, YAML, proc_event, wait_for  # noqa: E402

HOSTILE_HTML = "<img src=x onerror=alert(1)>"
HOSTILE_CSV = "=cmd|' /C calc'!A0"
KINDS = ("soc_summary", "incidents", "alerts", "sla")
FORMATS = ("html", "csv", "json")
CTYPES = {"html": "text/html; charset=utf-8", "csv": "text/csv; charset=utf-8", "json": "application/json"}


class Hook(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        Hook.got.append(json.loads(self.rfile.read(n)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class ReportsTest(ServerTestCase):
    config_text = ("reports:\n  check_interval_s: 1\n"
                   "incidents:\n  group_by: host\n  min_severity: high\n  group_window_s: 3600\n")

    @classmethod
    def setUpClass(cls):
        cls.hook = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
        cls.hook.daemon_threads = True
        threading.Thread(target=cls.hook.serve_forever, daemon=True).start()
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("rep-a", "rep-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": "Customer " + tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "rep-a-admin", role="tenant_admin", tenant="rep-a")
        cls.tok_viewer = s.make_token(t, "rep-a-viewer", role="customer_viewer", tenant="rep-a")
        cls.tok_b = s.make_token(t, "rep-b-admin", role="tenant_admin", tenant="rep-b")
        cls.tok_tier1 = s.make_token(t, "rep-tier1", role="tier1")
        # a schedule for the next minute, created first so that its wait overlaps the other tests
        cls.slot = (int(time.time()) // 60 + 1) * 60
        if cls.slot - time.time() < 3:
            cls.slot += 60
        r = s.request("POST", "/api/v1/reports", {"name": "scheduled", "kind": "alerts", "format": "json",
                                                  "period": "last_24h",
                                                  "schedule": time.strftime("daily %H:%M", time.gmtime(cls.slot))},
                      token=cls.tok_a)
        assert r.status == 201, r
        cls.scheduled = r.json()
        # the webhook route for report.ready
        r = s.request("POST", "/api/v1/notify/routes", {
            "name": "reports", "channel": "webhook", "events": "report.ready",
            "target": "http://127.0.0.1:%d/hook" % cls.hook.server_address[1]}, token=cls.tok_a)
        assert r.status == 201, r
        # alerts (hostile host names, one by source address only) grouped into incidents
        marker = "rep" + uuid.uuid4().hex[:10]
        rule_id = str(uuid.uuid4())
        r = s.request("POST", "/api/v1/rules?tenant=rep-a", RULE_FMT % {"marker": marker, "id": rule_id},
                      token=t, headers=YAML)
        assert r.status == 201, r

        def loaded():
            j = s.request("GET", "/api/v1/rules?tenant=rep-a&limit=1000", token=t).json()
            return not j["engine"]["pending"] and any(x["id"] == rule_id and x["loaded"] for x in j["rules"])
        wait_for(loaded, what="rule loaded")
        evs = [proc_event("/bin/sh -c %s-1" % marker, host=HOSTILE_HTML),
               proc_event("/bin/sh -c %s-2" % marker, host=HOSTILE_CSV),
               {"event": {"category": "process", "type": "start"}, "agent": {"id": "agent-1"},
                "source": {"ip": "198.51.100.9"},
                "process": {"command_line": "/bin/sh -c %s-3" % marker, "executable": "/bin/sh"}}]
        r = s.ingest(cls.tok_a, evs)
        assert r.status == 200, r
        wait_for(lambda: len(s.request("GET", "/api/v1/alerts?limit=100", token=cls.tok_a).json()["alerts"]) >= 3,
                 what="three alerts")
        wait_for(lambda: len(s.request("GET", "/api/v1/incidents", token=cls.tok_a).json()["incidents"]) >= 2,
                 what="incidents")
        cls.from_, cls.to = iso(time.time() - 3600), iso(time.time() + 3600)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.hook.shutdown()
        cls.hook.server_close()

    def req(self, method, path, body=None, token=None, status=200):
        r = self.server.request(method, path, body, token=token or self.tok_a)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def define(self, name, kind="soc_summary", fmt="html", token=None, **extra):
        body = {"name": name, "kind": kind, "format": fmt, **extra}
        return self.req("POST", "/api/v1/reports", body, token=token, status=201)

    def run_done(self, report_id, token=None):
        run = self.req("POST", "/api/v1/reports/%d/run" % report_id, {"from": self.from_, "to": self.to},
                       token=token, status=202)
        self.assertEqual(run["status"], "queued")
        return wait_for(lambda: (lambda x: x if x["status"] in ("done", "failed") else None)(
            self.req("GET", "/api/v1/report-runs/%d" % run["id"])), timeout=60, what="run done")

    def download(self, run, token=None):
        r = self.server.request("GET", "/api/v1/report-runs/%d/download" % run["id"], token=token or self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), run["sha256"])
        self.assertEqual(r.header("ETag"), '"%s"' % run["sha256"])
        self.assertEqual(len(r.body), run["size"])
        self.assertEqual(r.header("Content-Type"), CTYPES[run["format"]])
        self.assertTrue(r.header("Content-Disposition").startswith("attachment; filename="))
        return r.body.decode()

    def test_every_kind_and_format(self):
        for kind in KINDS:
            for fmt in FORMATS:
                d = self.define("%s-%s" % (kind, fmt), kind, fmt, recipients=["ciso@customer.test"])
                self.assertEqual(d["tenant"], "rep-a")
                self.assertEqual(d["recipients"], ["ciso@customer.test"])
                run = self.run_done(d["id"])
                self.assertEqual(run["status"], "done", run)
                self.assertEqual((run["progress"], run["kind"], run["format"]), (100, kind, fmt))
                body = self.download(run)
                if fmt == "html":
                    self.assertNotIn("<img", body)
                    self.assertNotIn("<script", body)
                    self.assertIsNone(re.search(r"<[^>]*\s(src|href|on\w+)=", body))  # no loads, no handlers
                    if kind in ("soc_summary", "alerts"):
                        self.assertIn("&lt;img src=x onerror=alert(1)&gt;", body)
                    if kind == "soc_summary":
                        self.assertIn("<svg", body)
                elif fmt == "csv":
                    if kind in ("soc_summary", "alerts"):
                        self.assertIn("\"'=cmd|' /C calc'!A0\"", body)
                    self.assertNotIn("\r\n=cmd", body)
                else:
                    j = json.loads(body)
                    self.assertEqual(j["report"]["kind"], kind)
                    self.assertEqual(j["report"]["tenant_name"], "Customer rep-a")
                    if kind == "soc_summary":
                        self.assertEqual(j["alerts"]["total"], 3)
                        self.assertEqual(j["top_source_ips"][0]["ip"], "198.51.100.9")
                        self.assertGreaterEqual(j["incidents"]["opened"], 2)
                        self.assertIn("mtta_s", j["metrics"])
                        self.assertIn("compliance_pct", j["sla"])
                    elif kind == "alerts":
                        self.assertEqual(len(j["alerts"]), 3)
                    elif kind == "sla":
                        self.assertIn(j["incidents"][0]["acknowledge"]["state"], ("running", "breached"))
                    else:
                        self.assertGreaterEqual(len(j["incidents"]), 2)
        # the definition shows its last run
        d = self.req("GET", "/api/v1/reports/%d" % d["id"])
        self.assertEqual(d["last_run"]["status"], "done")
        self.assertIsNone(d["next_run"])
        # the run objects keep the console's shape
        runs = self.req("GET", "/api/v1/report-runs?report_id=%d&limit=5" % d["id"])["runs"]
        self.assertEqual(set(runs[0]), {"id", "report_id", "tenant", "name", "kind", "format", "status", "progress",
                                        "from", "to", "requested_by", "created", "started", "finished", "size",
                                        "sha256", "error"})

    def test_bad_input_and_changes(self):
        for body, what in (({"name": "x", "kind": "pdf", "format": "html"}, "kind"),
                           ({"name": "x", "kind": "alerts", "format": "xls"}, "format"),
                           ({"name": "x", "kind": "alerts", "format": "csv", "schedule": "hourly"}, "schedule"),
                           ({"name": "x", "kind": "alerts", "format": "csv", "period": "forever"}, "period"),
                           ({"name": "x", "kind": "alerts", "format": "csv", "recipients": ["a b@c"]}, "recipients"),
                           ({"name": "", "kind": "alerts", "format": "csv"}, "name"),
                           ({"name": "x", "kind": "alerts", "format": "csv", "colour": "red"}, "colour")):
            r = self.server.request("POST", "/api/v1/reports", body, token=self.tok_a)
            self.assertEqual(r.status, 400, r)
            self.assertIn(what, r.json()["error"])
        d = self.define("changing", "incidents", "csv")
        self.req("POST", "/api/v1/reports", {"name": "changing", "kind": "alerts", "format": "csv"}, status=409)
        d = self.req("PATCH", "/api/v1/reports/%d" % d["id"], {"schedule": "monthly 31 23:00", "period":
                                                                "previous_month"})
        self.assertEqual(d["schedule"], "monthly 31 23:00")
        self.assertIsNotNone(d["next_run"])
        r = self.server.request("POST", "/api/v1/reports/%d/run" % d["id"], {"from": "yesterday"}, token=self.tok_a)
        self.assertEqual(r.status, 400, r)
        r = self.server.request("POST", "/api/v1/reports/%d/run" % d["id"], {"from": self.to, "to": self.from_},
                                token=self.tok_a)
        self.assertEqual(r.status, 400, r)
        self.req("DELETE", "/api/v1/reports/%d" % d["id"], status=204)
        self.req("GET", "/api/v1/reports/%d" % d["id"], status=404)
        audit = self.req("GET", "/api/v1/audit?limit=500", token=self.token)
        actions = {e["action"] for e in audit.get("entries", audit.get("audit", []))}
        self.assertTrue({"report.create", "report.update", "report.delete"} <= actions, actions)

    def test_permissions_and_tenancy(self):
        d = self.define("perm", "alerts", "csv")
        run = self.run_done(d["id"])
        # a customer viewer reads and downloads their tenant's runs, but neither defines nor runs
        v = self.tok_viewer
        self.assertIn(d["id"], [x["id"] for x in self.req("GET", "/api/v1/reports", token=v)["reports"]])
        self.assertIn(run["id"], [x["id"] for x in self.req("GET", "/api/v1/report-runs", token=v)["runs"]])
        self.download(run, token=v)
        self.req("POST", "/api/v1/reports", {"name": "v", "kind": "alerts", "format": "csv"}, token=v, status=403)
        self.req("PATCH", "/api/v1/reports/%d" % d["id"], {"enabled": False}, token=v, status=403)
        self.req("DELETE", "/api/v1/reports/%d" % d["id"], token=v, status=403)
        self.req("POST", "/api/v1/reports/%d/run" % d["id"], {}, token=v, status=403)
        # another tenant: 404 everywhere, nothing listed
        b = self.tok_b
        for method, path, body in (("GET", "/api/v1/reports/%d" % d["id"], None),
                                   ("PATCH", "/api/v1/reports/%d" % d["id"], {"enabled": False}),
                                   ("DELETE", "/api/v1/reports/%d" % d["id"], None),
                                   ("POST", "/api/v1/reports/%d/run" % d["id"], {}),
                                   ("GET", "/api/v1/report-runs/%d" % run["id"], None),
                                   ("GET", "/api/v1/report-runs/%d/download" % run["id"], None)):
            self.req(method, path, body, token=b, status=404)
        self.assertEqual(self.req("GET", "/api/v1/reports", token=b)["reports"], [])
        self.assertEqual(self.req("GET", "/api/v1/report-runs", token=b)["runs"], [])
        self.req("GET", "/api/v1/report-runs?tenant=rep-a", token=b, status=403)
        # the provider: a tier1 analyst runs a customer's report but does not define one
        self.req("POST", "/api/v1/reports", {"name": "t1", "kind": "alerts", "format": "csv", "tenant": "rep-a"},
                 token=self.tok_tier1, status=403)
        self.assertEqual(self.run_done(d["id"], token=self.tok_tier1)["status"], "done")
        # the provider admin defines one for a customer
        p = self.define("for-customer", "alerts", "json", token=self.token, tenant="rep-b")
        self.assertEqual(p["tenant"], "rep-b")
        self.req("GET", "/api/v1/reports/%d" % p["id"], status=404)

    def test_report_ready_webhook(self):
        d = self.define("hooked", "incidents", "json")
        run = self.run_done(d["id"])
        got = wait_for(lambda: [x for x in Hook.got if x.get("event") == "report.ready"
                                and x["data"]["id"] == run["id"]], what="report.ready webhook")[0]
        self.assertEqual(got["tenant"], "rep-a")
        self.assertEqual(got["data"]["download"], "/api/v1/report-runs/%d/download" % run["id"])
        self.assertEqual(got["data"]["sha256"], run["sha256"])

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl commands not tested")
    def test_vigilctl(self):
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port, VIGIL_TOKEN=self.tok_a,
                   VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))

        def ctl(*args):
            r = subprocess.run([os.environ["VIGILCTL"]] + list(args), env=env, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout
        out = ctl("reports", "add", "ctl weekly", "--kind", "soc_summary", "--format", "html", "--schedule",
                  "weekly mon 06:00", "--recipient", "a@customer.test", "--recipient", "b@customer.test")
        rid = out.split()[1]
        d = self.req("GET", "/api/v1/reports/" + rid)
        self.assertEqual(d["recipients"], ["a@customer.test", "b@customer.test"])
        self.assertIn("ctl weekly", ctl("reports", "list"))
        out = ctl("reports", "run", rid, "--wait")
        self.assertIn("done", out)
        run_id = out.split()[1]
        path = os.path.join(self.server.data_dir, "..", "ctl-report.html")
        self.assertIn("sha256", ctl("reports", "get", run_id, "-o", path))
        with open(path, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(),
                             self.req("GET", "/api/v1/report-runs/" + run_id)["sha256"])
        self.assertIn(run_id, ctl("reports", "runs", "--report", rid))

    def test_z_scheduled_runs_once(self):
        rid = self.scheduled["id"]
        self.assertEqual(self.scheduled["next_run"], iso(self.slot).replace("Z", ".000Z"))

        def runs():
            return self.req("GET", "/api/v1/report-runs?report_id=%d" % rid)["runs"]
        wait_for(lambda: [x for x in runs() if x["status"] == "done"], timeout=self.slot - time.time() + 30,
                 what="the scheduled run")
        time.sleep(2.5)  # more checks pass (check_interval_s: 1): the slot must not run again
        rs = runs()
        self.assertEqual(len(rs), 1, rs)
        self.assertEqual(rs[0]["requested_by"], "system")
        self.assertEqual(rs[0]["to"], iso(self.slot).replace("Z", ".000Z"))
        d = self.req("GET", "/api/v1/reports/%d" % rid)
        self.assertEqual(d["next_run"], iso(self.slot + 86400).replace("Z", ".000Z"))


if __name__ == "__main__":
    unittest.main()
