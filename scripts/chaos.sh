#!/usr/bin/env bash
# Runs the platform-truth chaos test (tests/services/heraldd/chaos_test.cpp) RUNS times in a row
# with a kill phase of SECONDS each, against a throw-away redis-server; stops at the first failure.
# Usage: scripts/chaos.sh [--runs N] [--seconds S] [--build DIR]   (defaults: 5, 600, build)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=5
seconds=600
build=build
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) sed -n '2,4p' "$0"; exit 0 ;;
    --runs) runs=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    *) echo "chaos.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
binary="$build/tests/services/heraldd_chaos_test"
[ -x "$binary" ] || { echo "chaos.sh: $binary not built (scripts/setup.sh builds it)" >&2; exit 2; }

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((port + 1)); done
redis_dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" \
  --daemonize no --logfile "$redis_dir/redis.log" &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true; wait "$redis_pid" 2>/dev/null || true; rm -rf "$redis_dir"' EXIT
for _ in $(seq 200); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

export HERALD_TEST_REDIS_URL="redis://127.0.0.1:${port}/0" HERALD_CHAOS_SECONDS="$seconds"
for run in $(seq "$runs"); do
  echo "chaos run $run of $runs (${seconds} s of kills)"
  log="$redis_dir/run$run.log"
  if ! "$binary" >"$log" 2>&1; then
    kept="${TMPDIR:-/tmp}/herald-chaos-failed-run$run.log"
    cp "$log" "$kept"
    grep -v '^\[20' "$log" | grep -E 'FAILED|^chaos|is live|never published|absent on|Herald holds|times$' | head -60
    echo "chaos run $run FAILED (whole log: $kept)"
    exit 1
  fi
  grep '^chaos' "$log"
done
echo "chaos: $runs run(s) passed"
