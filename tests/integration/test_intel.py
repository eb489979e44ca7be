"""Threat intelligence and ATT&CK against the real vigild.

1. A TAXII 2.1 server written here (http.server on loopback, basic auth, two pages joined by
   `more`/`next`, X-TAXII-Date-Added-Last) is polled as a feed; an event whose destination.ip
   is one of its indicators is ingested and the stored event carries threat.enrichments.*;
   a second refresh polls with added_after; lookup and stats see the indicators.
2. Flat feeds read from local files (Feodo CSV fixture), disabled, deleted; a feed whose URL
   cannot be fetched reports status error with its reason; tenancy rules on feed management;
   every change is in the audit log.
3. ATT&CK: the fixture bundle imported through the API, techniques listed and shown with
   mitigations, and the Navigator layer of a tenant scoring a rule tagged attack.t1059.004.
4. vigilctl intel feeds / add / refresh / lookup and attack coverage (when VIGILCTL is built).
"""

import base64
import json
import os
import subprocess
import sys
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlparse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase  # noqa: E402

FIXTURES = os.path.join(REPO, "src", "intel", "testdata")
VIGILCTL = os.environ.get("VIGILCTL", os.path.join(REPO, "build", "asan", "src", "ctl", "vigilctl"))
TAXII_ACCEPT = "application/taxii+json;version=2.1"
TAXII_USER, TAXII_PASSWORD = "feeduser", "feed-secret-1"


def indicator(iid, pattern, name="test indicator", confidence=None):
    o = {"type": "indicator", "spec_version": "2.1", "id": "indicator--" + iid,
         "created": "2024-05-01T00:00:00.000Z", "modified": "2024-05-01T00:00:00.000Z",
         "name": name, "pattern": pattern, "pattern_type": "stix",
         "valid_from": "2024-05-01T00:00:00Z"}
    if confidence is not None:
        o["confidence"] = confidence
    return o


PAGE1 = [indicator("11111111-1111-4111-8111-111111111111", "[ipv4-addr:value = '203.0.113.50']",
                   "Taxii C2", 80)]
PAGE2 = [indicator("22222222-2222-4222-8222-222222222222",
                   "[domain-name:value = 'c2.taxii.example']"),
         indicator("33333333-3333-4333-8333-333333333333",
                   "[ipv4-addr:value = '192.0.2.1' AND network-traffic:dst_port = 443]")]
PAGE_NEW = [indicator("44444444-4444-4444-8444-444444444444", "[ipv4-addr:value = '203.0.113.51']")]


class TaxiiHandler(BaseHTTPRequestHandler):
    """GET /taxii2/api1/collections/c1/objects/ in two pages; later polls with added_after get
    one new object."""

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", TAXII_ACCEPT)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        u = urlparse(self.path)
        q = parse_qs(u.query)
        self.server.requests.append({"path": u.path, "query": q,
                                     "accept": self.headers.get("Accept", "")})
        want = "Basic " + base64.b64encode(("%s:%s" % (TAXII_USER, TAXII_PASSWORD)).encode()).decode()
        if self.headers.get("Authorization") != want:
            return self.reply(401, {"title": "unauthorized"})
        if TAXII_ACCEPT not in self.headers.get("Accept", ""):
            return self.reply(406, {"title": "not acceptable"})
        if u.path != "/taxii2/api1/collections/c1/objects/":
            return self.reply(404, {"title": "no such collection"})
        if "added_after" in q:
            return self.reply(200, {"more": False, "objects": PAGE_NEW},
                              {"X-TAXII-Date-Added-Last": "2024-05-03T00:00:00.000Z"})
        if q.get("next") == ["p2"]:
            return self.reply(200, {"more": False, "objects": PAGE2},
                              {"X-TAXII-Date-Added-Last": "2024-05-02T00:00:00.000Z"})
        return self.reply(200, {"more": True, "next": "p2", "objects": PAGE1},
                          {"X-TAXII-Date-Added-Last": "2024-05-01T00:00:00.000Z"})


def dig(ev, dotted):
    """A field of an event as the API returns it: nested objects or dotted keys."""
    if dotted in ev:
        return ev[dotted]
    node = ev
    parts = dotted.split(".")
    for i, p in enumerate(parts):
        if not isinstance(node, dict):
            return None
        rest = ".".join(parts[i:])
        if rest in node:
            return node[rest]
        node = node.get(p)
    return node


RULE = """title: Intel navigator check %(marker)s
id: %(id)s
status: experimental
level: medium
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


class IntelTest(ServerTestCase):
    config_text = "intel:\n  tick_s: 1\n"

    @classmethod
    def setUpClass(cls):
        cls.taxii = ThreadingHTTPServer(("127.0.0.1", 0), TaxiiHandler)
        cls.taxii.requests = []
        threading.Thread(target=cls.taxii.serve_forever, daemon=True).start()
        cls.addClassCleanup(cls.taxii.shutdown)
        super().setUpClass()

    def req(self, method, path, body=None, token=None, expect=None):
        r = self.server.request(method, path, body, token=token or self.token)
        if expect is not None:
            self.assertEqual(r.status, expect, "%s %s: %r" % (method, path, r))
        return r

    def wait_for(self, fn, what, timeout=60.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            v = fn()
            if v:
                return v
            time.sleep(0.2)
        self.fail("timed out waiting for " + what)

    def feed(self, fid):
        for f in self.req("GET", "/api/v1/intel/feeds", expect=200).json()["feeds"]:
            if f["id"] == fid:
                return f
        return None

    def wait_refreshed(self, fid, since=None):
        def done():
            f = self.feed(fid)
            if f and f["status"] != "pending" and f["last_refresh"] and f["last_refresh"] != since:
                return f
            return None
        return self.wait_for(done, "feed %d to refresh" % fid)

    def test_taxii_feed_enriches_ingest(self):
        url = "http://127.0.0.1:%d/taxii2/api1/collections/c1/" % self.taxii.server_address[1]
        r = self.req("POST", "/api/v1/intel/feeds", {
            "name": "taxii-it", "kind": "taxii", "url": url, "refresh_s": 3600,
            "auth": {"username": TAXII_USER, "password": TAXII_PASSWORD}}, expect=201)
        created = r.json()
        self.assertEqual(created["auth"], {"username": TAXII_USER, "password_set": True,
                                           "token_set": False})
        self.assertNotIn(TAXII_PASSWORD, r.body.decode())
        fid = created["id"]
        f = self.wait_refreshed(fid)
        self.assertEqual(f["status"], "ok", f)
        self.assertEqual(f["indicator_count"], 2)
        self.assertEqual(f["malformed"], 1)
        self.assertIn("unsupported pattern", f["reasons"][0]["example"])
        first = [x for x in self.taxii.requests if "added_after" not in x["query"]]
        self.assertGreaterEqual(len(first), 2)
        self.assertEqual(first[0]["query"].get("limit"), ["1000"])
        self.assertEqual(first[1]["query"].get("next"), ["p2"])
        self.assertIn(TAXII_ACCEPT, first[0]["accept"])

        def in_set():
            j = self.req("GET", "/api/v1/intel/lookup?value=203.0.113.50", expect=200).json()
            return j if j["match"] else None
        hit = self.wait_for(in_set, "the indicator set to hold the TAXII indicators")["hit"]
        self.assertEqual((hit["feed"], hit["type"], hit["confidence"]), ("taxii-it", "ip", 80))
        self.assertEqual(hit["id"], "indicator--11111111-1111-4111-8111-111111111111")
        j = self.req("GET", "/api/v1/intel/lookup?value=www.c2.taxii.example", expect=200).json()
        self.assertTrue(j["match"])
        self.assertEqual(j["hit"]["indicator"], "c2.taxii.example")
        self.assertFalse(self.req("GET", "/api/v1/intel/lookup?value=198.18.1.1",
                                  expect=200).json()["match"])
        self.req("GET", "/api/v1/intel/lookup?value=not%20a%20value", expect=400)
        self.req("GET", "/api/v1/intel/lookup", expect=400)

        marker = "intel" + uuid.uuid4().hex[:10]
        now = int(time.time() * 1000)
        events = [{"@timestamp": now, "event": {"category": "network", "action": marker},
                   "source": {"ip": "10.0.0.5"}, "destination": {"ip": "203.0.113.50", "port": 443},
                   "message": marker + " hit"},
                  {"@timestamp": now, "event": {"category": "network", "action": marker},
                   "source": {"ip": "10.0.0.5"}, "destination": {"ip": "198.18.0.9", "port": 443},
                   "message": marker + " miss"}]
        r = self.server.ingest(self.token, events)
        self.assertEqual(r.status, 200, r)
        found = self.req("GET", "/api/v1/events?q=%s&limit=10" % quote("event.action:" + marker),
                         expect=200).json()
        self.assertEqual(found["count"], 2, found)
        by_msg = {e["message"]: e for e in found["events"]}
        hit_ev, miss_ev = by_msg[marker + " hit"], by_msg[marker + " miss"]
        self.assertEqual(dig(hit_ev, "threat.enrichments.matched.atomic"), "203.0.113.50")
        self.assertEqual(dig(hit_ev, "threat.enrichments.matched.field"), "destination.ip")
        self.assertEqual(dig(hit_ev, "threat.enrichments.matched.type"), "ip")
        self.assertEqual(dig(hit_ev, "threat.enrichments.feed.name"), "taxii-it")
        self.assertEqual(dig(hit_ev, "threat.enrichments.indicator.confidence"), 80)
        self.assertEqual(dig(hit_ev, "threat.enrichments.indicator.id"),
                         "indicator--11111111-1111-4111-8111-111111111111")
        self.assertIsNone(dig(miss_ev, "threat.enrichments.matched.atomic"))
        st = self.req("GET", "/api/v1/intel/stats", expect=200).json()
        self.assertGreaterEqual(st["hit_events"], 1)
        self.assertGreaterEqual(st["indicators"], 2)
        metrics = self.server.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_intel_hit_events_total", metrics)

        # a refresh asked for now polls incrementally with added_after
        self.req("POST", "/api/v1/intel/feeds/%d/refresh" % fid, expect=202)
        f = self.wait_refreshed(fid, since=f["last_refresh"])
        self.assertEqual(f["indicator_count"], 3)
        later = [x for x in self.taxii.requests if "added_after" in x["query"]]
        self.assertEqual(later[-1]["query"]["added_after"], ["2024-05-02T00:00:00.000Z"])
        self.wait_for(lambda: self.req("GET", "/api/v1/intel/lookup?value=203.0.113.51",
                                       expect=200).json()["match"], "the new indicator")

        # wrong credentials: the refresh fails, the previous indicators stay
        self.req("PATCH", "/api/v1/intel/feeds/%d" % fid,
                 {"auth": {"username": TAXII_USER, "password": "wrong"}}, expect=200)
        f = self.wait_refreshed(fid, since=f["last_refresh"])
        self.assertEqual(f["status"], "error")
        self.assertIn("401", f["last_error"])
        self.assertTrue(self.req("GET", "/api/v1/intel/lookup?value=203.0.113.50",
                                 expect=200).json()["match"])

    def test_file_feeds_errors_and_tenancy(self):
        path = os.path.join(FIXTURES, "feodo_ipblocklist.csv")
        f = self.req("POST", "/api/v1/intel/feeds", {"name": "feodo-it", "kind": "csv", "url": path},
                     expect=201).json()
        self.assertIsNone(f["tenant"])
        f = self.wait_refreshed(f["id"])
        self.assertEqual((f["status"], f["indicator_count"], f["malformed"]), ("ok", 4, 2), f)
        self.assertEqual(sorted(r["count"] for r in f["reasons"]), [1, 1])
        self.wait_for(lambda: self.req("GET", "/api/v1/intel/lookup?value=51.68.247.62",
                                       expect=200).json()["match"], "feodo indicators")
        self.req("POST", "/api/v1/intel/feeds", {"name": "feodo-it", "kind": "csv", "url": path},
                 expect=409)
        self.req("POST", "/api/v1/intel/feeds", {"name": "bad name!", "kind": "csv", "url": path},
                 expect=400)
        self.req("POST", "/api/v1/intel/feeds", {"name": "x", "kind": "yara", "url": path},
                 expect=400)
        self.req("POST", "/api/v1/intel/feeds", {"name": "x", "kind": "csv", "url": path,
                                                  "refresh_s": 1}, expect=400)

        # disabling takes the indicators out of the set; deleting removes the feed
        self.req("PATCH", "/api/v1/intel/feeds/%d" % f["id"], {"enabled": False}, expect=200)
        self.wait_for(lambda: not self.req("GET", "/api/v1/intel/lookup?value=51.68.247.62",
                                           expect=200).json()["match"], "disabled feed to leave")
        self.req("PATCH", "/api/v1/intel/feeds/%d" % f["id"], {"name": "renamed"}, expect=400)
        self.req("DELETE", "/api/v1/intel/feeds/%d" % f["id"], expect=200)
        self.req("DELETE", "/api/v1/intel/feeds/%d" % f["id"], expect=404)
        self.req("POST", "/api/v1/intel/feeds/999999/refresh", expect=404)

        # a URL that cannot be fetched
        bad = self.req("POST", "/api/v1/intel/feeds", {
            "name": "unreachable-it", "kind": "txt", "url": "http://127.0.0.1:1/list.txt"},
            expect=201).json()
        bad = self.wait_refreshed(bad["id"])
        self.assertEqual(bad["status"], "error")
        self.assertIn("download failed", bad["last_error"])

        audit = self.req("GET", "/api/v1/audit?limit=200", expect=200).json()["audit"]
        actions = {a.get("action") for a in audit}
        for a in ("intel_feed.create", "intel_feed.update", "intel_feed.delete"):
            self.assertIn(a, actions)

        # tenancy: a customer tenant's admin sees global feeds and its own, and cannot create
        # global feeds or feeds reading the server's files (nor, without rules:write, any)
        self.req("POST", "/api/v1/tenants", {"id": "intel-t", "name": "Intel T"}, expect=201)
        tok = self.server.make_token(self.token, "intel-t-tok", role="tenant_admin", tenant="intel-t")
        r = self.req("GET", "/api/v1/intel/feeds", token=tok)
        if r.status == 200:
            self.assertTrue(all(x["tenant"] in (None, "intel-t") for x in r.json()["feeds"]))
        else:
            self.assertEqual(r.status, 403, r)
        self.req("POST", "/api/v1/intel/feeds", {"name": "t-global", "kind": "txt", "tenant": None,
                                                  "url": "http://127.0.0.1:1/x"},
                 token=tok, expect=403)
        self.req("POST", "/api/v1/intel/feeds", {"name": "t-path", "kind": "txt", "url": path},
                 token=tok, expect=403)
        # the provider creates a feed of the tenant; it is visible with its tenant
        own = self.req("POST", "/api/v1/intel/feeds", {"name": "t-own", "kind": "txt",
                                                        "tenant": "intel-t",
                                                        "url": "http://127.0.0.1:1/x"},
                       expect=201).json()
        self.assertEqual(own["tenant"], "intel-t")
        self.req("POST", "/api/v1/intel/feeds", {"name": "t-none", "kind": "txt",
                                                  "tenant": "no-such-tenant",
                                                  "url": "http://127.0.0.1:1/x"}, expect=409)

    def test_attack_and_navigator(self):
        with open(os.path.join(FIXTURES, "attack_mini.json"), "rb") as f:
            bundle = f.read()
        self.req("GET", "/api/v1/attack/techniques/T1059", expect=404)
        r = self.server.request("POST", "/api/v1/attack/import", bundle, token=self.token,
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["techniques"], r.json()["tactics"]), (3, 2))
        self.req("POST", "/api/v1/attack/import", {"objects": []}, expect=400)
        lst = self.req("GET", "/api/v1/attack/techniques?q=shell", expect=200).json()
        self.assertEqual([t["id"] for t in lst["techniques"]], ["T1059.004"])
        self.assertEqual(lst["techniques"][0]["parent"], "T1059")
        t = self.req("GET", "/api/v1/attack/techniques/t1059", expect=200).json()
        self.assertEqual(t["tactics"], ["execution"])
        self.assertEqual(sorted(m["id"] for m in t["mitigations"]), ["M1038", "M1042"])
        self.req("GET", "/api/v1/attack/techniques/T0000", expect=404)
        self.assertEqual(self.req("GET", "/api/v1/intel/stats", expect=200).json()["attack"]["techniques"], 3)

        marker = "nav" + uuid.uuid4().hex[:8]
        rule_id = str(uuid.uuid4())
        self.server.request("POST", "/api/v1/rules", RULE % {"marker": marker, "id": rule_id},
                            token=self.token, headers={"Content-Type": "application/yaml"})

        def loaded():
            j = self.req("GET", "/api/v1/rules?limit=1000", expect=200).json()
            return any(x["id"] == rule_id and x["loaded"] for x in j["rules"])
        self.wait_for(loaded, "the rule to be live")
        layer = self.req("GET", "/api/v1/attack/navigator?tenant=default", expect=200).json()
        for k in ("name", "versions", "domain", "techniques", "gradient", "description"):
            self.assertIn(k, layer)
        self.assertEqual(layer["domain"], "enterprise-attack")
        self.assertTrue(layer["versions"]["layer"].startswith("4."))
        techs = {t["techniqueID"]: t for t in layer["techniques"]}
        self.assertIn("T1059.004", techs)
        self.assertGreaterEqual(techs["T1059.004"]["score"], 1)
        self.assertIn("Intel navigator check " + marker, techs["T1059.004"]["comment"])
        for t in layer["techniques"]:
            self.assertIsInstance(t["score"], int)
            self.assertRegex(t["techniqueID"], r"^T\d{4}(\.\d{3})?$")
        self.req("GET", "/api/v1/attack/navigator?tenant=nope-such", expect=None)

    @unittest.skipUnless(os.access(VIGILCTL, os.X_OK), "vigilctl not built (VIGILCTL)")
    def test_vigilctl(self):
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port,
                   VIGIL_TOKEN=self.token, VIGIL_INSECURE="1")

        def ctl(*args, check=True):
            p = subprocess.run([VIGILCTL] + list(args), env=env, capture_output=True, text=True,
                               timeout=120)
            if check:
                self.assertEqual(p.returncode, 0, "vigilctl %s: %s%s" % (args, p.stdout, p.stderr))
            return p
        path = os.path.join(FIXTURES, "threatfox.csv")
        out = ctl("--json", "intel", "add", "ctl-threatfox", path, "--kind", "csv").stdout
        fid = json.loads(out)["id"]
        self.wait_refreshed(fid)
        out = ctl("intel", "feeds").stdout
        self.assertIn("ctl-threatfox", out)
        self.assertIn("ok", out)
        ctl("intel", "refresh", str(fid))
        self.wait_for(lambda: json.loads(ctl("--json", "intel", "lookup", "c2.badsite.example")
                                         .stdout)["match"], "lookup through vigilctl")
        out = ctl("intel", "lookup", "c2.badsite.example").stdout
        self.assertIn("ctl-threatfox", out)
        p = ctl("intel", "lookup", "198.18.9.9", check=False)
        self.assertEqual(p.returncode, 0)
        self.assertIn("no match", p.stdout)
        layer = json.loads(ctl("attack", "coverage").stdout)
        self.assertEqual(layer["domain"], "enterprise-attack")


if __name__ == "__main__":
    unittest.main()
