"""Intel sharing and blocklist fan-out against the real vigild (docs/intel.md, "Sharing").

1. STIX 2.1 export of an incident, validated against the JSON Schemas of
   tests/integration/schemas/stix/ (written for Vigil from the STIX 2.1 specification's
   normative text: bundle, identity, indicator, report, grouping, marking-definition, common
   properties) plus the rules a schema cannot state (references resolve, modified >= created,
   the TLP ids of the specification); a re-export gives the same ids; TLP red only with
   include_red=1; another tenant's incident is 404.
2. Sharing and the read-only TAXII 2.1 server: share/unshare (red refused, audited); discovery,
   API root, collections, objects paged with limit/next and filtered with added_after and
   match[...], the X-TAXII-Date-Added-* headers, manifest, one object and its versions, HTTP
   Basic with the token as password, 401 without credentials, 406 for a wrong Accept, 405 for a
   write, 404 for another tenant's token.
3. Vigil's own TAXII client (an intel feed of kind taxii) polls this server and the shared
   indicator shows in /api/v1/intel/lookup.
4. Blocklist fan-out to a real enrolled vigil-agent marked as gateway (root and the agent binary
   needed, else skipped): adding an entry queues `block` (the agent's `inet vigil_block` set holds
   the address, and the table has the forward chain), removing it queues `unblock`. The agent
   runs in the host's network namespace: the address is from TEST-NET-3 (RFC 5737), which no
   real traffic uses, and the test removes the table again if it did not exist before.

Needs python3-jsonschema (scripts/deps.sh); the schema checks are skipped with a message when it
is missing.
"""

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import REPO, ServerTestCase  # noqa: E402
from test_agent_response_actions import wait_for  # noqa: E402
from harness import agent_skip_reason as agent_base_skip  # noqa: E402

try:
    import jsonschema
    from referencing import Registry, Resource
except ImportError:  # pragma: no cover - depends on the machine
    jsonschema = None

SCHEMAS = os.path.join(REPO, "tests", "integration", "schemas", "stix")
TAXII = "application/taxii+json;version=2.1"
TLP2 = {"clear": "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
        "green": "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        "amber": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        "amber+strict": "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
        "red": "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"}
TLP1 = {"white": "marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9",
        "green": "marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da",
        "amber": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
        "red": "marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"}


def validator():
    resources = []
    for name in os.listdir(SCHEMAS):
        with open(os.path.join(SCHEMAS, name)) as f:
            doc = json.load(f)
        resources.append((doc["$id"], Resource.from_contents(doc)))
    registry = Registry().with_resources(resources)
    bundle = registry.contents("https://vigil.invalid/schemas/stix/bundle.json")
    return jsonschema.Draft202012Validator(bundle, registry=registry)


def basic(token, user="taxii-client"):
    return "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()


class SharingTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        for tid in ("share-a", "share-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid.upper()}, token=cls.token)
            assert r.status == 201, r
        cls.tok_a = s.make_token(cls.token, "share-a-admin", role="tenant_admin", tenant="share-a")
        cls.tok_b = s.make_token(cls.token, "share-b-admin", role="tenant_admin", tenant="share-b")
        r = s.request("POST", "/api/v1/incidents", {"title": "Beacon to C2", "description": "web-01 beacons"},
                      token=cls.tok_a)
        assert r.status == 201, r
        cls.inc = r.json()["id"]
        cls.obs = {}
        for typ, value, tlp in (("ip", "198.51.100.23", "green"), ("domain", "c2.share.example", "amber"),
                                ("url", "http://c2.share.example/it's\\here", "clear"),
                                ("hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                 "amber+strict"),
                                ("user", "CORP\\mallory", "green"), ("email", "o'brien@share.example", "green"),
                                ("ip", "198.51.100.99", "red"), ("other", "whatever", "clear")):
            r = s.request("POST", "/api/v1/incidents/%d/observables" % cls.inc,
                          {"type": typ, "value": value, "tlp": tlp}, token=cls.tok_a)
            assert r.status in (200, 201), r
            cls.obs[(typ, value)] = r.json().get("id") or r.json().get("observable_id")
        inc = s.request("GET", "/api/v1/incidents/%d" % cls.inc, token=cls.tok_a).json()
        for o in inc["observables"]:
            cls.obs[(o["type"], o["value"])] = o["id"]

    def req(self, method, path, body=None, token=None, expect=None, headers=None):
        r = self.server.request(method, path, body, token=token or self.tok_a, headers=headers)
        if expect is not None:
            self.assertEqual(r.status, expect, r)
        return r

    def taxii(self, path, token=None, expect=200, accept=TAXII, auth=None):
        h = {"Accept": accept} if accept else {}
        h["Authorization"] = auth or basic(token or self.tok_a)
        r = self.server.request("GET", path, headers=h)
        self.assertEqual(r.status, expect, r)
        if r.status != 405:
            self.assertEqual(r.header("Content-Type"), TAXII)
        return r

    # ---- 1. STIX export ----

    def export(self, extra=""):
        r = self.req("GET", "/api/v1/incidents/%d/stix%s" % (self.inc, extra), expect=200)
        self.assertEqual(r.header("Content-Type"), "application/stix+json;version=2.1")
        return r.json()

    def check_bundle(self, b):
        if jsonschema is None:
            self.skipTest("python3-jsonschema is not installed (scripts/deps.sh)")
        errors = sorted(validator().iter_errors(b), key=lambda e: list(e.absolute_path))
        self.assertEqual([], ["%s: %s" % (list(e.absolute_path), e.message) for e in errors])
        ids = [o["id"] for o in b["objects"]]
        self.assertEqual(len(ids), len(set(ids)), "duplicate ids")
        for o in b["objects"]:
            self.assertTrue(o["id"].startswith(o["type"] + "--"), o["id"])
            if "modified" in o:
                self.assertGreaterEqual(o["modified"], o["created"])
            refs = list(o.get("object_refs", [])) + list(o.get("object_marking_refs", []))
            if "created_by_ref" in o:
                refs.append(o["created_by_ref"])
            for ref in refs:
                self.assertIn(ref, ids, "%s refers to %s, not in the bundle" % (o["id"], ref))
            if o["type"] == "marking-definition":
                self.assertIn(o["id"], list(TLP2.values()) + list(TLP1.values()))

    def test_export_validates_against_schema(self):
        b = self.export()
        self.check_bundle(b)
        by_type = {}
        for o in b["objects"]:
            by_type.setdefault(o["type"], []).append(o)
        self.assertEqual(len(by_type["identity"]), 1)
        self.assertEqual(by_type["identity"][0]["name"], "SHARE-A")
        self.assertEqual(len(by_type["report"]), 1)
        patterns = {o["pattern"] for o in by_type["indicator"]}
        self.assertEqual(patterns, {
            "[ipv4-addr:value = '198.51.100.23']",
            "[domain-name:value = 'c2.share.example']",
            "[url:value = 'http://c2.share.example/it\\'s\\\\here']",
            "[file:hashes.'SHA-256' = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855']",
            "[user-account:account_login = 'CORP\\\\mallory']",
            "[email-addr:value = 'o\\'brien@share.example']"})  # red and "other" left out
        green = [o for o in by_type["indicator"] if "198.51.100.23" in o["pattern"]][0]
        self.assertEqual(green["object_marking_refs"], [TLP2["green"], TLP1["green"]])
        self.assertEqual(set(by_type["report"][0]["object_refs"]), {o["id"] for o in by_type["indicator"]})
        # deterministic: the same ids again
        self.assertEqual(json.dumps(self.export(), sort_keys=True), json.dumps(b, sort_keys=True))
        # red only when asked for
        red = self.export("?include_red=1")
        self.check_bundle(red)
        self.assertTrue(any("198.51.100.99" in o.get("pattern", "") for o in red["objects"]))
        self.req("GET", "/api/v1/incidents/%d/stix?include_red=yes" % self.inc, expect=400)
        self.req("GET", "/api/v1/incidents/%d/stix" % self.inc, token=self.tok_b, expect=404)
        self.req("GET", "/api/v1/incidents/999999/stix", expect=404)

    def test_schema_rejects_bad_bundles(self):
        """The schema is not vacuous: it refuses what the specification forbids."""
        if jsonschema is None:
            self.skipTest("python3-jsonschema is not installed (scripts/deps.sh)")
        v = validator()
        good = self.export()
        ind = [o for o in good["objects"] if o["type"] == "indicator"][0]
        for mutate in (lambda o: o.update(created="2026-01-01T00:00:00Z"),       # no milliseconds
                       lambda o: o.update(spec_version="2.0"),
                       lambda o: o.update(id="indicator--not-a-uuid"),
                       lambda o: o.pop("pattern"),
                       lambda o: o.update(x_vigil_score=3),
                       lambda o: o.update(confidence=101)):
            b = json.loads(json.dumps(good))
            mutate([o for o in b["objects"] if o["id"] == ind["id"]][0])
            self.assertTrue(list(v.iter_errors(b)), "accepted a bad bundle")

    # ---- 2. sharing and TAXII ----

    def share(self, *keys, on=True, token=None, expect=200):
        return self.req("POST", "/api/v1/incidents/%d/%s" % (self.inc, "share" if on else "unshare"),
                        {"observable_ids": [self.obs[k] for k in keys]}, token=token, expect=expect)

    def collection_path(self):
        r = self.taxii("/taxii2/share-a/collections/")
        cols = r.json()["collections"]
        self.assertEqual(len(cols), 1)
        self.assertEqual((cols[0]["can_read"], cols[0]["can_write"]), (True, False))
        return "/taxii2/share-a/collections/%s/" % cols[0]["id"]

    def test_taxii_server(self):
        ip, dom, h = ("ip", "198.51.100.23"), ("domain", "c2.share.example"), (
            "hash", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        self.share(("ip", "198.51.100.99"), expect=400)     # TLP red
        self.share(("other", "whatever"), expect=400)       # no pattern
        self.share(ip, token=self.tok_b, expect=404)        # another tenant's incident
        self.req("POST", "/api/v1/incidents/%d/share" % self.inc, {"observable_ids": ["x"]}, expect=400)
        self.req("POST", "/api/v1/incidents/%d/share" % self.inc, {"observable_ids": [987654]}, expect=404)
        self.assertEqual(set(self.share(ip, dom, h).json()["shared"]),
                         {self.obs[ip], self.obs[dom], self.obs[h]})
        audit = self.req("GET", "/api/v1/audit?limit=50", token=self.token, expect=200).json()
        rows = audit.get("entries", audit.get("rows", audit)) if isinstance(audit, dict) else audit
        self.assertIn("incident.share", json.dumps(rows))

        # discovery and API root, Bearer and Basic
        d = self.taxii("/taxii2/").json()
        self.assertTrue(d["api_roots"][0].endswith("/taxii2/share-a/"), d)
        self.taxii("/taxii2/", auth="Bearer " + self.tok_a)
        root = self.taxii("/taxii2/share-a/").json()
        self.assertIn(TAXII, root["versions"])
        coll = self.collection_path()
        self.assertEqual(self.taxii(coll).json()["media_types"], ["application/stix+json;version=2.1"])

        # objects, paged
        p1 = self.taxii(coll + "objects/?limit=2")
        e1 = p1.json()
        self.assertTrue(e1["more"])
        self.assertEqual(len(e1["objects"]), 2)
        self.assertTrue(p1.header("X-TAXII-Date-Added-First"))
        p2 = self.taxii(coll + "objects/?limit=2&next=" + quote(e1["next"])).json()
        self.assertFalse(p2["more"])
        self.assertEqual(len(p2["objects"]), 1)
        all_ids = [o["id"] for o in e1["objects"] + p2["objects"]]
        self.assertEqual(len(set(all_ids)), 3)
        exported = {o["id"] for o in self.export()["objects"]}
        self.assertTrue(set(all_ids) <= exported, "TAXII and export disagree on ids")
        # added_after the first page's last object gives the rest
        last = p1.header("X-TAXII-Date-Added-Last")
        rest = self.taxii(coll + "objects/?added_after=" + quote(last)).json()
        self.assertEqual([o["id"] for o in rest["objects"]], [o["id"] for o in p2["objects"]])
        # filters
        one = self.taxii(coll + "objects/?match%5Bid%5D=" + all_ids[0]).json()
        self.assertEqual([o["id"] for o in one["objects"]], [all_ids[0]])
        self.assertNotIn("objects", self.taxii(coll + "objects/?match[type]=malware").json())
        vers = self.taxii(coll + "objects/?match[version]=all").json()
        self.assertEqual(len(vers["objects"]), 3)
        # manifest, one object, its versions
        man = self.taxii(coll + "manifest/").json()
        self.assertEqual({m["id"] for m in man["objects"]}, set(all_ids))
        for m in man["objects"]:
            self.assertEqual(m["media_type"], "application/stix+json;version=2.1")
        obj = self.taxii(coll + "objects/%s/" % all_ids[1]).json()
        self.assertEqual([o["id"] for o in obj["objects"]], [all_ids[1]])
        v = self.taxii(coll + "objects/%s/versions/" % all_ids[1]).json()
        self.assertEqual(v["versions"], [obj["objects"][0]["modified"]])
        self.taxii(coll + "objects/indicator--00000000-0000-4000-8000-000000000000/", expect=404)
        # the alias names the same collection
        self.assertEqual(len(self.taxii("/taxii2/share-a/collections/shared-indicators/objects/").json()["objects"]), 3)

        # refusals
        self.taxii(coll + "objects/", accept="application/json", expect=406)
        self.taxii(coll + "objects/", accept="application/taxii+json;version=2.0", expect=406)
        self.taxii(coll + "objects/", accept=None)  # no Accept: the server's only type
        self.taxii(coll + "objects/", auth="Basic " + base64.b64encode(b"x:wrong").decode(), expect=401)
        r = self.server.request("GET", coll + "objects/", headers={"Accept": TAXII})
        self.assertEqual(r.status, 401)
        self.assertIn("Basic", r.header("WWW-Authenticate"))
        self.taxii(coll + "objects/", token=self.tok_b, expect=404)
        self.taxii("/taxii2/share-a/", token=self.tok_b, expect=404)
        self.taxii("/taxii2/no-such-tenant/", expect=404)
        self.taxii("/taxii2/share-a/collections/%s/" % uuid.uuid4(), expect=404)
        r = self.server.request("POST", coll + "objects/", {"objects": []},
                                headers={"Accept": TAXII, "Authorization": basic(self.tok_a),
                                         "Content-Type": TAXII})
        self.assertEqual(r.status, 405, r)
        self.taxii(coll + "objects/?limit=0", expect=400)
        self.taxii(coll + "objects/?next=garbage", expect=400)
        self.taxii(coll + "objects/?added_after=yesterday", expect=400)

        # unshare
        self.assertEqual(set(self.share(h, on=False).json()["shared"]), {self.obs[ip], self.obs[dom]})
        self.assertEqual(len(self.taxii(coll + "objects/").json()["objects"]), 2)
        self.share(h)  # back, for the other tests

    # ---- 3. Vigil's TAXII client polls Vigil's TAXII server ----

    def test_vigil_client_polls_vigil_server(self):
        ip = ("ip", "198.51.100.23")
        self.share(ip)
        coll = self.collection_path()
        url = "https://127.0.0.1:%d%s" % (self.server.port, coll)
        r = self.req("POST", "/api/v1/intel/feeds", {
            "name": "vigil-self-" + uuid.uuid4().hex[:6], "kind": "taxii", "url": url, "refresh_s": 3600,
            "insecure": True, "auth": {"username": "vigil", "password": self.tok_a}}, token=self.token)
        self.assertEqual(r.status, 201, r)
        fid = r.json()["id"]

        def refreshed():
            for f in self.req("GET", "/api/v1/intel/feeds", token=self.token, expect=200).json()["feeds"]:
                if f["id"] == fid and f["status"] != "pending" and f["last_refresh"]:
                    return f
            return None
        f = wait_for(refreshed, "the taxii feed to refresh")
        self.assertEqual(f["status"], "ok", f)
        self.assertGreaterEqual(f["indicator_count"], 1, f)
        hit = self.req("GET", "/api/v1/intel/lookup?value=198.51.100.23", token=self.token, expect=200).json()
        self.assertTrue(hit.get("hit"), hit)
        self.assertEqual(hit["hit"]["type"], "ip")


def agent_skip_reason():
    if agent_base_skip():
        return agent_base_skip()
    if shutil.which("nft") is None:
        return "no nft command to read the agent's set"
    return None


@unittest.skipIf(agent_skip_reason(), agent_skip_reason() or "")
class GatewayFanoutTest(ServerTestCase):
    ADDR = "203.0.113.77"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.had_table = subprocess.run(["nft", "list", "table", "inet", "vigil_block"],
                                       capture_output=True).returncode == 0
        cls.tmp = tempfile.mkdtemp(prefix="vigil-sharing-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.agent = harness.EnrolledAgent(cls.server, cls.token, cls.tmp, name="it-gateway")
        cls.addClassCleanup(cls.stop_agent)
        cls.agent_id = cls.agent.agent_id

    @classmethod
    def stop_agent(cls):
        try:
            cls.agent.stop()
        finally:
            subprocess.run(["nft", "delete", "element", "inet", "vigil_block", "block4", "{ %s }" % cls.ADDR],
                           capture_output=True)
            if not cls.had_table:
                subprocess.run(["nft", "delete", "table", "inet", "vigil_block"], capture_output=True)

    def actions(self, type_):
        r = self.server.request("GET", "/api/v1/actions?agent_id=%s" % self.agent_id, token=self.token)
        self.assertEqual(r.status, 200, r)
        return [a for a in r.json()["actions"] if a["type"] == type_]

    def in_set(self):
        r = subprocess.run(["nft", "list", "set", "inet", "vigil_block", "block4"], capture_output=True, text=True)
        return r.returncode == 0 and self.ADDR in r.stdout

    def test_gateway_receives_block_and_unblock(self):
        s = self.server
        # another tenant cannot touch the agent; bad bodies are refused
        s.request("POST", "/api/v1/tenants", {"id": "gw-other", "name": "gw-other"}, token=self.token)
        other = s.make_token(self.token, "gw-other-admin", role="tenant_admin", tenant="gw-other")
        self.assertEqual(s.request("PATCH", "/api/v1/agents/" + self.agent_id, {"gateway": True},
                                   token=other).status, 404)
        self.assertEqual(s.request("PATCH", "/api/v1/agents/" + self.agent_id, {"gateway": "yes"},
                                   token=self.token).status, 400)
        # an entry that exists before the agent becomes a gateway is pushed when it does
        r = s.request("POST", "/api/v1/blocklist", {"address": self.ADDR, "reason": "it fan-out",
                                                    "expires_in_s": 3600}, token=self.token)
        self.assertEqual(r.status, 201, r)
        entry = r.json()["id"]
        self.assertEqual(self.actions("block"), [])
        r = s.request("PATCH", "/api/v1/agents/" + self.agent_id, {"gateway": True}, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["gateway"])
        listed = s.request("GET", "/api/v1/agents", token=self.token).json()
        agents = listed["agents"] if isinstance(listed, dict) else listed
        self.assertTrue([a for a in agents if a["id"] == self.agent_id][0]["gateway"])

        def block_done():
            acts = [a for a in self.actions("block") if a["params"].get("address") == self.ADDR]
            return acts[0] if acts and acts[0]["status"] in ("succeeded", "failed") else None
        a = wait_for(block_done, "the block action")
        self.assertEqual(a["status"], "succeeded", a)
        self.assertTrue(0 < a["params"]["expires_s"] <= 3600, a)
        self.assertTrue(self.in_set(), "the address is not in inet vigil_block block4")
        fwd = subprocess.run(["nft", "list", "chain", "inet", "vigil_block", "forward"], capture_output=True,
                             text=True)
        self.assertEqual(fwd.returncode, 0, fwd.stderr)
        self.assertIn("@block4", fwd.stdout)
        # a second reconciliation queues nothing new
        s.request("PATCH", "/api/v1/agents/" + self.agent_id, {"gateway": True}, token=self.token)
        self.assertEqual(len(self.actions("block")), 1)

        # removal sends unblock
        self.assertEqual(s.request("DELETE", "/api/v1/blocklist/%d" % entry, token=self.token).status, 200)

        def unblock_done():
            acts = [a for a in self.actions("unblock") if a["params"].get("address") == self.ADDR]
            return acts[0] if acts and acts[0]["status"] in ("succeeded", "failed") else None
        a = wait_for(unblock_done, "the unblock action")
        self.assertEqual(a["status"], "succeeded", a)
        self.assertFalse(self.in_set())
        audit = json.dumps(s.request("GET", "/api/v1/audit?limit=200", token=self.token).json())
        self.assertIn("blocklist.push", audit)
        self.assertIn("agent.update", audit)
        metrics = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_blocklist_pushes_total 2", metrics)


if __name__ == "__main__":
    unittest.main()
