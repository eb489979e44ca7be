"""NDJSON ingest: search finds events, bad lines rejected by line number while good lines land,
413 for oversized bodies, 401/403, idempotent batch ids, 100k events counted exactly,
aggregations."""

import json
import os
import sys
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import ServerTestCase  # noqa: E402


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class IngestTest(ServerTestCase):
    config_text = "limits:\n  max_body_bytes: 8MiB\n  max_event_bytes: 64KiB\n"

    def test_ingest_then_search(self):
        s, tag = self.server, "h-" + uuid.uuid4().hex[:8]
        evs = [{"@timestamp": now_rfc3339(), "host": {"name": tag},
                "process": {"name": "bash", "pid": 100 + i}, "event": {"category": "process"},
                "message": "hello %d" % i} for i in range(3)]
        r = s.ingest(self.token, evs)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual((j["accepted"], j["rejected"], j["duplicate"], j["errors"]), (3, 0, False, []))
        r = s.request("GET", "/api/v1/events?q=%s&limit=10" % quote("host.name:" + tag), token=self.token)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["count"], 3)
        self.assertEqual(sorted(e["process"]["pid"] for e in j["events"]), [100, 101, 102])
        for e in j["events"]:
            self.assertEqual(e["tenant"]["id"], "default")
        # events without @timestamp get the ingest time and are found in the default range
        r = s.ingest(self.token, [{"host": {"name": tag + "-nots"}}])
        self.assertEqual(r.json()["accepted"], 1)
        self.assertEqual(s.count(self.token, "host.name:" + tag + "-nots"), 1)
        # aggregations
        r = s.request("GET", "/api/v1/events/top?field=process.name&q=%s" % quote("host.name:" + tag),
                      token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["buckets"], [{"key": "bash", "count": 3}])
        r = s.request("GET", "/api/v1/events/histogram?interval=1h&q=%s" % quote("host.name:" + tag),
                      token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["interval_s"], 3600)
        self.assertEqual(sum(b["count"] for b in r.json()["buckets"]), 3)
        r = s.request("GET", "/api/v1/events?q=%s" % quote("host.name:\"unterminated"), token=self.token)
        self.assertEqual(r.status, 400, r)
        self.assertIn("error", r.json())
        r = s.request("GET", "/api/v1/fields", token=self.token)
        self.assertIn("process.name", [f["name"] for f in r.json()])

    def test_malformed_lines(self):
        s, tag = self.server, "m-" + uuid.uuid4().hex[:8]
        before = s.request("GET", "/metrics").body.decode()
        lines = [json.dumps({"host": {"name": tag}, "message": "good 1"}),
                 '{"host": {"name": "broken"',
                 "",
                 json.dumps({"host": {"name": tag}, "process": {"pid": "not-a-number"}}),
                 json.dumps({"host": {"name": tag}, "message": "good 5"}),
                 "[1,2,3]",
                 json.dumps({"host": {"name": tag}, "message": "x" * (70 * 1024)})]
        r = s.ingest(self.token, lines)
        self.assertEqual(r.status, 200, r)
        j = r.json()
        self.assertEqual(j["accepted"], 2)
        self.assertEqual(j["rejected"], 4)
        self.assertEqual([e["line"] for e in j["errors"]], [2, 4, 6, 7])
        for e in j["errors"]:
            self.assertTrue(e["error"])
        self.assertEqual(s.count(self.token, "host.name:" + tag), 2)
        after = s.request("GET", "/metrics").body.decode()
        self.assertNotEqual(before, after)
        self.assertIn('vigil_ingest_events_rejected_total{reason="too_big"} 1', after)
        # a batch with no valid event is a 400
        r = s.ingest(self.token, ["not json"])
        self.assertEqual(r.status, 400)
        self.assertEqual(r.json()["accepted"], 0)

    def test_oversized_body(self):
        body = ('{"message":"%s"}\n' % ("y" * 1000)) * 9000  # ~9 MB > 8 MiB
        r = self.server.request("POST", "/api/v1/events", body, token=self.token)
        self.assertEqual(r.status, 413)
        # libevent answers this one itself (before any handler runs), so the body is not JSON

    def test_auth_required(self):
        s = self.server
        self.assertEqual(s.ingest(None, [{"message": "x"}]).status, 401)
        self.assertEqual(s.ingest("vgt_" + "1" * 64, [{"message": "x"}]).status, 401)
        viewer = s.make_token(self.token, "viewer", role="tier1")
        r = s.ingest(viewer, [{"message": "x"}])
        self.assertIn(r.status, (403,))
        self.assertEqual(s.request("GET", "/api/v1/events", token=None).status, 401)

    def test_batch_id_idempotent(self):
        s, tag = self.server, "b-" + uuid.uuid4().hex[:8]
        evs = [{"host": {"name": tag}, "message": str(i)} for i in range(50)]
        r1 = s.ingest(self.token, evs, batch_id="batch-" + tag)
        self.assertEqual(r1.json()["duplicate"], False)
        r2 = s.ingest(self.token, evs, batch_id="batch-" + tag)
        self.assertEqual(r2.status, 200)
        self.assertEqual(r2.json()["duplicate"], True)
        self.assertEqual(s.count(self.token, "host.name:" + tag), 50)
        self.assertEqual(s.ingest(self.token, evs, batch_id="bad id!").status, 400)

    def test_100k_events_exact_count(self):
        s, tag = self.server, "k-" + uuid.uuid4().hex[:8]
        total, per = 100000, 10000
        for b in range(total // per):
            evs = ['{"host":{"name":"%s"},"process":{"name":"p%d","pid":%d},"event":{"category":"process"}}'
                   % (tag, i % 7, i) for i in range(b * per, (b + 1) * per)]
            r = s.ingest(self.token, evs, batch_id="%s-%d" % (tag, b))
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["accepted"], per)
        self.assertEqual(s.count(self.token, "host.name:" + tag), total)
        r = s.request("GET", "/api/v1/events/top?size=3&field=process.name&q=%s" % quote("host.name:" + tag),
                      token=self.token)
        j = r.json()
        self.assertEqual(len(j["buckets"]), 3)
        self.assertEqual(sum(b["count"] for b in j["buckets"]) + j["other"], total)

    def test_batch_too_many_events(self):
        # ingest.batch_max_events default is 20000
        body = '{"message":"a"}\n' * 20001
        r = self.server.request("POST", "/api/v1/events", body, token=self.token)
        self.assertEqual(r.status, 413)


if __name__ == "__main__":
    unittest.main()
