"""Notifications end to end: routes created through the API deliver a new incident to a local
webhook receiver (HMAC-SHA256 signature checked), to a local SMTP sink (a minimal SMTP server
this test runs) and to a local syslog receiver as CEF; a route to a dead port keeps its delivery
pending with the error and the attempt counted; routes and deliveries are tenant-scoped and need
settings:write; secrets are never returned."""

import hashlib
import hmac
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase, free_port  # noqa: E402
from test_alerts import wait_for  # noqa: E402


class Hook(http.server.BaseHTTPRequestHandler):
    got = []

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(n)
        Hook.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


class Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for libcurl: greeting, EHLO, MAIL, RCPT, DATA, QUIT."""
    mails = []

    def reply(self, line):
        self.wfile.write((line + "\r\n").encode())

    def handle(self):
        self.reply("220 sink ESMTP")
        rcpt, data = [], None
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode(errors="replace").strip()
            up = cmd.upper()
            if up.startswith("EHLO") or up.startswith("HELO"):
                self.reply("250 sink")
            elif up.startswith("MAIL FROM"):
                self.reply("250 ok")
            elif up.startswith("RCPT TO"):
                rcpt.append(cmd[8:].strip())
                self.reply("250 ok")
            elif up == "DATA":
                self.reply("354 go on")
                buf = b""
                while not buf.endswith(b"\r\n.\r\n"):
                    chunk = self.rfile.readline()
                    if not chunk:
                        return
                    buf += chunk
                data = buf[:-5].decode(errors="replace")
                Smtp.mails.append((rcpt, data))
                self.reply("250 queued")
            elif up == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


class Syslog(socketserver.StreamRequestHandler):
    lines = []

    def handle(self):
        for line in self.rfile:
            Syslog.lines.append(line.decode(errors="replace").rstrip("\n"))


class NotifyTest(ServerTestCase):
    smtp_port = free_port()
    config_text = ("notify:\n  smtp_url: smtp://127.0.0.1:%d\n  smtp_from: soc@vigil.test\n  smtp_tls: try\n"
                   "sla:\n  check_interval_s: 1\n" % smtp_port)

    @classmethod
    def setUpClass(cls):
        cls.servers = []
        for handler, port, kind in ((Hook, free_port(), "http"), (Smtp, cls.smtp_port, "smtp"),
                                    (Syslog, free_port(), "syslog")):
            srv = (http.server.ThreadingHTTPServer if kind == "http" else socketserver.ThreadingTCPServer)(
                ("127.0.0.1", port), handler)
            srv.daemon_threads = True
            threading.Thread(target=srv.serve_forever, daemon=True).start()
            cls.servers.append(srv)
        cls.hook_port = cls.servers[0].server_address[1]
        cls.syslog_port = cls.servers[2].server_address[1]
        super().setUpClass()
        s, t = cls.server, cls.token
        for tid in ("ntf-a", "ntf-b"):
            r = s.request("POST", "/api/v1/tenants", {"id": tid, "name": tid}, token=t)
            assert r.status == 201, r
        cls.tok_a = s.make_token(t, "ntf-a-admin", role="tenant_admin", tenant="ntf-a")
        cls.tok_b = s.make_token(t, "ntf-b-admin", role="tenant_admin", tenant="ntf-b")

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for srv in cls.servers:
            srv.shutdown()
            srv.server_close()

    def req(self, method, path, body=None, token=None, status=200):
        r = self.server.request(method, path, body, token=token or self.token)
        self.assertEqual(r.status, status, r)
        return r.json() if r.body else None

    def test_routes_deliver_an_incident(self):
        hook = self.req("POST", "/api/v1/notify/routes", {
            "name": "soc-webhook", "channel": "webhook", "target": "http://127.0.0.1:%d/vigil" % self.hook_port,
            "secret": "shh", "events": "incident.created,sla.breach", "tenant": "ntf-a"}, status=201)
        self.assertTrue(hook["has_secret"])
        self.assertNotIn("secret", hook)
        self.req("POST", "/api/v1/notify/routes", {"name": "oncall-mail", "channel": "email",
                                                    "target": "oncall@customer.test", "tenant": "ntf-a",
                                                    "min_severity": "high"}, status=201)
        self.req("POST", "/api/v1/notify/routes", {"name": "siem", "channel": "syslog",
                                                    "target": "127.0.0.1:%d" % self.syslog_port, "tenant": "ntf-a"},
                 status=201)
        dead = self.req("POST", "/api/v1/notify/routes", {"name": "down", "channel": "webhook",
                                                           "target": "http://127.0.0.1:1/", "tenant": "ntf-a"}, status=201)
        # B's route must not hear A's incident
        self.req("POST", "/api/v1/notify/routes", {"name": "b-hook", "channel": "webhook",
                                                    "target": "http://127.0.0.1:%d/b" % self.hook_port},
                 token=self.tok_b, status=201)
        inc = self.req("POST", "/api/v1/incidents", {"title": "Ransomware on fs-01", "severity": "critical"},
                       token=self.tok_a, status=201)

        got = wait_for(lambda: [g for g in Hook.got if json.loads(g[1])["data"].get("id") == inc["id"]],
                       what="webhook delivery")
        self.assertEqual(len(got), 1, "B's route heard A's incident")
        headers, body = got[0]
        want = "sha256=" + hmac.new(b"shh", body, hashlib.sha256).hexdigest()
        self.assertEqual(headers.get("X-Vigil-Signature"), want)
        self.assertEqual(headers.get("X-Vigil-Event"), "incident.created")
        doc = json.loads(body)
        self.assertEqual((doc["tenant"], doc["severity"]), ("ntf-a", "critical"))

        mail = wait_for(lambda: [m for m in Smtp.mails if "Ransomware on fs-01" in m[1]], what="e-mail")
        rcpt, data = mail[0]
        self.assertEqual(rcpt, ["<oncall@customer.test>"])
        self.assertIn("Subject: [Vigil] incident.created: Ransomware on fs-01", data)
        self.assertIn("From: soc@vigil.test", data)

        line = wait_for(lambda: [x for x in Syslog.lines if "Ransomware on fs-01" in x], what="syslog CEF")[0]
        self.assertIn("CEF:0|Vigil|vigild|", line)
        self.assertIn("|incident.created|Ransomware on fs-01|9|", line)
        self.assertIn("cs1=ntf-a", line)
        self.assertIn("externalId=%d" % inc["id"], line)

        # the dead port: pending, with the error and one attempt
        def failed_once():
            ds = self.req("GET", "/api/v1/notify/deliveries?status=pending", token=self.tok_a)["deliveries"]
            return [d for d in ds if d["route"] == dead["id"] and d["attempts"] >= 1]
        d = wait_for(failed_once, what="failed attempt")[0]
        self.assertIn("webhook", d["last_error"])
        sent = self.req("GET", "/api/v1/notify/deliveries?status=sent", token=self.tok_a)["deliveries"]
        self.assertGreaterEqual(len(sent), 3)
        # replay only takes dead letters
        self.req("POST", "/api/v1/notify/deliveries/%d/replay" % d["id"], token=self.tok_a, status=409)
        r = self.server.request("GET", "/metrics")
        self.assertIn("vigil_notify_sent_total", r.body.decode())

    def test_oncall_escalation_pages_the_member_on_call(self):
        """An unacknowledged incident climbs the ladder: the rota's member on call is paged by
        e-mail and webhook, then the next level; an acknowledged one pages nobody; another
        tenant sees neither the rota nor the pages."""
        hook = "http://127.0.0.1:%d/pager" % self.hook_port
        # one member on call around the clock (a week-long shift), another for later
        rota = self.req("POST", "/api/v1/oncall/rotas", {
            "name": "ntf-a week", "shift_hours": 168, "start": "2020-01-06T00:00:00Z",
            "members": [{"name": "Dana", "email": "dana@customer.test", "webhook": hook},
                        {"name": "Eli", "email": "eli@customer.test"}]}, token=self.tok_a, status=201)
        self.assertIn(rota["on_call"]["name"], ("Dana", "Eli"))
        # put Dana on call now, whatever the week says
        rota = self.req("POST", "/api/v1/oncall/rotas/%d/overrides" % rota["id"], {
            "member": "dana@customer.test", "end": int(time.time()) + 3600}, token=self.tok_a, status=201)
        self.assertEqual(rota["on_call"]["name"], "Dana")
        pol = self.req("POST", "/api/v1/escalation-policies", {
            "name": "unacknowledged", "min_severity": "high",
            "levels": [{"after_s": 1, "rota": rota["id"]}, {"after_s": 3, "email": "lead@customer.test"}]},
            token=self.tok_a, status=201)
        self.assertEqual(len(pol["levels"]), 2)
        acked = self.req("POST", "/api/v1/incidents", {"title": "Quiet one", "severity": "critical"},
                         token=self.tok_a, status=201)
        self.req("PATCH", "/api/v1/incidents/%d" % acked["id"], {"status": "acknowledged"}, token=self.tok_a)
        inc = self.req("POST", "/api/v1/incidents", {"title": "Unanswered exfiltration", "severity": "critical"},
                       token=self.tok_a, status=201)
        paged = wait_for(lambda: [g for g in Hook.got if g[0].get("X-Vigil-Event") == "incident.escalation"
                                  and json.loads(g[1])["data"]["incident_id"] == inc["id"]], what="webhook page")
        doc = json.loads(paged[0][1])
        self.assertEqual(doc["data"]["level"], 1)
        self.assertIn("Dana", doc["data"]["paged"])
        wait_for(lambda: [m for m in Smtp.mails if m[0] == ["<dana@customer.test>"]
                          and "Unanswered exfiltration" in m[1]], what="e-mail page to Dana")
        wait_for(lambda: [m for m in Smtp.mails if m[0] == ["<lead@customer.test>"]
                          and "Escalation level 2" in m[1]], what="level 2 e-mail")
        esc = self.req("GET", "/api/v1/incidents/%d/escalations" % inc["id"], token=self.tok_a)["escalations"]
        self.assertEqual([e["level"] for e in esc], [1, 2])
        tl = self.req("GET", "/api/v1/incidents/%d" % inc["id"], token=self.tok_a)["timeline"]
        self.assertEqual(len([t for t in tl if t["kind"] == "escalation"]), 2)
        self.assertEqual(self.req("GET", "/api/v1/incidents/%d/escalations" % acked["id"],
                                  token=self.tok_a)["escalations"], [])
        audit = self.req("GET", "/api/v1/audit?limit=200")["audit"]
        self.assertTrue([a for a in audit if a["action"] == "incident.escalation"
                         and a["object_id"] == str(inc["id"])])
        # the other tenant: not found, and its list is empty
        for path in ("/api/v1/oncall/rotas/%d" % rota["id"], "/api/v1/incidents/%d/escalations" % inc["id"]):
            self.assertEqual(self.server.request("GET", path, token=self.tok_b).status, 404)
        self.assertEqual(self.req("GET", "/api/v1/oncall/rotas", token=self.tok_b)["count"], 0)
        self.assertEqual(self.server.request("PATCH", "/api/v1/escalation-policies/%d" % pol["id"],
                                             {"enabled": False}, token=self.tok_b).status, 404)
        # bad input is refused with a reason
        r = self.server.request("POST", "/api/v1/escalation-policies", {"name": "x", "levels": []}, token=self.tok_a)
        self.assertEqual(r.status, 400)
        self.assertIn("levels", r.json()["error"])

    def test_scope_and_validation(self):
        r = self.req("POST", "/api/v1/notify/routes", {"name": "a-only", "channel": "webhook",
                                                        "target": "http://127.0.0.1:1/"}, token=self.tok_a, status=201)
        self.req("PATCH", "/api/v1/notify/routes/%d" % r["id"], {"enabled": False}, token=self.tok_b, status=404)
        self.req("DELETE", "/api/v1/notify/routes/%d" % r["id"], token=self.tok_b, status=404)
        self.assertEqual([x for x in self.req("GET", "/api/v1/notify/routes", token=self.tok_b)["routes"]
                          if x["id"] == r["id"]], [])
        self.req("POST", "/api/v1/notify/routes", {"name": "x", "channel": "pager", "target": "1"}, token=self.tok_a,
                 status=400)
        self.req("POST", "/api/v1/notify/routes", {"name": "x", "channel": "webhook", "target": "http://h/",
                                                    "hours": "9-to-5"}, token=self.tok_a, status=400)
        j = self.req("PATCH", "/api/v1/notify/routes/%d" % r["id"], {"enabled": False, "days": "mon-fri",
                                                                     "hours": "08-18"}, token=self.tok_a)
        self.assertFalse(j["enabled"])
        self.req("DELETE", "/api/v1/notify/routes/%d" % r["id"], token=self.tok_a)
        v = self.server.make_token(self.token, "ntf-viewer", role="customer_viewer", tenant="ntf-a")
        self.req("GET", "/api/v1/notify/routes", token=v, status=403)
        audit = self.req("GET", "/api/v1/audit?limit=200")["audit"]
        self.assertTrue(any(x["action"] == "notify_route.delete" for x in audit))


if __name__ == "__main__":
    unittest.main()
