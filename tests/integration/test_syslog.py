"""Log collection against the real vigild: syslog over UDP, TCP (LF and RFC 6587 octet
counting) and TLS lands in the store and is searchable; an oversize message is counted, not
lost silently; the source registry counts per sender, can be renamed and mapped; a source
going silent raises a health alert that closes when it speaks again; raw-log ingest (and
`vigilctl replay` when VIGILCTL is set) keeps each line's own timestamp; reduction policies
drop what they should, and identical events merge into one with their raw originals kept as
evidence.

Real lines come from ../shared/data (env VIG_SHARED_DIR, else the repository's sibling
`shared/data`) when present; small fixtures otherwise.
"""

import json
import os
import re
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid
from urllib.parse import quote

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, ServerTestCase, free_port  # noqa: E402

SHARED = os.environ.get("VIG_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared", "data")
ALL_TIME = "&from=0&to=4102444800"

FIXTURE_SSH = [
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "Dec 10 07:02:47 LabSZ sshd[24203]: Connection closed by 212.47.254.145 [preauth]",
    "Dec 10 07:07:38 LabSZ sshd[24206]: Invalid user test9 from 52.80.34.196",
    "Dec 10 07:08:28 LabSZ sshd[24208]: Accepted password for fztu from 119.137.62.142 port 49116 ssh2",
]


def ssh_lines(n):
    """n distinct real OpenSSH lines (loghub) or the fixtures."""
    path = os.path.join(SHARED, "loghub", "OpenSSH", "OpenSSH_2k.log")
    lines = []
    if os.path.exists(path):
        with open(path, encoding="utf-8", errors="replace") as f:
            seen = set()
            for line in f:
                line = line.rstrip("\n")
                if line and line not in seen:
                    seen.add(line)
                    lines.append(line)
                if len(lines) == n:
                    break
    return lines or FIXTURE_SSH[:n]


def with_host(line, host):
    """Replaces the RFC 3164 hostname (4th token) so that a test finds its own events."""
    parts = line.split(" ", 4)
    if len(parts) == 5 and parts[2].count(":") == 2:
        parts[3] = host
        return " ".join(parts)
    return re.sub(r"^(\S+\s+\S+\s+\S+)\s+\S+", r"\1 " + host, line)


def udp_send(port, msgs, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    for m in msgs:
        s.sendto(m.encode() if isinstance(m, str) else m, ("127.0.0.1", port))
    s.close()


def tcp_connect(port, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def dig(obj, dotted):
    """obj["a"]["b"]["c"] for "a.b.c" (events nest their dotted names)."""
    for k in dotted.split("."):
        if not isinstance(obj, dict) or k not in obj:
            return None
        obj = obj[k]
    return obj


def octet(msg):
    b = msg.encode()
    return str(len(b)).encode() + b" " + b


class SyslogBase(ServerTestCase):
    udp = tcp = tls = None

    @classmethod
    def config(cls, extra=""):
        cls.udp, cls.tcp, cls.tls = free_port(), free_port(), free_port()
        return ("syslog:\n  udp: 127.0.0.1:%d\n  tcp: 127.0.0.1:%d\n  tls: 127.0.0.1:%d\n"
                "  flush_ms: 50\n  max_message_bytes: 2KiB\n" % (cls.udp, cls.tcp, cls.tls)) + extra

    def wait_count(self, q, want, timeout=30, extra=""):
        deadline, n = time.time() + timeout, -1
        while time.time() < deadline:
            n = self.server.count(self.token, q, ALL_TIME + extra)
            if n >= want:
                return n
            time.sleep(0.2)
        return n

    def events(self, q, limit=100):
        r = self.server.request("GET", "/api/v1/events?limit=%d&q=%s%s" % (limit, quote(q), ALL_TIME),
                                token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()["events"]

    def source(self, address, type_="syslog"):
        r = self.server.request("GET", "/api/v1/sources", token=self.token)
        self.assertEqual(r.status, 200, r)
        for s in r.json()["sources"]:
            if s["address"] == address and s["type"] == type_:
                return s
        return None

    def metric(self, name):
        r = self.server.request("GET", "/metrics")
        for line in r.body.decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
        return 0.0


class SyslogDeliveryTest(SyslogBase):
    @classmethod
    def setUpClass(cls):
        cls.config_text = cls.config("reduction:\n  merge: false\n")
        super().setUpClass()

    def test_udp_real_lines(self):
        tag = "udp-" + uuid.uuid4().hex[:8]
        lines = [with_host(l, tag) for l in ssh_lines(50)]
        udp_send(self.udp, lines, src="127.0.0.2")
        self.assertEqual(self.wait_count("host.name:" + tag, len(lines)), len(lines))
        # the sshd sub-parser ran on content after the header
        evs = self.events("host.name:%s and process.name:sshd" % tag)
        self.assertTrue(evs)
        self.assertTrue(any(e.get("event", {}).get("dataset") == "system.auth" for e in evs), evs[:2])
        self.assertTrue(all(dig(e, "log.source.address") == "127.0.0.2" for e in evs), evs[0])
        src = self.source("127.0.0.2")
        self.assertIsNotNone(src)
        self.assertEqual(src["transport"], "udp")
        self.assertGreaterEqual(src["counters"]["parsed"], len(lines))
        self.assertEqual(src["hostname"], tag)

    def test_tcp_lf_and_rfc5424(self):
        tag = "tcp-" + uuid.uuid4().hex[:8]
        msgs = ['<38>1 2024-05-01T10:00:0%dZ %s sshd 42 ID47 [origin@32473 ip="10.9.9.%d" env="it"] '
                'Failed password for root from 10.0.0.%d port 22 ssh2' % (i, tag, i, i) for i in range(5)]
        s = tcp_connect(self.tcp, "127.0.0.3")
        s.sendall(("\n".join(msgs) + "\n").encode())
        s.close()
        self.assertEqual(self.wait_count("host.name:" + tag, 5), 5)
        evs = self.events("host.name:" + tag)
        e = [x for x in evs if x.get("source", {}).get("ip") == "10.0.0.3"][0]
        self.assertEqual(e["@timestamp"][:19], "2024-05-01T10:00:03")
        self.assertEqual(dig(e, "log.syslog.structured_data")["origin@32473"]["ip"], "10.9.9.3")
        self.assertEqual(e["event"]["outcome"], "failure")

    def test_tcp_octet_counting(self):
        tag = "oct-" + uuid.uuid4().hex[:8]
        # a message with an embedded newline stays one message under octet counting
        msgs = ["<13>1 2024-05-02T08:00:00Z %s app - - - line one\nline two %d" % (tag, i) for i in range(3)]
        s = tcp_connect(self.tcp, "127.0.0.4")
        data = b"".join(octet(m) for m in msgs)
        s.sendall(data[:7])  # split across reads
        time.sleep(0.1)
        s.sendall(data[7:])
        s.close()
        self.assertEqual(self.wait_count("host.name:" + tag, 3), 3)
        self.assertEqual(self.server.count(self.token, "host.name:%s and \"line two\"" % tag, ALL_TIME), 3)

    def test_tls(self):
        tag = "tls-" + uuid.uuid4().hex[:8]
        ctx = self.server.ssl_context()
        raw = tcp_connect(self.tls, "127.0.0.5")
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        msgs = [with_host(l, tag) for l in ssh_lines(10)]
        s.sendall(b"".join(octet(m) for m in msgs))
        s.close()
        self.assertEqual(self.wait_count("host.name:" + tag, len(msgs)), len(msgs))
        self.assertEqual(self.source("127.0.0.5")["transport"], "tls")

    def test_cef_and_iptables_in_syslog(self):
        tag = "cef-" + uuid.uuid4().hex[:8]
        cef = ("<134>Sep 19 08:26:10 %s CEF:0|Security|threatmanager|1.0|100|worm successfully stopped|10|"
               "src=10.0.0.1 dst=2.1.2.2 spt=1232" % tag)
        ipt = ("<4>Feb 20 10:47:14 %s kernel: [  341.399450] [netfilter-OUTPUT] IN= OUT=enp0s3 "
               "SRC=192.168.122.235 DST=192.168.122.1 LEN=56 TOS=0x00 PREC=0x00 TTL=64 ID=47923 DF "
               "PROTO=UDP SPT=43648 DPT=53 LEN=36" % tag)
        udp_send(self.udp, [cef, ipt], src="127.0.0.6")
        self.assertEqual(self.wait_count("host.name:" + tag, 2), 2)
        self.assertEqual(self.server.count(self.token, "host.name:%s and destination.ip:2.1.2.2" % tag,
                                           ALL_TIME), 1)
        self.assertEqual(self.server.count(self.token, "host.name:%s and destination.port:53" % tag,
                                           ALL_TIME), 1)

    def test_oversize_counted(self):
        before = self.metric('vigil_syslog_dropped_total{reason="oversize"}')
        udp_send(self.udp, ["<13>Jan  1 00:00:00 big app: " + "x" * 4000], src="127.0.0.7")
        s = tcp_connect(self.tcp, "127.0.0.7")
        tag = "after-" + uuid.uuid4().hex[:6]
        s.sendall(b"<13>Jan  1 00:00:00 big app: " + b"y" * 5000 + b"\n" +
                  ("<13>Jan  1 00:00:01 %s app: fine\n" % tag).encode())
        s.close()
        self.assertEqual(self.wait_count("host.name:" + tag, 1), 1)  # the stream survived
        deadline = time.time() + 10
        while time.time() < deadline and self.metric('vigil_syslog_dropped_total{reason="oversize"}') < before + 2:
            time.sleep(0.2)
        self.assertGreaterEqual(self.metric('vigil_syslog_dropped_total{reason="oversize"}'), before + 2)
        self.assertGreaterEqual(self.source("127.0.0.7")["counters"]["dropped"], 2)

    def test_bad_octet_count_closes(self):
        s = tcp_connect(self.tcp, "127.0.0.8")
        s.sendall(b"12x <13>bad\n")
        s.settimeout(5)
        self.assertEqual(s.recv(10), b"")  # closed by the server
        s.close()

    def test_source_patch_and_tenant_mapping(self):
        udp_send(self.udp, ["<13>Jan  1 00:00:00 maphost app: hello"], src="127.0.0.10")
        deadline = time.time() + 10
        while time.time() < deadline and not self.source("127.0.0.10"):
            time.sleep(0.2)
        src = self.source("127.0.0.10")
        self.assertIsNotNone(src)
        r = self.server.request("POST", "/api/v1/tenants", {"id": "acme", "name": "Acme"}, token=self.token)
        self.assertIn(r.status, (201, 409), r)
        r = self.server.request("PATCH", "/api/v1/sources/%d" % src["id"],
                                {"name": "edge-fw", "asset": "fw-01", "tenant": "acme"}, token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual((r.json()["name"], r.json()["tenant"]), ("edge-fw", "acme"))
        r = self.server.request("PATCH", "/api/v1/sources/%d" % src["id"], {"bogus": 1}, token=self.token)
        self.assertEqual(r.status, 400, r)
        r = self.server.request("PATCH", "/api/v1/sources/%d" % src["id"], {"tenant": "nope"}, token=self.token)
        self.assertEqual(r.status, 400, r)
        r = self.server.request("PATCH", "/api/v1/sources/999999", {"name": "x"}, token=self.token)
        self.assertEqual(r.status, 404, r)
        tag = "mapped-" + uuid.uuid4().hex[:6]
        udp_send(self.udp, ["<13>Jan  1 00:00:00 %s app: mapped" % tag], src="127.0.0.10")
        self.assertEqual(self.wait_count("host.name:" + tag, 1, extra="&tenant=acme"), 1)
        ev = self.server.request("GET", "/api/v1/events?tenant=acme&q=%s%s" % (quote("host.name:" + tag), ALL_TIME),
                                 token=self.token).json()["events"][0]
        self.assertEqual(ev["tenant"]["id"], "acme")
        r = self.server.request("GET", "/api/v1/audit", token=self.token)
        self.assertIn("source.update", r.body.decode())


class BackPressureTest(SyslogBase):
    """A tiny ingest queue: TCP senders are slowed down, never dropped."""

    @classmethod
    def setUpClass(cls):
        cls.config_text = cls.config().replace("  flush_ms: 50\n", "  flush_ms: 50\n  batch_records: 20\n") + \
            "ingest:\n  queue_batches: 1\n"
        super().setUpClass()

    def test_tcp_no_loss_when_queue_full(self):
        tag = "bp-" + uuid.uuid4().hex[:6]
        n = 4000
        socks = [tcp_connect(self.tcp, "127.0.0.%d" % (30 + k)) for k in range(4)]
        for k, s in enumerate(socks):
            s.sendall("".join("<13>Jan  1 00:00:00 %s app: conn %d msg %d\n" % (tag, k, i)
                              for i in range(n // 4)).encode())
        for s in socks:
            s.close()
        self.assertEqual(self.wait_count("host.name:" + tag, n, timeout=120), n)
        self.assertEqual(self.metric('vigil_syslog_dropped_total{reason="queue_full"}'), 0)
        self.assertGreater(self.metric("vigil_syslog_pauses_total"), 0)


class SourceHealthTest(SyslogBase):
    @classmethod
    def setUpClass(cls):
        cls.config_text = cls.config("sources:\n  check_interval_s: 1\n  silence_after_s: 0\n"
                                     "  error_min_records: 5\n  error_rate_pct: 50\n")
        super().setUpClass()

    def alerts(self, rule):
        r = self.server.request("GET", "/api/v1/alerts?rule_id=%s" % rule, token=self.token)
        self.assertEqual(r.status, 200, r)
        return r.json()["alerts"]

    def wait_alert(self, rule, status, host, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            for a in self.alerts(rule):
                if a["host"] == host and a["status"] == status:
                    return a
            time.sleep(0.3)
        self.fail("no %s alert %s for %s: %r" % (status, rule, host, self.alerts(rule)))

    def test_silent_source_alert_and_recovery(self):
        udp_send(self.udp, ["<13>Jan  1 00:00:00 quiet app: hello"], src="127.0.0.20")
        deadline = time.time() + 10
        while time.time() < deadline and not self.source("127.0.0.20"):
            time.sleep(0.2)
        src = self.source("127.0.0.20")
        r = self.server.request("PATCH", "/api/v1/sources/%d" % src["id"],
                                {"name": "quiet-fw", "silence_after_s": 2}, token=self.token)
        self.assertEqual(r.status, 200, r)
        a = self.wait_alert("health:source-silent", "open", "quiet-fw")
        self.assertIn("quiet-fw", a["title"])
        self.assertEqual(self.source("127.0.0.20")["status"], "silent")
        udp_send(self.udp, ["<13>Jan  1 00:00:00 quiet app: back"], src="127.0.0.20")
        self.wait_alert("health:source-silent", "closed", "quiet-fw")
        self.assertEqual(self.source("127.0.0.20")["status"], "ok")

    def test_error_rate_alert(self):
        r = self.server.request("POST", "/api/v1/ingest/raw?format=cef&source=bad-cef",
                                "\n".join("not cef %d" % i for i in range(10)) + "\n", token=self.token)
        self.assertEqual(r.status, 400, r)  # nothing parsed
        self.assertEqual(r.json()["rejected"], 10)
        a = self.wait_alert("health:source-errors", "open", "bad-cef")
        self.assertIn("parse errors", a["title"])
        self.assertEqual(self.source("bad-cef", "raw")["counters"]["failed"], 10)


class RawIngestReductionTest(SyslogBase):
    @classmethod
    def setUpClass(cls):
        cls.config_text = cls.config("reduction:\n  merge: true\n  window_s: 60\n")
        super().setUpClass()

    def raw(self, body, fmt, source="it", extra="", headers=None):
        return self.server.request("POST", "/api/v1/ingest/raw?format=%s&source=%s%s" % (fmt, source, extra),
                                   body, token=self.token, headers=headers)

    def test_raw_keeps_timestamps(self):
        tag = "raw-" + uuid.uuid4().hex[:6]
        body = "".join('10.0.0.%d - - [10/Oct/2023:13:55:%02d +0000] "GET /%s HTTP/1.1" 200 %d "-" "curl"\n'
                       % (i, i, tag, 100 + i) for i in range(5))
        r = self.raw(body, "apache", "web-01")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 5)
        evs = self.events("url.path:/" + tag)
        self.assertEqual(len(evs), 5)
        self.assertEqual(sorted(e["@timestamp"][:19] for e in evs)[0], "2023-10-10T13:55:00")
        self.assertEqual(self.source("web-01", "raw")["counters"]["parsed"], 5)
        r = self.raw("x\n", "nosuch")
        self.assertEqual(r.status, 400, r)
        r = self.raw("x\n", "auto", quote("bad source!"))
        self.assertEqual(r.status, 400, r)
        # idempotent resend with a batch id
        h = {"X-Vigil-Batch-Id": "raw-" + tag}
        body2 = '10.1.1.1 - - [11/Oct/2023:00:00:00 +0000] "GET /%s-b HTTP/1.1" 200 1 "-" "x"\n' % tag
        self.assertEqual(self.raw(body2, "apache", headers=h).json()["duplicate"], False)
        self.assertEqual(self.raw(body2, "apache", headers=h).json()["duplicate"], True)
        self.assertEqual(len(self.events("url.path:/%s-b" % tag)), 1)

    def test_policy_drops(self):
        tag = "pol-" + uuid.uuid4().hex[:6]
        r = self.server.request("POST", "/api/v1/reduction/policies",
                                {"action": "drop", "query": "host.name:%s and process.name:CRON" % tag,
                                 "description": "cron noise"}, token=self.token)
        self.assertEqual(r.status, 201, r)
        pid = r.json()["id"]
        r = self.server.request("POST", "/api/v1/reduction/policies",
                                {"action": "drop", "query": "host.name:(("}, token=self.token)
        self.assertEqual(r.status, 400, r)
        before = self.server.request("GET", "/api/v1/reduction/stats", token=self.token).json()["dropped"]
        body = "".join("Jan  1 00:00:%02d %s CRON[%d]: (root) CMD (run-parts)\n" % (i, tag, 100 + i)
                       for i in range(4))
        body += "Jan  1 00:01:00 %s sshd[9]: Invalid user bob from 10.0.0.1\n" % tag
        r = self.raw(body, "syslog")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["accepted"], 5)
        self.assertEqual(self.server.count(self.token, "host.name:" + tag, ALL_TIME), 1)
        st = self.server.request("GET", "/api/v1/reduction/stats", token=self.token).json()
        self.assertEqual(st["dropped"] - before, 4)
        pols = self.server.request("GET", "/api/v1/reduction/policies", token=self.token).json()["policies"]
        self.assertEqual([p["hits"] for p in pols if p["id"] == pid], [4])
        self.assertEqual(self.server.request("DELETE", "/api/v1/reduction/policies/%d" % pid,
                                             token=self.token).status, 200)
        r = self.raw(body.replace(tag, tag + "x"), "syslog")
        self.assertEqual(self.server.count(self.token, "host.name:%sx" % tag, ALL_TIME), 5)
        self.assertIn("reduction_policy.create", self.server.request("GET", "/api/v1/audit",
                                                                      token=self.token).body.decode())

    def test_merge_with_evidence(self):
        tag = "dup-" + uuid.uuid4().hex[:6]
        lines = ["Jan  1 00:00:%02d %s kernel: [  1.0] [fw] IN=eth0 OUT= SRC=10.0.0.9 DST=10.0.0.1 LEN=40 "
                 "PROTO=TCP SPT=5555 DPT=23" % (i, tag) for i in range(6)]
        r = self.raw("\n".join(lines) + "\n", "syslog")
        self.assertEqual(r.status, 200, r)
        evs = self.events("host.name:" + tag)
        self.assertEqual(len(evs), 1, evs)
        e = evs[0]
        self.assertEqual(e["event"]["count"], 6)
        self.assertEqual(e["event"]["start"][:19][-8:], "00:00:00")
        self.assertEqual(e["event"]["end"][:19][-8:], "00:00:05")
        r = self.server.request("GET", "/api/v1/reduction/evidence/%d" % dig(e, "vigil.evidence_id"), token=self.token)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json()["lines"], lines)
        st = self.server.request("GET", "/api/v1/reduction/stats", token=self.token).json()
        self.assertGreaterEqual(st["merged"], 5)
        self.assertEqual(self.server.request("GET", "/api/v1/reduction/evidence/999999",
                                             token=self.token).status, 404)

    @unittest.skipUnless(os.environ.get("VIGILCTL"), "VIGILCTL not set: vigilctl replay not tested")
    def test_vigilctl_replay(self):
        tag = "rp-" + uuid.uuid4().hex[:6]
        with tempfile.NamedTemporaryFile("w", suffix=".log", delete=False) as f:
            for i in range(2500):
                f.write('10.2.%d.%d - - [12/Oct/2023:01:%02d:%02d +0000] "GET /%s/%d HTTP/1.1" 200 5 "-" "x"\n'
                        % (i // 250, i % 250, (i // 60) % 60, i % 60, tag, i))
            path = f.name
        env = dict(os.environ, VIGIL_URL="https://127.0.0.1:%d" % self.server.port, VIGIL_TOKEN=self.token,
                   VIGIL_CACERT=os.path.join(self.server.data_dir, "tls", "server.crt"))
        p = subprocess.run([os.environ["VIGILCTL"], "replay", path, "--format", "apache", "--source", "rp",
                            "--batch-lines", "1000"], env=env, capture_output=True, text=True, timeout=120)
        os.unlink(path)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("2500", p.stdout)
        self.assertEqual(self.server.count(self.token, "url.path:/%s/*" % tag, ALL_TIME), 2500)
        evs = self.events("url.path:/%s/0" % tag)
        self.assertEqual(evs[0]["@timestamp"][:19], "2023-10-12T01:00:00")
        # a real file spanning months: batches the store refuses (413) are split, none lost
        linux = os.path.join(SHARED, "loghub", "Linux", "Linux_full.log")
        if not os.path.exists(linux):
            self.skipTest("%s absent: long-span replay not tested" % linux)
        with open(linux, "rb") as f:
            n = sum(1 for line in f if line.strip())
        p = subprocess.run([os.environ["VIGILCTL"], "--json", "replay", linux, "--format", "syslog",
                            "--source", "linux-full"], env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr[-2000:])
        self.assertEqual(json.loads(p.stdout)["accepted"], n)
        c = self.source("linux-full", "raw")["counters"]
        self.assertEqual((c["received"], c["parsed"] + c["merged"], c["failed"]), (n, n, 0))
        # a rerun stores nothing twice
        p = subprocess.run([os.environ["VIGILCTL"], "--json", "replay", linux, "--format", "syslog",
                            "--source", "linux-full"], env=env, capture_output=True, text=True, timeout=600)
        self.assertEqual(json.loads(p.stdout)["duplicate"], n, p.stdout)
        c = self.source("linux-full", "raw")["counters"]
        self.assertEqual((c["received"], c["parsed"] + c["merged"], c["failed"]), (n, n, 0))


if __name__ == "__main__":
    unittest.main()
