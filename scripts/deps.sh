#!/usr/bin/env bash
# deps.sh - install every build, test and runtime dependency of Vigil from Debian's packages.
#
# Idempotent: packages already present are skipped, and apt is only consulted when something is
# missing. Called by `make run`, `make test` and `make build`; safe to run by hand.
set -euo pipefail

PKGS=(
  build-essential cmake pkg-config clang llvm lld
  libevent-dev libssl-dev libsqlite3-dev sqlite3 libjansson-dev libyaml-dev
  libhyperscan-dev libpcre2-dev libzstd-dev libargon2-dev libcurl4-openssl-dev
  libcmocka-dev libbpf-dev bpftool libnftables-dev nftables libsystemd-dev
  libyara-dev libmaxminddb-dev libcairo2-dev
  python3 python3-yaml python3-jsonschema curl openssl iproute2 procps jq
)
if [ "${VIGIL_DEPS_CONSOLE:-1}" = 1 ]; then
  PKGS+=(nodejs npm chromium)
fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# node and npm may come from outside Debian's packages on a developer machine; accept them there.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  tmp=()
  for p in "${missing[@]}"; do
    case "$p" in nodejs|npm) ;; *) tmp+=("$p") ;; esac
  done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing packages: ${missing[*]} (run as root, or install them)" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
