"""Incidents end to end through the API: the full lifecycle (create from alerts, acknowledge,
investigate, contain, resolve with a resolution, close, reopen) with comments, tasks and
observables; automatic grouping of new high-severity alerts by host into one incident; merge and
split; sightings of an observable across incidents; every change in the timeline and in the audit
chain, which verifies; and another tenant's incident answered as missing on every endpoint."""

import os
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402
from test_alerts import RULE_FMT, YAML, proc_event, wait_for  # noqa: E402


class IncidentsTest(ServerTestCase):
    config_text = ("incidents:\n  group_by: host\n  min_severity: high\n  group_window_s: 3600\n"
                   "sla:\n  check_interval_s: 1\n")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("inc-a", "inc-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "inc-a-analyst", role="tenant_admin", tenant="inc-a")
        cls.tok_b = s.make_token(t, "inc-b-analyst", role="tenant_admin", tenant="inc-b")
        cls.marker = "inc" + uuid.uuid4().hex[:10]
        rule_id = str(uuid.uuid4())
        r = s.request("POST", "/api/v1/rules?tenant=inc-a",
                      RULE_FMT % {"marker": cls.marker, "id": rule_id}, token=t, headers=YAML)
        assert r.status == 201, r

        def loaded():
            j = s.request("GET", "/api/v1/rules?tenant=inc-a&limit=1000", token=t).json()
            return not j["engine"]["pending"] and any(x["id"] == rule_id and x["loaded"] for x in j["rules"])
        wait_for(loaded, what="rule loaded")

    def req(self, method, path, body=None, token=None, status=200):
        r = self.server.request(method, path, body, token=token or self.tok_a)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def alerts_for(self, host):
        j = self.req("GET", "/api/v1/alerts?limit=1000&host=" + host)
        return j["alerts"]

    def fire(self, host, n=1):
        evs = [proc_event("/bin/sh -c %s-%d" % (self.marker, i), host=host) for i in range(n)]
        r = self.server.ingest(self.tok_a, evs)
        self.assertEqual(r.status, 200, r)
        return wait_for(lambda: self.alerts_for(host), what="alert on " + host)

    def test_grouping_by_host(self):
        # the first alert on a host opens an incident; a second rule's alert on it joins
        a1 = self.fire("grp-1")[0]
        inc = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents?status=active")["incidents"]
                                if i["group_key"] == "host=grp-1"], what="incident for grp-1")[0]
        self.assertEqual(inc["tenant"], "inc-a")
        self.assertEqual(inc["status"], "new")
        self.assertEqual(inc["severity"], "high")
        d = self.req("GET", "/api/v1/incidents/%d" % inc["id"])
        self.assertEqual([a["id"] for a in d["alerts"]], [a1["id"]])
        self.assertIn({"type": "hostname", "value": "grp-1"},
                      [{"type": o["type"], "value": o["value"]} for o in d["observables"]])
        # another host: another incident
        self.fire("grp-2")
        wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                          if i["group_key"] == "host=grp-2"], what="incident for grp-2")
        # metrics count them
        r = self.server.request("GET", "/metrics")
        self.assertIn("vigil_incidents_created_total", r.body.decode())

    def test_lifecycle(self):
        a = self.fire("life-1")[0]
        # grouping made one; detach the alert and build our own incident by hand
        inc0 = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                                 if i["group_key"] == "host=life-1"], what="grouped")[0]
        self.req("POST", "/api/v1/incidents/%d/alerts" % inc0["id"], {"alert_ids": [a["id"]], "detach": True})
        inc = self.req("POST", "/api/v1/incidents", {
            "title": "Shell on life-1", "alert_ids": [a["id"]], "priority": "p2", "tags": ["web", "shell"],
            "description": "suspicious shell"}, status=201)
        iid = inc["id"]
        self.assertEqual(inc["status"], "new")
        self.assertEqual(inc["priority"], "p2")
        self.assertEqual(inc["tags"], ["web", "shell"])
        self.assertEqual(len(inc["alerts"]), 1)
        # a bad change is refused and changes nothing
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "closed"}, status=400)
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "bogus"}, status=400)
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"colour": "red"}, status=400)
        # the lifecycle, stamping milestones
        for st in ("acknowledged", "investigating", "contained"):
            j = self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": st, "owner": "inc-a-analyst",
                                                                 "reason": "working it"})
            self.assertEqual(j["status"], st)
        self.assertIsNotNone(j["acknowledged"])
        self.assertIsNotNone(j["contained"])
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "acknowledged"}, status=409)
        # comments, tasks, observables
        j = self.req("POST", "/api/v1/incidents/%d/comments" % iid, {"body": "confirmed malicious"}, status=201)
        self.assertEqual(j["comments"][0]["body"], "confirmed malicious")
        self.assertEqual(j["comments"][0]["author"], "admin")  # the token's user
        j = self.req("POST", "/api/v1/incidents/%d/tasks" % iid, {"title": "Reimage host"}, status=201)
        tid = j["tasks"][0]["id"]
        self.req("PATCH", "/api/v1/incident-tasks/%d" % tid, {"status": "done"})
        self.req("PATCH", "/api/v1/incident-tasks/%d" % tid, {"status": "maybe"}, status=400)
        j = self.req("POST", "/api/v1/incidents/%d/observables" % iid,
                     {"type": "ip", "value": "203.0.113.77", "tlp": "red", "pap": "amber"}, status=201)
        obs = [o for o in j["observables"] if o["value"] == "203.0.113.77"][0]
        self.assertEqual(obs["tlp"], "red")
        # resolve and close with a resolution, then reopen
        j = self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "resolved", "resolution": "true_positive"})
        self.assertEqual(j["resolution"], "true_positive")
        j = self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "closed"})
        self.assertEqual(j["status"], "closed")
        self.assertIsNotNone(j["closed"])
        self.assertEqual(j["tasks"][0]["status"], "done")
        j = self.req("PATCH", "/api/v1/incidents/%d" % iid, {"status": "investigating", "reason": "reinfection"})
        self.assertIsNone(j["resolution"])
        kinds = [t["kind"] for t in j["timeline"]]
        self.assertEqual(kinds[0], "incident.create")
        for k in ("incident.status", "incident.comment", "incident.task", "incident.observable"):
            self.assertIn(k, kinds)
        # the audit log has the changes with the reason, and the chain verifies
        audit = self.req("GET", "/api/v1/audit?limit=200", token=self.token)["audit"]
        mine = [x for x in audit if x.get("object_type") == "incident" and x.get("object_id") == str(iid)]
        self.assertTrue(any(x.get("reason") == "reinfection" for x in mine), mine[:3])
        v = self.req("POST", "/api/v1/audit/verify", {}, token=self.token)
        self.assertTrue(v["ok"], v)

    def test_merge_split_sightings(self):
        a1 = self.fire("ms-1")[0]
        a2 = self.fire("ms-2")[0]
        i1 = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                               if i["group_key"] == "host=ms-1"], what="ms-1")[0]["id"]
        i2 = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                               if i["group_key"] == "host=ms-2"], what="ms-2")[0]["id"]
        for i in (i1, i2):
            self.req("POST", "/api/v1/incidents/%d/observables" % i, {"type": "domain", "value": "evil.example"},
                     status=201)
        d = self.req("GET", "/api/v1/incidents/%d" % i1)
        dom = [o for o in d["observables"] if o["value"] == "evil.example"][0]
        self.assertEqual([s["incident"] for s in dom["sightings"]], [i2])
        # merge ms-2 into ms-1: both alerts there, ms-2 closed as a duplicate
        j = self.req("POST", "/api/v1/incidents/%d/merge" % i1, {"from": i2})
        self.assertEqual(sorted(a["id"] for a in j["alerts"]), sorted([a1["id"], a2["id"]]))
        j2 = self.req("GET", "/api/v1/incidents/%d" % i2)
        self.assertEqual((j2["status"], j2["resolution"]), ("closed", "duplicate"))
        # split ms-2's alert back out
        j3 = self.req("POST", "/api/v1/incidents/%d/split" % i1, {"alert_ids": [a2["id"]], "title": "ms-2 again"},
                      status=201)
        self.assertEqual(j3["title"], "ms-2 again")
        self.assertEqual([a["id"] for a in j3["alerts"]], [a2["id"]])
        self.req("POST", "/api/v1/incidents/%d/split" % i1, {"alert_ids": [a2["id"]]}, status=404)

    def test_sla_breach_and_metrics(self):
        # a tight acknowledge target for high incidents of tenant inc-a; the default elsewhere
        t = {"targets": {"high": {"acknowledge_s": 2, "contain_s": 3600, "resolve_s": 7200}}}
        j = self.req("PUT", "/api/v1/tenants/inc-a/sla", t, token=self.token)
        self.assertEqual(j["targets"]["high"]["acknowledge_s"], 2)
        self.assertFalse(j["targets"]["high"]["default"])
        self.assertTrue(j["targets"]["critical"]["default"])
        self.req("PUT", "/api/v1/tenants/inc-a/sla", {"targets": {"urgent": {}}}, token=self.token, status=400)
        self.req("GET", "/api/v1/tenants/inc-a/sla", token=self.tok_b, status=404)
        self.req("PUT", "/api/v1/tenants/inc-a/sla", t, token=self.tok_b, status=403)  # tenants:write
        self.fire("sla-1")
        inc = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                                if i["group_key"] == "host=sla-1"], what="incident")[0]
        self.assertEqual(inc["priority"], "p3")

        def breached():
            d = self.req("GET", "/api/v1/incidents/%d" % inc["id"])
            return d if d["sla"]["acknowledge"]["state"] == "breached" and any(
                x["kind"] == "sla.breach" for x in d["timeline"]) else None
        d = wait_for(breached, timeout=30, what="sla breach recorded")
        self.assertEqual(d["priority"], "p2")   # escalated one step
        self.assertEqual(d["sla"]["contain"]["state"], "running")
        # acknowledge late, resolve as a false positive: contain is skipped
        d = self.req("PATCH", "/api/v1/incidents/%d" % inc["id"], {"status": "resolved", "resolution": "false_positive"})
        self.assertEqual(d["sla"]["acknowledge"]["state"], "breached")
        self.assertEqual(d["sla"]["contain"]["state"], "skipped")
        # SOC metrics for the tenant: the breach counted, MTTA and the false-positive rate there
        m = self.req("GET", "/api/v1/soc-metrics?tenant=inc-a")
        tot = m["total"]
        self.assertGreaterEqual(tot["incidents"], 1)
        self.assertGreaterEqual(tot["sla_breaches"]["acknowledge"], 1)
        self.assertIsNotNone(tot["mtta_s"])
        self.assertIsNotNone(tot["mttd_s"])  # alerts keep their first event's time
        self.assertGreater(tot["false_positive_rate"], 0)
        self.req("GET", "/api/v1/soc-metrics?tenant=inc-a", token=self.tok_b, status=403)
        # the provider sees a row per tenant
        mp = self.req("GET", "/api/v1/soc-metrics", token=self.token)
        self.assertIn("inc-a", [x["tenant"] for x in mp["tenants"]])
        r = self.server.request("GET", "/metrics")
        self.assertIn("vigil_sla_breaches_total", r.body.decode())

    def test_xdr_blocklist(self):
        inc = self.req("POST", "/api/v1/incidents", {"title": "Beaconing to C2"}, status=201)
        e = self.req("POST", "/api/v1/blocklist", {"address": "203.0.113.66", "reason": "C2 server",
                                                   "incident_id": inc["id"]}, status=201)
        self.assertEqual((e["address"], e["active"], e["incident_id"]), ("203.0.113.66", True, inc["id"]))
        self.req("POST", "/api/v1/blocklist", {"address": "203.0.113.66"}, status=409)
        self.req("POST", "/api/v1/blocklist", {"address": "10.9.8.7/16", "expires_in_s": 3600}, status=201)
        self.req("POST", "/api/v1/blocklist", {"address": "evil.example"}, status=400)
        # the external dynamic list: plain text, one address per line, any token of the tenant
        r = self.server.request("GET", "/api/v1/blocklist.txt", token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"))
        self.assertEqual(r.body.decode(), "10.9.0.0/16\n203.0.113.66\n")
        rb = self.server.request("GET", "/api/v1/blocklist.txt", token=self.tok_b)
        self.assertEqual(rb.body.decode(), "")
        self.assertEqual(self.server.request("GET", "/api/v1/blocklist.txt").status, 401)
        self.req("DELETE", "/api/v1/blocklist/%d" % e["id"], token=self.tok_b, status=404)
        self.req("DELETE", "/api/v1/blocklist/%d" % e["id"])
        r = self.server.request("GET", "/api/v1/blocklist.txt?tenant=inc-a", token=self.token)
        self.assertEqual(r.body.decode(), "10.9.0.0/16\n")
        d = self.req("GET", "/api/v1/incidents/%d" % inc["id"])
        self.assertIn("blocklist.add", [t["kind"] for t in d["timeline"]])

    def test_cross_tenant(self):
        inc = self.req("POST", "/api/v1/incidents", {"title": "A only"}, status=201)
        iid = inc["id"]
        b = self.tok_b
        self.req("GET", "/api/v1/incidents/%d" % iid, token=b, status=404)
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"title": "x"}, token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/comments" % iid, {"body": "x"}, token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/tasks" % iid, {"title": "x"}, token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/observables" % iid, {"type": "ip", "value": "1.1.1.1"},
                 token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/alerts" % iid, {"alert_ids": [1]}, token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/merge" % iid, {"from": iid}, token=b, status=404)
        self.req("POST", "/api/v1/incidents/%d/split" % iid, {"alert_ids": [1]}, token=b, status=404)
        j = self.req("POST", "/api/v1/incidents/%d/tasks" % iid, {"title": "mine"}, status=201)
        self.req("PATCH", "/api/v1/incident-tasks/%d" % j["tasks"][0]["id"], {"status": "done"}, token=b, status=404)
        j = self.req("POST", "/api/v1/incidents/%d/observables" % iid, {"type": "ip", "value": "9.9.9.9"}, status=201)
        self.req("DELETE", "/api/v1/incident-observables/%d" % j["observables"][0]["id"], token=b, status=404)
        self.assertEqual([i for i in self.req("GET", "/api/v1/incidents", token=b)["incidents"] if i["id"] == iid], [])
        self.req("GET", "/api/v1/incidents?tenant=inc-a", token=b, status=403)
        # B cannot attach A's alerts into its own incident
        a = self.fire("xt-1")[0]
        ib = self.req("POST", "/api/v1/incidents", {"title": "B's"}, token=b, status=201)
        self.req("POST", "/api/v1/incidents/%d/alerts" % ib["id"], {"alert_ids": [a["id"]]}, token=b, status=404)
        # a viewer without incidents:write cannot change anything
        v = self.server.make_token(self.token, "inc-a-viewer", role="customer_viewer", tenant="inc-a")
        self.req("GET", "/api/v1/incidents/%d" % iid, token=v)
        self.req("PATCH", "/api/v1/incidents/%d" % iid, {"title": "x"}, token=v, status=403)


if __name__ == "__main__":
    unittest.main()
