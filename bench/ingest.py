#!/usr/bin/env python3
"""bench/ingest - N events through HTTPS into the store.

Starts a release vigild on a fresh data directory, posts N synthetic events (process, network,
authentication and firewall mix) as NDJSON batches from the C load generator, each with its own
X-Vigil-Batch-Id; resends the first batch, which must be answered as a duplicate; checks through
the API that exactly N events are stored (none lost, none twice); stops the server (so the WAL is
checkpointed) and prints events/s and stored bytes per event, with the NDJSON size as the
baseline ratio.

    python3 bench/ingest.py [N] [BATCH] [THREADS]      (defaults 1000000 5000 2)
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("VIG_BENCH_BUILD", os.path.join(REPO, "build", "release"))
os.environ.setdefault("VIGILD", os.path.join(BUILD, "src", "server", "vigild"))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))
import harness  # noqa: E402


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            total += os.path.getsize(os.path.join(root, f))
    return total


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000000
    batch = int(sys.argv[2]) if len(sys.argv) > 2 else 5000
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    load = os.path.join(BUILD, "bench", "vig-ingest-load")
    srv = harness.Server().start()
    try:
        srv.setup()
        token = srv.admin_token()
        url = "https://127.0.0.1:%d" % srv.port
        out = subprocess.run([load, url, token, str(n), str(batch), str(threads)],
                             capture_output=True, text=True)
        sys.stdout.write(out.stdout)
        sys.stderr.write(out.stderr)
        fields = dict(kv.split("=", 1) for kv in out.stdout.split())
        r = srv.request("GET", "/api/v1/events/count?q=&from=0&to=4102444800", token=token)
        stored = r.json()["count"]
        srv.stop()
        ev_bytes = dir_bytes(os.path.join(srv.data_dir, "events"))
        raw = float(fields["ndjson_bytes_per_event"])
        per = ev_bytes / max(stored, 1)
        print("ingest: events=%d stored=%d lost=%d resend_duplicate=%s events_per_s=%s "
              "stored_bytes_per_event=%.1f ndjson_bytes_per_event=%.1f ratio_stored_to_ndjson=%.3f"
              % (n, stored, n - stored, fields["resend_duplicate"], fields["events_per_s"], per,
                 raw, per / raw))
        return 0 if stored == n and out.returncode == 0 else 1
    finally:
        srv.cleanup()


if __name__ == "__main__":
    sys.exit(main())
