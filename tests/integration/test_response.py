"""Response orchestration end to end through the API.

ResponseApiTest: a semi-managed tenant's request waits for approval; its customer approver
approves and the fleet action is queued; a rejected request is never queued; a request left
pending is escalated and then expires (short timeout from the tenant settings, short check
interval from the configuration); tier1 and customer_viewer users cannot approve, an approver of
another tenant gets 404; a pre-approved type skips approval; cancel before and after approval;
tenant settings (who may change what); the provider overview and its 403 for a customer.

PlaybookIsolationTest: a real vigil-agent (env VIGIL_AGENT) enrolled from inside a network
namespace; a playbook whose trigger is a rule; an event on the agent's host raises the alert,
grouping opens the incident, the playbook requests isolate, the action is delivered and
succeeds (the namespace really loses its other connections), its result is on the incident's
timeline; release afterwards. Needs root, ip and nft; skips with a message otherwise.
"""

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase  # noqa: E402
from test_agents import Agent  # noqa: E402
from test_alerts import RULE_FMT, YAML, StreamReader, proc_event, wait_for  # noqa: E402

VIGIL_AGENT = os.environ.get("VIGIL_AGENT", os.path.join(REPO, "build", "asan", "src", "agent", "vigil-agent"))


class ResponseApiTest(ServerTestCase):
    config_text = "response:\n  check_interval_s: 1\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("resp-a", "resp-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid, "mode": "semi"}, token=t)
            assert r.status == 201, r
        cls.analyst = s.make_token(t, "tier2", role="tier2")
        cls.tier1 = s.make_token(t, "tier1", role="tier1")
        cls.approver_a = s.make_token(t, "appr-a", role="customer_approver", tenant="resp-a")
        cls.viewer_a = s.make_token(t, "view-a", role="customer_viewer", tenant="resp-a")
        cls.admin_a = s.make_token(t, "adm-a", role="tenant_admin", tenant="resp-a")
        cls.approver_b = s.make_token(t, "appr-b", role="customer_approver", tenant="resp-b")
        cls.tmp = tempfile.mkdtemp(prefix="vigil-resp-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        r = s.request("POST", "/api/v1/enroll-tokens", {"name": "a", "tenant": "resp-a"}, token=t)
        assert r.status == 201, r
        cls.agent = Agent(s, cls.tmp, "resp-a-host")
        r = cls.agent.enroll(r.json()["token"], hostname="resp-a-host")
        assert r.status == 201, r
        r = s.request("POST", "/api/v1/incidents", {"tenant": "resp-a", "title": "suspicious host"}, token=t)
        assert r.status == 201, r
        cls.incident = r.json()["id"]

    def req(self, method, path, body=None, token=None, status=200):
        r = self.server.request(method, path, body, token=token or self.token)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def request_action(self, type_="isolate", status="pending_approval"):
        j = self.req("POST", "/api/v1/incidents/%d/actions" % self.incident,
                     {"agent_id": self.agent.agent_id, "type": type_, "params": {}, "reason": "contain"},
                     token=self.analyst, status=201)
        self.assertEqual(j["status"], status, j)
        self.assertEqual(j["hostname"], "resp-a-host")
        return j

    def settings(self, patch):
        return self.req("PATCH", "/api/v1/tenants/resp-a/settings", patch)

    def test_settings(self):
        j = self.req("GET", "/api/v1/tenants/resp-a/settings", token=self.viewer_a)
        self.assertEqual((j["mode"], j["approval_timeout_s"], j["escalation_s"]), ("semi", 3600, 1800))
        self.assertIn("critical", j["sla"])
        self.assertEqual(j["retention_days"], 90)
        j = self.req("PATCH", "/api/v1/tenants/resp-a/settings",
                     {"contacts": [{"name": "Duty", "email": "duty@a.example", "phone": "+1 555"}],
                      "business_hours": {"timezone": "UTC", "days": ["mon", "tue"], "start": "09:00",
                                         "end": "17:00"}}, token=self.admin_a)
        self.assertEqual(j["contacts"][0]["name"], "Duty")
        self.req("PATCH", "/api/v1/tenants/resp-a/settings", {"mode": "full"}, token=self.admin_a, status=403)
        self.req("PATCH", "/api/v1/tenants/resp-a/settings", {"contacts": []}, token=self.viewer_a, status=403)
        self.req("PATCH", "/api/v1/tenants/resp-a/settings", {"bogus": 1}, token=self.admin_a, status=400)
        self.req("GET", "/api/v1/tenants/resp-a/settings", token=self.approver_b, status=404)
        self.req("PATCH", "/api/v1/tenants/resp-a/settings", {"contacts": []}, token=self.approver_b, status=403)
        audit = self.req("GET", "/api/v1/audit?limit=1000")
        rows = [e for e in audit["audit"] if e["action"] == "tenant.settings"]
        self.assertTrue(rows and "Duty" in json.dumps(rows))

    def test_approve_then_cancel(self):
        live_a = StreamReader(self.server, self.approver_a)  # the inbox's live updates
        live_b = StreamReader(self.server, self.approver_b)
        self.addCleanup(live_a.close)
        self.addCleanup(live_b.close)
        j = self.request_action()
        rid = j["id"]
        self.assertIsNone(j["action_id"])
        inbox = self.req("GET", "/api/v1/approvals?status=pending", token=self.approver_a)
        self.assertIn(rid, [x["id"] for x in inbox["requests"]])
        inbox = self.req("GET", "/api/v1/approvals?status=pending", token=self.approver_b)
        self.assertNotIn(rid, [x["id"] for x in inbox["requests"]])
        # who may not decide
        self.req("POST", "/api/v1/approvals/%d/approve" % rid, {}, token=self.tier1, status=403)
        self.req("POST", "/api/v1/approvals/%d/approve" % rid, {}, token=self.viewer_a, status=403)
        self.req("POST", "/api/v1/approvals/%d/approve" % rid, {}, token=self.approver_b, status=404)
        self.req("POST", "/api/v1/approvals/%d/approve" % rid, {}, token=self.token, status=403)
        # the customer's approver does: the fleet action is queued
        j = self.req("POST", "/api/v1/approvals/%d/approve" % rid, {"reason": "ok, contain it"},
                     token=self.approver_a)
        self.assertEqual((j["status"], j["action_status"]), ("queued", "queued"))
        self.assertTrue(j["decided_by"] and j["decided_at"])
        action = self.req("GET", "/api/v1/actions/%d" % j["action_id"])
        self.assertEqual((action["type"], action["status"], action["agent_id"]),
                         ("isolate", "queued", self.agent.agent_id))
        self.req("POST", "/api/v1/approvals/%d/reject" % rid, {}, token=self.approver_a, status=409)
        # cancelled while the agent has not taken it
        j = self.req("POST", "/api/v1/response-requests/%d/cancel" % rid, {"reason": "contained otherwise"},
                     token=self.analyst)
        self.assertEqual((j["status"], j["action_status"]), ("cancelled", "cancelled"))
        self.req("POST", "/api/v1/response-requests/%d/cancel" % rid, {}, token=self.analyst, status=409)
        seen = wait_for(lambda: [e["status"] for e in live_a.events("approval") if e["id"] == rid]
                        if len([e for e in live_a.events("approval") if e["id"] == rid]) >= 3 else None,
                        what="approval events on the stream")
        self.assertEqual(seen, ["pending_approval", "queued", "cancelled"])
        self.assertEqual([e for e in live_b.events("approval") if e["id"] == rid], [])
        inc = self.req("GET", "/api/v1/incidents/%d" % self.incident)
        kinds = [e["kind"] for e in inc["timeline"]]
        for k in ("response.request", "response.approve", "response.queued", "response.cancel"):
            self.assertIn(k, kinds)
        listed = self.req("GET", "/api/v1/incidents/%d/actions" % self.incident, token=self.viewer_a)
        self.assertIn(rid, [x["id"] for x in listed["requests"]])
        # the audit rows of the request's steps are rows of its incident, naming both ids
        steps = self.audit_of_request(rid)
        for k in ("response.request", "response.approve", "response.queued", "response.cancel"):
            self.assertIn(k, steps)
        self.assertEqual(steps["response.approve"]["reason"], "ok, contain it")
        self.req("GET", "/api/v1/incidents/%d/actions" % self.incident, token=self.approver_b, status=404)

    def test_reject_never_queued(self):
        rid = self.request_action("kill")["id"]
        j = self.req("POST", "/api/v1/approvals/%d/reject" % rid, {"reason": "business critical"},
                     token=self.admin_a)
        self.assertEqual((j["status"], j["action_id"], j["decision_reason"]), ("rejected", None, "business critical"))
        actions = self.req("GET", "/api/v1/actions?agent=%s" % self.agent.agent_id)
        self.assertNotIn("kill", [a["type"] for a in actions["actions"]])
        steps = self.audit_of_request(rid)
        self.assertEqual(json.loads(steps["response.reject"]["after"])["status"], "rejected")
        self.assertNotIn("response.approve", steps)

    def audit_of_request(self, rid):
        """action -> audit row of request rid, found through its incident's object."""
        rows = self.req("GET", "/api/v1/audit?limit=1000&objects=incident:%d" % self.incident)["audit"]
        out = {}
        for a in rows:
            after = json.loads(a["after"]) if a.get("after") else {}
            if after.get("request_id") == rid:
                self.assertEqual((a["object_type"], a["object_id"], after["incident_id"]),
                                 ("incident", str(self.incident), self.incident))
                out.setdefault(a["action"], a)
        return out

    def test_timeout_expires(self):
        self.settings({"approval_timeout_s": 2, "escalation_s": 1})
        self.addCleanup(self.settings, {"approval_timeout_s": 3600, "escalation_s": None})
        rid = self.request_action("quarantine")["id"]

        def expired():
            j = self.req("GET", "/api/v1/approvals?status=expired", token=self.approver_a)
            return [x for x in j["requests"] if x["id"] == rid]
        j = wait_for(expired, timeout=15, what="request expired")[0]
        self.assertIsNotNone(j["escalated"])
        self.assertIsNone(j["action_id"])
        self.req("POST", "/api/v1/approvals/%d/approve" % rid, {}, token=self.approver_a, status=409)
        kinds = [e["kind"] for e in self.req("GET", "/api/v1/incidents/%d" % self.incident)["timeline"]]
        self.assertIn("response.escalate", kinds)
        self.assertIn("response.expire", kinds)

    def test_preapproved_skips_approval(self):
        self.settings({"preapproved": ["collect"]})
        self.addCleanup(self.settings, {"preapproved": []})
        j = self.request_action("collect", status="queued")
        self.assertIsNotNone(j["action_id"])
        self.request_action("kill", status="pending_approval")

    def test_provider_overview(self):
        self.request_action("kill")
        j = self.req("GET", "/api/v1/provider/overview", token=self.analyst)
        row = [t for t in j["tenants"] if t["tenant"] == "resp-a"][0]
        self.assertEqual(row["mode"], "semi")
        self.assertGreaterEqual(row["approvals_pending"], 1)
        self.assertGreaterEqual(row["incidents_open"].get("new", 0), 1)
        self.assertEqual(row["agents_online"] + row["agents_offline"], 1)
        self.req("GET", "/api/v1/provider/overview", token=self.admin_a, status=403)
        self.req("GET", "/api/v1/provider/overview", token=self.approver_a, status=403)

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl commands not tested")
    def test_vigilctl(self):
        def ctl(token, *args):
            env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port, VIGIL_TOKEN=token,
                       VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))
            r = subprocess.run([os.environ["VIGILCTL"]] + list(args), env=env, capture_output=True, text=True,
                               timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout
        out = ctl(self.analyst, "--json", "respond", str(self.incident), self.agent.agent_id, "kill",
                  "--param", "pid=4242", "--param", "tree=true", "--reason", "from the cli")
        j = json.loads(out)
        self.assertEqual((j["status"], j["params"]), ("pending_approval", {"pid": 4242, "tree": True}))
        self.assertIn(str(j["id"]), ctl(self.approver_a, "approvals", "list"))
        self.assertIn("rejected", ctl(self.approver_a, "approvals", "reject", str(j["id"]), "--reason", "no"))
        out = ctl(self.token, "--json", "tenants", "settings", "resp-b", "--set", "approval_timeout_s=1800",
                  "--set", 'preapproved=["collect"]')
        j = json.loads(out)
        self.assertEqual((j["approval_timeout_s"], j["escalation_s"], j["preapproved"]), (1800, 900, ["collect"]))
        self.assertIn("semi", ctl(self.approver_b, "tenants", "settings", "resp-b"))
        path = os.path.join(self.tmp, "pb.json")
        with open(path, "w") as f:
            json.dump({"name": "triage malware", "trigger": {"incident_type": "malware"},
                       "tasks": ["collect memory image", "notify the owner"]}, f)
        pb = json.loads(ctl(self.token, "--json", "playbooks", "add", path))
        self.assertIn("triage malware", ctl(self.viewer_a, "playbooks", "list"))
        # its tasks land on an incident of that type
        inc = self.req("POST", "/api/v1/incidents", {"tenant": "resp-b", "title": "dropper", "type": "malware"},
                       status=201)
        self.assertEqual(sorted(t["title"] for t in inc["tasks"]), ["collect memory image", "notify the owner"])
        ctl(self.token, "playbooks", "delete", str(pb["id"]))
        self.assertNotIn("triage malware", ctl(self.token, "playbooks", "list"))

    def test_bad_requests(self):
        self.req("POST", "/api/v1/incidents/%d/actions" % self.incident, {"agent_id": self.agent.agent_id,
                 "type": "format-disk"}, token=self.analyst, status=400)
        self.req("POST", "/api/v1/incidents/%d/actions" % self.incident, {"type": "kill"},
                 token=self.analyst, status=400)
        self.req("POST", "/api/v1/incidents/%d/actions" % self.incident, {"agent_id": "0" * 32, "type": "kill"},
                 token=self.analyst, status=404)
        self.req("POST", "/api/v1/incidents/%d/actions" % self.incident, {"agent_id": self.agent.agent_id,
                 "type": "kill"}, token=self.approver_a, status=403)
        self.req("POST", "/api/v1/playbooks", {"name": "x", "trigger": {}}, status=400)
        self.req("POST", "/api/v1/playbooks", {"name": "x", "trigger": {"tag": "t"}}, token=self.admin_a,
                 status=403)


def netns_skip_reason():
    if os.geteuid() != 0:
        return "needs root (the agent, network namespaces)"
    if not os.access(VIGIL_AGENT, os.X_OK):
        return "no agent binary at %s (set VIGIL_AGENT)" % VIGIL_AGENT
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            return "%s not installed" % tool
    return None


RELAY = r"""
import socket, sys, threading
def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((sys.argv[1], int(sys.argv[2])))
ls.listen(64)
print("ready", flush=True)
while True:
    c, _ = ls.accept()
    try:
        u = socket.create_connection((sys.argv[3], int(sys.argv[4])), timeout=10)
        u.settimeout(None)
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c), daemon=True).start()
"""


@unittest.skipIf(netns_skip_reason(), netns_skip_reason() or "")
class PlaybookIsolationTest(ServerTestCase):
    """The agent lives in namespace NS behind a veth pair (host side .1 and .3, namespace .2):
    NS:127.0.0.1:P -> relay -> host .1:P -> relay -> 127.0.0.1:P (vigild), so that the agent
    talks to https://127.0.0.1:P as the certificate expects."""

    config_text = "incidents:\n  group_by: host\n  min_severity: high\n"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s, t = cls.server, cls.token
        n = 10 + os.getpid() % 200
        cls.ns = "vigresp%d" % os.getpid()
        cls.host_if, cls.ns_if = "vrh%d" % os.getpid(), "vrn%d" % os.getpid()
        cls.net = "10.216.%d" % n
        cls.procs, cls.files = [], []
        cls.tmp = tempfile.mkdtemp(prefix="vigil-pb-it-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.addClassCleanup(cls.teardown_net)
        if subprocess.run(["ip", "netns", "add", cls.ns], capture_output=True).returncode != 0:
            raise unittest.SkipTest("cannot create a network namespace")
        if subprocess.run(["ip", "netns", "exec", cls.ns, "nft", "list", "tables"], capture_output=True).returncode:
            raise unittest.SkipTest("nftables unavailable in a network namespace")
        for cmd in (["ip", "link", "add", cls.host_if, "type", "veth", "peer", "name", cls.ns_if, "netns", cls.ns],
                    ["ip", "addr", "add", cls.net + ".1/24", "dev", cls.host_if],
                    ["ip", "addr", "add", cls.net + ".3/24", "dev", cls.host_if],
                    ["ip", "link", "set", cls.host_if, "up"],
                    ["ip", "-n", cls.ns, "addr", "add", cls.net + ".2/24", "dev", cls.ns_if],
                    ["ip", "-n", cls.ns, "link", "set", cls.ns_if, "up"],
                    ["ip", "-n", cls.ns, "link", "set", "lo", "up"]):
            subprocess.run(cmd, check=True, capture_output=True)
        relay = os.path.join(cls.tmp, "relay.py")
        with open(relay, "w") as f:
            f.write(RELAY)
        p = str(s.port)
        cls.spawn([sys.executable, relay, cls.net + ".1", p, "127.0.0.1", p])
        cls.spawn(["ip", "netns", "exec", cls.ns, sys.executable, relay, "127.0.0.1", p, cls.net + ".1", p])
        # a listener on the host's other address: reachable from NS until isolation
        cls.probe = socket.socket()
        cls.probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        cls.probe.bind((cls.net + ".3", 0))
        cls.probe.listen(64)
        threading.Thread(target=cls.accept_forever, daemon=True).start()
        # the agent, enrolled from inside NS
        r = s.request("POST", "/api/v1/enroll-tokens", {"name": "pb", "uses": 1}, token=t)
        assert r.status == 201, r
        cls.state = os.path.join(cls.tmp, "state")
        cls.agent_log = os.path.join(cls.tmp, "agent.log")
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
        cls.agent = cls.spawn(["ip", "netns", "exec", cls.ns, VIGIL_AGENT, "--server", "https://127.0.0.1:" + p,
                               "--cacert", os.path.join(s.data_dir, "tls", "server.crt"), "--state-dir", cls.state,
                               "--enroll", r.json()["token"], "--no-ebpf", "--no-fim", "--heartbeat", "2"],
                              log=cls.agent_log, env=env)
        wait_for(lambda: os.path.exists(os.path.join(cls.state, "agent.json")), timeout=60, what="enrolment")
        with open(os.path.join(cls.state, "agent.json")) as f:
            cls.agent_id = json.load(f)["agent_id"]
        cls.hostname = s.request("GET", "/api/v1/agents/" + cls.agent_id, token=t).json()["hostname"]

    @classmethod
    def spawn(cls, args, log=None, env=None):
        out = open(log, "ab") if log else subprocess.DEVNULL
        if log:
            cls.files.append(out)
        p = subprocess.Popen(args, stdout=out if log else subprocess.PIPE, stderr=out, env=env)
        if not log:
            p.stdout.readline()  # "ready"
        cls.procs.append(p)
        return p

    @classmethod
    def accept_forever(cls):
        while True:
            try:
                c, _ = cls.probe.accept()
                c.close()
            except OSError:
                return

    @classmethod
    def teardown_net(cls):
        for p in reversed(cls.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        for f in cls.files:
            f.close()
        for p in cls.procs:
            if p.stdout:
                p.stdout.close()
        if getattr(cls, "probe", None):
            cls.probe.close()
        subprocess.run(["ip", "netns", "del", cls.ns], capture_output=True)
        subprocess.run(["ip", "link", "del", cls.host_if], capture_output=True)
        log = ""
        if os.path.exists(getattr(cls, "agent_log", "")):
            with open(cls.agent_log, "rb") as f:
                log = f.read().decode(errors="replace")
        for bad in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if bad in log:
                raise AssertionError("sanitizer report in the agent log:\n" + log[-8000:])

    def reachable(self):
        """Can NS open a TCP connection to the probe on the host's .3 address?"""
        port = self.probe.getsockname()[1]
        code = "import socket; socket.create_connection(('%s', %d), timeout=2).close()" % (self.net + ".3", port)
        return subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", code],
                              capture_output=True).returncode == 0

    def req(self, method, path, body=None, status=200, headers=None):
        r = self.server.request(method, path, body, token=self.token, headers=headers)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def wait_request(self, incident, type_, status, timeout=60):
        def done():
            j = self.req("GET", "/api/v1/incidents/%d/actions" % incident)
            return [x for x in j["requests"] if x["type"] == type_ and x["status"] == status]
        try:
            return wait_for(done, timeout=timeout, what="%s %s" % (type_, status))[0]
        except AssertionError:
            with open(self.agent_log, "rb") as f:
                raise AssertionError("%s %s not reached: %s\nagent log:\n%s" % (
                    type_, status, self.req("GET", "/api/v1/incidents/%d/actions" % incident),
                    f.read().decode(errors="replace")[-3000:]))

    def test_playbook_isolates_host(self):
        marker = "pbiso" + uuid.uuid4().hex[:8]
        rule_id = str(uuid.uuid4())
        self.req("POST", "/api/v1/rules", RULE_FMT % {"marker": marker, "id": rule_id}, status=201, headers=YAML)

        def loaded():
            j = self.req("GET", "/api/v1/rules?limit=1000")
            return not j["engine"]["pending"] and any(x["id"] == rule_id and x["loaded"] for x in j["rules"])
        wait_for(loaded, what="rule loaded")
        pb = self.req("POST", "/api/v1/playbooks", {
            "name": "isolate on marker", "trigger": {"rule_id": rule_id, "min_severity": "high"},
            "steps": [{"type": "isolate", "params": {"allow": [self.net + ".1/32"]}}]}, status=201)
        self.assertTrue(self.reachable())
        # the event: the alert on the agent's host opens an incident, the playbook isolates
        r = self.server.ingest(self.token, [proc_event("/bin/sh -c " + marker, host=self.hostname)])
        self.assertEqual(r.status, 200, r)
        inc = wait_for(lambda: [i for i in self.req("GET", "/api/v1/incidents")["incidents"]
                                if i["group_key"] == "host=" + self.hostname], what="incident")[0]
        done = self.wait_request(inc["id"], "isolate", "succeeded")
        self.assertEqual(done["playbook_id"], pb["id"])
        self.assertEqual(done["agent_id"], self.agent_id)
        self.assertEqual(done["action_status"], "succeeded")
        self.assertFalse(self.reachable(), "the namespace still reaches other addresses")
        timeline = self.req("GET", "/api/v1/incidents/%d" % inc["id"])["timeline"]
        results = [e for e in timeline if e["kind"] == "response.result"]
        self.assertTrue(results, timeline)
        self.assertIn("succeeded", results[0]["summary"])
        # storm guard: another matching event does not isolate again
        self.server.ingest(self.token, [proc_event("/bin/sh -c %s again" % marker, host=self.hostname)])
        time.sleep(1)
        j = self.req("GET", "/api/v1/incidents/%d/actions" % inc["id"])
        self.assertEqual(len([x for x in j["requests"] if x["type"] == "isolate"]), 1)
        # release by hand (full-managed tenant: at once)
        j = self.req("POST", "/api/v1/incidents/%d/actions" % inc["id"],
                     {"agent_id": self.agent_id, "type": "release", "reason": "clean"}, status=201)
        self.assertEqual(j["status"], "queued")
        self.wait_request(inc["id"], "release", "succeeded")
        self.assertTrue(wait_for(self.reachable, timeout=10, what="reachable again"))
        # a successful collect attaches the file to the incident as evidence
        path = os.path.join(self.tmp, "dropper.bin")
        data = os.urandom(4096)
        with open(path, "wb") as f:
            f.write(data)
        self.req("POST", "/api/v1/incidents/%d/actions" % inc["id"],
                 {"agent_id": self.agent_id, "type": "collect", "params": {"path": path}}, status=201)
        self.wait_request(inc["id"], "collect", "succeeded")
        ev = wait_for(lambda: [e for e in self.req("GET", "/api/v1/incidents/%d/evidence" % inc["id"])["evidence"]
                               if e["kind"] == "collected"], timeout=10, what="collected evidence")[0]
        self.assertEqual(ev["sha256"], hashlib.sha256(data).hexdigest())


if __name__ == "__main__":
    unittest.main()
