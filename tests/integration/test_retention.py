"""Retention: the job drops events older than their tenant's retention and keeps the rest."""

import datetime
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402

ALL_TIME = "&from=0&to=4102444800"


def days_ago(d):
    t = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=d)
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class RetentionTest(ServerTestCase):
    config_text = "retention:\n  interval_s: 1\n"

    def test_tenant_retention(self):
        s, t = self.server, self.token
        r = s.request("POST", "/api/v1/tenants", {"id": "short", "retention_days": 5}, token=t)
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.json()["retention_days"], 5)
        r = s.request("POST", "/api/v1/tenants", {"id": "dflt"}, token=t)
        self.assertEqual(r.json()["retention_days"], 90)  # retention.default_days
        events = []
        for tenant in ("default", "short"):
            for age in (200, 10, 1):
                events.append({"@timestamp": days_ago(age), "tenant": {"id": tenant},
                               "event": {"action": "retention-%d" % age}})
        r = s.ingest(t, events)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 6)
        want = {("default", 200): 0, ("default", 10): 1, ("default", 1): 1,
                ("short", 200): 0, ("short", 10): 0, ("short", 1): 1}
        deadline = time.time() + 30
        while True:
            got = {(tn, age): s.count(t, "event.action:retention-%d" % age,
                                      ALL_TIME + "&tenant=" + tn)
                   for tn, age in want}
            if got == want or time.time() > deadline:
                break
            time.sleep(0.5)
        self.assertEqual(got, want)
        self.assertIn("retention run", s.read_log())


if __name__ == "__main__":
    unittest.main()
