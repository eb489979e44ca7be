"""vigild's command line and configuration file: --print-config lists every option (the same
set as docs/configuration.md), unknown keys are rejected with key and line, flags override."""

import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import REPO, VIGILD, Server  # noqa: E402


def run(*args):
    return subprocess.run([VIGILD, *args], capture_output=True, text=True, timeout=60)


def documented_options():
    with open(os.path.join(REPO, "docs", "configuration.md")) as f:
        return re.findall(r"^\| `([a-z_.]+)` \|", f.read(), re.M)


class ConfigTest(unittest.TestCase):
    def test_print_config_lists_every_option(self):
        r = run("--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        opts = documented_options()
        self.assertGreaterEqual(len(opts), 16)
        section = ""
        printed = set()
        for line in r.stdout.splitlines():
            m = re.match(r"^([a-z_]+):\s*$", line)
            if m:
                section = m.group(1) + "."
                continue
            m = re.match(r"^(\s*)([a-z_]+): ", line)
            if m:
                printed.add((section if m.group(1) else "") + m.group(2))
        self.assertEqual(printed, set(opts))
        self.assertIn("# default: 16MiB", r.stdout)
        for must in ("listen", "data_dir", "tls.cert", "tls.key", "log.level", "log.file",
                     "limits.max_body_bytes", "limits.max_event_bytes", "limits.max_connections",
                     "limits.request_timeout_s", "ingest.queue_batches", "ingest.batch_max_events",
                     "retention.default_days", "auth.setup_token", "auth.session_ttl_s",
                     "metrics.enabled"):
            self.assertIn(must, opts)

    def test_flags_and_file_override(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "c.yaml")
            with open(cfg, "w") as f:
                f.write("listen: \"127.0.0.1:1\"\nretention:\n  default_days: 90\n")
            r = run("--config", cfg, "--listen", "127.0.0.1:2", "--print-config")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn('listen: "127.0.0.1:2"', r.stdout)
            self.assertIn("default_days: 90", r.stdout)
            # the printed config is itself a valid config file
            out = os.path.join(d, "printed.yaml")
            with open(out, "w") as f:
                f.write(r.stdout)
            self.assertEqual(run("--config", out, "--print-config").stdout, r.stdout)

    def test_unknown_key_rejected(self):
        with tempfile.TemporaryDirectory() as d:
            cfg = os.path.join(d, "c.yaml")
            with open(cfg, "w") as f:
                f.write("listen: \"127.0.0.1:8443\"\nlimits:\n  max_body_bytes: 1MiB\n  max_bodee: 2\n")
            r = run("--config", cfg)
            self.assertEqual(r.returncode, 2)
            self.assertIn("line 4", r.stderr)
            self.assertIn("limits.max_bodee", r.stderr)
            r = run("--bogus-flag")
            self.assertEqual(r.returncode, 2)

    def test_version(self):
        r = run("--version")
        self.assertEqual(r.returncode, 0)
        self.assertIn("0.1.0", r.stdout)

    def test_first_start_files(self):
        s = Server()
        try:
            s.start()
            for name in ("tls/server.key", "tls/server.crt", "setup-token"):
                st = os.stat(os.path.join(s.data_dir, name))
                self.assertEqual(st.st_mode & 0o777, 0o600, name)
            self.assertIn("setup token", s.read_log())
            s.stop()
        finally:
            s.cleanup()


if __name__ == "__main__":
    unittest.main()
