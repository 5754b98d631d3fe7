#!/usr/bin/env bash
# Installs what Herald needs from Debian 12's packages (only what is missing) and builds it into
# build/. Usage: scripts/setup.sh [--no-build] [--sanitize]
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<TXT
scripts/setup.sh: install Herald's Debian packages (if missing) and build it.
  --no-build   only install packages
  --sanitize   build with ASan/UBSan into build-asan/
TXT
}

build=1
build_dir=build
cmake_extra=()
for arg in "$@"; do
  case "$arg" in
    --help|-h) usage; exit 0 ;;
    --no-build) build=0 ;;
    --sanitize) build_dir=build-asan; cmake_extra+=(-DHERALD_SANITIZE=ON) ;;
    *) echo "setup.sh: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done

packages=(build-essential cmake pkg-config ca-certificates curl
  libboost-dev libhiredis-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libspdlog-dev
  catch2 libcli11-dev redis-server libxml2-utils libicu-dev libopencc-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The package starts a system-wide redis-server on port 6379; Herald never uses it.

if [ "$build" -eq 1 ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_extra[@]}" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
fi
