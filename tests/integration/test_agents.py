"""The server side of the agent protocol end to end (docs/agent-protocol.md), against the real
vigild with real TLS client certificates: a key and CSR made by the `openssl` CLI, enrolment
with a one-time token (used-up, expired, revoked and unknown tokens refused with 401 and
audited), agent endpoints over mutual TLS (Python ssl with the issued certificate), zstd event
batches (the `zstd` CLI compresses) stored with the agent's id and tenant, duplicate batch ids
answered as duplicates, heartbeats making the agent online, inventory, the action queue (queue ->
long-poll returns it -> result -> visible through the API; cancel; expiry state checks), chunked
uploads with the SHA-256 check, revocation (401 from the next request on), and tenant isolation
of agents and actions. Skips when the openssl or zstd CLI is missing."""

import hashlib
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402


def need(tool):
    if shutil.which(tool) is None:
        raise unittest.SkipTest("%s CLI not installed" % tool)


class Agent:
    """One enrolled identity: key, certificate, and an mTLS client."""

    def __init__(self, server, workdir, name):
        self.server = server
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.key = os.path.join(self.dir, "agent.key")
        self.csr = os.path.join(self.dir, "agent.csr")
        self.crt = os.path.join(self.dir, "agent.crt")
        subprocess.run(["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", self.key, "-out", self.csr,
                        "-subj", "/CN=" + name], check=True, capture_output=True)
        self.agent_id = None
        self.tenant = None

    def enroll(self, token, hostname="host-" + uuid.uuid4().hex[:6]):
        with open(self.csr) as f:
            csr = f.read()
        r = self.server.request("POST", "/api/v1/agents/enroll",
                                {"token": token, "csr": csr, "hostname": hostname,
                                 "host_id": "hid", "os": "debian 12", "kernel": "6.1.0",
                                 "arch": "x86_64", "version": "0.1.0"})
        if r.status == 201:
            d = r.json()
            self.agent_id, self.tenant = d["agent_id"], d["tenant"]
            with open(self.crt, "w") as f:
                f.write(d["certificate"])
            self.ca = d["ca"]
        return r

    def request(self, method, path, body=None, headers=None, timeout=120, cert=True):
        ctx = self.server.ssl_context()
        if cert:
            ctx.load_cert_chain(self.crt, self.key)
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port, timeout=timeout,
                                           context=ctx)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            from harness import Response
            return Response(r.status, r.getheaders(), r.read())
        finally:
            conn.close()


class AgentsTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        need("openssl")
        need("zstd")
        super().setUpClass()
        cls.work = tempfile.mkdtemp(prefix="vigil-agents-it-")
        cls.addClassCleanup(shutil.rmtree, cls.work, True)
        s = cls.server
        for t in ("agents-a", "agents-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": t, "name": t}, token=cls.token)
            assert r.status == 201, r
        cls.tok_a = s.make_token(cls.token, "ta", role="tenant_admin", tenant="agents-a")
        cls.tok_b = s.make_token(cls.token, "tb", role="tenant_admin", tenant="agents-b")

    def new_token(self, token=None, **body):
        body.setdefault("name", "it-" + uuid.uuid4().hex[:6])
        r = self.server.request("POST", "/api/v1/enroll-tokens", body, token=token or self.tok_a)
        self.assertEqual(r.status, 201, r)
        return r.json()

    def enrolled(self, token=None, name=None):
        a = Agent(self.server, self.work, name or uuid.uuid4().hex[:8])
        t = self.new_token(token)
        r = a.enroll(t["token"])
        self.assertEqual(r.status, 201, r)
        return a

    def audit_actions(self):
        r = self.server.request("GET", "/api/v1/audit?limit=1000", token=self.token)
        self.assertEqual(r.status, 200, r)
        rows = r.json()
        rows = rows.get("audit", rows.get("rows", rows)) if isinstance(rows, dict) else rows
        return rows

    def test_enroll_and_tokens(self):
        t = self.new_token(uses=1, expires_in_s=3600)
        self.assertTrue(t["token"].startswith("vge_"))
        self.assertEqual(t["tenant"], "agents-a")
        self.assertEqual(t["uses"], 1)
        a = Agent(self.server, self.work, "enr1")
        r = a.enroll(t["token"])
        self.assertEqual(r.status, 201, r)
        self.assertEqual(len(a.agent_id), 32)
        self.assertEqual(a.tenant, "agents-a")
        self.assertIn("BEGIN CERTIFICATE", r.json()["ca"])
        # the certificate: CN = agent id, O = tenant, clientAuth
        out = subprocess.run(["openssl", "x509", "-in", a.crt, "-noout", "-subject", "-ext",
                              "extendedKeyUsage"], check=True, capture_output=True, text=True).stdout
        self.assertIn(a.agent_id, out)
        self.assertIn("agents-a", out)
        self.assertIn("TLS Web Client Authentication", out)
        # used up
        b = Agent(self.server, self.work, "enr2")
        self.assertEqual(b.enroll(t["token"]).status, 401)
        # expired
        short = self.new_token(expires_in_s=1)
        time.sleep(1.5)
        self.assertEqual(b.enroll(short["token"]).status, 401)
        # revoked
        rv = self.new_token(uses=0)
        r = self.server.request("DELETE", "/api/v1/enroll-tokens/%d" % rv["id"], token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["revoked"])
        self.assertEqual(b.enroll(rv["token"]).status, 401)
        # unknown
        self.assertEqual(b.enroll("vge_" + "A" * 43).status, 401)
        # the list shows use counts, never secrets; another tenant sees nothing of it
        r = self.server.request("GET", "/api/v1/enroll-tokens", token=self.tok_a)
        toks = {x["id"]: x for x in r.json()["enroll_tokens"]}
        self.assertEqual(toks[t["id"]]["used"], 1)
        self.assertNotIn("token", toks[t["id"]])
        r = self.server.request("GET", "/api/v1/enroll-tokens", token=self.tok_b)
        self.assertNotIn(t["id"], [x["id"] for x in r.json()["enroll_tokens"]])
        r = self.server.request("DELETE", "/api/v1/enroll-tokens/%d" % t["id"], token=self.tok_b)
        self.assertEqual(r.status, 404)
        # the refusals are audited with their reason
        r = self.server.request("GET", "/api/v1/audit?limit=200", token=self.token)
        text = r.body.decode()
        self.assertIn("agent.enroll_failed", text)
        self.assertIn("enrolment token used up", text)
        self.assertIn("enrolment token expired", text)
        self.assertIn("agent.enroll", text)

    def test_mtls_required(self):
        a = self.enrolled()
        # no certificate, or a bearer token: 401 on agent endpoints
        r = a.request("POST", "/api/v1/agent/heartbeat", {"version": "1"}, cert=False)
        self.assertEqual(r.status, 401)
        r = self.server.request("POST", "/api/v1/agent/heartbeat", {"version": "1"},
                                token=self.token)
        self.assertEqual(r.status, 401)
        # a client certificate does not stop a token client on the normal API
        r = a.request("GET", "/api/v1/agents", headers={"Authorization": "Bearer " + self.tok_a})
        self.assertEqual(r.status, 200, r)
        # nor does an agent certificate give access to the normal API
        r = a.request("GET", "/api/v1/agents")
        self.assertEqual(r.status, 401)
        # a self-made certificate naming the agent is not the agent
        forged_key = os.path.join(a.dir, "forged.key")
        forged_crt = os.path.join(a.dir, "forged.crt")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", forged_key, "-out",
                        forged_crt, "-days", "1", "-subj", "/O=agents-a/CN=" + a.agent_id,
                        "-addext", "extendedKeyUsage=clientAuth"],
                       check=True, capture_output=True)
        real = (a.crt, a.key)
        a.crt, a.key = forged_crt, forged_key
        try:
            r = a.request("POST", "/api/v1/agent/heartbeat", {"version": "1"})
            self.assertEqual(r.status, 401)
        finally:
            a.crt, a.key = real
        self.assertEqual(a.request("POST", "/api/v1/agent/heartbeat", {"version": "1"}).status, 200)

    def test_events_zstd_and_duplicates(self):
        a = self.enrolled()
        marker = "agentmark" + uuid.uuid4().hex[:8]
        evs = [{"event": {"category": "process", "type": "start"},
                "process": {"command_line": "/bin/echo %s %d" % (marker, i)},
                "agent": {"id": "forged"}, "tenant": {"id": "agents-b"}} for i in range(5)]
        evs[1]["agent.id"] = "forged-flat"  # dotted keys are the same field
        del evs[1]["agent"]
        body = ("\n".join(json.dumps(e) for e in evs) + "\n").encode()
        z = subprocess.run(["zstd", "-q", "-c"], input=body, check=True, capture_output=True).stdout
        h = {"Content-Type": "application/x-ndjson", "Content-Encoding": "zstd",
             "X-Vigil-Batch-Id": "%s:1" % a.agent_id}
        r = a.request("POST", "/api/v1/agent/events", z, headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 5)
        self.assertFalse(r.json()["duplicate"])
        r = a.request("POST", "/api/v1/agent/events", z, headers=h)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["duplicate"])
        # stored with the agent's own id and tenant, whatever the events said
        q = "/api/v1/events?q=%s&tenant=agents-a&limit=10" % quote('process.command_line:*%s*' % marker)
        r = self.server.request("GET", q, token=self.token)
        self.assertEqual(r.status, 200, r)
        got = r.json()
        rows = got.get("events", got)
        self.assertEqual(len(rows), 5, got)
        for e in rows:
            self.assertEqual(e["agent"]["id"], a.agent_id)
            self.assertEqual(e["tenant"]["id"], "agents-a")
        # batch id: required, and only the agent's own
        h2 = dict(h)
        del h2["X-Vigil-Batch-Id"]
        self.assertEqual(a.request("POST", "/api/v1/agent/events", z, headers=h2).status, 400)
        h2["X-Vigil-Batch-Id"] = "0" * 32 + ":1"
        self.assertEqual(a.request("POST", "/api/v1/agent/events", z, headers=h2).status, 400)
        # a corrupt frame is 400, plain NDJSON is fine too
        h2["X-Vigil-Batch-Id"] = "%s:2" % a.agent_id
        self.assertEqual(a.request("POST", "/api/v1/agent/events", z[:-4] + b"xxxx",
                                   headers=h2).status, 400)
        del h2["Content-Encoding"]
        r = a.request("POST", "/api/v1/agent/events", body, headers=h2)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 5)

    def test_heartbeat_inventory_revoke(self):
        a = self.enrolled()
        r = self.server.request("GET", "/api/v1/agents/%s" % a.agent_id, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        hb = {"version": "0.1.1", "mode": "fallback", "hostname": "hb-host", "uptime_s": 5,
              "probes": {"exec": "ok"}, "counters": {"events": 12, "drops_file": 7,
                                                      "drops_file_rate_limited": 3},
              "spool": {"bytes": 0, "batches": 0, "oldest": None}, "isolated": False}
        r = a.request("POST", "/api/v1/agent/heartbeat", hb)
        self.assertEqual(r.status, 200, r)
        # the drops reach the metrics, by category (other tests' agents may add their own)
        m = self.server.request("GET", "/metrics").body.decode()
        self.assertRegex(m, r'vigil_agents_sensor_drops\{category="file"\} ([7-9]|[1-9][0-9]+)\n')
        self.assertRegex(m, r'vigil_agents_sensor_drops\{category="file_rate_limited"\} ([3-9]|[1-9][0-9]+)\n')
        self.assertIn('vigil_agents_sensor_drops{category="process"}', m)
        d = r.json()
        self.assertEqual(d["actions_pending"], 0)
        self.assertEqual(d["heartbeat_s"], 30)
        self.assertIn("server_time", d)
        r = self.server.request("GET", "/api/v1/agents?status=online&q=hb-host", token=self.tok_a)
        agents = r.json()["agents"]
        self.assertEqual([x["id"] for x in agents], [a.agent_id])
        self.assertEqual(agents[0]["mode"], "fallback")
        self.assertEqual(agents[0]["counters"]["events"], 12)
        # other tenant: not listed, not found
        r = self.server.request("GET", "/api/v1/agents", token=self.tok_b)
        self.assertNotIn(a.agent_id, [x["id"] for x in r.json()["agents"]])
        r = self.server.request("GET", "/api/v1/agents/%s" % a.agent_id, token=self.tok_b)
        self.assertEqual(r.status, 404)
        # inventory
        inv = {"os": {"name": "Debian", "version": "12", "id": "debian"}, "kernel": "6.1",
               "packages": [{"name": "bash", "version": "5.2", "arch": "amd64"}], "hash": "abc"}
        r = a.request("POST", "/api/v1/agent/inventory", inv)
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.json()["changed"])
        self.assertFalse(a.request("POST", "/api/v1/agent/inventory", inv).json()["changed"])
        r = self.server.request("GET", "/api/v1/agents/%s/inventory" % a.agent_id, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["inventory"]["packages"][0]["name"], "bash")
        self.assertEqual(r.json()["hash"], "abc")
        r = self.server.request("GET", "/api/v1/agents/%s/inventory" % a.agent_id, token=self.tok_b)
        self.assertEqual(r.status, 404)
        # revoke: another tenant cannot; then the certificate is refused
        r = self.server.request("POST", "/api/v1/agents/%s/revoke" % a.agent_id, token=self.tok_b)
        self.assertEqual(r.status, 404)
        r = self.server.request("POST", "/api/v1/agents/%s/revoke" % a.agent_id, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(a.request("POST", "/api/v1/agent/heartbeat", hb).status, 401)
        r = self.server.request("GET", "/api/v1/agents?status=revoked", token=self.tok_a)
        self.assertIn(a.agent_id, [x["id"] for x in r.json()["agents"]])
        m = self.server.request("GET", "/metrics").body.decode()
        self.assertRegex(m, r'vigil_agents\{status="revoked"\} [1-9]')
        self.assertIn("vigil_agents_heartbeats_total", m)

    def test_actions(self):
        a = self.enrolled()
        base = "/api/v1/agents/%s/actions" % a.agent_id
        # the long-poll is held until an action is queued
        got = {}

        def poll():
            got["r"] = a.request("GET", "/api/v1/agent/actions?wait=20")
        th = threading.Thread(target=poll)
        t0 = time.time()
        th.start()
        time.sleep(1.0)
        r = self.server.request("POST", base, {"type": "kill", "params": {"pid": 4242, "tree": True},
                                               "reason": "it test"}, token=self.tok_a)
        self.assertEqual(r.status, 201, r)
        act = r.json()
        self.assertEqual(act["status"], "queued")
        th.join(30)
        self.assertLess(time.time() - t0, 15)
        self.assertEqual(got["r"].status, 200, got["r"])
        acts = got["r"].json()["actions"]
        self.assertEqual([x["id"] for x in acts], [act["id"]])
        self.assertEqual(acts[0]["params"]["pid"], 4242)
        self.assertEqual(acts[0]["reason"], "it test")
        r = self.server.request("GET", "/api/v1/actions/%d" % act["id"], token=self.tok_a)
        self.assertEqual(r.json()["status"], "delivered")
        # delivered: no cancel
        r = self.server.request("POST", "/api/v1/actions/%d/cancel" % act["id"], token=self.tok_a)
        self.assertEqual(r.status, 409, r)
        # the result
        r = a.request("POST", "/api/v1/agent/actions/%d/result" % act["id"],
                      {"status": "succeeded", "result": {"killed": [4242]}})
        self.assertEqual(r.status, 200, r)
        r = self.server.request("GET", "/api/v1/actions/%d" % act["id"], token=self.tok_a)
        d = r.json()
        self.assertEqual(d["status"], "succeeded")
        self.assertEqual(d["result"], {"killed": [4242]})
        self.assertEqual(d["requested_by"], "admin")  # the token's user
        # an empty poll returns after wait
        t0 = time.time()
        r = a.request("GET", "/api/v1/agent/actions?wait=1")
        self.assertEqual(r.json()["actions"], [])
        self.assertGreaterEqual(time.time() - t0, 0.9)
        # cancel while queued; the agent then never gets it
        r = self.server.request("POST", base, {"type": "inventory", "params": {}}, token=self.tok_a)
        c = r.json()
        r = self.server.request("POST", "/api/v1/actions/%d/cancel" % c["id"], token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["status"], "cancelled")
        self.assertEqual(a.request("GET", "/api/v1/agent/actions?wait=0").json()["actions"], [])
        # refusals: unknown type, another tenant, viewer permissions
        r = self.server.request("POST", base, {"type": "reboot"}, token=self.tok_a)
        self.assertEqual(r.status, 400)
        self.assertIn("unsupported action type", r.json()["error"])
        r = self.server.request("POST", base, {"type": "kill"}, token=self.tok_b)
        self.assertEqual(r.status, 404)
        r = self.server.request("GET", "/api/v1/actions/%d" % act["id"], token=self.tok_b)
        self.assertEqual(r.status, 404)
        r = self.server.request("GET", "/api/v1/actions", token=self.tok_b)
        self.assertNotIn(act["id"], [x["id"] for x in r.json()["actions"]])
        r = self.server.request("GET", "/api/v1/actions?agent=%s" % a.agent_id, token=self.tok_a)
        self.assertEqual({x["id"] for x in r.json()["actions"]}, {act["id"], c["id"]})
        # another agent cannot answer it
        b = self.enrolled()
        r = b.request("POST", "/api/v1/agent/actions/%d/result" % act["id"], {"status": "failed"})
        self.assertEqual(r.status, 404)
        # audited with who asked
        text = self.server.request("GET", "/api/v1/audit?limit=200", token=self.token).body.decode()
        for what in ("action.request", "action.cancel", "action.result"):
            self.assertIn(what, text)

    def test_upload(self):
        a = self.enrolled()
        r = self.server.request("POST", "/api/v1/agents/%s/actions" % a.agent_id,
                                {"type": "collect", "params": {"path": "/etc/hostname"}},
                                token=self.tok_a)
        aid = r.json()["id"]
        self.assertEqual(a.request("GET", "/api/v1/agent/actions?wait=0").json()["actions"][0]["id"], aid)
        data = os.urandom(3000)
        up = "/api/v1/agent/actions/%d/upload?offset=%d"
        oct_ = {"Content-Type": "application/octet-stream"}
        self.assertEqual(a.request("PUT", up % (aid, 0), data[:1000], headers=oct_).status, 200)
        # out of order
        r = a.request("PUT", up % (aid, 2000), data[2000:], headers=oct_)
        self.assertEqual(r.status, 409, r)
        # wrong hash: refused, start again
        bad = dict(oct_, **{"X-Vigil-Final": "1", "X-Vigil-Sha256": "0" * 64})
        r = a.request("PUT", up % (aid, 1000), data[1000:], headers=bad)
        self.assertEqual(r.status, 400, r)
        r = self.server.request("GET", "/api/v1/actions/%d/file" % aid, token=self.tok_a)
        self.assertEqual(r.status, 404)
        good = dict(oct_, **{"X-Vigil-Final": "1",
                             "X-Vigil-Sha256": hashlib.sha256(data).hexdigest()})
        sized = dict(oct_, **{"X-Vigil-Upload-Total": "3000"})
        self.assertEqual(a.request("PUT", up % (aid, 0), data[:1000], headers=sized).status, 200)
        # the progress the console shows while the file comes in
        prog = self.server.request("GET", "/api/v1/actions/%d" % aid, token=self.tok_a).json()["upload"]
        self.assertEqual(prog, {"received": 1000, "total": 3000})
        self.assertEqual(a.request("PUT", up % (aid, 1000), data[1000:2000],
                                   headers=dict(oct_, **{"X-Vigil-Upload-Total": "x"})).status, 400)
        r = a.request("PUT", up % (aid, 1000), data[1000:], headers=good)
        self.assertEqual(r.status, 200, r)
        r = a.request("POST", "/api/v1/agent/actions/%d/result" % aid,
                      {"status": "succeeded", "result": {"sha256": hashlib.sha256(data).hexdigest(),
                                                         "size": len(data)}})
        self.assertEqual(r.status, 200, r)
        r = self.server.request("GET", "/api/v1/actions/%d/file" % aid, token=self.tok_a)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, data)
        self.assertEqual(r.header("X-Vigil-Sha256"), hashlib.sha256(data).hexdigest())
        self.assertEqual(self.server.request("GET", "/api/v1/actions/%d/file" % aid,
                                             token=self.tok_b).status, 404)
        path = os.path.join(self.server.data_dir, "collected", "agents-a", str(aid))
        self.assertTrue(os.path.exists(path))

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl commands not tested")
    def test_vigilctl(self):
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port,
                   VIGIL_TOKEN=self.tok_a,
                   VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))

        def ctl(*args):
            return subprocess.run([os.environ["VIGILCTL"]] + list(args), env=env,
                                  capture_output=True, text=True, timeout=180)
        r = ctl("enroll-token", "create", "ctl-tok", "--uses", "1", "--expires-in", "1h")
        self.assertEqual(r.returncode, 0, r.stderr)
        token = r.stdout.split()[0]
        self.assertTrue(token.startswith("vge_"))
        r = ctl("--json", "enroll-token", "list")
        self.assertIn("ctl-tok", r.stdout)
        a = Agent(self.server, self.work, "ctl1")
        self.assertEqual(a.enroll(token, hostname="ctl-host").status, 201)
        a.request("POST", "/api/v1/agent/heartbeat", {"mode": "ebpf", "version": "9.9"})
        r = ctl("agents", "list", "--q", "ctl-host")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(a.agent_id, r.stdout)
        self.assertIn("online", r.stdout)
        r = ctl("agents", "show", a.agent_id)
        self.assertIn("9.9", r.stdout)
        # action run --wait while a simulated agent answers
        data = b"collected by vigilctl test\n"

        def agent_side():
            acts = a.request("GET", "/api/v1/agent/actions?wait=20").json()["actions"]
            aid = acts[0]["id"]
            h = {"Content-Type": "application/octet-stream", "X-Vigil-Final": "1",
                 "X-Vigil-Sha256": hashlib.sha256(data).hexdigest()}
            a.request("PUT", "/api/v1/agent/actions/%d/upload?offset=0" % aid, data, headers=h)
            a.request("POST", "/api/v1/agent/actions/%d/result" % aid,
                      {"status": "succeeded", "result": {"size": len(data)}})
        th = threading.Thread(target=agent_side)
        th.start()
        r = ctl("action", "run", a.agent_id, "collect", "--param", "path=/etc/hostname",
                "--param", "max_bytes=1000", "--reason", "ctl test", "--wait", "30")
        th.join(30)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("succeeded", r.stdout)
        r = ctl("--json", "action", "list", "--agent", a.agent_id)
        acts = json.loads(r.stdout)["actions"]
        self.assertEqual(acts[0]["params"], {"path": "/etc/hostname", "max_bytes": 1000})
        out = os.path.join(self.work, "fetched.bin")
        r = ctl("action", "fetch", str(acts[0]["id"]), out)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(out, "rb") as f:
            self.assertEqual(f.read(), data)
        # cancel refused once finished; unknown type refused; revoke
        r = ctl("action", "cancel", str(acts[0]["id"]))
        self.assertEqual(r.returncode, 1)
        self.assertIn("409", r.stderr)
        r = ctl("action", "run", a.agent_id, "reboot")
        self.assertEqual(r.returncode, 1)
        self.assertIn("unsupported action type", r.stderr)
        r = ctl("agents", "revoke", a.agent_id)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(a.request("POST", "/api/v1/agent/heartbeat", {}).status, 401)


class AgentsShutdownTest(unittest.TestCase):
    """Held polls and vanished clients never outlive the server or its memory (ASan checked by
    harness.stop)."""

    def test_held_polls_at_shutdown(self):
        need("openssl")
        from harness import Server
        s = Server()
        self.addCleanup(s.cleanup)
        s.start()
        s.setup()
        tok = s.admin_token()
        work = tempfile.mkdtemp(prefix="vigil-agents-sd-")
        self.addCleanup(shutil.rmtree, work, True)
        r = s.request("POST", "/api/v1/enroll-tokens", {"name": "sd", "uses": 0}, token=tok)
        a = Agent(s, work, "sd1")
        self.assertEqual(a.enroll(r.json()["token"]).status, 201)
        # a client that goes away while its poll is held
        ctx = s.ssl_context()
        ctx.load_cert_chain(a.crt, a.key)
        raw = ctx.wrap_socket(__import__("socket").create_connection(("127.0.0.1", s.port)),
                              server_hostname="127.0.0.1")
        raw.sendall(b"GET /api/v1/agent/actions?wait=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        raw.close()
        time.sleep(2.5)
        m = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_agents_polls 0", m)
        # a poll still held when the server stops
        got = {}

        def poll():
            try:
                got["r"] = a.request("GET", "/api/v1/agent/actions?wait=30", timeout=60)
            except Exception as e:  # connection closed by the shutdown is fine too
                got["e"] = e
        th = threading.Thread(target=poll)
        th.start()
        time.sleep(1.0)
        m = s.request("GET", "/metrics").body.decode()
        self.assertIn("vigil_agents_polls 1", m)
        t0 = time.time()
        s.stop()
        th.join(30)
        self.assertLess(time.time() - t0, 25)
        if "r" in got:
            self.assertIn(got["r"].status, (200, 503))


if __name__ == "__main__":
    unittest.main()
