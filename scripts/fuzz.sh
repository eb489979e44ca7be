#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets with clang and run each one briefly.
#
#   scripts/fuzz.sh [SECONDS]    default 20 s per target (FUZZ_SECONDS overrides)
# Corpora persist in fuzz/corpus-<target>/ (git-ignored) so longer local runs accumulate.
# Prints "fuzz: N passed, M failed"; a crash fails the run and leaves the input in build/fuzz/.
set -uo pipefail
cd "$(dirname "$0")/.."
secs=${1:-${FUZZ_SECONDS:-20}}
bdir=build/fuzz
CC=clang cmake -S . -B "$bdir" -DCMAKE_BUILD_TYPE=Debug -DVIG_FUZZ=ON -DVIG_WERROR=OFF \
	-DVIG_MODULES="common;event;store;parse;detect;intel" >/dev/null || exit 1
targets=$(sed -n 's/^fuzz_\([a-z_0-9]*\)\.c$/fuzz_\1/p' <(ls fuzz))
pass=0; fail=0
for t in $targets; do
	if ! cmake --build "$bdir" --target "$t" -j "$(nproc)" -- --no-print-directory >"$bdir/$t.build.log" 2>&1; then
		if grep -q "No rule to make target" "$bdir/$t.build.log"; then
			echo "fuzz: $t skipped (its library is not built)"; continue
		fi
		echo "fuzz: $t FAILED to build"; tail -20 "$bdir/$t.build.log"; fail=$((fail+1)); continue
	fi
	mkdir -p "fuzz/corpus-$t"
	seeds=()
	[ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
	if (cd "$bdir" && "./fuzz/$t" -max_total_time="$secs" -max_len=65536 -rss_limit_mb=2048 \
		-print_final_stats=0 "../../fuzz/corpus-$t" "${seeds[@]/#/../../}" >"$t.log" 2>&1); then
		echo "fuzz: $t ok ($(grep -o 'cov: [0-9]*' "$bdir/$t.log" | tail -1), $(grep -c '^#' "$bdir/$t.log") status lines)"
		pass=$((pass+1))
	else
		echo "fuzz: $t FAILED"; tail -40 "$bdir/$t.log"; fail=$((fail+1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
