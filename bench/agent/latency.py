#!/usr/bin/env python3
"""bench/agent/latency.py - event -> API latency of vigil-agent (issue 3: p99 <= 250 ms).

Starts a release vigild on a fresh data directory and an agent enrolled to it, then:

  agent   N marked execs (/bin/true lat-RUN-a-I) at a steady RATE per second; for each, the
          latency is the time its exec event is first returned by GET /api/v1/events minus the
          time just before the exec;
  direct  the baseline: N events carrying the same kind of marker POSTed one per request to
          POST /api/v1/events (no agent, no batching) at the same rate, timed the same way.

A poller thread asks the search API every --poll-ms (default 20) for the marked events of the
last seconds, so a latency is an upper bound with that resolution. Prints p50/p95/p99/max of
both and the agent/direct ratios. The agent runs with --no-fim (its first baseline of /usr/bin
would compete for the CPUs) and its own state directory; everything is in a mktemp directory
removed at the end.

usage: sudo python3 bench/agent/latency.py [--n 300] [--rate 20] [--poll-ms 20]
           [--vigild PATH] [--agent PATH] [--agent-arg ARG ...]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from urllib.parse import quote

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=300, help="marked events per phase (default 300)")
    p.add_argument("--rate", type=float, default=20.0, help="events per second (default 20)")
    p.add_argument("--poll-ms", type=int, default=20, help="search poll interval (default 20)")
    p.add_argument("--vigild", default=os.path.join(ROOT, "build/release/src/server/vigild"))
    p.add_argument("--agent", default=os.path.join(ROOT, "build/release/src/agent/vigil-agent"))
    p.add_argument("--agent-arg", action="append", default=[],
                   help="extra agent argument (repeatable), e.g. --agent-arg=--flush-ms=1000")
    a = p.parse_args()
    if not (1 <= a.n <= 100000 and 0.1 <= a.rate <= 1000 and 1 <= a.poll_ms <= 1000):
        p.error("--n 1..100000, --rate 0.1..1000, --poll-ms 1..1000")
    return a


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100.0 * (len(xs) - 1))))]


class Poller(threading.Thread):
    """Polls the search API for events whose FIELD carries PREFIX and notes when each marker is
    first seen (time.time() when the reply arrived)."""

    def __init__(self, server, token, field, prefix, poll_s):
        super().__init__(daemon=True)
        self.server, self.token, self.field, self.prefix, self.poll_s = server, token, field, prefix, poll_s
        self.seen = {}
        self.sent = {}  # marker -> send time, filled by the firing loop
        self.stop = False
        self.polls = 0
        self.errors = 0

    def marker_of(self, ev):
        v = ev
        for part in self.field.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            v = ev.get(self.field)  # flat extension keys
        if not isinstance(v, str):
            return None
        for word in v.split():
            if word.startswith(self.prefix):
                return word
        return None

    def run(self):
        q = quote('%s:*%s*' % (self.field, self.prefix))
        while not self.stop:
            # only the window of the oldest marker not seen yet: small replies, fine resolution
            pending = [t for m, t in list(self.sent.items()) if m not in self.seen]
            frm = int(min(pending) if pending else time.time()) - 2
            try:
                r = self.server.request("GET", "/api/v1/events?q=%s&from=%d&limit=1000&order=desc" % (q, frm),
                                        token=self.token)
                now = time.time()
                self.polls += 1
                if r.status == 200:
                    for ev in r.json()["events"]:
                        m = self.marker_of(ev)
                        if m and m not in self.seen:
                            self.seen[m] = now
                else:
                    self.errors += 1
            except Exception:  # a poll that fails is retried; counted
                self.errors += 1
            time.sleep(self.poll_s)


def run_phase(server, token, field, prefix, n, rate, poll_s, fire):
    """Fires n markers at rate through fire(marker) and returns the latencies in ms."""
    poller = Poller(server, token, field, prefix, poll_s)
    poller.start()
    sent = poller.sent
    t0 = time.time()
    for i in range(n):
        due = t0 + i / rate
        d = due - time.time()
        if d > 0:
            time.sleep(d)
        m = "%s%06d" % (prefix, i)
        sent[m] = time.time()
        fire(m)
    deadline = time.time() + 30
    while len(poller.seen) < n and time.time() < deadline:
        time.sleep(0.05)
    poller.stop = True
    poller.join()
    lat = [(poller.seen[m] - t) * 1000.0 for m, t in sent.items() if m in poller.seen]
    return lat, n - len(lat), poller


def summary(name, lat, missing, poller):
    if not lat:
        print("%-7s no event became visible (%d missing)" % (name, missing))
        return None
    row = {"p50": pct(lat, 50), "p95": pct(lat, 95), "p99": pct(lat, 99), "max": max(lat)}
    print("%-7s n=%d missing=%d p50=%.0f ms p95=%.0f ms p99=%.0f ms max=%.0f ms (polls=%d, poll errors=%d)" %
          (name, len(lat), missing, row["p50"], row["p95"], row["p99"], row["max"], poller.polls, poller.errors))
    return row


def main():
    a = parse_args()
    if os.geteuid() != 0:
        sys.exit("latency.py: must run as root (the agent's sensors)")
    for path in (a.vigild, a.agent):
        if not os.access(path, os.X_OK):
            sys.exit("latency.py: no binary at %s (cmake --build build/release)" % path)
    os.environ["VIGILD"] = a.vigild
    sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
    import harness  # noqa: E402 (VIGILD must be set first)

    tmp = tempfile.mkdtemp(prefix="viglat.")
    server = harness.Server(data_dir=os.path.join(tmp, "data"))
    agent = None
    try:
        server.start()
        server.setup()
        token = server.admin_token()
        r = server.request("POST", "/api/v1/enroll-tokens", {"name": "lat", "uses": 1, "expires_in_s": 600},
                           token=token)
        assert r.status == 201, r
        state = os.path.join(tmp, "agent")
        args = [a.agent, "--server", "https://127.0.0.1:%d" % server.port,
                "--cacert", os.path.join(server.data_dir, "tls", "server.crt"), "--enroll", r.json()["token"],
                "--state-dir", state, "--no-fim", "--health-interval", "3600"] + a.agent_arg
        log = open(os.path.join(tmp, "agent.log"), "wb")
        agent = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.time() + 60
        while server.count(token, "event.dataset:vigil.agent.health") == 0:
            if agent.poll() is not None or time.time() > deadline:
                sys.exit("latency.py: the agent did not deliver its health event:\n" +
                         open(os.path.join(tmp, "agent.log"), errors="replace").read()[-3000:])
            time.sleep(0.2)
        run = uuid.uuid4().hex[:8]
        poll_s = a.poll_ms / 1000.0
        print("# %d events per phase at %.1f/s, poll every %d ms; agent args: %s" %
              (a.n, a.rate, a.poll_ms, " ".join(a.agent_arg) or "(defaults)"))

        def exec_marker(m):
            subprocess.Popen(["/bin/true", m]).wait()

        def post_marker(m):
            ev = {"@timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + "Z",
                  "event": {"kind": "event", "category": "process", "action": "exec"},
                  "message": "direct " + m}
            rr = server.ingest(token, [ev])
            if rr.status // 100 != 2:
                raise RuntimeError("ingest: %r" % rr)

        lat_a, miss_a, pa = run_phase(server, token, "process.command_line", "lat-%s-a-" % run, a.n, a.rate,
                                      poll_s, exec_marker)
        lat_d, miss_d, pd = run_phase(server, token, "message", "lat-%s-d-" % run, a.n, a.rate, poll_s,
                                      post_marker)
        ra = summary("agent", lat_a, miss_a, pa)
        rd = summary("direct", lat_d, miss_d, pd)
        mem = {}
        with open("/proc/%d/status" % agent.pid) as fh:  # the enrolled agent's memory (mTLS, spool)
            for line in fh:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    mem[line.split(":")[0]] = int(line.split()[1])
        print("agent memory: peak_rss_kb=%d rss_kb=%d" % (mem.get("VmHWM", -1), mem.get("VmRSS", -1)))
        if ra and rd:
            print("ratio   agent/direct p50=%.2f p99=%.2f" % (ra["p50"] / rd["p50"], ra["p99"] / rd["p99"]))
        print("# summary")
        print(json.dumps({"agent": ra, "direct": rd, "agent_missing": miss_a, "direct_missing": miss_d}))
        return 0 if ra and not miss_a else 1
    finally:
        if agent and agent.poll() is None:
            agent.terminate()
            try:
                agent.wait(30)
            except subprocess.TimeoutExpired:
                agent.kill()
        server.stop(check=False)
        server.cleanup()
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    sys.exit(main())
