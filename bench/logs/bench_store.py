"""Parse + store throughput of vigild's log collection: one vigild (tests/integration/harness.py,
a fresh data directory), then for each FORMAT FILE pair the file's lines are sent again and
again (about TARGET lines) through POST /api/v1/ingest/raw in batches of 5,000 lines, and for
syslog files also through the syslog TCP receiver (LF framing); the run ends when the store
holds (or counted as dropped) every line. Printed: lines, wall seconds, vigild CPU seconds (utime + stime from
/proc/PID/stat) and lines per vigild CPU-second. The client's own CPU is not counted.

usage: VIGILD=... python3 bench_store.py TARGET FORMAT FILE [FORMAT FILE ...]
"""

import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))
from harness import Server, free_port  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
BATCH = 5000


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def lines_of(path):
    with open(path, "rb") as f:
        return [l.rstrip(b"\r\n") for l in f if l.strip()]


def stored(srv, token):
    r = srv.request("GET", "/api/v1/sources", token=token)
    # received: every record once its batch is done (stored, failed, skipped header or dropped)
    return sum(s["counters"]["received"] for s in r.json()["sources"])


def dropped(srv, token):
    r = srv.request("GET", "/api/v1/sources", token=token)
    return sum(s["counters"]["dropped"] for s in r.json()["sources"])


def measure(srv, token, label, send, n):
    base, base_drop = stored(srv, token), dropped(srv, token)
    c0, t0 = cpu_s(srv.proc.pid), time.time()
    send()
    while stored(srv, token) - base < n:
        time.sleep(0.05)
    dt, dc = time.time() - t0, cpu_s(srv.proc.pid) - c0
    print("%-44s lines=%d wall_s=%.2f vigild_cpu_s=%.2f lines_per_cpu_s=%.0f lines_per_s=%.0f dropped=%d"
          % (label, n, dt, dc, n / dc if dc > 0 else 0, n / dt, dropped(srv, token) - base_drop))
    sys.stdout.flush()


def main():
    target, pairs = int(sys.argv[1]), sys.argv[2:]
    tcp = free_port()
    srv = Server(config_text="syslog:\n  tcp: 127.0.0.1:%d\n  flush_ms: 100\n"
                             "ingest:\n  queue_batches: 16\n" % tcp)
    try:
        srv.start()
        srv.setup()
        token = srv.admin_token()
        for i in range(0, len(pairs), 2):
            fmt, path = pairs[i], pairs[i + 1]
            lines = lines_of(path)
            reps = max(1, target // len(lines))
            body = lines * reps
            n = len(body)

            def post(chunk, fmt=fmt, i=i):
                r = srv.request("POST", "/api/v1/ingest/raw?format=%s&source=bench-%d" % (fmt, i),
                                b"\n".join(chunk) + b"\n", token=token)
                if r.status == 413 and len(chunk) > 1:  # e.g. an append spanning > 64 days
                    post(chunk[:len(chunk) // 2])
                    post(chunk[len(chunk) // 2:])
                elif r.status not in (200, 400):
                    raise RuntimeError(repr(r))

            def http_send(body=body):
                for j in range(0, len(body), BATCH):
                    post(body[j:j + BATCH])

            measure(srv, token, "%s %s (ingest/raw)" % (fmt, os.path.basename(path)), http_send, n)
            if fmt == "syslog":
                def tcp_send(body=body):
                    s = socket.create_connection(("127.0.0.1", tcp))
                    s.sendall(b"\n".join(body) + b"\n")
                    s.close()
                measure(srv, token, "%s %s (syslog tcp)" % (fmt, os.path.basename(path)), tcp_send, n)
    finally:
        srv.stop(check=False)
        srv.cleanup()


if __name__ == "__main__":
    main()
