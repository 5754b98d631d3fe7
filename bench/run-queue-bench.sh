#!/usr/bin/env bash
# Herald's queue against BullMQ on the same machine and the same (fresh) redis-server.
# Usage: bench/run-queue-bench.sh [BUILD_DIR]   (default build/; needs `node` and `npm`)
# Prints both figures and the ratios the brief holds the queue to: throughput at least 2x
# BullMQ's, and an alert's pickup behind 100,000 waiting deliveries below BullMQ's on an empty
# queue.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
bench_bin="$build/bench/queue_bench"
[[ -x "$bench_bin" ]] || { echo "build first: $bench_bin is missing" >&2; exit 2; }
command -v node >/dev/null || { echo "node is needed for the BullMQ side (apt-get install nodejs npm)" >&2; exit 2; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" >/dev/null
trap 'kill "$(cat "$dir/redis.pid")" 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

(cd "$here/bullmq" && [[ -d node_modules ]] || npm ci --no-audit --no-fund >/dev/null)

deliveries="${DELIVERIES:-100000}"
herald_out=$("$bench_bin" --redis-url "redis://127.0.0.1:$port/0" --deliveries "$deliveries" \
  --backlog 100000 --runs 50)
echo "$herald_out"
redis-cli -p "$port" flushall >/dev/null
bull_out=$(node "$here/bullmq/bench.mjs" --redis-port "$port" --jobs "$deliveries" --runs 50)
echo "$bull_out"

herald_rate=$(sed -n 's/^herald throughput.*: \([0-9]*\) deliveries\/s$/\1/p' <<<"$herald_out")
bull_rate=$(sed -n 's/^bullmq throughput.*: \([0-9]*\) jobs\/s$/\1/p' <<<"$bull_out")
herald_ms=$(sed -n 's/^herald alert pickup.*median \([0-9.]*\) ms.*/\1/p' <<<"$herald_out")
bull_ms=$(sed -n 's/^bullmq alert pickup.*median \([0-9.]*\) ms.*/\1/p' <<<"$bull_out")
python3 - "$herald_rate" "$bull_rate" "$herald_ms" "$bull_ms" <<'PY'
import sys
hr, br, hm, bm = map(float, sys.argv[1:])
print(f"throughput ratio herald/bullmq: {hr / br:.2f} (bar: >= 2)")
print(f"alert pickup herald (100k backlog) / bullmq (empty): {hm / bm:.2f} (bar: < 1)")
PY
