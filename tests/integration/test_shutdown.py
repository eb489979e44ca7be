"""Graceful shutdown: SIGTERM while clients ingest; every acknowledged event is in the store
after a restart, and resending the unacknowledged batches (same batch ids) completes the set
without duplicates. Also: the live stream endpoint sends its heartbeat and ends at shutdown."""

import http.client
import os
import signal
import ssl
import sys
import threading
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Server  # noqa: E402

PER_BATCH = 2000


def batch(tag, b):
    return ['{"host":{"name":"%s"},"process":{"pid":%d}}' % (tag, b * PER_BATCH + i)
            for i in range(PER_BATCH)]


class ShutdownTest(unittest.TestCase):
    def test_sigterm_while_ingesting(self):
        s = Server(config_text="ingest:\n  queue_batches: 4\nsse:\n  heartbeat_s: 1\n")
        try:
            s.start()
            s.setup()
            tok = s.admin_token()
            tag = "sd-" + uuid.uuid4().hex[:8]
            acked, sent, lock = set(), set(), threading.Lock()
            stop = threading.Event()

            def client(worker):
                b = worker
                while not stop.is_set():
                    with lock:
                        sent.add(b)
                    try:
                        r = s.ingest(tok, batch(tag, b), batch_id="%s-%d" % (tag, b), timeout=60)
                    except (OSError, ssl.SSLError, http.client.HTTPException):
                        return  # server gone
                    if r.status == 200:
                        self.assertEqual(r.json()["accepted"], PER_BATCH)
                        with lock:
                            acked.add(b)
                    elif r.status in (429, 503):
                        time.sleep(0.05)
                        continue
                    else:
                        raise AssertionError(r)
                    b += 4

            threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
            for t in threads:
                t.start()
            deadline = time.time() + 120
            while len(acked) < 8 and time.time() < deadline:
                time.sleep(0.05)
            self.assertGreaterEqual(len(acked), 8)
            s.proc.send_signal(signal.SIGTERM)
            rc = s.proc.wait(120)
            stop.set()
            for t in threads:
                t.join(120)
            self.assertEqual(rc, 0, s.read_log()[-3000:])
            s.stop()  # sanitizer check of the log

            s.start()
            n = s.count(tok, "host.name:" + tag)
            self.assertGreaterEqual(n, len(acked) * PER_BATCH)
            self.assertLessEqual(n, len(sent) * PER_BATCH)
            for b in sorted(sent - acked):
                r = s.ingest(tok, batch(tag, b), batch_id="%s-%d" % (tag, b))
                self.assertEqual(r.status, 200, r)
            for b in sorted(acked)[:3]:
                r = s.ingest(tok, batch(tag, b), batch_id="%s-%d" % (tag, b))
                self.assertTrue(r.json()["duplicate"])
            self.assertEqual(s.count(tok, "host.name:" + tag), len(sent) * PER_BATCH)
            s.stop()
        finally:
            s.cleanup()

    def test_stream_heartbeat_and_shutdown(self):
        s = Server(config_text="sse:\n  heartbeat_s: 1\n")
        try:
            s.start()
            s.setup()
            tok = s.admin_token()
            conn = s.connection(timeout=30)
            conn.request("GET", "/api/v1/stream", headers={"Authorization": "Bearer " + tok})
            r = conn.getresponse()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.getheader("Content-Type"), "text/event-stream")
            got = b""
            deadline = time.time() + 10
            while b": heartbeat" not in got and time.time() < deadline:
                got += r.read1(4096)
            self.assertIn(b": connected", got)
            self.assertIn(b": heartbeat", got)
            m = s.request("GET", "/metrics").body.decode()
            self.assertIn("vigil_sse_subscribers 1", m)
            self.assertEqual(s.request("GET", "/api/v1/stream").status, 401)
            s.proc.send_signal(signal.SIGTERM)
            rest = b""
            try:
                while True:
                    chunk = r.read1(4096)
                    if not chunk:
                        break
                    rest += chunk
            except (OSError, http.client.HTTPException):
                pass
            conn.close()
            self.assertEqual(s.proc.wait(60), 0)
            s.stop()
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
