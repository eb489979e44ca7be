"""Cross-tenant attempts on every endpoint are denied.

Tenant A gets one object of every kind that has its own URL (an incident with its task,
observable and evidence, an alert, an enrolled agent and an action, a pending approval, rules,
exceptions, suppressions, assets, routes and their delivery, rotas, escalation policies,
playbooks, reports and a run, hunts, intel feeds, reduction policies, users and tokens). Then,
for every route of vigild's route table that takes an {id}, tenant B's administrator and
approver try it on A's object, with a plausible body: nothing may answer 2xx, no answer may
carry A's marker, and afterwards the audit log holds no change to tenant A by B's tokens. A
route added to vigild without an entry here (or a stated reason to skip it) fails the test, so
the sweep keeps covering every endpoint. List routes are tried with ?tenant=A too.
"""

import os
import re
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase, wait_until  # noqa: E402
from test_agents import Agent  # noqa: E402

A, B = "sweep-a", "sweep-b"
MARK = "sweepmark" + uuid.uuid4().hex[:10]
RULE = """title: %s rule
id: %s
logsource:
  product: linux
  category: process_creation
detection:
  sel:
    CommandLine|contains: %s
  condition: sel
level: high
"""

# routes whose {id} names something in the caller's own namespace: B asking about A's rule id
# gets B's own (empty) exceptions of that rule id, never A's
OWN_SCOPE = {"GET /api/v1/rules/{id}/exceptions"}

# {id} routes not swept here, and why (each is covered elsewhere or holds no tenant data)
SKIP = {
    "/api/v1/agent/actions/{id}/result": "agent mTLS identity, not a user token (test_agents)",
    "/api/v1/agent/actions/{id}/upload": "agent mTLS identity, not a user token (test_agents)",
    "/api/v1/attack/techniques/{id}": "the ATT&CK catalogue is shared reference data",
    "/api/v1/sources/{id}": "log sources are keyed by name per tenant (test_syslog)",
    "/api/v1/reduction/evidence/{id}": "reduction evidence per tenant (test_syslog)",
}


def first_id(server, path, key, token):
    """The id of the first object the list at path shows, once it shows one."""
    return wait_until(lambda: (server.request("GET", path, token=token).json().get(key) or [{}])[0].get("id"),
                      "%s of tenant A" % key, timeout=30)


def routes_with_ids():
    with open(os.path.join(REPO, "src", "server", "server.c")) as f:
        src = f.read()
    out = []
    for method, path in re.findall(r'\{EVHTTP_REQ_([A-Z]+), "([^"]*\{id\}[^"]*)"', src):
        if path.startswith("/api/"):
            out.append((method, path))
    return out


class TenantSweepTest(ServerTestCase):
    config_text = "evidence:\n  max_upload_bytes: 64KiB\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        cls.work = tempfile.mkdtemp(prefix="vigil-sweep-")
        for tid in (A, B):
            cls.ok(s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t), 201)
        cls.tok_a = s.make_token(t, "sweep-a-admin", role="tenant_admin", tenant=A)
        cls.tok_b = s.make_token(t, "sweep-b-admin", role="tenant_admin", tenant=B)
        cls.tok_b2 = s.make_token(t, "sweep-b-approver", role="customer_approver", tenant=B)
        ids = cls.ids = {}

        def post(path, body, token=None, status=201, headers=None):
            r = s.request("POST", path, body, token=token or cls.tok_a, headers=headers)
            return cls.ok(r, status)

        # detection: a rule of A, an alert from it, an exception and a suppression
        rule_id = str(uuid.uuid4())
        post("/api/v1/rules?tenant=" + A, RULE % (MARK, rule_id, MARK), token=t,
             headers={"Content-Type": "application/yaml"})
        ids["rules"] = rule_id
        r = s.ingest(cls.tok_a, [{"event": {"category": "process", "type": "start"}, "agent": {"id": "agent-1"},
                                  "host": {"name": "web-" + MARK}, "user": {"name": "alice"},
                                  "process": {"command_line": "bash -c " + MARK, "name": "bash"},
                                  "source": {"ip": "198.51.100.23"}}])
        cls.ok(r, 200)
        ids["alerts"] = first_id(s, "/api/v1/alerts?limit=10", "alerts", cls.tok_a)
        ids["exceptions"] = post("/api/v1/rules/%s/exceptions?tenant=%s" % (rule_id, A),
                                 {"conditions": {"host.name": "never-" + MARK}, "reason": "sweep"},
                                 token=t)["id"]
        ids["suppressions"] = post("/api/v1/suppressions?tenant=" + A, {
            "rule_id": rule_id, "conditions": {"host.name": "x-" + MARK}, "until": int(time.time()) + 3600,
            "reason": "sweep"}, token=t)["id"]
        ids["assets"] = post("/api/v1/assets", {"hostname": "crown-" + MARK, "criticality": "high"})["id"]
        ids["hunts"] = post("/api/v1/hunts", {"yaml": RULE % (MARK, str(uuid.uuid4()), MARK)}, status=202)["id"]
        ids["intel/feeds"] = post("/api/v1/intel/feeds", {"name": "feed-" + MARK, "kind": "txt", "tenant": A,
                                                          "url": os.path.join(REPO, "src", "intel", "testdata",
                                                                              "threatfox.csv")},
                                  token=t)["id"]
        ids["reduction/policies"] = post("/api/v1/reduction/policies", {
            "tenant": A, "action": "drop", "query": "event.action:noise-" + MARK, "description": MARK},
            token=t)["id"]
        # notifications: a route (its delivery is queued by the incident below), rota, ladder
        ids["notify/routes"] = post("/api/v1/notify/routes", {"name": "r-" + MARK, "channel": "webhook",
                                                              "target": "http://127.0.0.1:1/" + MARK})["id"]
        ids["oncall/rotas"] = post("/api/v1/oncall/rotas", {
            "name": "rota-" + MARK, "shift_hours": 24,
            "members": [{"name": "Ann", "email": "ann@%s.test" % MARK}]})["id"]
        ids["escalation-policies"] = post("/api/v1/escalation-policies", {
            "name": "esc-" + MARK, "levels": [{"after_s": 3600, "email": "lead@%s.test" % MARK}]})["id"]
        # the incident and what hangs off it
        inc = post("/api/v1/incidents", {"title": "incident " + MARK, "severity": "high"})
        ids["incidents"] = inc["id"]
        ids["incident-tasks"] = post("/api/v1/incidents/%d/tasks" % inc["id"], {"title": "task " + MARK})["id"]
        ids["incident-observables"] = post("/api/v1/incidents/%d/observables" % inc["id"],
                                           {"type": "ip", "value": "198.51.100.23"})["id"]
        ids["evidence"] = post("/api/v1/incidents/%d/evidence?name=notes.txt" % inc["id"], MARK.encode(),
                               headers={"Content-Type": "application/octet-stream"})["id"]
        ids["blocklist"] = post("/api/v1/blocklist", {"address": "203.0.113.99", "reason": MARK,
                                                      "incident_id": inc["id"]})["id"]
        ids["notify/deliveries"] = first_id(s, "/api/v1/notify/deliveries", "deliveries", cls.tok_a)
        # people and tokens
        ids["users"] = post("/api/v1/users", {"username": "viewer-" + MARK, "password": "viewer-password-1",
                                              "role": "customer_viewer", "tenant": A})["id"]
        toks = s.request("GET", "/api/v1/tokens", token=cls.tok_a).json()["tokens"]
        ids["tokens"] = [x for x in toks if x["name"] == "sweep-a-admin"][0]["id"]
        et = post("/api/v1/enroll-tokens", {"name": "et-" + MARK, "uses": 2, "expires_in_s": 3600})
        ids["enroll-tokens"] = et["id"]
        # an enrolled agent of A and an action queued for it
        agent = Agent(s, cls.work, "sweep" + uuid.uuid4().hex[:6])
        cls.ok(agent.enroll(et["token"]), 201)
        ids["agents"] = agent.agent_id
        ids["actions"] = post("/api/v1/agents/%s/actions" % agent.agent_id,
                              {"type": "query", "params": {"what": "processes"}, "reason": MARK})["id"]
        # semi-managed: a response request that waits for A's approver
        cls.ok(s.request("PATCH", "/api/v1/tenants/" + A, {"mode": "semi"}, token=t), 200)
        rq = post("/api/v1/incidents/%d/actions" % inc["id"], {"agent_id": agent.agent_id, "type": "kill",
                                                               "params": {"pid": 999999}, "reason": MARK})
        assert rq["status"] == "pending_approval", rq
        ids["approvals"] = ids["response-requests"] = rq["id"]
        ids["playbooks"] = post("/api/v1/playbooks", {"name": "pb-" + MARK, "tenant": A,
                                                      "trigger": {"incident_type": "sweep"},
                                                      "tasks": ["contain " + MARK]}, token=t)["id"]
        rep = post("/api/v1/reports", {"name": "rep-" + MARK, "kind": "incidents", "format": "json"})
        ids["reports"] = rep["id"]
        ids["report-runs"] = post("/api/v1/reports/%d/run" % rep["id"], {}, status=202)["id"]
        ids["tenants"] = A

    @classmethod
    def ok(cls, r, status):
        if r.status != status:
            raise AssertionError("setup: expected %d, got %r" % (status, r))
        return r.json() if r.body else None

    def id_for(self, path):
        rest = path[len("/api/v1/"):]
        prefix = rest[:rest.index("/{id}")]
        return self.ids.get(prefix)

    BODIES = {
        "PATCH": {"title": "b was here", "status": "closed", "resolution": "benign", "enabled": False,
                  "name": "b was here", "role": "admin", "criticality": "low", "gateway": True,
                  "mode": "full", "contacts": []},
        "POST": {"body": "b was here", "title": "b was here", "type": "ip", "value": "192.0.2.1",
                 "alert_ids": [], "from": 1, "reason": "b was here", "agent_id": "x", "member": 0,
                 "end": 2000000000, "observable_ids": [], "custody": "transferred", "action": "transferred"},
        "PUT": {"name": "b was here", "targets": {}, "tasks": []},
        "DELETE": None,
        "GET": None,
    }

    def test_every_id_route_refuses_the_other_tenant(self):
        routes = routes_with_ids()
        self.assertGreater(len(routes), 60)
        missing = []
        tried = 0
        for method, path in routes:
            if path in SKIP:
                continue
            oid = self.id_for(path)
            if oid is None:
                missing.append("%s %s" % (method, path))
                continue
            url = path.replace("{id}", str(oid))
            for tok in (self.tok_b, self.tok_b2):
                r = self.server.request(method, url, self.BODIES[method], token=tok)
                tried += 1
                with self.subTest(route="%s %s" % (method, path), token="b" if tok == self.tok_b else "b2"):
                    if "%s %s" % (method, path) in OWN_SCOPE:
                        self.assertEqual(r.status, 200, r)
                        self.assertEqual(r.json()["count"], 0, r)
                    else:
                        self.assertNotIn(r.status // 100, (2, 3), "%s %s answered %r" % (method, url, r))
                        self.assertIn(r.status, (400, 403, 404, 405, 409), r)
                    self.assertNotIn(MARK.encode(), r.body, "A's marker in the answer to %s %s" % (method, url))
        self.assertEqual(missing, [], "routes with no object of tenant A in the sweep (add one, or a reason "
                                      "to SKIP)")
        self.assertGreater(tried, 150)
        # nothing B tried changed tenant A: no audit row of A by B's tokens
        rows = self.server.request("GET", "/api/v1/audit?limit=1000&tenant=" + A, token=self.token).json()["audit"]
        by_b = [x for x in rows if x["actor"] in ("sweep-b-admin", "sweep-b-approver")
                or (x.get("actor_token_id") and x["actor"].startswith("sweep-b"))]
        self.assertEqual(by_b, [])
        # and A's objects are as they were
        inc = self.server.request("GET", "/api/v1/incidents/%d" % self.ids["incidents"], token=self.tok_a).json()
        self.assertEqual(inc["title"], "incident " + MARK)
        self.assertNotIn(inc["status"], ("closed", "resolved"))
        rq = [x for x in self.server.request("GET", "/api/v1/approvals?status=pending",
                                             token=self.tok_a).json()["requests"]
              if x["id"] == self.ids["approvals"]]
        self.assertEqual(len(rq), 1, "A's pending approval was decided or cancelled by B")
        for key in ("oncall/rotas", "reports", "evidence", "assets", "notify/routes"):
            r = self.server.request("GET", "/api/v1/%s/%d" % (key, self.ids[key]) if key != "notify/routes"
                                    else "/api/v1/notify/routes", token=self.tok_a)
            self.assertEqual(r.status, 200, r)

    def test_every_list_refuses_a_tenant_it_cannot_see(self):
        with open(os.path.join(REPO, "src", "server", "server.c")) as f:
            src = f.read()
        lists = sorted(set(p for p in re.findall(r'\{EVHTTP_REQ_GET, "(/api/v1/[^"{]*)"', src)
                           if not p.endswith((".txt", "/health", "/setup", "/me", "/stream"))))
        self.assertGreater(len(lists), 30)
        for path in lists:
            r = self.server.request("GET", path + "?tenant=" + A, token=self.tok_b)
            with self.subTest(path=path):
                self.assertNotEqual(r.status // 100, 2, "%s?tenant=%s answered %r" % (path, A, r)) \
                    if MARK.encode() in r.body else None
                self.assertNotIn(MARK.encode(), r.body, "A's marker in %s?tenant=%s" % (path, A))


if __name__ == "__main__":
    unittest.main()
