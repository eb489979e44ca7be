"""Health, first-run setup, login/logout, CSRF, /me, security headers, routing errors."""

import os
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ADMIN_PASSWORD, Server  # noqa: E402


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = Server()
        cls.addClassCleanup(cls.server.cleanup)
        cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()

    def test_1_health_and_headers(self):
        r = self.server.request("GET", "/api/v1/health")
        self.assertEqual(r.status, 200)
        j = r.json()
        self.assertEqual(j["status"], "ok")
        self.assertEqual(j["version"], "0.1.0")
        self.assertIn("uptime_s", j)
        self.assertEqual(r.header("Cache-Control"), "no-store")
        self.assertEqual(r.header("X-Content-Type-Options"), "nosniff")
        self.assertEqual(r.header("X-Frame-Options"), "DENY")
        self.assertEqual(r.header("Content-Security-Policy"), "default-src 'self'")
        self.assertIn("max-age=", r.header("Strict-Transport-Security"))

    def test_2_setup_once(self):
        s = self.server
        self.assertTrue(s.request("GET", "/api/v1/setup").json()["needed"])
        st = os.stat(os.path.join(s.data_dir, "setup-token"))
        self.assertEqual(st.st_mode & 0o777, 0o600)
        r = s.request("POST", "/api/v1/setup", {"setup_token": "wrong", "username": "admin",
                                                "password": ADMIN_PASSWORD})
        self.assertEqual(r.status, 401)
        self.assertEqual(r.json()["code"], "eauth")
        s.setup()
        self.assertFalse(s.request("GET", "/api/v1/setup").json()["needed"])
        r = s.request("POST", "/api/v1/setup", {"setup_token": s.setup_token(),
                                                "username": "admin2", "password": ADMIN_PASSWORD})
        self.assertEqual(r.status, 409)

    def test_3_login_csrf_logout(self):
        s = self.server
        r = s.request("POST", "/api/v1/login", {"username": "admin", "password": "not-the-password"})
        self.assertEqual(r.status, 401)
        self.assertIsNone(r.header("Set-Cookie"))
        session, cookie = s.login()
        for flag in ("HttpOnly", "Secure", "SameSite=Strict", "Path=/"):
            self.assertIn(flag, cookie)
        me = s.request("GET", "/api/v1/me", session=session)
        self.assertEqual(me.status, 200)
        j = me.json()
        self.assertEqual(j["username"], "admin")
        self.assertEqual(j["tenant"], "default")
        self.assertEqual(j["role"], "admin")
        self.assertIn("events:read", j["permissions"])
        self.assertEqual(j["auth"], "session")
        # state change with a cookie but without the CSRF header: refused
        r = s.request("POST", "/api/v1/tokens", {"name": "x", "role": "tier1"}, session=session,
                      csrf=False)
        self.assertEqual(r.status, 403)
        r = s.request("POST", "/api/v1/tokens", {"name": "x", "role": "tier1"}, session=session,
                      headers={"X-CSRF-Token": "0" * 64}, csrf=False)
        self.assertEqual(r.status, 403)
        r = s.request("POST", "/api/v1/tokens", {"name": "x", "role": "tier1"}, session=session)
        self.assertEqual(r.status, 201)
        tok = r.json()["token"]
        self.assertTrue(tok.startswith("vgt_"))
        me = s.request("GET", "/api/v1/me", token=tok).json()
        self.assertEqual(me["role"], "tier1")
        self.assertEqual(me["auth"], "token")
        r = s.request("POST", "/api/v1/logout", session=session)
        self.assertEqual(r.status, 200)
        self.assertIn("Max-Age=0", r.header("Set-Cookie"))
        self.assertEqual(s.request("GET", "/api/v1/me", session=session).status, 401)

    def test_4_auth_errors(self):
        s = self.server
        r = s.request("GET", "/api/v1/me")
        self.assertEqual(r.status, 401)
        self.assertEqual(set(r.json().keys()), {"error", "code"})
        self.assertEqual(s.request("GET", "/api/v1/me", token="vgt_" + "0" * 64).status, 401)
        self.assertEqual(s.request("GET", "/api/v1/me", headers={"Authorization": "Basic x"}).status,
                         401)
        self.assertEqual(s.request("GET", "/api/v1/nothing-here").status, 404)
        self.assertEqual(s.request("DELETE", "/api/v1/health").status, 405)
        self.assertEqual(s.request("GET", "/api/v1/users/abc").status, 405)

    def test_5_tls_old_versions_refused(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        except (ValueError, ssl.SSLError):
            self.skipTest("local OpenSSL cannot offer TLS 1.1")
        import socket
        with socket.create_connection(("127.0.0.1", self.server.port)) as raw:
            with self.assertRaises((ssl.SSLError, ConnectionResetError)):
                with ctx.wrap_socket(raw, server_hostname="localhost") as t:
                    t.do_handshake()

    def test_6_metrics(self):
        r = self.server.request("GET", "/metrics")
        self.assertEqual(r.status, 200)
        text = r.body.decode()
        for name in ("vigil_http_requests_total", "vigil_ingest_events_accepted_total",
                     "vigil_ingest_events_rejected_total", "vigil_ingest_queue_depth",
                     "vigil_store_append_seconds_bucket", "vigil_sse_subscribers",
                     "vigil_uptime_seconds"):
            self.assertIn(name, text)
        self.assertIn('vigil_http_requests_total{status="401"}', text)


if __name__ == "__main__":
    unittest.main()
