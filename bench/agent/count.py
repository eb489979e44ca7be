#!/usr/bin/env python3
"""count.py - count the agent events that belong to one benchmark workload (bench/agent/run.sh).

usage: count.py FILE exec
       count.py FILE files DIR
       count.py FILE conn PORT
       count.py FILE syscalls

Reads vigil-agent --stdout output (one JSON event per line) and prints key=value lines:
  delivered=    events of the workload (exec: action=exec with process.executable /bin/true or
                /usr/bin/true; files: file events whose file.path is under DIR; conn:
                connection_attempted events to 127.0.0.1:PORT; syscalls: none are expected,
                so always 0)
  detail=       a breakdown (exec: forks/exits of true; files: per action; conn: accepted too)
  drops=        sum of vigil.agent.drops.* + output_drops in the last health event (the one
                written at exit), bad_records= and health_events= from the same source
  bad_lines=    lines that are not JSON objects
"""
import json
import sys


def main():
    if len(sys.argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    path, mode = sys.argv[1], sys.argv[2]
    arg = sys.argv[3] if len(sys.argv) > 3 else ""
    if mode in ("files", "conn") and not arg:
        sys.stderr.write(__doc__)
        return 2
    prefix = arg.rstrip("/") + "/"
    port = int(arg) if mode == "conn" else -1
    delivered = 0
    detail = {}
    bad = 0
    health = None
    n_health = 0
    with open(path, "r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            try:
                ev = json.loads(line)
            except ValueError:
                bad += 1
                continue
            if not isinstance(ev, dict):
                bad += 1
                continue
            e = ev.get("event") or {}
            action = e.get("action", "")
            if e.get("dataset") == "vigil.agent.health":
                health = ev
                n_health += 1
                continue
            if mode == "exec":
                exe = (ev.get("process") or {}).get("executable", "")
                if exe in ("/bin/true", "/usr/bin/true"):
                    detail[action] = detail.get(action, 0) + 1
                    if action == "exec":
                        delivered += 1
            elif mode == "files":
                fpath = (ev.get("file") or {}).get("path", "")
                if fpath.startswith(prefix):
                    delivered += 1
                    detail[action] = detail.get(action, 0) + 1
            elif mode == "conn":
                dst = ev.get("destination") or {}
                if dst.get("port") == port and dst.get("ip") == "127.0.0.1":
                    detail[action] = detail.get(action, 0) + 1
                    if action == "connection_attempted":
                        delivered += 1
    drops = -1
    bad_records = -1
    if health:
        agent = ((health.get("vigil") or {}).get("agent")) or {}
        drops = sum(int(v) for v in (agent.get("drops") or {}).values()) + int(agent.get("output_drops", 0))
        bad_records = int(agent.get("bad_records", -1))
    print("delivered=%d" % delivered)
    print("detail=%s" % ",".join("%s:%d" % kv for kv in sorted(detail.items())))
    print("drops=%d" % drops)
    print("bad_records=%d" % bad_records)
    print("health_events=%d" % n_health)
    print("bad_lines=%d" % bad)
    return 0


if __name__ == "__main__":
    sys.exit(main())
