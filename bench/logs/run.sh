#!/usr/bin/env bash
# bench/logs/run.sh - log collection throughput, in lines per CPU-second, per format:
#   1. parse only: vig-parse-bench (src/parse) over the shared corpora;
#   2. parse + store: a real vigild fed through POST /api/v1/ingest/raw and through the
#      syslog TCP receiver (bench_store.py), vigild's own CPU time from /proc.
# Corpora come from ../shared/data (env VIG_SHARED_DIR); a missing one is skipped with a note.
#
#   bench/logs/run.sh [quick]      build: $VIG_BENCH_BUILD, default build/release
set -uo pipefail
cd "$(dirname "$0")/../.."
b=${VIG_BENCH_BUILD:-build/release}
data=${VIG_SHARED_DIR:-../shared/data}
quick=${1:-}
repeat=20; target=200000
if [ "$quick" = quick ]; then repeat=3; target=20000; fi

corpus() { # FORMAT FILE
	if [ -f "$data/$2" ]; then echo "$1 $data/$2"; else echo "# skipped $1: $data/$2 not found" >&2; fi
}
list=$( {
	corpus syslog loghub/OpenSSH/OpenSSH_2k.log
	corpus syslog loghub/Linux/Linux_full.log
	corpus iptables firewall/iptables/iptablogs_iptables.log
	corpus apache weblogs/elastic-examples/apache_logs
	corpus suricata suricata/surevego/eve.json
	corpus zeek zeek/brimdata-zed/conn.log
} )
[ -n "$list" ] || { echo "no corpora under $data: nothing to measure" >&2; exit 0; }

echo "# logs bench $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null) nproc=$(nproc) load=$(cut -d' ' -f1-3 /proc/loadavg) build=$b"
echo "## parse only (vig-parse-bench FORMAT FILE $repeat)"
while read -r fmt file; do
	printf '%-40s ' "$(basename "$file")"
	"$b/src/parse/vig-parse-bench" "$fmt" "$file" "$repeat"
done <<<"$list"
echo "## parse + store (vigild, ingest/raw and syslog TCP; about $target lines per format)"
VIGILD="$b/src/server/vigild" python3 bench/logs/bench_store.py "$target" $list
