"""Incident evidence end to end: a raw upload stored by its SHA-256 (a second upload of the same
bytes is the same item), listed with its incident, downloaded with a matching SHA-256, verified,
a custody step noted by hand; each step a custody entry, an audit row and a timeline row, and the
audit chain still verifies. Then the stored file is changed on disk: verify reports sha256_ok
false and the download fails with 500 (counted in /metrics). An event search exported as NDJSON
evidence; bounds and bad input; another tenant's users get 404 on every evidence endpoint and a
customer_viewer cannot add evidence. With root and the agent binary, the file a real vigil-agent
collected is attached to an incident with its SHA-256 checked again.
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from test_agent_response_actions import AgentResponseActionsTest  # noqa: E402
from test_alerts import wait_for  # noqa: E402

OCTET = {"Content-Type": "application/octet-stream"}


class EvidenceTest(harness.ServerTestCase):
    config_text = "evidence:\n  max_upload_bytes: 64KiB\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("ev-a", "ev-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "ev-a-admin", role="tenant_admin", tenant="ev-a")
        cls.view_a = s.make_token(t, "ev-a-viewer", role="customer_viewer", tenant="ev-a")
        cls.tok_b = s.make_token(t, "ev-b-admin", role="tenant_admin", tenant="ev-b")
        cls.view_b = s.make_token(t, "ev-b-viewer", role="customer_viewer", tenant="ev-b")

    def req(self, method, path, body=None, token=None, status=200, headers=None):
        r = self.server.request(method, path, body, token=token or self.tok_a, headers=headers)
        self.assertEqual(r.status, status, r)
        return r

    def incident(self, token=None):
        return self.req("POST", "/api/v1/incidents", {"title": "evidence " + uuid.uuid4().hex[:6]},
                        token=token, status=201).json()["id"]

    def upload(self, inc, data, name="dump.bin", token=None, status=201):
        return self.req("POST", "/api/v1/incidents/%d/evidence?name=%s&description=%s"
                        % (inc, quote(name), quote("memory dump of web-1")),
                        data, token=token, status=status, headers=OCTET)

    def actions(self, ev_id):
        return [c["action"] for c in self.req("GET", "/api/v1/evidence/%d" % ev_id).json()["custody"]]

    def test_upload_download_verify_and_tamper(self):
        inc = self.incident()
        data = os.urandom(40000) + b"evidence"
        sha = hashlib.sha256(data).hexdigest()
        item = self.upload(inc, data).json()
        self.assertEqual(item["sha256"], sha)
        self.assertEqual(item["size"], len(data))
        self.assertEqual(item["kind"], "upload")
        self.assertEqual(item["name"], "dump.bin")
        self.assertEqual(item["incident_id"], inc)
        self.assertEqual(item["tenant"], "ev-a")
        self.assertEqual(item["media_type"], "application/octet-stream")
        self.assertEqual(item["description"], "memory dump of web-1")
        self.assertEqual([c["action"] for c in item["custody"]], ["acquired", "attached"])
        # the same bytes again: the same item, nothing new
        again = self.upload(inc, data, status=200).json()
        self.assertEqual(again["id"], item["id"])
        self.assertEqual(len(again["custody"]), 2)
        # listed, also with the incident
        lst = self.req("GET", "/api/v1/incidents/%d/evidence" % inc).json()
        self.assertEqual([e["id"] for e in lst["evidence"]], [item["id"]])
        got = self.req("GET", "/api/v1/incidents/%d" % inc).json()
        self.assertEqual([e["sha256"] for e in got["evidence"]], [sha])
        # download: the bytes, their hash, and a custody entry
        r = self.req("GET", "/api/v1/evidence/%d/download" % item["id"])
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), sha)
        self.assertEqual(r.header("X-Vigil-Sha256"), sha)
        self.assertIn('filename="dump.bin"', r.header("Content-Disposition"))
        # verify and a hand-noted transfer
        v = self.req("POST", "/api/v1/evidence/%d/verify" % item["id"]).json()
        self.assertEqual((v["ok"], v["sha256_ok"], v["chain_ok"]), (True, True, True))
        self.assertEqual(v["custody_entries"], 3)
        self.req("POST", "/api/v1/evidence/%d/custody" % item["id"],
                 {"action": "transferred", "detail": "copy to national CERT, case 4711"})
        self.req("POST", "/api/v1/evidence/%d/custody" % item["id"],
                 {"action": "attached", "detail": "x"}, status=400)
        self.assertEqual(self.actions(item["id"]),
                         ["acquired", "attached", "downloaded", "verified", "transferred"])
        # every step is a timeline row and an audit row; the audit chain verifies
        kinds = [t["kind"] for t in self.req("GET", "/api/v1/incidents/%d" % inc).json()["timeline"]]
        for k in ("evidence.acquired", "evidence.attached", "evidence.downloaded", "evidence.verified",
                  "evidence.transferred"):
            self.assertIn(k, kinds)
        rows = self.req("GET", "/api/v1/audit?limit=200").json()["audit"]
        ev_rows = [a for a in rows if a["object_type"] == "evidence" and a["object_id"] == str(item["id"])]
        self.assertEqual(len(ev_rows), 5, ev_rows)
        av = self.req("POST", "/api/v1/audit/verify", token=self.token).json()
        self.assertTrue(av["ok"], av)

        # someone with disk access changes the stored file
        path = os.path.join(self.server.data_dir, "evidence", "ev-a", sha)
        os.chmod(path, 0o600)
        with open(path, "r+b") as f:
            f.write(b"X")
        v = self.req("POST", "/api/v1/evidence/%d/verify" % item["id"]).json()
        self.assertFalse(v["ok"])
        self.assertFalse(v["sha256_ok"])
        self.assertTrue(v["chain_ok"])
        self.assertNotEqual(v["sha256_seen"], sha)
        r = self.req("GET", "/api/v1/evidence/%d/download" % item["id"], status=500)
        self.assertIn("SHA-256", r.json()["error"])
        m = self.server.request("GET", "/metrics").body.decode()
        line = [x for x in m.splitlines() if x.startswith("vigil_evidence_integrity_failures_total ")][0]
        self.assertGreaterEqual(int(line.split()[1]), 2)
        self.assertNotIn("downloaded", self.actions(item["id"])[3:])

    def test_export_search(self):
        marker = "exp" + uuid.uuid4().hex[:8]
        evs = [{"event": {"category": "process", "type": "start"}, "host": {"name": "web-7"},
                "process": {"name": marker, "command_line": "%s -n %d" % (marker, i)}} for i in range(5)]
        self.assertEqual(self.server.ingest(self.tok_a, evs).status, 200)
        wait_for(lambda: self.server.count(self.tok_a, "process.name:" + marker) == 5, what="events stored")
        inc = self.incident()
        item = self.req("POST", "/api/v1/incidents/%d/evidence" % inc,
                        {"export": {"q": "process.name:" + marker, "limit": 100}, "name": "search.ndjson"},
                        status=201).json()
        self.assertEqual(item["kind"], "export")
        self.assertEqual(item["media_type"], "application/x-ndjson")
        self.assertEqual(json.loads(item["source"])["events"], 5)
        body = self.req("GET", "/api/v1/evidence/%d/download" % item["id"]).body
        lines = [json.loads(x) for x in body.decode().splitlines()]
        self.assertEqual(len(lines), 5)
        self.assertTrue(all(x["process"]["name"] == marker and x["tenant"]["id"] == "ev-a" for x in lines))
        self.assertEqual(hashlib.sha256(body).hexdigest(), item["sha256"])
        # another tenant's search finds none of these events, even as provider for ev-b's incident
        inc_b = self.incident(token=self.tok_b)
        other = self.req("POST", "/api/v1/incidents/%d/evidence" % inc_b,
                         {"export": {"q": "process.name:" + marker}}, token=self.token, status=201).json()
        self.assertEqual(json.loads(other["source"])["events"], 0)
        # bad exports
        for bad in ({"export": {"q": "process.name:(("}}, {"export": {"limit": 0}},
                    {"export": {"from": "yesterday"}}, {"export": "x"}):
            self.req("POST", "/api/v1/incidents/%d/evidence" % inc, bad, status=400)

    def test_bounds_and_bad_input(self):
        inc = self.incident()
        self.upload(inc, b"x" * (65 * 1024), status=413)
        self.upload(inc, b"abc", name="", status=400)
        self.upload(inc, b"abc", name="bad\x01name", status=400)
        self.req("POST", "/api/v1/incidents/%d/evidence" % inc, {"nothing": 1}, status=400)
        self.req("POST", "/api/v1/incidents/%d/evidence" % inc, {"action_id": 999999}, status=404)
        self.req("POST", "/api/v1/incidents/999999/evidence?name=x", b"abc", status=404, headers=OCTET)
        self.req("GET", "/api/v1/evidence/0", status=404)
        self.req("GET", "/api/v1/evidence/abc/download", status=404)
        # an empty file is evidence too
        empty = self.upload(inc, b"", name="empty.log").json()
        self.assertEqual((empty["size"], empty["sha256"]), (0, hashlib.sha256(b"").hexdigest()))
        self.assertEqual(self.req("GET", "/api/v1/evidence/%d/download" % empty["id"]).body, b"")
        # a JSON file is uploaded as a file when it is named
        item = self.upload(inc, b'{"a": 1}', name="doc.json").json()
        self.assertEqual(item["size"], 8)
        m = self.server.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_evidence_rejected_total", m)

    def test_tenancy_and_permissions(self):
        inc = self.incident()
        item = self.upload(inc, os.urandom(100)).json()
        eid = item["id"]
        for tok in (self.tok_b, self.view_b):
            self.req("GET", "/api/v1/incidents/%d/evidence" % inc, token=tok, status=404)
            self.req("GET", "/api/v1/evidence/%d" % eid, token=tok, status=404)
            self.req("GET", "/api/v1/evidence/%d/download" % eid, token=tok, status=404)
            self.req("POST", "/api/v1/evidence/%d/verify" % eid, token=tok, status=404)
        self.upload(inc, b"intruder", token=self.tok_b, status=404)
        self.req("POST", "/api/v1/evidence/%d/custody" % eid, {"action": "transferred", "detail": "x"},
                 token=self.tok_b, status=404)
        # the tenant's viewer reads but does not add
        self.req("GET", "/api/v1/evidence/%d" % eid, token=self.view_a)
        self.req("GET", "/api/v1/evidence/%d/download" % eid, token=self.view_a)
        self.upload(inc, b"viewer", token=self.view_a, status=403)
        self.req("POST", "/api/v1/evidence/%d/custody" % eid, {"action": "transferred", "detail": "x"},
                 token=self.view_a, status=403)
        # nothing was recorded by the refused calls
        self.assertEqual(self.actions(eid), ["acquired", "attached", "downloaded"])

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl commands not tested")
    def test_vigilctl(self):
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port, VIGIL_TOKEN=self.tok_a,
                   VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))

        def ctl(*args):
            return subprocess.run([os.environ["VIGILCTL"]] + list(args), env=env, capture_output=True,
                                  text=True, timeout=120)
        inc = self.incident()
        data = os.urandom(5000)
        with tempfile.TemporaryDirectory() as d:
            src, dst = os.path.join(d, "capture.pcap"), os.path.join(d, "out.bin")
            with open(src, "wb") as f:
                f.write(data)
            p = ctl("evidence", "add", str(inc), src, "--description", "tcpdump of web-1")
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("sha256 " + hashlib.sha256(data).hexdigest(), p.stdout)
            eid = int(p.stdout.split()[1].rstrip(":"))
            p = ctl("evidence", "list", str(inc))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("capture.pcap", p.stdout)
            p = ctl("evidence", "get", str(eid), dst)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(dst, "rb") as f:
                self.assertEqual(f.read(), data)
            self.assertEqual(ctl("evidence", "get", str(eid), dst).returncode, 1)  # never overwrites
            p = ctl("evidence", "get", str(eid))
            self.assertIn("downloaded", p.stdout)
            p = ctl("evidence", "verify", str(eid))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("sha256 ok, custody chain ok", p.stdout)
            self.assertEqual(ctl("evidence", "get", "x1").returncode, 2)
            p = ctl("evidence", "get", "999999")
            self.assertEqual(p.returncode, 1)
            self.assertIn("not found", p.stderr)


class EvidenceFromAgentTest(AgentResponseActionsTest):
    """The collect path with a real agent (the fixture of test_agent_response_actions)."""

    def test_attach_collected_file(self):
        path = os.path.join(self.tmp, "collected-" + uuid.uuid4().hex[:6])
        data = os.urandom(300 * 1024 + 5)
        with open(path, "wb") as f:
            f.write(data)
        a = self.succeeded("collect", {"path": path})
        r = self.server.request("POST", "/api/v1/incidents", {"title": "collected"}, token=self.token)
        self.assertEqual(r.status, 201, r)
        inc = r.json()["id"]
        r = self.server.request("POST", "/api/v1/incidents/%d/evidence" % inc, {"action_id": a["id"]},
                                token=self.token)
        self.assertEqual(r.status, 201, r)
        item = r.json()
        self.assertEqual(item["kind"], "collected")
        self.assertEqual(item["sha256"], hashlib.sha256(data).hexdigest())
        self.assertEqual(item["name"], os.path.basename(path))
        self.assertIn("action %d" % a["id"], item["source"])
        # the same action again: the same item
        r = self.server.request("POST", "/api/v1/incidents/%d/evidence" % inc, {"action_id": a["id"]},
                                token=self.token)
        self.assertEqual((r.status, r.json()["id"]), (200, item["id"]))
        r = self.server.request("GET", "/api/v1/evidence/%d/download" % item["id"], token=self.token)
        self.assertEqual(r.body, data)
        # an action that collected nothing, and another tenant's incident
        q = self.succeeded("query", {"what": "users"})
        r = self.server.request("POST", "/api/v1/incidents/%d/evidence" % inc, {"action_id": q["id"]},
                                token=self.token)
        self.assertEqual(r.status, 400, r)
        r = self.server.request("POST", "/api/v1/tenants", {"id": "ev-c", "name": "ev-c"}, token=self.token)
        self.assertEqual(r.status, 201, r)
        r = self.server.request("POST", "/api/v1/incidents", {"title": "c", "tenant": "ev-c"}, token=self.token)
        inc_c = r.json()["id"]
        r = self.server.request("POST", "/api/v1/incidents/%d/evidence" % inc_c, {"action_id": a["id"]},
                                token=self.token)
        self.assertEqual(r.status, 409, r)


def load_tests(loader, tests, pattern):
    """Only this file's tests (not those of the imported agent fixture)."""
    suite = unittest.TestSuite()
    suite.addTests(loader.loadTestsFromTestCase(EvidenceTest))
    suite.addTest(EvidenceFromAgentTest("test_attach_collected_file"))
    return suite


if __name__ == "__main__":
    unittest.main()
