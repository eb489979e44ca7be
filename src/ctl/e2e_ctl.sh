#!/usr/bin/env bash
# e2e_ctl.sh - end-to-end test of vigilctl against a real vigild.
#
# Starts vigild on a free port in a temporary directory, then drives it only through
# vigilctl: first-admin setup, login with --password-stdin, status, ingest of a small NDJSON
# file twice (the second run must be all duplicates), search and count, token create / list /
# use / revoke, audit verify, usage errors, logout. Prints "ctl-e2e: N passed, M failed" and
# exits non-zero when anything failed.
#
# Environment: VIGILD (path to vigild) and VIGILCTL (path to vigilctl); when unset, the newest
# binaries under <repo>/build are used. KEEP=1 keeps the temporary directory.
set -u

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

newest() { # newest executable named $1 under $repo/build
	find "$repo/build" -type f -name "$1" -perm -u+x -printf '%T@ %p\n' 2>/dev/null |
		sort -rn | head -1 | cut -d' ' -f2-
}
VIGILD=${VIGILD:-$(newest vigild)}
VIGILCTL=${VIGILCTL:-$(newest vigilctl)}
if [[ -z "$VIGILD" || ! -x "$VIGILD" ]]; then
	echo "ctl-e2e: skipped: no vigild binary (set VIGILD)"
	exit 0
fi
if [[ -z "$VIGILCTL" || ! -x "$VIGILCTL" ]]; then
	echo "ctl-e2e: no vigilctl binary (set VIGILCTL)" >&2
	exit 1
fi

tmp=$(mktemp -d /tmp/ctl-e2e.XXXXXX)
pid=""
cleanup() {
	if [[ -n "$pid" ]]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [[ "${KEEP:-0}" == 1 ]]; then echo "ctl-e2e: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   - $1"; }
bad() { fail=$((fail + 1)); echo "FAIL - $1"; [[ -f "$tmp/out" ]] && sed 's/^/       /' "$tmp/out" "$tmp/err" | head -20; }

# check NAME EXPECTED_EXIT GREP_PATTERN -- vigilctl args...   (stdin passes through)
check() {
	local name=$1 want=$2 pattern=$3
	shift 4
	"$VIGILCTL" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "$tmp/err"; then
		bad "$name (sanitizer report)"
	elif [[ $rc -ne $want ]]; then
		bad "$name (exit $rc, want $want)"
	elif [[ -n "$pattern" ]] && ! grep -Eq -- "$pattern" "$tmp/out" "$tmp/err"; then
		bad "$name (no match for /$pattern/)"
	else
		ok "$name"
	fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
		echo $((20000 + RANDOM % 20000))
}

port=$(free_port)
export HOME="$tmp/home"
mkdir -p "$HOME"
unset VIGIL_TOKEN VIGIL_CACERT XDG_CONFIG_HOME
export VIGIL_URL="https://127.0.0.1:$port"
export VIGIL_INSECURE=1 # vigild's certificate is self-signed; --cacert is tried below
"$VIGILD" --data "$tmp/data" --listen "127.0.0.1:$port" >"$tmp/vigild.log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
	"$VIGILCTL" status >/dev/null 2>&1 && break
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "ctl-e2e: vigild exited; its log:" >&2
		tail -20 "$tmp/vigild.log" >&2
		echo "ctl-e2e: 0 passed, 1 failed"
		exit 1
	fi
	sleep 0.1
done

check "status before login" 0 "status: +ok" -- status
check "usage error exits 2" 2 "usage: vigilctl search" -- search
check "unknown command exits 2" 2 "unknown command" -- frobnicate
check "not logged in exits 1" 1 "not logged in" -- token list

crt="$tmp/data/tls/server.crt"
if [[ -f "$crt" ]]; then
	VIGIL_INSECURE=0 check "status with --cacert" 0 "status: +ok" -- --cacert "$crt" status
	VIGIL_INSECURE=0 check "unverified certificate refused" 1 "cannot reach" -- status
fi

setup_token=$(cat "$tmp/data/setup-token" 2>/dev/null)
pw='correct horse battery staple'
check "setup creates the first admin" 0 "administrator 'admin' created" -- \
	setup --token "$setup_token" --username admin --password-stdin <<<"$pw"
check "login with a wrong password fails" 1 "HTTP 401" -- \
	login --username admin --password-stdin <<<"wrong password"
check "login stores a token" 0 "logged in to" -- login --username admin --password-stdin <<<"$pw"
creds="$HOME/.config/vigil/credentials"
if [[ -f "$creds" && $(stat -c %a "$creds") == 600 ]]; then ok "credentials file is 0600"; else bad "credentials file is 0600"; fi
check "status shows the user" 0 "user: +admin" -- status

now=$(date -u +%Y-%m-%dT%H:%M:%SZ)
cat >"$tmp/events.ndjson" <<EOF
{"@timestamp":"$now","event":{"action":"ctl-e2e-login","outcome":"success"},"host":{"name":"e2e-host-1"},"user":{"name":"alice"}}

{"@timestamp":"$now","event":{"action":"ctl-e2e-login","outcome":"failure"},"host":{"name":"e2e-host-2"},"user":{"name":"bob"}}
{"@timestamp":"$now","event":{"action":"ctl-e2e-exec"},"host":{"name":"e2e-host-1"},"process":{"name":"bash","pid":4242}}
EOF
check "ingest" 0 "accepted 3, rejected 0, duplicate 0" -- ingest "$tmp/events.ndjson"
check "ingest again is all duplicates" 0 "accepted 0, rejected 0, duplicate 3" -- ingest "$tmp/events.ndjson"
seq 1 12000 | awk -v ts="$now" '{printf "{\"@timestamp\":\"%s\",\"event\":{\"action\":\"ctl-e2e-bulk\"},\"message\":\"bulk %d\"}\n", ts, $1}' >"$tmp/bulk.ndjson"
check "ingest in 3 batches" 0 "accepted 12000, rejected 0, duplicate 0 \(3 batches, 0 already" -- ingest "$tmp/bulk.ndjson"
check "bulk rerun is all duplicates" 0 "accepted 0, rejected 0, duplicate 12000 \(3 batches, 3 already" -- ingest - <"$tmp/bulk.ndjson"
check "bulk count" 0 "^12000$" -- count 'event.action:ctl-e2e-bulk'
printf '{"event":{"action":"ctl-e2e-stdin"}}\nnot json\n' >"$tmp/bad.ndjson"
check "ingest with a bad line exits 1" 1 "rejected 1" -- ingest - <"$tmp/bad.ndjson"

check "search table" 0 "e2e-host-2" -- search 'event.action:ctl-e2e-login' --from -1h
check "search columns" 0 "event.action +user.name" -- search 'event.action:ctl-e2e-login and user.name:bob'
"$VIGILCTL" --json search 'event.action:ctl-e2e-login' >"$tmp/out" 2>"$tmp/err"
if [[ $(grep -c '^{' "$tmp/out") == 2 ]]; then ok "search --json is NDJSON"; else bad "search --json is NDJSON"; fi
check "count" 0 "^2$" -- count 'event.action:ctl-e2e-login'
check "top" 0 "e2e-host-1 +2" -- top host.name 'event.action:ctl-e2e-*'

check "token create" 0 "token: +vgt_" -- token create e2e-ci --role tier1 --expires-in 1h
tok=$(sed -n 's/^token: *//p' "$tmp/out")
tid=$(sed -n 's/^id: *//p' "$tmp/out")
check "token list" 0 "e2e-ci" -- token list
check "new token works" 0 "role: +tier1" -- --token "$tok" status
check "tier1 may not list users" 1 "HTTP 403" -- --token "$tok" users list
check "token revoke" 0 "token revoked" -- token revoke "$tid"
check "revoked token is refused" 1 "HTTP 401" -- --token "$tok" status

check "users list" 0 "admin" -- users list
check "tenants add" 0 "tenant 'acme' added" -- tenants add acme --name "Acme Corp"
check "tenants set" 0 "tenant updated" -- tenants set acme retention_days=30
check "tenants list" 0 "acme +Acme Corp" -- tenants list
check "users add" 0 "user 'carol' added" -- users add carol --role customer_viewer --tenant acme \
	--password-stdin <<<"carol's long password"
uid=$("$VIGILCTL" --json users list 2>/dev/null | python3 -c 'import json,sys; print([u["id"] for u in json.load(sys.stdin)["users"] if u["username"]=="carol"][0])' 2>/dev/null)
check "users set-role" 0 "role changed" -- users set-role "$uid" customer_approver
check "users disable" 0 "user disabled" -- users disable "$uid"
check "users list shows the change" 0 "carol +customer_approver +acme +true" -- users list
check "users delete" 0 "user deleted" -- users delete "$uid"
check "users delete again is 404" 1 "HTTP 404" -- users delete "$uid"
check "alerts list" 0 "" -- alerts list --limit 5
check "incidents list" 0 "" -- incidents list
cat >"$tmp/rule.yml" <<'EOF'
title: vigilctl e2e test rule
id: 5b0c1f9e-7c1e-4c53-9a51-0f8a3c2e1d01
status: test
logsource:
    product: linux
    category: process_creation
detection:
    selection:
        Image|endswith: '/ctl-e2e-tool'
    condition: selection
level: low
EOF
check "rules add" 0 "rule added" -- rules add "$tmp/rule.yml"
check "rules list" 0 "vigilctl e2e test rule" -- rules list
printf 'title: [broken\n' >"$tmp/bad.yml"
check "rules add of a broken rule exits 1" 1 "HTTP 4" -- rules add "$tmp/bad.yml"
check "audit list" 0 "action" -- audit list --limit 5
check "audit verify" 0 "audit chain ok" -- audit verify
check "logout" 0 "logged out" -- logout
if [[ ! -e "$creds" ]]; then ok "logout removes credentials"; else bad "logout removes credentials"; fi

echo "ctl-e2e: $pass passed, $fail failed"
[[ $fail -eq 0 ]]
