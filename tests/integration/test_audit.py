"""Audit log: changes produce rows, the chain verifies, and tampering with the SQLite file
directly (dropping the append-only trigger, updating a row) is reported with the row id."""

import os
import sqlite3
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402


class AuditTest(unittest.TestCase):
    def test_audit_chain_and_tamper(self):
        s = Server()
        try:
            s.start()
            s.setup()
            tok = s.admin_token()
            r = s.request("POST", "/api/v1/tenants", {"id": "acme"}, token=tok)
            self.assertEqual(r.status, 201, r)
            r = s.request("POST", "/api/v1/users", {"username": "bob", "password": "bob-password-1",
                                                    "role": "tier1"}, token=tok)
            self.assertEqual(r.status, 201, r)
            uid = r.json()["id"]
            self.assertEqual(s.request("PATCH", "/api/v1/users/%d" % uid, {"role": "tier2"},
                                       token=tok).status, 200)
            self.assertEqual(s.request("DELETE", "/api/v1/users/%d" % uid, token=tok).status, 200)
            r = s.request("GET", "/api/v1/audit?limit=100", token=tok)
            self.assertEqual(r.status, 200)
            rows = r.json()["audit"]
            actions = [a["action"] for a in rows]
            self.assertGreaterEqual(len(rows), 6)
            ids = [a["id"] for a in rows]
            self.assertEqual(ids, sorted(ids, reverse=True))  # newest first
            text = " ".join(actions)
            for word in ("setup", "login", "tenant", "user"):
                self.assertIn(word, text)
            self.assertEqual(rows[0]["actor"], "admin")
            older = s.request("GET", "/api/v1/audit?limit=2&before=%d" % ids[0], token=tok).json()["audit"]
            self.assertEqual([a["id"] for a in older], ids[1:3])
            v = s.request("POST", "/api/v1/audit/verify", token=tok).json()
            self.assertTrue(v["ok"])
            self.assertEqual(v["rows"], len(rows))
            # the rows of given objects only (an incident page's audit history)
            inc = s.request("POST", "/api/v1/incidents", {"title": "audited"}, token=tok).json()["id"]
            s.request("POST", "/api/v1/incidents/%d/comments" % inc, {"body": "noted"}, token=tok)
            mine = s.request("GET", "/api/v1/audit?objects=incident:%d,user:%d" % (inc, uid),
                             token=tok).json()["audit"]
            self.assertEqual({(a["object_type"], a["object_id"]) for a in mine},
                             {("incident", str(inc)), ("user", str(uid))})
            self.assertEqual({a["action"] for a in mine if a["object_type"] == "incident"},
                             {"incident.create", "incident.comment"})
            for bad in ("incident", "Incident:1", ":1", ",".join(["incident:1"] * 101)):
                self.assertEqual(s.request("GET", "/api/v1/audit?objects=" + bad, token=tok).status, 400, bad)
            s.stop()

            # tamper: the triggers refuse a plain UPDATE, so drop them first, as an attacker with
            # the file would
            db = sqlite3.connect(os.path.join(s.data_dir, "control.db"))
            with self.assertRaises(sqlite3.DatabaseError):
                db.execute("UPDATE audit_log SET actor='mallory' WHERE id=3")
            db.rollback()
            names = [n for (n,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_log'")]
            self.assertTrue(names)
            for n in names:
                db.execute('DROP TRIGGER "%s"' % n)
            db.execute("UPDATE audit_log SET actor='mallory' WHERE id=3")
            db.commit()
            db.close()

            s.start()
            v = s.request("POST", "/api/v1/audit/verify", token=tok).json()
            self.assertFalse(v["ok"])
            self.assertEqual(v["first_bad_id"], 3)
            self.assertTrue(v["reason"])
            s.stop()
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
