#!/usr/bin/env bash
# test_agent_live.sh - live test of vigil-agent (needs root and a kernel that loads the probes).
#
# Runs the agent with --stdout and --watch on a fresh directory, then makes real activity: a
# uniquely named command (argv[0] renamed), a uniquely named copied binary in the watched
# directory, file create/rename/chmod/delete there, and a TCP connection to a local listener.
# Asserts each shows up with the right fields (command line, parent chain, sha256 equal to
# sha256sum's, file paths, connection 5-tuple), the sensor mode against what bpftool can load,
# UDP events (one per peer for 1,000 datagrams) and the per-process file rate limit with its
# summary event. Then runs with --no-ebpf and asserts the process event still arrives from the
# fallback sensor. Prints "agent-live: N passed, M failed".
#
# usage: test_agent_live.sh PATH/TO/vigil-agent
set -u
AGENT=${1:?usage: test_agent_live.sh PATH/TO/vigil-agent}
if [ "$(id -u)" != 0 ]; then
	echo "agent-live: skipped (needs root)"
	exit 77
fi
for tool in jq sha256sum python3; do
	command -v "$tool" >/dev/null || { echo "agent-live: skipped (needs $tool)"; exit 77; }
done

PASS=0
FAIL=0
WORK=$(mktemp -d /tmp/vigtest.XXXXXX)
WDIR="$WORK/watched"
mkdir -p "$WDIR"
AGENT_PID=

cleanup() {
	[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
	[ -n "${LISTENER_PID:-}" ] && kill "$LISTENER_PID" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
[ -n "${VIG_LIVE_KEEP:-}" ] && trap - EXIT && echo "keeping $WORK"

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
ko() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }

# check NAME FILE JQ_CONDITION: passes when some event of FILE satisfies the condition.
check() {
	local name=$1 file=$2 cond=$3
	if jq -e -c "select($cond)" "$file" 2>/dev/null | grep -q .; then ok "$name"; else ko "$name"; fi
}

# first EVENT of FILE matching COND, compact
first() { jq -c "select($2)" "$1" 2>/dev/null | head -n 1; }

# start_agent OUT ARGS...: starts the agent and waits for its first health event.
start_agent() {
	local out=$1
	shift
	"$AGENT" --stdout --watch "$WDIR" --health-interval 3600 "$@" >"$out" 2>"$out.log" &
	AGENT_PID=$!
	for _ in $(seq 1 100); do
		grep -q '"vigil.agent.health"' "$out" 2>/dev/null && return 0
		kill -0 "$AGENT_PID" 2>/dev/null || break
		sleep 0.1
	done
	echo "agent did not start:"; cat "$out.log"
	return 1
}

stop_agent() {
	sleep 1
	kill -INT "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null
	AGENT_PID=
}

# ---------------------------------------------------------------- eBPF mode
OUT="$WORK/ebpf.ndjson"
if start_agent "$OUT"; then
	ok "agent starts"
else
	ko "agent starts"
	echo "agent-live: $PASS passed, $((FAIL + 1)) failed"
	exit 1
fi
check "health says an ebpf sensor mode" "$OUT" '.event.dataset == "vigil.agent.health" and (.vigil.agent.mode | IN("ebpf-tracepoint", "ebpf-fentry", "ebpf-lsm"))'
# the sensor mode agrees with what this kernel allows: bpftool loads the same probe objects
GEN="$(dirname "$AGENT")/gen"
if command -v bpftool >/dev/null && [ -f "$GEN/fentry.bpf.o" ] && [ -f "$GEN/lsm.bpf.o" ]; then
	KFENTRY=0; KLSM=0
	bpftool prog load "$GEN/fentry.bpf.o" "/sys/fs/bpf/vigtest_fe$$" >/dev/null 2>&1 && KFENTRY=1
	bpftool prog load "$GEN/lsm.bpf.o" "/sys/fs/bpf/vigtest_lsm$$" >/dev/null 2>&1 && KLSM=1
	rm -f "/sys/fs/bpf/vigtest_fe$$" "/sys/fs/bpf/vigtest_lsm$$"
	if [ "$KFENTRY$KLSM" = 00 ]; then
		check "kernel refuses fentry and BPF LSM: tracepoint mode, reason reported" "$OUT" '.event.dataset == "vigil.agent.health" and .vigil.agent.mode == "ebpf-tracepoint" and .vigil.agent.probes.vig_fentry_probe == "off" and .vigil.agent.probes.vig_lsm_probe == "off" and (.vigil.agent.probe_errors.vig_fentry_probe | startswith("load failed"))'
	else
		check "fentry probe state matches the kernel ($KFENTRY)" "$OUT" ".event.dataset == \"vigil.agent.health\" and ((.vigil.agent.probes.vig_fentry_probe != \"off\") == ($KFENTRY == 1))"
		check "lsm probe state matches the kernel ($KLSM)" "$OUT" ".event.dataset == \"vigil.agent.health\" and ((.vigil.agent.probes.vig_lsm_probe != \"off\") == ($KLSM == 1))"
	fi
fi

TAG="vigtest_$RANDOM$RANDOM"
SLEEP_BIN=$(readlink -f "$(type -P sleep)")
bash -c "cd '$WDIR' && exec -a $TAG sleep 0.2"
EXE_COPY="$WDIR/${TAG}_exe"
cp "$(readlink -f "$(type -P true)")" "$EXE_COPY"
"$EXE_COPY" --vig-arg "$TAG"
echo data >"$WDIR/created.txt"
mv "$WDIR/created.txt" "$WDIR/renamed.txt"
chmod 600 "$WDIR/renamed.txt"
rm "$WDIR/renamed.txt"

PORT=$((20000 + RANDOM % 20000))
python3 -c "
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', $PORT)); s.listen(1)
c, a = s.accept(); c.close()
" &
LISTENER_PID=$!
for _ in $(seq 1 50); do
	grep -q ":$(printf '%04X' $PORT) 00000000:0000 0A" /proc/net/tcp && break
	sleep 0.1
done
exec 9<>"/dev/tcp/127.0.0.1/$PORT" && exec 9>&-
wait "$LISTENER_PID" 2>/dev/null
LISTENER_PID=
stop_agent

# process: renamed argv[0], exact command line, parent = this shell, hash of the image
EV=$(first "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\"")
if [ -n "$EV" ]; then ok "exec event of $TAG"; else ko "exec event of $TAG"; fi
check "exec command line" "$OUT" ".event.action == \"exec\" and .process.command_line == \"$TAG 0.2\""
check "exec working directory" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .process.working_directory == \"$WDIR\""
check "exec executable" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and (.process.executable | endswith(\"sleep\"))"
SHA=$(sha256sum "$SLEEP_BIN" | cut -d' ' -f1)
check "exec sha256 = sha256sum" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .process.hash.sha256 == \"$SHA\""
check "exec parent is the test shell" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .process.parent.pid == $$"
# entity id of this shell as the agent must compute it: sha256("host|pid|start_ns")[:32],
# start from /proc/$$/stat in clock ticks (field 22)
HOST_ID=$(tr -d '[:space:]' </etc/machine-id)
TICKS=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
START_NS=$((TICKS * (1000000000 / $(getconf CLK_TCK))))
MY_ENT=$(printf '%s|%s|%s' "$HOST_ID" "$$" "$START_NS" | sha256sum | cut -c1-32)
check "parent entity_id = sha256(host|pid|start)" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .process.parent.entity_id == \"$MY_ENT\""
check "ancestry starts with the parent" "$OUT" ".event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .process.ancestry[0] == .process.parent.entity_id and (.process.ancestry | length) >= 2"
check "exit event with code and duration" "$OUT" ".event.action == \"exit\" and .process.args[0]? == \"$TAG\" and .process.exit_code == 0 and .event.duration > 100000000"
ENT=$(echo "$EV" | jq -r .process.entity_id 2>/dev/null)
check "fork, exec and exit share entity_id" "$OUT" "select(.event.action == \"exit\" and .process.entity_id == \"$ENT\")"

# copied binary in a writable directory
SHA2=$(sha256sum "$EXE_COPY" | cut -d' ' -f1)
check "copied binary exec with sha256" "$OUT" ".event.action == \"exec\" and .process.executable == \"$EXE_COPY\" and .process.hash.sha256 == \"$SHA2\" and .process.args[2] == \"$TAG\""
check "copied binary flagged writable_dir" "$OUT" ".event.action == \"exec\" and .process.executable == \"$EXE_COPY\" and .vigil.exec.writable_dir == true"

# files
check "file creation (cp)" "$OUT" ".event.category == \"file\" and .event.type == \"creation\" and .file.path == \"$EXE_COPY\""
check "file creation (redirect)" "$OUT" ".event.category == \"file\" and .event.type == \"creation\" and .file.path == \"$WDIR/created.txt\""
check "file rename" "$OUT" ".event.action == \"rename\" and .file.path == \"$WDIR/created.txt\" and .file.target_path == \"$WDIR/renamed.txt\" and .process.name == \"mv\""
check "file chmod" "$OUT" ".event.action == \"attributes_modified\" and .file.path == \"$WDIR/renamed.txt\" and .file.mode == \"0600\""
check "file deletion" "$OUT" ".event.type == \"deletion\" and .file.path == \"$WDIR/renamed.txt\" and .process.name == \"rm\""
if jq -e -c "select(.event.category == \"file\" and .event.provider == \"ebpf\" and .file.path != null and (.file.path | startswith(\"$WDIR\") | not) and ((.file.target_path // \"\") | startswith(\"$WDIR\") | not))" "$OUT" | grep -q .; then
	ko "no file event outside the watched dir"
else
	ok "no file event outside the watched dir"
fi

# network 5-tuple
check "listening event" "$OUT" ".event.action == \"listening\" and .source.port == $PORT and .source.ip == \"127.0.0.1\""
CONN=$(first "$OUT" ".event.action == \"connection_attempted\" and .destination.port == $PORT")
if [ -n "$CONN" ]; then ok "connection_attempted to $PORT"; else ko "connection_attempted to $PORT"; fi
CPORT=$(echo "$CONN" | jq -r '.source.port' 2>/dev/null)
check "connect 5-tuple" "$OUT" ".event.action == \"connection_attempted\" and .destination.ip == \"127.0.0.1\" and .source.ip == \"127.0.0.1\" and .network.transport == \"tcp\" and .network.direction == \"egress\" and .source.port == ${CPORT:-0} and .process.pid == $$"
check "accept 5-tuple and listener attribution" "$OUT" ".event.action == \"connection_accepted\" and .destination.port == $PORT and .source.port == ${CPORT:-0} and .network.direction == \"ingress\" and (.process.name | startswith(\"python\"))"
check "final health event counts events" "$OUT" ".event.dataset == \"vigil.agent.health\" and .vigil.agent.events > 10 and .vigil.agent.bad_records == 0"

# ---------------------------------------------------------------- ignore lists (eBPF, in the kernel)
OUT5="$WORK/ignore.ndjson"
IGN_COMM=vigign_cp
cp /bin/cp "$WORK/$IGN_COMM"
mkdir -p "$WDIR/skipped" "$WDIR/shared" && chmod 1777 "$WDIR/shared"
if start_agent "$OUT5" --ignore-path "$WDIR/skipped" --ignore-comm "$IGN_COMM" --ignore-uid 4242; then
	echo kept >"$WDIR/kept.txt"
	echo skipped >"$WDIR/skipped/inside.txt"
	"$WORK/$IGN_COMM" /etc/hostname "$WDIR/by_ignored_comm.txt"
	if command -v setpriv >/dev/null; then
		setpriv --reuid 4242 --regid 4242 --clear-groups sh -c "echo x >$WDIR/shared/by_uid.txt; echo y >$WDIR/shared/by_uid2.txt"
	fi
	sleep 0.5
	stop_agent
	check "ignore lists: other files still reported" "$OUT5" ".event.type == \"creation\" and .file.path == \"$WDIR/kept.txt\""
	IGNORED=("skipped/inside.txt:--ignore-path" "by_ignored_comm.txt:--ignore-comm")
	command -v setpriv >/dev/null && IGNORED+=("shared/by_uid.txt:--ignore-uid")
	[ -s "$WDIR/shared/by_uid.txt" ] || command -v setpriv >/dev/null || echo "skip - --ignore-uid (no setpriv)"
	for what in "${IGNORED[@]}"; do
		f=${what%%:*}
		if jq -e -c "select(.file.path == \"$WDIR/$f\")" "$OUT5" | grep -q .; then ko "${what#*:}: $f not reported"; else ok "${what#*:}: $f not reported"; fi
	done
	if jq -e -c "select(.process.name == \"$IGN_COMM\")" "$OUT5" | grep -q .; then ko "no event of the ignored comm"; else ok "no event of the ignored comm"; fi
	check "ignored records are not drops" "$OUT5" '.event.dataset == "vigil.agent.health" and ([.vigil.agent.drops[]] | add) == 0'
else
	ko "agent starts with ignore lists"
fi

# ---------------------------------------------------------------- a ring per CPU (--ring-cpus 1)
if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null; then
	OUT6="$WORK/groups.ndjson"
	if start_agent "$OUT6" --ring-cpus 1; then
		taskset -c 0 bash -c "exec -a ${TAG}_cpu0 true"
		taskset -c 1 bash -c "exec -a ${TAG}_cpu1 true"
		stop_agent
		check "ring of CPU 0's group delivers" "$OUT6" ".event.action == \"exec\" and .process.args[0]? == \"${TAG}_cpu0\""
		check "ring of CPU 1's group delivers" "$OUT6" ".event.action == \"exec\" and .process.args[0]? == \"${TAG}_cpu1\""
	else
		ko "agent starts with --ring-cpus 1"
	fi
else
	echo "skip - rings per CPU group (one CPU or no taskset)"
fi

# ---------------------------------------------------------------- container id from the cgroup
# A cgroup named as Docker's systemd driver names a container's, in the pids controller (cgroup
# v1) or the unified hierarchy (v2); a process moved into it execs.
CID=$(head -c 32 /dev/urandom | sha256sum | cut -c1-64)
if [ -d /sys/fs/cgroup/pids ]; then CGP=/sys/fs/cgroup/pids/vigtest_$$; else CGP=/sys/fs/cgroup/vigtest_$$; fi
if mkdir -p "$CGP/docker-$CID.scope" 2>/dev/null; then
	OUT7="$WORK/container.ndjson"
	if start_agent "$OUT7"; then
		bash -c "echo \$\$ >$CGP/docker-$CID.scope/cgroup.procs && exec -a ${TAG}_ctr sleep 0.2"
		stop_agent
		check "exec in a container cgroup has container.id" "$OUT7" ".event.action == \"exec\" and .process.args[0]? == \"${TAG}_ctr\" and .container.id == \"$CID\""
		check "its exit too" "$OUT7" ".event.action == \"exit\" and .process.args[0]? == \"${TAG}_ctr\" and .container.id == \"$CID\""
		if grep -qE '[0-9a-f]{64}' /proc/self/cgroup; then
			echo "skip - a host process has no container.id (the test itself runs in a container)"
		elif jq -e -c "select(.event.action == \"exec\" and .process.args[0]? == \"$TAG\" and .container.id != null)" "$OUT" | grep -q .; then
			ko "a host process has no container.id"
		else
			ok "a host process has no container.id"
		fi
	else
		ko "agent starts for the container check"
	fi
	rmdir "$CGP/docker-$CID.scope" "$CGP" 2>/dev/null
else
	echo "skip - container id (cannot make a cgroup)"
fi

# ---------------------------------------------------------------- misc sensor (eBPF)
OUT3="$WORK/misc.ndjson"
start_agent "$OUT3" || ko "agent restarts for the misc checks"
MTAG="vigmfd_$RANDOM$RANDOM"
python3 - "$MTAG" "$(type -P true)" "$WORK/unlinked" <<'PY'
import ctypes, os, shutil, signal, subprocess, sys, time
tag, true_bin, unlinked = sys.argv[1], sys.argv[2], sys.argv[3]
# memfd_create, then exec from the memfd (fexecve through /proc/self/fd)
pid = os.fork()
if pid == 0:
    fd = os.memfd_create(tag, 0)
    os.write(fd, open(true_bin, "rb").read())
    os.execv("/proc/self/fd/%d" % fd, [tag + "_memfd"])
os.waitpid(pid, 0)
# exec of an unlinked file
shutil.copy(true_bin, unlinked)
pid = os.fork()
if pid == 0:
    fd = os.open(unlinked, os.O_RDONLY)
    os.unlink(unlinked)
    os.execv("/proc/self/fd/%d" % fd, [tag + "_deleted"])
os.waitpid(pid, 0)
# privilege drop in a child
pid = os.fork()
if pid == 0:
    os.setuid(65534)
    os._exit(0)
os.waitpid(pid, 0)
# ptrace attach to a sleeping child, then detach
child = subprocess.Popen(["sleep", "5"])
libc = ctypes.CDLL(None, use_errno=True)
if libc.ptrace(16, child.pid, None, None) == 0:
    os.waitpid(child.pid, 0)
    libc.ptrace(17, child.pid, None, None)
child.kill(); child.wait()
PY
BPF_OBJ="$(dirname "$AGENT")/gen/net.bpf.o"
if command -v bpftool >/dev/null && [ -f "$BPF_OBJ" ]; then
	PIN="/sys/fs/bpf/vigtest_$MTAG"
	bpftool prog loadall "$BPF_OBJ" "$PIN" >/dev/null 2>&1
	rm -rf "$PIN"
fi
stop_agent
if command -v bpftool >/dev/null && [ -f "$BPF_OBJ" ]; then
	check "bpf prog load event" "$OUT3" '.event.action == "bpf_prog_load" and .vigil.bpf.prog_name == "vig_sock_state" and .process.name == "bpftool"'
fi
check "memfd_create event" "$OUT3" ".event.action == \"memfd_create\" and .file.name == \"$MTAG\" and .event.outcome == \"success\""
check "exec from memfd flagged" "$OUT3" ".event.action == \"exec\" and .process.args[0]? == \"${MTAG}_memfd\" and .vigil.exec.memfd == true and (.process.executable | startswith(\"/memfd:$MTAG\"))"
check "exec of unlinked file flagged" "$OUT3" ".event.action == \"exec\" and .process.args[0]? == \"${MTAG}_deleted\" and .vigil.exec.deleted == true"
check "setuid event" "$OUT3" ".event.action == \"setuid\" and .vigil.creds.new_uid == 65534 and .vigil.creds.new_euid == 65534 and .user.id == \"0\" and .process.name == \"python3\""
check "ptrace attach event" "$OUT3" ".event.action == \"ptrace_attach\" and .vigil.ptrace.request == 16 and .process.name == \"python3\""

# ---------------------------------------------------------------- UDP and the file rate limit (eBPF)
OUT4="$WORK/udp.ndjson"
start_agent "$OUT4" --file-rate 50 --file-burst 100 || ko "agent restarts for the UDP and rate checks"
UPORT=$((20000 + RANDOM % 20000))
UTAG="vigudp_$RANDOM$RANDOM"
python3 - "$UPORT" "$UTAG" <<'PY'
import socket, sys
port, tag = int(sys.argv[1]), sys.argv[2]
r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.bind(("127.0.0.1", port))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
r.settimeout(2)
for _ in range(1000):  # one peer, 1,000 datagrams: one udp_send and one udp_recv event
    s.sendto(tag.encode(), ("127.0.0.1", port))
    r.recvfrom(64)
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
c.connect(("127.0.0.1", port))
c.send(tag.encode())
open("/tmp/%s.sport" % tag, "w").write("%d %d" % (s.getsockname()[1], c.getsockname()[1]))
PY
read -r USPORT UCPORT <"/tmp/$UTAG.sport"; rm -f "/tmp/$UTAG.sport"
python3 - "$WDIR" "$UTAG" <<'PY'
import sys
for i in range(400):  # a burst of 400 created files from one process, over its limit
    open("%s/%s_%d" % (sys.argv[1], sys.argv[2], i), "w").close()
PY
for i in 1 2 3 4 5; do echo x >"$WDIR/other_$i"; done
stop_agent
UENT=$(first "$OUT4" ".event.action == \"exec\" and (.process.args | index(\"$UTAG\")) and (.process.args | index(\"$UPORT\"))" | jq -r .process.entity_id)
check "udp_send to the loopback port, with the sending process" "$OUT4" ".event.action == \"udp_send\" and .destination.port == $UPORT and .destination.ip == \"127.0.0.1\" and .source.port == ${USPORT:-0} and .network.transport == \"udp\" and .event.category == \"network\" and .process.entity_id == \"$UENT\" and .process.name == \"python3\""
N=$(jq -c "select(.event.action == \"udp_send\" and .destination.port == $UPORT and .source.port == ${USPORT:-0})" "$OUT4" | wc -l)
if [ "$N" = 1 ]; then ok "1,000 datagrams to one peer give one udp_send event"; else ko "1,000 datagrams to one peer give one udp_send event (got $N)"; fi
N=$(jq -c "select(.event.action == \"udp_recv\" and .destination.port == $UPORT)" "$OUT4" | wc -l)
if [ "$N" = 1 ]; then ok "1,000 received datagrams give one udp_recv event"; else ko "1,000 received datagrams give one udp_recv event (got $N)"; fi
check "udp_recv names the sender as source" "$OUT4" ".event.action == \"udp_recv\" and .destination.port == $UPORT and .source.port == ${USPORT:-0} and .network.direction == \"ingress\" and .process.entity_id == \"$UENT\""
check "udp_connect and the send on the connected socket" "$OUT4" ".event.action == \"udp_connect\" and .destination.port == $UPORT and .source.port == ${UCPORT:-0}"
check "send on a connected socket uses its peer" "$OUT4" ".event.action == \"udp_send\" and .destination.port == $UPORT and .source.port == ${UCPORT:-0}"
RPID=$(first "$OUT4" ".event.type == \"creation\" and (.file.path | startswith(\"$WDIR/${UTAG}_\"))" | jq -r .process.pid)
NCREATED=$(jq -c "select(.event.type == \"creation\" and (.file.path | startswith(\"$WDIR/${UTAG}_\")))" "$OUT4" | wc -l)
NSUPP=$(first "$OUT4" ".event.action == \"file_events_rate_limited\" and .process.pid == ${RPID:-0}" | jq -r '.vigil.rate_limit.suppressed')
if [ "$NCREATED" -ge 100 ] && [ "$NCREATED" -lt 400 ]; then ok "burst of 400 files limited ($NCREATED reported)"; else ko "burst of 400 files limited ($NCREATED reported)"; fi
if [ "$((NCREATED + ${NSUPP:-0}))" = 400 ]; then ok "summary event counts the rest ($NSUPP)"; else ko "summary event counts the rest (${NSUPP:-none} + $NCREATED != 400)"; fi
N=$(jq -c "select(.event.type == \"creation\" and (.file.path | startswith(\"$WDIR/other_\")))" "$OUT4" | wc -l)
if [ "$N" = 5 ]; then ok "another process's file events still come through"; else ko "another process's file events still come through (got $N of 5)"; fi
check "health counts the rate-limited records" "$OUT4" ".event.dataset == \"vigil.agent.health\" and .vigil.agent.drops.file_rate_limited >= $((400 - NCREATED))"
rm -f "$WDIR/${UTAG}_"* "$WDIR"/other_*

# ---------------------------------------------------------------- fallback mode
OUT2="$WORK/fallback.ndjson"
if start_agent "$OUT2" --no-ebpf; then ok "agent starts with --no-ebpf"; else ko "agent starts with --no-ebpf"; fi
check "health says fallback mode" "$OUT2" '.event.dataset == "vigil.agent.health" and .vigil.agent.mode == "fallback"'
TAG2="vigfb_$RANDOM$RANDOM"
bash -c "exec -a $TAG2 sleep 1"
echo x >"$WDIR/fb.txt"
rm "$WDIR/fb.txt"
stop_agent
check "fallback exec event" "$OUT2" ".event.action == \"exec\" and .event.provider == \"fallback\" and .process.command_line == \"$TAG2 1\" and .process.parent.pid == $$"
check "fallback exec sha256" "$OUT2" ".event.action == \"exec\" and .process.args[0]? == \"$TAG2\" and .process.hash.sha256 == \"$SHA\""
check "fallback exit event" "$OUT2" ".event.action == \"exit\" and .process.args[0]? == \"$TAG2\" and .process.exit_code == 0"
check "fallback file creation (inotify)" "$OUT2" ".event.type == \"creation\" and .file.path == \"$WDIR/fb.txt\""
check "fallback file deletion (inotify)" "$OUT2" ".event.type == \"deletion\" and .file.path == \"$WDIR/fb.txt\""

# ---------------------------------------------------------------- file integrity (fim.c)
# wait_fim_scan FILE N: waits (≤ 10 s) until FILE holds N fim_scan state events.
wait_fim_scan() {
	for _ in $(seq 1 100); do
		[ "$(jq -c 'select(.event.action == "fim_scan")' "$1" 2>/dev/null | wc -l)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}

fim_live() {
	local fdir="$WORK/fim" fst="$WORK/fimstate" out="$WORK/fim1.ndjson" out2="$WORK/fim2.ndjson"
	local out3="$WORK/fim3.ndjson" sha0 sha1
	mkdir -p "$fdir/sub" "$fst"
	echo "root:x:0:0:root:/root:/bin/bash" >"$fdir/passwd"
	echo "keep" >"$fdir/sub/keep.conf"
	echo "gone" >"$fdir/gone.conf"
	chmod 0644 "$fdir/passwd"
	sha0=$(sha256sum "$fdir/passwd" | cut -d' ' -f1)
	set -- --state-dir "$fst" --fim-path "$fdir" --fim-exclude '*.swp' --no-ebpf
	start_agent "$out" "$@" && wait_fim_scan "$out" 1 && ok "fim: first scan" || ko "fim: first scan"
	check "fim: first scan is silent (3 files baselined)" "$out" \
		'.event.action == "fim_scan" and .vigil.fim.files == 3 and .vigil.fim.changes == 0'
	echo "evil:x:0:0::/root:/bin/sh" >>"$fdir/passwd"
	sha1=$(sha256sum "$fdir/passwd" | cut -d' ' -f1)
	chmod 0600 "$fdir/sub/keep.conf"
	echo new >"$fdir/new.conf"
	echo ignored >"$fdir/x.swp"
	rm "$fdir/gone.conf"
	sleep 1.5 # inotify re-checks after 300 ms of quiet
	stop_agent
	check "fim: modified with previous sha256" "$out" ".event.action == \"fim_modified\" and .file.path == \"$fdir/passwd\" and .file.hash.sha256 == \"$sha1\" and .vigil.fim.previous.sha256 == \"$sha0\" and .event.dataset == \"vigil.agent.fim\""
	check "fim: permissions changed" "$out" ".event.action == \"fim_permissions_changed\" and .file.path == \"$fdir/sub/keep.conf\" and .file.mode == \"0600\" and .vigil.fim.previous.mode == \"0644\""
	check "fim: created" "$out" ".event.action == \"fim_created\" and .event.type == \"creation\" and .file.path == \"$fdir/new.conf\""
	check "fim: deleted" "$out" ".event.action == \"fim_deleted\" and .event.type == \"deletion\" and .file.path == \"$fdir/gone.conf\""
	if jq -e -c 'select(.file.path? // "" | endswith(".swp"))' "$out" 2>/dev/null | grep -q .; then
		ko "fim: exclusion honoured"
	else
		ok "fim: exclusion honoured"
	fi
	# changed while the agent was down: found by the first scan after the restart
	echo "keep v2" >"$fdir/sub/keep.conf"
	start_agent "$out2" "$@" && wait_fim_scan "$out2" 1
	stop_agent
	check "fim: change while down found after restart" "$out2" ".event.action == \"fim_modified\" and .file.path == \"$fdir/sub/keep.conf\""
	check "fim: baseline read back after restart" "$out2" '.event.action == "fim_scan" and .vigil.fim.baseline_corrupt == 0'
	# a corrupt baseline file is rebuilt and counted
	printf 'garbage\n' >"$fst/fim/baseline.ndjson"
	start_agent "$out3" "$@" && wait_fim_scan "$out3" 1
	stop_agent
	check "fim: corrupt baseline counted and rebuilt" "$out3" '.event.action == "fim_scan" and .vigil.fim.baseline_corrupt == 1 and .vigil.fim.files == 3 and .vigil.fim.changes == 0'
	if grep -q '"vigil_fim_baseline":1' "$fst/fim/baseline.ndjson"; then ok "fim: baseline rewritten"; else ko "fim: baseline rewritten"; fi
}
fim_live

# ---------------------------------------------------------------- --server poster
SPORT=$((20000 + RANDOM % 20000))
python3 - "$SPORT" "$WORK/posted" <<'PY' &
import http.server, sys
port, out = int(sys.argv[1]), sys.argv[2]
state = {"n": 0}
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        state["n"] += 1
        if state["n"] == 1:  # the first batch is refused: the agent must retry it
            self.send_response(503); self.end_headers(); return
        with open(out, "ab") as f:
            f.write(("#%s %s %s\n" % (self.path, self.headers.get("Authorization"),
                                      self.headers.get("Content-Type"))).encode())
            f.write(body)
        self.send_response(202); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
SERVER_PID=$!
sleep 0.5
"$AGENT" --server "http://127.0.0.1:$SPORT" --token tok-$TAG --watch "$WDIR" >"$WORK/poster.out" 2>"$WORK/poster.log" &
AGENT_PID=$!
for _ in $(seq 1 100); do
	grep -q 'msg="sensors running"' "$WORK/poster.log" 2>/dev/null && break
	sleep 0.1
done
bash -c "exec -a ${TAG}_posted sleep 0.1"
sleep 1.5
stop_agent
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null
if grep -q "^#/api/v1/events Bearer tok-$TAG application/x-ndjson" "$WORK/posted" 2>/dev/null; then
	ok "poster uses POST /api/v1/events with the bearer token"
else
	ko "poster uses POST /api/v1/events with the bearer token"
fi
grep -v '^#' "$WORK/posted" >"$WORK/posted.ndjson" 2>/dev/null
check "poster retried the refused first batch (start health event)" "$WORK/posted.ndjson" '.event.dataset == "vigil.agent.health" and .vigil.agent.events == 0'
check "poster delivered the exec event" "$WORK/posted.ndjson" ".event.action == \"exec\" and .process.args[0]? == \"${TAG}_posted\""
if [ -s "$WORK/poster.out" ]; then ko "poster writes nothing to stdout"; else ok "poster writes nothing to stdout"; fi

# sanitizer builds: any report in the agents' stderr is a failure
if grep -l "AddressSanitizer\|LeakSanitizer\|runtime error:" "$WORK"/*.log >/dev/null 2>&1; then
	ko "no sanitizer reports"
	grep -h -A5 "AddressSanitizer\|LeakSanitizer\|runtime error:" "$WORK"/*.log | head -40
else
	ok "no sanitizer reports"
fi

echo "agent-live: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
