#!/usr/bin/env bash
# bench/agent/run.sh - overhead of vigil-agent against no agent and against auditd, on three
# synthetic workloads (fork+exec storm, file storm, loopback TCP connect storm, and a storm of a
# syscall no sensor follows). See README.md.
#
# usage: run.sh [--exec-n N] [--file-n N] [--conn-n N] [--syscall-n N] [--reps R] [--idle SECONDS]
#               [--agent PATH] [--no-auditd] [--no-install] [--only exec,files,conn,syscalls]
# Must run as root. Installs the Debian package auditd if missing (unless --no-install), never
# leaves auditd running or its rules loaded when it was not so before, and restores the kernel
# audit enabled flag and backlog limit. Safe to run twice; everything lives in a mktemp directory.
set -u -o pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EXEC_N=2000
FILE_N=100000
CONN_N=50000
SYSCALL_N=3000000
REPS=3
IDLE_S=10
AGENT="$ROOT/build/release/src/agent/vigil-agent"
USE_AUDITD=1
INSTALL=1
ONLY="exec files conn syscalls"

usage() { sed -n '5,6p' "$0" | sed 's/^# //'; exit 2; }
num() { [[ "$2" =~ ^[0-9]+$ ]] && (( $2 >= 1 && $2 <= 10000000 )) || { echo "run.sh: $1 takes 1..10000000" >&2; exit 2; }; }
while (( $# )); do
	case "$1" in
	--exec-n) num "$1" "${2:-}"; EXEC_N=$2; shift 2 ;;
	--file-n) num "$1" "${2:-}"; FILE_N=$2; shift 2 ;;
	--conn-n) num "$1" "${2:-}"; CONN_N=$2; shift 2 ;;
	--syscall-n) num "$1" "${2:-}"; SYSCALL_N=$2; shift 2 ;;
	--reps) num "$1" "${2:-}"; REPS=$2; shift 2 ;;
	--idle) num "$1" "${2:-}"; IDLE_S=$2; shift 2 ;;
	--agent) AGENT=${2:-}; shift 2 ;;
	--no-auditd) USE_AUDITD=0; shift ;;
	--no-install) INSTALL=0; shift ;;
	--only) ONLY=${2//,/ }; shift 2
		for w in $ONLY; do [[ "$w" =~ ^(exec|files|conn|syscalls)$ ]] || { echo "run.sh: --only takes exec, files, conn, syscalls" >&2; exit 2; }; done ;;
	*) usage ;;
	esac
done

[[ $(id -u) -eq 0 ]] || { echo "run.sh: must run as root (eBPF sensors, auditd)" >&2; exit 2; }
[[ -x "$AGENT" ]] || { echo "run.sh: no agent at $AGENT (cmake --build build/release --target vigil-agent)" >&2; exit 2; }
command -v cc >/dev/null && command -v python3 >/dev/null || { echo "run.sh: needs cc and python3" >&2; exit 2; }

TMP=$(mktemp -d /tmp/vigbench.XXXXXX) || exit 1
WDIR="$TMP/w"            # watched by the agent and by the auditd file watch
mkdir -p "$WDIR" "$TMP/out"
CLK_TCK=$(getconf CLK_TCK)
APID=""                  # running agent, if any
AUDITD_OURS=0            # 1 while an auditd started by this script runs
AUDIT_RULES=()           # rules we added, each as one string of auditctl -d arguments
AUDIT_ORIG_ENABLED=""
AUDIT_ORIG_BACKLOG=""
AUDITD_NOTE=""

log() { printf '%s\n' "$*" >&2; }

audit_del_rules() {
	local r
	for r in "${AUDIT_RULES[@]}"; do
		# shellcheck disable=SC2086
		auditctl $r >/dev/null 2>&1 || log "warning: could not remove audit rule: $r"
	done
	AUDIT_RULES=()
}

auditd_stop() {
	local pid i
	audit_del_rules
	[[ -n "$AUDIT_ORIG_ENABLED" ]] && auditctl -e "$AUDIT_ORIG_ENABLED" >/dev/null 2>&1
	[[ -n "$AUDIT_ORIG_BACKLOG" ]] && auditctl -b "$AUDIT_ORIG_BACKLOG" >/dev/null 2>&1
	(( AUDITD_OURS )) || return 0
	pid=$(cat "$TMP/auditd.pid" 2>/dev/null || true)
	if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for (( i = 0; i < 100; i++ )); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	AUDITD_OURS=0
}

agent_stop() {
	local i
	[[ -n "$APID" ]] || return 0
	kill -INT "$APID" 2>/dev/null
	for (( i = 0; i < 100; i++ )); do kill -0 "$APID" 2>/dev/null || break; sleep 0.1; done
	kill -0 "$APID" 2>/dev/null && { log "warning: agent $APID did not exit on SIGINT, killing"; kill -KILL "$APID" 2>/dev/null; }
	wait "$APID" 2>/dev/null
	APID=""
}

cleanup() {
	trap - EXIT INT TERM
	agent_stop
	auditd_stop
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# --- helpers -------------------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "nan" }'; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'; }
ticks_to_s() { awk -v t="$1" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }'; }
vm_hwm_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null; }

# Runs one workload; sets WALL and CPU (seconds; CPU = the workload's own user + system time)
# and PORT (conn only). Returns non-zero on failure.
WALL=""; CPU=""; PORT=""
run_workload() {
	local mode=$1 out="$TMP/wl.out"
	find "$WDIR" -mindepth 1 -delete 2>/dev/null || true  # keep the directory: the auditd watch is on it
	case "$mode" in
	exec) "$TMP/workload" exec "$EXEC_N" >"$out" ;;
	files) "$TMP/workload" files "$WDIR" "$FILE_N" >"$out" ;;
	conn) "$TMP/workload" conn "$CONN_N" >"$out" ;;
	syscalls) "$TMP/workload" syscalls "$SYSCALL_N" >"$out" ;;
	esac || { log "workload $mode failed"; return 1; }
	WALL=$(sed -n 's/^wall=//p' "$out")
	CPU=$(sed -n 's/^cpu=//p' "$out")
	PORT=$(sed -n 's/^port=//p' "$out")
	[[ -n "$WALL" ]]
}

# The per-process file rate limit is off for the benchmark, which measures whether every event
# of a storm is delivered (agents from before the option do not know it).
AGENT_OPTS=()
"$AGENT" --help 2>/dev/null | grep -q -- --file-rate && AGENT_OPTS+=(--file-rate 0)
# the first file-integrity baseline (about 20 s of hashing) is a one-time cost, not the overhead
"$AGENT" --help 2>/dev/null | grep -q -- --no-fim && AGENT_OPTS+=(--no-fim)

# Starts the agent writing to $1; waits (bounded) for its start health event.
agent_start() {
	local out=$1 i
	"$AGENT" --stdout --watch "$WDIR" --health-interval 86400 --log-level warn "${AGENT_OPTS[@]}" >"$out" 2>"$out.err" &
	APID=$!
	for (( i = 0; i < 300; i++ )); do
		grep -q '"vigil.agent.health"' "$out" 2>/dev/null && return 0
		kill -0 "$APID" 2>/dev/null || break
		sleep 0.1
	done
	log "agent did not start: $(tail -3 "$out.err" 2>/dev/null)"
	agent_stop
	return 1
}

# Waits (bounded, 20 s) until the agent's output grows by less than 16 KiB in half a second twice
# in a row: on a shared host, other processes keep producing a trickle of events, so "no growth at
# all" may never happen.
agent_drain() {
	local out=$1 last=-1 cur stable=0 i
	for (( i = 0; i < 40; i++ )); do
		cur=$(stat -c %s "$out")
		if (( last >= 0 && cur - last < 16384 )); then (( ++stable >= 2 )) && return 0; else stable=0; fi
		last=$cur
		sleep 0.5
	done
	log "warning: agent output still growing after 20 s"
}

auditd_start() {
	local i st
	st=$(auditctl -s 2>/dev/null) || return 1
	AUDIT_ORIG_ENABLED=${AUDIT_ORIG_ENABLED:-$(awk '$1 == "enabled" { print $2 }' <<<"$st")}
	AUDIT_ORIG_BACKLOG=${AUDIT_ORIG_BACKLOG:-$(awk '$1 == "backlog_limit" { print $2 }' <<<"$st")}
	if [[ "$(awk '$1 == "pid" { print $2 }' <<<"$st")" == "0" ]]; then
		mkdir -p "$TMP/auditconf/plugins.d" "$TMP/auditlog"
		rm -f "$TMP/auditlog/"*
		# Debian defaults, except the log goes to our temp dir, never rotates, and no plugins run.
		grep -vE '^[[:space:]]*(log_file|max_log_file_action|plugin_dir|num_logs)[[:space:]]*=' \
			/etc/audit/auditd.conf >"$TMP/auditconf/auditd.conf"
		printf 'log_file = %s\nmax_log_file_action = ignore\nnum_logs = 0\nplugin_dir = %s\n' \
			"$TMP/auditlog/audit.log" "$TMP/auditconf/plugins.d" >>"$TMP/auditconf/auditd.conf"
		chmod 0640 "$TMP/auditconf/auditd.conf"
		auditd -c "$TMP/auditconf" -s nochange >"$TMP/auditd.err" 2>&1 || { log "auditd: $(cat "$TMP/auditd.err")"; return 1; }
		AUDITD_OURS=1
		for (( i = 0; i < 100; i++ )); do
			st=$(auditctl -s 2>/dev/null)
			[[ "$(awk '$1 == "pid" { print $2 }' <<<"$st")" != "0" ]] && break
			sleep 0.1
		done
		awk '$1 == "pid" { print $2 }' <<<"$st" >"$TMP/auditd.pid"
		[[ "$(cat "$TMP/auditd.pid")" != "0" ]] || { log "auditd did not register with the kernel"; auditd_stop; return 1; }
	fi
	auditctl -b 8192 >/dev/null && auditctl -e 1 >/dev/null || { auditd_stop; return 1; }
	auditctl -a always,exit -F arch=b64 -S execve -k vigexec >/dev/null && AUDIT_RULES+=("-d always,exit -F arch=b64 -S execve -k vigexec")
	auditctl -a always,exit -F arch=b64 -S connect -k vigconn >/dev/null && AUDIT_RULES+=("-d always,exit -F arch=b64 -S connect -k vigconn")
	if [[ "$1" == files ]]; then
		auditctl -w "$WDIR" -p wa -k vigfile >/dev/null && AUDIT_RULES+=("-W $WDIR -p wa -k vigfile")
	fi
	(( ${#AUDIT_RULES[@]} >= 2 ))
}
audit_lost() { auditctl -s 2>/dev/null | awk '$1 == "lost" { print $2 }'; }

# --- setup ---------------------------------------------------------------------------------------
cc -O2 -Wall -Wextra -o "$TMP/workload" "$HERE/workload.c" || { log "cannot compile workload.c"; exit 1; }

AUDITD_VERSION=""
if (( USE_AUDITD )); then
	if ! command -v auditctl >/dev/null && (( INSTALL )); then
		log "installing auditd (apt-get)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends auditd >"$TMP/apt.log" 2>&1 ||
			log "apt-get install auditd failed: $(tail -2 "$TMP/apt.log")"
	fi
	if ! command -v auditctl >/dev/null; then
		AUDITD_NOTE="auditd not installed"
	elif ! auditctl -s >/dev/null 2>&1; then
		AUDITD_NOTE="kernel audit not available (auditctl -s failed)"
	elif [[ "$(auditctl -s | awk '$1 == "enabled" { print $2 }')" == "2" ]]; then
		AUDITD_NOTE="audit configuration is locked (enabled 2)"
	fi
	AUDITD_VERSION=$(dpkg-query -W -f '${Version}' auditd 2>/dev/null || echo unknown)
else
	AUDITD_NOTE="disabled by --no-auditd"
fi
[[ -n "$AUDITD_NOTE" ]] && { echo "note: auditd condition skipped: $AUDITD_NOTE"; USE_AUDITD=0; }

echo "# vigil agent overhead benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# host=$(uname -n) kernel=$(uname -r) cpus=$(nproc) loadavg=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "# agent=$AGENT ${AGENT_OPTS[*]} auditd=${AUDITD_VERSION:-none} exec_n=$EXEC_N file_n=$FILE_N conn_n=$CONN_N syscall_n=$SYSCALL_N reps=$REPS workloads=\"$ONLY\""

declare -A SUMMARY
SUMMARY_KEYS=()
put() { SUMMARY[$1]=$2; SUMMARY_KEYS+=("$1"); }

# --- idle CPU --------------------------------------------------------------------------------------
idle=()
for (( r = 1; r <= REPS; r++ )); do
	agent_start "$TMP/out/idle.$r" || exit 1
	sleep 2
	t0=$(cpu_ticks "$APID"); sleep "$IDLE_S"; t1=$(cpu_ticks "$APID")
	idle+=("$(ticks_to_s $(( t1 - t0 )))")
	agent_stop
	echo "idle rep=$r agent_cpu_s=${idle[-1]} over ${IDLE_S}s"
done
put agent_idle_cpu_s "$(median "${idle[@]}")"
put agent_idle_window_s "$IDLE_S"

# --- workloads -----------------------------------------------------------------------------------
for wl in $ONLY; do
	case $wl in exec) name=exec_storm; gen=$EXEC_N ;; files) name=file_storm; gen=$(( 2 * FILE_N )) ;;
		conn) name=connect_storm; gen=$CONN_N ;; syscalls) name=syscall_storm; gen=0 ;; esac
	base=(); aud=(); agt=(); dlv=(); drp=(); cpu=(); rss=(); srss=(); alost=(); arec=(); details=""
	bcpu=(); tcpu=()   # workload CPU without the agent; workload + agent CPU with it
	for (( r = 1; r <= REPS; r++ )); do
		# baseline
		run_workload "$wl" || exit 1
		base+=("$WALL"); bcpu+=("$CPU")
		echo "$name rep=$r baseline wall_s=$WALL cpu_s=$CPU"
		# auditd
		if (( USE_AUDITD )); then
			if auditd_start "$wl"; then
				l0=$(audit_lost)
				ok=1; run_workload "$wl" || ok=0
				l1=$(audit_lost)
				sleep 1
				nrec=$(grep -c -E 'key="vig(exec|conn|file)"' "$TMP/auditlog/audit.log" 2>/dev/null); nrec=${nrec:-0}
				auditd_stop
				(( ok )) || exit 1
				aud+=("$WALL"); alost+=("$(( l1 - l0 ))"); arec+=("$nrec")
				echo "$name rep=$r auditd wall_s=$WALL audit_lost=$(( l1 - l0 )) audit_keyed_records=$nrec"
			else
				echo "note: auditd could not start, condition skipped"; USE_AUDITD=0; auditd_stop
			fi
		fi
		# agent
		out="$TMP/out/$wl.$r"
		agent_start "$out" || exit 1
		sleep 2   # the agent finishes start-up work (process table seed) after its first health event
		c0=$(cpu_ticks "$APID")
		run_workload "$wl" || exit 1
		agent_drain "$out"
		c1=$(cpu_ticks "$APID"); hwm=$(vm_hwm_kb "$APID"); srss+=("$(vm_rss_kb "$APID")")
		agent_stop
		case $wl in
		exec) cnt=$(python3 "$HERE/count.py" "$out" exec) ;;
		files) cnt=$(python3 "$HERE/count.py" "$out" files "$WDIR") ;;
		conn) cnt=$(python3 "$HERE/count.py" "$out" conn "$PORT") ;;
		syscalls) cnt=$(python3 "$HERE/count.py" "$out" syscalls) ;;
		esac
		d=$(sed -n 's/^delivered=//p' <<<"$cnt"); dr=$(sed -n 's/^drops=//p' <<<"$cnt")
		details=$(sed -n 's/^detail=//p' <<<"$cnt")
		agt+=("$WALL"); dlv+=("$d"); drp+=("$dr"); cpu+=("$(ticks_to_s $(( c1 - c0 )))"); rss+=("$hwm")
		tcpu+=("$(awk -v a="$CPU" -v b="${cpu[-1]}" 'BEGIN { printf "%.3f", a + b }')")
		echo "$name rep=$r agent wall_s=$WALL cpu_s=$CPU delivered=$d generated=$gen drops=$dr agent_cpu_s=${cpu[-1]} peak_rss_kb=$hwm detail=$details $(grep -E '^bad_' <<<"$cnt" | tr '\n' ' ')"
		rm -f "$out"
	done
	mb=$(median "${base[@]}"); ma=$(median "${agt[@]}")
	line="$name baseline_s=$mb agent_s=$ma agent_ratio=$(ratio "$ma" "$mb")"
	put "${name}_baseline_s" "$mb"
	if (( ${#aud[@]} )); then
		mu=$(median "${aud[@]}")
		line="$name auditd_ratio=$(ratio "$mu" "$mb") agent_ratio=$(ratio "$ma" "$mb") baseline_s=$mb auditd_s=$mu agent_s=$ma"
		put "${name}_auditd_s" "$mu"; put "${name}_auditd_ratio" "$(ratio "$mu" "$mb")"
		put "${name}_audit_lost" "$(median "${alost[@]}")"; put "${name}_audit_keyed_records" "$(median "${arec[@]}")"
	fi
	put "${name}_agent_s" "$ma"; put "${name}_agent_ratio" "$(ratio "$ma" "$mb")"
	# CPU ratio: (workload CPU + agent CPU) with the agent over workload CPU without; it does not
	# move with the load other processes put on the host, which wall time does
	put "${name}_baseline_cpu_s" "$(median "${bcpu[@]}")"; put "${name}_agent_total_cpu_s" "$(median "${tcpu[@]}")"
	put "${name}_agent_cpu_ratio" "$(ratio "$(median "${tcpu[@]}")" "$(median "${bcpu[@]}")")"
	echo "$name cpu: baseline_cpu_s=$(median "${bcpu[@]}") workload+agent_cpu_s=$(median "${tcpu[@]}") cpu_ratio=${SUMMARY[${name}_agent_cpu_ratio]}"
	put "${name}_agent_delivered" "$(median "${dlv[@]}")"; put "${name}_generated" "$gen"
	put "${name}_agent_drops" "$(median "${drp[@]}")"; put "${name}_agent_cpu_s" "$(median "${cpu[@]}")"
	put "${name}_agent_peak_rss_kb" "$(median "${rss[@]}")"
	put "${name}_agent_rss_kb" "$(median "${srss[@]}")" # after the drain (VmRSS); peak is VmHWM
	echo "$line"
	echo "$name delivered=$(median "${dlv[@]}")/$gen drops=$(median "${drp[@]}") agent_cpu_s=$(median "${cpu[@]}") peak_rss_kb=$(median "${rss[@]}") rss_kb=$(median "${srss[@]}")"
done

echo "# summary (medians of $REPS runs)"
echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "loadavg_end=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
echo "auditd_version=${AUDITD_VERSION:-none}"
[[ -n "$AUDITD_NOTE" ]] && echo "auditd_skipped=\"$AUDITD_NOTE\""
for k in "${SUMMARY_KEYS[@]}"; do echo "$k=${SUMMARY[$k]}"; done
