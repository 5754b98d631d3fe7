#!/usr/bin/env bash
# Sets up Herald, starts a throw-away redis-server on a free loopback port, runs the whole test
# suite (ctest) against it, and stops what it started. Usage: scripts/test.sh [ctest args...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,3p' "$0"; exit 0
fi

scripts/setup.sh

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=$((20000 + RANDOM % 20000))
until port_free "$port"; do port=$((port + 1)); done

redis_dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$redis_dir" \
  --daemonize no --logfile "$redis_dir/redis.log" &
redis_pid=$!
cleanup() {
  kill "$redis_pid" 2>/dev/null || true
  wait "$redis_pid" 2>/dev/null || true
  rm -rf "$redis_dir"
}
trap cleanup EXIT
for _ in $(seq 200); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
redis-cli -p "$port" ping >/dev/null

export HERALD_TEST_REDIS_URL="redis://127.0.0.1:${port}/0"
echo "test: redis-server on port ${port}"
start=$(date +%s)
ctest --test-dir build --output-on-failure -j 2 "$@"
echo "test: suite took $(( $(date +%s) - start )) s"
