#!/usr/bin/env bash
# test.sh - every test of Vigil: `make test` runs this, and so does CI (.ci/run).
#
#   1. the sanitizer build (ASan + UBSan) of everything
#   2. unit tests (cmocka) and integration tests (real vigild, vigilctl, agent) through ctest
#   3. every libFuzzer target for FUZZ_SECONDS (default 20) each
#   4. console browser tests when the console exists
# Ends with one line "tests: N passed, M failed" and a non-zero exit on any failure.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
failed=0
passed=0

step() { printf '\n== %s\n' "$*"; }

step "sanitizer build"
if ! make --no-print-directory asan; then
	echo "tests: 0 passed, 1 failed (build)"
	exit 1
fi

step "unit and integration tests (ctest)"
ctest_log=$(mktemp)
(cd build/asan && ctest --output-on-failure -j "$jobs" --timeout 1200) 2>&1 | tee "$ctest_log"
line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$ctest_log" | tail -1)
total=$(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line")
nfail=$(sed -E 's/.*tests passed, ([0-9]+) tests failed.*/\1/' <<<"$line")
if [ -z "$line" ]; then
	failed=$((failed + 1))
else
	passed=$((passed + total - nfail))
	failed=$((failed + nfail))
fi
rm -f "$ctest_log"

step "fuzz targets"
fuzz_log=$(mktemp)
bash scripts/fuzz.sh 2>&1 | tee "$fuzz_log"
fline=$(grep -E '^fuzz: [0-9]+ passed, [0-9]+ failed' "$fuzz_log" | tail -1)
if [ -z "$fline" ]; then
	failed=$((failed + 1))
else
	passed=$((passed + $(sed -E 's/fuzz: ([0-9]+) passed.*/\1/' <<<"$fline")))
	failed=$((failed + $(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$fline")))
fi
rm -f "$fuzz_log"

if [ -f console/package.json ] && [ -f console/tests/run.sh ]; then
	step "console browser tests"
	clog=$(mktemp)
	VIGILD=$PWD/build/asan/src/server/vigild VIGIL_CONSOLE_DIRECT=1 bash console/tests/run.sh 2>&1 | tee "$clog"
	cline=$(grep -E '^console: [0-9]+ passed, [0-9]+ failed' "$clog" | tail -1)
	if [ -z "$cline" ]; then
		failed=$((failed + 1))
	else
		passed=$((passed + $(sed -E 's/console: ([0-9]+) passed.*/\1/' <<<"$cline")))
		failed=$((failed + $(sed -E 's/.* ([0-9]+) failed/\1/' <<<"$cline")))
	fi
	rm -f "$clog"
fi

echo
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
