#!/usr/bin/env bash
# test_actions_live.sh - live test of the nftables response actions (isolate, release, block,
# unblock and the re-application of isolation.json), run inside two network namespaces joined
# by a veth pair so that the host's own rules are never touched.
#
# Namespace A is the endpoint (10.213.0.1), B the rest of the world: 10.213.0.2 plays the
# server (TCP 8443), 10.213.0.3 an allowed peer, 10.213.0.4 a peer that is not allowed; every
# address of B also listens on 9000. The driver (test_actions_driver, which calls
# vig_action_run) runs inside A. Connections are made for real with python3 and must succeed
# or fail as isolation and blocks say. Prints "actions-live: N passed, M failed".
#
# usage: test_actions_live.sh PATH/TO/test_actions_driver
set -u
DRIVER=${1:?usage: test_actions_live.sh PATH/TO/test_actions_driver}
if [ "$(id -u)" != 0 ]; then
	echo "actions-live: skipped (needs root)"
	exit 77
fi
for tool in ip nft python3; do
	command -v "$tool" >/dev/null || { echo "actions-live: skipped (needs $tool)"; exit 77; }
done

NS_A="vigact-a-$$"
NS_B="vigact-b-$$"
VETH_A="vga$$"
VETH_B="vgb$$"
WORK=$(mktemp -d /tmp/vigactlive.XXXXXX)
STATE="$WORK/state"
mkdir -p "$STATE"
PASS=0
FAIL=0
LISTENER_PID=
HOST_HAD_VIGIL=0
nft list table inet vigil >/dev/null 2>&1 && HOST_HAD_VIGIL=1

cleanup() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null && wait "$LISTENER_PID" 2>/dev/null
	ip netns del "$NS_A" 2>/dev/null
	ip netns del "$NS_B" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

if ! ip netns add "$NS_A" 2>/dev/null || ! ip netns add "$NS_B" 2>/dev/null; then
	echo "actions-live: skipped (cannot create network namespaces)"
	exit 77
fi
if ! ip netns exec "$NS_A" nft list tables >/dev/null 2>&1; then
	echo "actions-live: skipped (nftables unavailable in a network namespace)"
	exit 77
fi
ip link add "$VETH_A" netns "$NS_A" type veth peer name "$VETH_B" netns "$NS_B" || {
	echo "actions-live: skipped (cannot create a veth pair)"; exit 77; }
ip -n "$NS_A" link set lo up
ip -n "$NS_B" link set lo up
ip -n "$NS_A" addr add 10.213.0.1/24 dev "$VETH_A"
for a in 2 3 4; do ip -n "$NS_B" addr add "10.213.0.$a/24" dev "$VETH_B"; done
ip -n "$NS_A" link set "$VETH_A" up
ip -n "$NS_B" link set "$VETH_B" up

ok() { PASS=$((PASS + 1)); echo "ok   - $1"; }
ko() { FAIL=$((FAIL + 1)); echo "FAIL - $1"; }

# Listeners in B: every address, ports 8443 and 9000, answer "ok".
cat >"$WORK/listen.py" <<'PY'
import socket, threading
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port)); s.listen(16)
    while True:
        c, _ = s.accept(); c.sendall(b"ok"); c.close()
for p in (8443, 9000):
    threading.Thread(target=serve, args=(p,), daemon=True).start()
threading.Event().wait()
PY
ip netns exec "$NS_B" python3 "$WORK/listen.py" &
LISTENER_PID=$!

# reach HOST PORT: exit 0 when A gets "ok" from HOST:PORT within 1.5 s.
reach() {
	ip netns exec "$NS_A" python3 -c '
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1.5)
    sys.exit(0 if s.recv(2) == b"ok" else 1)
except OSError:
    sys.exit(1)' "$1" "$2"
}
expect_reach() { if reach "$2" "$3"; then ok "$1"; else ko "$1"; fi; }
expect_block() { if reach "$2" "$3"; then ko "$1"; else ok "$1"; fi; }

# act TYPE [PARAMS]: runs the driver in A; output in $WORK/out, status returned.
act() { ip netns exec "$NS_A" "$DRIVER" "$STATE" 10.213.0.2 8443 "$@" >"$WORK/out" 2>"$WORK/err"; }

for _ in $(seq 1 50); do reach 10.213.0.2 9000 && break; sleep 0.1; done
expect_reach "baseline: server port reachable" 10.213.0.2 8443
expect_reach "baseline: other port reachable" 10.213.0.2 9000

# ---- isolation ----
if act isolate '{"allow":["10.213.0.3/32"]}' && grep -q '"isolated":true' "$WORK/out"; then
	ok "isolate succeeds"
else
	ko "isolate succeeds: $(cat "$WORK/err")"
fi
grep -q '10.213.0.2:8443' "$WORK/out" && ok "result lists the server" || ko "result lists the server: $(cat "$WORK/out")"
expect_reach "isolated: server address:port still reachable" 10.213.0.2 8443
expect_block "isolated: other port of the server blocked" 10.213.0.2 9000
expect_block "isolated: other address blocked" 10.213.0.4 9000
expect_reach "isolated: allow cidr reachable" 10.213.0.3 9000
[ -f "$STATE/isolation.json" ] && ok "isolation.json written" || ko "isolation.json written"
if [ "$HOST_HAD_VIGIL" = 0 ]; then
	nft list table inet vigil >/dev/null 2>&1 && ko "host netns untouched" || ok "host netns untouched"
fi
if act isolate '{"allow":["10.213.0.4"]}'; then
	expect_reach "re-isolate replaces the allow list" 10.213.0.4 9000
	expect_block "re-isolate drops the old allow entry" 10.213.0.3 9000
else
	ko "re-isolate: $(cat "$WORK/err")"
fi

# The kernel forgets the table (a reboot); vig_action_restore applies isolation.json again.
ip netns exec "$NS_A" nft delete table inet vigil
expect_reach "table gone: traffic flows" 10.213.0.2 9000
act restore-state && ok "restore-state succeeds" || ko "restore-state succeeds: $(cat "$WORK/err")"
expect_block "restored isolation blocks again" 10.213.0.2 9000
expect_reach "restored isolation keeps the server" 10.213.0.2 8443

if act release && grep -q '"isolated":false' "$WORK/out"; then ok "release succeeds"; else ko "release succeeds"; fi
expect_reach "released: other port reachable" 10.213.0.2 9000
expect_reach "released: other address reachable" 10.213.0.4 9000
[ -f "$STATE/isolation.json" ] && ko "isolation.json removed" || ok "isolation.json removed"
act release && ok "release when not isolated is fine" || ko "release when not isolated is fine"
act restore-state && ok "restore-state without a record is a no-op" || ko "restore-state without a record"
expect_reach "no-op restore leaves traffic alone" 10.213.0.4 9000

# ---- blocks ----
if act block '{"address":"10.213.0.2"}' && grep -q '"10.213.0.2"' "$WORK/out"; then
	ok "block succeeds and lists the address"
else
	ko "block succeeds: $(cat "$WORK/out" "$WORK/err")"
fi
expect_block "blocked address unreachable" 10.213.0.2 8443
expect_reach "other address still reachable" 10.213.0.3 9000
if act block '{"address":"10.213.0.4/32","expires_s":600}' && grep -q '10.213.0.4' "$WORK/out"; then
	ok "block with expiry"
else
	ko "block with expiry: $(cat "$WORK/out" "$WORK/err")"
fi
ip netns exec "$NS_A" nft list set inet vigil_block block4 | grep -q 'timeout' && ok "expiry is a set timeout" ||
	ko "expiry is a set timeout"
[ "$(ip netns exec "$NS_A" nft list chain inet vigil_block output | grep -c drop)" = 2 ] &&
	ok "rules not doubled by a second block" || ko "rules not doubled by a second block"
act unblock '{"address":"10.213.0.2"}' && ok "unblock succeeds" || ko "unblock succeeds: $(cat "$WORK/err")"
expect_reach "unblocked address reachable" 10.213.0.2 8443
act unblock '{"address":"10.213.0.2"}' && ko "unblock of an address not blocked fails" ||
	ok "unblock of an address not blocked fails"
grep -q "not blocked" "$WORK/err" && ok "unblock says why" || ko "unblock says why: $(cat "$WORK/err")"

# Isolation and blocks are independent.
act isolate '{"allow":["10.213.0.3/32","10.213.0.4/32"]}' || ko "isolate with a block in place"
expect_block "block wins over an allow entry" 10.213.0.4 9000
act release || ko "release"
expect_block "release keeps blocks" 10.213.0.4 9000
act unblock '{"address":"10.213.0.4/32"}' || ko "unblock 10.213.0.4"
expect_reach "all clear" 10.213.0.4 9000

echo "actions-live: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
