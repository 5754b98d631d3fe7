#!/usr/bin/env bash
# Installs what Herald needs from Debian 12's packages (only what is missing) and builds it into
# build/. Usage: scripts/setup.sh [--no-build] [--sanitize] [--build-dir DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

usage() {
  cat <<TXT
scripts/setup.sh: install Herald's Debian packages (if missing) and build it.
  --no-build   only install packages
  --sanitize   build with clang, ASan and UBSan into build-asan/, with the libFuzzer targets
               (tests/fuzz/): the tree scripts/test.sh runs the suite in a second time
  --build-dir DIR  build into DIR instead
TXT
}

build=1
build_dir=build
cmake_extra=()
sanitize=0
custom_dir=
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) usage; exit 0 ;;
    --no-build) build=0 ;;
    --sanitize) sanitize=1 ;;
    --build-dir) custom_dir=$2; shift ;;
    *) echo "setup.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
  shift
done
if [ "$sanitize" -eq 1 ]; then
  # One tree for the sanitizer suite and the fuzzers. -O1 and line tables only keep the build
  # time and the binaries small enough for CI; the benchmarks are not run there.
  build_dir=build-asan
  cmake_extra+=(-DHERALD_FUZZ=ON -DCMAKE_CXX_COMPILER=clang++-14 -DHERALD_BUILD_BENCH=OFF
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -gline-tables-only")
fi
[ -z "$custom_dir" ] || build_dir=$custom_dir

packages=(build-essential cmake pkg-config ca-certificates curl
  libboost-dev libhiredis-dev libcurl4-openssl-dev libssl-dev nlohmann-json3-dev libspdlog-dev
  catch2 libcli11-dev redis-server libxml2-utils libicu-dev libopencc-dev
  clang-14 libclang-rt-14-dev libxml2-dev clang-format-14 git libsystemd-dev systemd
  adduser
  chromium fonts-wqy-zenhei nodejs)
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
# The web console's browser tests: playwright-core, pinned by tests/browser/package-lock.json. It
# drives Debian's chromium above and downloads no browser of its own.
# Debian's nodejs comes without npm, other builds of nodejs bring their own (and conflict with
# Debian's npm package): install it only when missing.
if [ ! -d tests/browser/node_modules/playwright-core ]; then
  if ! command -v npm >/dev/null; then
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends npm >/dev/null
  fi
  (cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --silent)
fi

if [ "$build" -eq 1 ]; then
  cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${cmake_extra[@]}" >/dev/null
  cmake --build "$build_dir" -j "$(nproc)"
fi
