"""Tenant isolation: a tenant-B token sees none of tenant A's events, alerts, rules, users,
tokens, audit rows or tenant record through every endpoint, and cannot write into A."""

import os
import sys
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

RULE_A = """title: Tenant A secret rule
id: 11111111-2222-3333-4444-555555555555
logsource:
  product: linux
detection:
  sel:
    process.name: secret-a
  condition: sel
"""


class TenancyTest(ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("tenant-a", "tenant-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid.upper()}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "a-admin", role="tenant_admin", tenant="tenant-a")
        cls.tok_b = s.make_token(t, "b-admin", role="tenant_admin", tenant="tenant-b")
        r = s.request("POST", "/api/v1/users", {"username": "alice-a", "password": "alice-password-1",
                                                "role": "customer_viewer", "tenant": "tenant-a"},
                      token=cls.tok_a)
        assert r.status == 201, r
        cls.alice_id = r.json()["id"]
        cls.tag = "secret-" + uuid.uuid4().hex[:8]
        r = s.ingest(cls.tok_a, [{"host": {"name": cls.tag}, "process": {"name": "secret-a"},
                                  "user": {"name": "alice"}, "message": "only for A"}] * 5)
        assert r.status == 200 and r.json()["accepted"] == 5, r
        r = s.request("POST", "/api/v1/rules?tenant=tenant-a", RULE_A, token=t,
                      headers={"Content-Type": "application/yaml"})
        assert r.status == 201, r
        r = s.request("GET", "/api/v1/tokens", token=cls.tok_a)
        cls.tok_a_id = [x for x in r.json()["tokens"] if x["name"] == "a-admin"][0]["id"]

    def get_b(self, path):
        r = self.server.request("GET", path, token=self.tok_b)
        return r

    def test_a_sees_own(self):
        self.assertEqual(self.server.count(self.tok_a, "host.name:" + self.tag), 5)
        r = self.server.request("GET", "/api/v1/rules", token=self.tok_a)
        self.assertEqual(len(r.json()["rules"]), 1)

    def test_events_invisible_to_b(self):
        q = quote("host.name:" + self.tag)
        r = self.get_b("/api/v1/events?q=" + q)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json()["count"], 0)
        for e in self.get_b("/api/v1/events?limit=10000").json()["events"]:
            self.assertEqual(e["tenant"]["id"], "tenant-b")
        self.assertEqual(self.server.count(self.tok_b, "host.name:" + self.tag), 0)
        self.assertEqual(self.server.count(self.tok_b, "process.name:secret-a"), 0)
        r = self.get_b("/api/v1/events/top?field=host.name&size=1000")
        self.assertNotIn(self.tag, [b["key"] for b in r.json()["buckets"]])
        r = self.get_b("/api/v1/events/histogram?interval=1h&q=" + q)
        self.assertEqual(sum(b["count"] for b in r.json()["buckets"]), 0)
        self.assertNotIn(b"only for A", self.get_b("/api/v1/events?limit=10000").body)
        # naming A's tenant explicitly is refused
        for p in ("/api/v1/events?tenant=tenant-a", "/api/v1/events/count?tenant=tenant-a",
                  "/api/v1/events/top?field=host.name&tenant=tenant-a",
                  "/api/v1/events/histogram?tenant=tenant-a", "/api/v1/alerts?tenant=tenant-a",
                  "/api/v1/rules?tenant=tenant-a", "/api/v1/incidents?tenant=tenant-a",
                  "/api/v1/users?tenant=tenant-a", "/api/v1/tokens?tenant=tenant-a",
                  "/api/v1/audit?tenant=tenant-a"):
            r = self.get_b(p)
            self.assertIn(r.status, (403, 404), p)
            self.assertNotIn(self.tag.encode(), r.body)

    def test_lists_invisible_to_b(self):
        self.assertEqual(self.get_b("/api/v1/rules").json()["rules"], [])
        self.assertEqual(self.get_b("/api/v1/alerts").json()["alerts"], [])
        self.assertEqual(self.get_b("/api/v1/incidents").json()["incidents"], [])
        users = self.get_b("/api/v1/users").json()["users"]
        self.assertNotIn("alice-a", [u["username"] for u in users])
        for u in users:
            self.assertEqual(u["tenant"], "tenant-b")
        toks = self.get_b("/api/v1/tokens").json()["tokens"]
        for t in toks:
            self.assertEqual(t["tenant"], "tenant-b")
        rows = self.get_b("/api/v1/audit?limit=1000").json()["audit"]
        for a in rows:
            self.assertEqual(a["tenant"], "tenant-b")
        self.assertNotIn(b"alice-a", self.get_b("/api/v1/audit?limit=1000").body)
        tenants = self.get_b("/api/v1/tenants").json()["tenants"]
        self.assertEqual([t["id"] for t in tenants], ["tenant-b"])
        self.assertEqual(self.get_b("/api/v1/tenants/tenant-a").status, 404)
        self.assertEqual(self.server.request("POST", "/api/v1/audit/verify", token=self.tok_b).status, 403)

    def test_b_cannot_write_into_a(self):
        s = self.server
        before = s.count(self.tok_a, "*")
        r = s.ingest(self.tok_b, [{"tenant": {"id": "tenant-a"}, "host": {"name": self.tag + "-b"}}])
        self.assertEqual(r.status, 200)
        self.assertEqual(s.count(self.tok_a, "*"), before)
        self.assertEqual(s.count(self.tok_a, "host.name:" + self.tag + "-b"), 0)
        self.assertEqual(s.count(self.tok_b, "host.name:" + self.tag + "-b"), 1)
        r = s.request("POST", "/api/v1/users", {"username": "mallory", "password": "mallory-password",
                                                "role": "customer_viewer", "tenant": "tenant-a"},
                      token=self.tok_b)
        self.assertIn(r.status, (403, 404))
        r = s.request("PATCH", "/api/v1/users/%d" % self.alice_id, {"role": "tenant_admin"}, token=self.tok_b)
        self.assertIn(r.status, (403, 404))
        self.assertIn(s.request("DELETE", "/api/v1/users/%d" % self.alice_id, token=self.tok_b).status,
                      (403, 404))
        self.assertIn(s.request("DELETE", "/api/v1/tokens/%d" % self.tok_a_id, token=self.tok_b).status,
                      (403, 404))
        self.assertEqual(s.request("GET", "/api/v1/me", token=self.tok_a).status, 200)
        r = s.request("POST", "/api/v1/tokens", {"name": "x", "role": "tenant_admin", "tenant": "tenant-a"},
                      token=self.tok_b)
        self.assertIn(r.status, (403, 404))
        r = s.request("POST", "/api/v1/rules?tenant=tenant-a", RULE_A.replace("1111", "9999"), token=self.tok_b)
        self.assertIn(r.status, (403, 404))
        r = s.request("PATCH", "/api/v1/tenants/tenant-a", {"name": "pwned"}, token=self.tok_b)
        self.assertIn(r.status, (403, 404))

    def test_provider_sees_all_and_narrows(self):
        s = self.server
        self.assertEqual(s.count(self.token, "host.name:" + self.tag), 5)
        self.assertEqual(s.count(self.token, "host.name:" + self.tag, "&tenant=tenant-a"), 5)
        self.assertEqual(s.count(self.token, "host.name:" + self.tag, "&tenant=tenant-b"), 0)
        # a provider may write into an existing tenant, not into a missing one
        r = s.ingest(self.token, [{"tenant": {"id": "tenant-b"}, "host": {"name": self.tag + "-p"}},
                                  {"tenant": {"id": "no-such-tenant"}, "host": {"name": self.tag + "-p"}}])
        j = r.json()
        self.assertEqual((j["accepted"], j["rejected"]), (1, 1))
        self.assertEqual(s.count(self.tok_b, "host.name:" + self.tag + "-p"), 1)


if __name__ == "__main__":
    unittest.main()
