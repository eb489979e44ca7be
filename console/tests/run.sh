#!/usr/bin/env bash
# run.sh - build the console if needed and run its browser tests in Debian's headless Chromium
# against a real vigild. Prints "console: N passed, M failed" and exits non-zero on failure.
# Environment: VIGILD (binary; default the newest build/*/src/server/vigild), VIGIL_AGENT (default
# the agent next to vigild; the agent steps are skipped without one or without root), CHROMIUM (default
# /usr/bin/chromium), VIGIL_CONSOLE_DIRECT=1 (browser talks to vigild directly; VIGILD_ARGS adds
# vigild arguments), CONSOLE_TEST_ONLY=regex (run the first step and the steps whose name matches).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ./build.sh; then
  echo "console: 0 passed, 1 failed (the build failed)"
  exit 1
fi
if [ ! -x "${CHROMIUM:-/usr/bin/chromium}" ]; then
  echo "console: ${CHROMIUM:-/usr/bin/chromium} is missing (apt-get install chromium; scripts/deps.sh does it)" >&2
  echo "console: 0 passed, 1 failed"
  exit 1
fi
exec node tests/console.test.mjs
