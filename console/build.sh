#!/usr/bin/env bash
# build.sh - build the Vigil web console into console/dist/ (served by vigild).
#
# Idempotent and quick when nothing changed: `npm ci` runs only when node_modules is missing or
# package-lock.json differs from the one last installed, and the Vite build runs only when dist/
# is missing or older than a source file. Set VIGIL_CONSOLE_FORCE=1 to rebuild anyway.
# Packages come from the npm registry as pinned in package-lock.json; nothing is fetched at run time.
set -euo pipefail
cd "$(dirname "$0")"

if ! command -v npm >/dev/null 2>&1; then
  echo "console: npm is missing (scripts/deps.sh installs it)" >&2
  exit 1
fi

stamp=node_modules/.vigil-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
have=$(cat "$stamp" 2>/dev/null || true)
if [ ! -d node_modules ] || [ "$want" != "$have" ]; then
  echo "console: installing npm packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

need_build=0
if [ "${VIGIL_CONSOLE_FORCE:-0}" = 1 ] || [ ! -f dist/index.html ]; then
  need_build=1
elif [ -n "$(find src public index.html vite.config.ts tsconfig.json package-lock.json -newer dist/index.html -print -quit 2>/dev/null)" ]; then
  need_build=1
fi
if [ "$need_build" = 1 ]; then
  echo "console: building dist/"
  npx --no-install tsc --noEmit
  npx --no-install vite build --logLevel warn
fi
echo "console: dist/ is up to date ($(pwd)/dist)"
