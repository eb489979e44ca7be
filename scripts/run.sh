#!/usr/bin/env bash
# run.sh - `make run`: start vigild on its embedded store, a local agent sending to it, and the
# console; print the console's URL and how to log in. Ctrl-C stops everything.
#
# State lives in ./run/ (data directory, logs, the first admin's password). The first start creates
# the admin account with a random password, printed here once and kept in run/admin-password (0600);
# there is no default password.
#   VIGIL_LISTEN   address of the server (default 127.0.0.1:8443)
#   VIGIL_NO_AGENT=1  do not start the local agent
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
bin=build/release
listen=${VIGIL_LISTEN:-127.0.0.1:8443}
url="https://$listen"
mkdir -p run
chmod 700 run

api() { # api METHOD PATH [JSON] - prints the body; auth from $TOKEN when set
	local m=$1 p=$2 d=${3:-}
	local args=(-sS -k -X "$m" "$url$p" -H 'Content-Type: application/json')
	[ -n "${TOKEN:-}" ] && args+=(-H "Authorization: Bearer $TOKEN")
	[ -n "$d" ] && args+=(--data "$d")
	curl "${args[@]}"
}
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

cat >run/vigild.yaml <<CFG
# Written by scripts/run.sh (make run); see docs/configuration.md for every option.
console:
  dir: $top/console/dist
detect:
  rules_dir: $top/rules
CFG
"$bin/src/server/vigild" --config run/vigild.yaml --data run/data --listen "$listen" >>run/vigild.log 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
	if curl -sk "$url/api/v1/health" >/dev/null 2>&1; then break; fi
	if ! kill -0 "${pids[0]}" 2>/dev/null; then
		echo "vigild failed to start; see run/vigild.log:" >&2
		tail -20 run/vigild.log >&2
		exit 1
	fi
	sleep 0.1
done

if [ "$(api GET /api/v1/setup | json "['needed']")" = "True" ]; then
	pw=$(python3 -c 'import secrets; print(secrets.token_urlsafe(15))')
	st=$(cat run/data/setup-token)
	api POST /api/v1/setup "{\"setup_token\":\"$st\",\"username\":\"admin\",\"password\":\"$pw\"}" >/dev/null
	umask 077
	echo "$pw" >run/admin-password
fi

if [ "${VIGIL_NO_AGENT:-0}" != 1 ] && [ -x "$bin/src/agent/vigil-agent" ]; then
	if [ "$(id -u)" -eq 0 ]; then
		# Enrol once with a single-use enrolment token; later runs reuse run/agent/ (its key,
		# certificate and spool). Events, heartbeats and actions then go over mutual TLS.
		enroll=()
		if [ ! -s run/agent/agent.json ]; then
			cookie=$(mktemp)
			login=$(curl -sSk -c "$cookie" "$url/api/v1/login" -H 'Content-Type: application/json' \
				--data "{\"username\":\"admin\",\"password\":\"$(cat run/admin-password)\"}")
			csrf=$(json "['csrf_token']" <<<"$login")
			tok=$(curl -sSk -b "$cookie" -H "X-CSRF-Token: $csrf" -H 'Content-Type: application/json' \
				"$url/api/v1/enroll-tokens" --data '{"name":"local-agent","uses":1}' | json "['token']")
			rm -f "$cookie"
			enroll=(--enroll "$tok")
		fi
		"$bin/src/agent/vigil-agent" --server "$url" --cacert "$top/run/data/tls/server.crt" \
			--state-dir "$top/run/agent" "${enroll[@]}" --journal \
			>>run/agent.log 2>&1 &
		pids+=($!)
		agent_msg="a local agent is sending this machine's events (log: run/agent.log)"
	else
		agent_msg="the local agent needs root: run 'sudo make run' to start it"
	fi
else
	agent_msg="no local agent (VIGIL_NO_AGENT=1 or not built)"
fi

cat <<MSG

Vigil is running.
  console:  $url/   (self-signed certificate: accept it in the browser,
            or trust $top/run/data/tls/server.crt)
  log in:   user 'admin', password in $top/run/admin-password
  api:      $url/api/v1/health     metrics: $url/metrics
  agent:    $agent_msg
  logs:     run/vigild.log
Ctrl-C stops it.
MSG
wait "${pids[0]}"
