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
    config_text = "notify:\n  smtp_url: smtp://127.0.0.1:%d\n  smtp_from: soc@vigil.test\n  smtp_tls: try\n" % smtp_port

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

        got = wait_for(lambda: [g for g in Hook.got if json.loads(g[1])["data"]["id"] == inc["id"]],
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
