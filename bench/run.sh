#!/usr/bin/env bash
# run.sh - `make bench`: every benchmark of Vigil on the release build, each printing its rate
# and its ratio to a baseline measured in the same run. Results go to stdout and to
# build/bench-results.txt; docs/performance.md records them with the command that produced them.
#
#   bench/run.sh [quick]     quick: smaller inputs (a minute in all) for a smoke run
set -uo pipefail
cd "$(dirname "$0")/.."
b=build/release
shared=${VIG_SHARED_DIR:-../shared}
out=build/bench-results.txt
quick=${1:-}
n_ingest=1000000; n_json=1000000; n_store=1000000; n_syslog=1000000; n_detect=200000
if [ "$quick" = quick ]; then
	n_ingest=100000; n_json=200000; n_store=100000; n_syslog=100000; n_detect=20000
fi
: >"$out"
say() { echo "$*" | tee -a "$out"; }
say "# vigil bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg)"

say "## event JSON decode (baseline: jansson tree + mapping)"
"$b/bench/vig-event-json-bench" "$n_json" | tee -a "$out"

say "## ingest over HTTPS into the store (baseline: NDJSON size)"
VIG_BENCH_BUILD=$b python3 bench/ingest.py "$n_ingest" 5000 2 2>&1 | tee -a "$out"

if [ -x "$b/src/store/vig-store-bench" ]; then
	say "## store: append, field query, top-10"
	"$b/src/store/vig-store-bench" --events "$n_store" --days 3 2>&1 | tee -a "$out"
fi

if [ -x "$b/src/parse/vig-parse-bench" ]; then
	say "## parsers, lines per CPU-second (parse only)"
	tmp=$(mktemp -d)
	if [ -f "$shared/bench/gen_syslog.py" ]; then
		python3 "$shared/bench/gen_syslog.py" "$n_syslog" >"$tmp/syslog.log"
		"$b/src/parse/vig-parse-bench" syslog "$tmp/syslog.log" 3 | tee -a "$out"
	fi
	for f in "$shared"/data/firewall/iptables/*.log; do
		[ -f "$f" ] && "$b/src/parse/vig-parse-bench" iptables "$f" 20 | tee -a "$out"
	done
	[ -f "$shared/data/weblogs/elastic-examples/apache_logs" ] &&
		"$b/src/parse/vig-parse-bench" apache "$shared/data/weblogs/elastic-examples/apache_logs" 10 | tee -a "$out"
	rm -rf "$tmp"
fi

if [ -x "$b/src/detect/vig-detect-bench" ] && [ -d "$shared/data/sigma" ]; then
	say "## detection, events per CPU-second"
	"$b/src/detect/vig-detect-bench" -d "$shared/data/sigma" -n "$n_detect" 2>&1 | tee -a "$out"
fi
if [ -x "$b/bench/vig-detect-e2e" ] && [ -f "$shared/bench/gen_syslog.py" ]; then
	say "## end-to-end syslog detection: parse, detect (SigmaHQ linux + built-in rules), correlate, store"
	tmp=$(mktemp -d)
	python3 "$shared/bench/gen_syslog.py" "$n_syslog" >"$tmp/syslog.log"
	rdirs=(-r rules)
	[ -d "$shared/data/sigma/rules/linux" ] && rdirs+=(-r "$shared/data/sigma/rules/linux")
	"$b/bench/vig-detect-e2e" "${rdirs[@]}" -s "$tmp/store" "$tmp/syslog.log" 2>&1 | tee -a "$out"
	rm -rf "$tmp"
fi
say "# results in $out"
