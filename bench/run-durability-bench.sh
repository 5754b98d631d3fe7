#!/usr/bin/env bash
# What "durable before answered" costs: heraldd with its embedded Redis, first with
# appendfsync always (what heraldd runs), then with everysec (what it ran before), each taking
# ITEMS submissions (POST /v1/items, one item per request) from CONCURRENCY clients with `ab`.
# Prints items/s and p99 latency for each, and the ratios.
# Usage: bench/run-durability-bench.sh [BUILD_DIR]     (default build/)
#   ITEMS=5000 CONCURRENCY=16 DATA_PARENT=/var/tmp (the AOF goes there: a real disk, not tmpfs)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
build="${1:-$here/../build}"
heraldd="$build/services/heraldd/heraldd"
items="${ITEMS:-5000}"
concurrency="${CONCURRENCY:-16}"
[[ -x "$heraldd" ]] || { echo "build first: $heraldd is missing" >&2; exit 2; }

# ab (ApacheBench) is Debian's apache2-utils: installed here on first use.
if ! command -v ab >/dev/null; then
  if [[ $(id -u) -eq 0 ]]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get install -y --no-install-recommends apache2-utils >/dev/null
fi

work=$(mktemp -d "${DATA_PARENT:-/var/tmp}/herald-durability-bench.XXXXXX")
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

token="bench-duty-token"
token_sha=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
python3 - "$here/../config/sample-alert.json" "$work/item.json" <<'PY'
import json, sys
item = json.load(open(sys.argv[1], encoding="utf-8"))
item["channels"] = ["webhook"]  # never approved here: nothing is delivered, only stored
json.dump(item, open(sys.argv[2], "w", encoding="utf-8"), ensure_ascii=False)
PY

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# run MODE: prints "MODE items/s p99_ms"
run() {
  local mode=$1 port dir
  port=$(free_port)
  dir="$work/$mode"
  mkdir -p "$dir"
  cat >"$dir/herald.json" <<EOF
{
  "http": {"listen": "127.0.0.1:$port", "handler_threads": 16, "max_connections": 1024,
           "public": {"listen": "127.0.0.1:0"}},
  "redis": {"url": "embedded"},
  "data_dir": "$dir/data",
  "auth": {"users": [{"name": "duty", "roles": ["duty_officer"], "token_sha256": "$token_sha"}]},
  "channels": {"webhook": {"url": "http://127.0.0.1:9/hooks/unused", "secret": "bench"}},
  "log": {"level": "warn"}
}
EOF
  "$heraldd" --config "$dir/herald.json" >"$dir/heraldd.log" 2>&1 &
  pid=$!
  local deadline=$((SECONDS + 30))
  until curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; do
    if ((SECONDS > deadline)) || ! kill -0 "$pid" 2>/dev/null; then
      echo "heraldd did not become ready:" >&2; cat "$dir/heraldd.log" >&2; exit 1
    fi
    sleep 0.1
  done
  local sock="$dir/data/redis/redis.sock"
  # The embedded server's generated password, through the environment (not redis-cli's arguments).
  REDISCLI_AUTH=$(cat "$dir/data/redis/password")
  export REDISCLI_AUTH
  # heraldd always starts it with "always"; the comparison run switches the live server.
  if [[ $mode == everysec ]]; then redis-cli -s "$sock" config set appendfsync everysec >/dev/null; fi
  local actual
  actual=$(redis-cli -s "$sock" config get appendfsync | tail -1)
  [[ $actual == "$mode" ]] || { echo "embedded redis runs appendfsync $actual, not $mode" >&2; exit 1; }

  local ab_args=(-q -k -c "$concurrency" -p "$work/item.json" -T application/json
    -H "Authorization: Bearer $token" "http://127.0.0.1:$port/v1/items")
  ab -n 500 "${ab_args[@]}" >/dev/null  # warm-up: connections, AOF file, page cache
  ab -n "$items" "${ab_args[@]}" >"$dir/ab.txt"
  local rate p99 failed non2xx stored
  rate=$(sed -n 's/^Requests per second: *\([0-9.]*\).*/\1/p' "$dir/ab.txt")
  p99=$(sed -n 's/^ *99% *\([0-9]*\).*/\1/p' "$dir/ab.txt")
  failed=$(sed -n 's/^Failed requests: *\([0-9]*\).*/\1/p' "$dir/ab.txt")
  non2xx=$(sed -n 's/^Non-2xx responses: *\([0-9]*\).*/\1/p' "$dir/ab.txt")
  stored=$(redis-cli -s "$sock" zcard "herald:{items}:by_time")
  if [[ ${failed:-0} != 0 || -n $non2xx || $stored != $((items + 500)) ]]; then
    echo "$mode: failed=$failed non-2xx=${non2xx:-0} stored=$stored (expected $((items + 500)))" >&2
    cat "$dir/ab.txt" >&2
    exit 1
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true; pid=""
  echo "$mode $rate $p99"
}

echo "heraldd $(git -C "$here/.." rev-parse --short HEAD 2>/dev/null || echo '?'), $(nproc) cores," \
  "$items items, concurrency $concurrency, AOF under ${DATA_PARENT:-/var/tmp}"
always=$(run always)
everysec=$(run everysec)
python3 - "$always" "$everysec" <<'PY'
import sys
rows = [s.split() for s in sys.argv[1:]]
for mode, rate, p99 in rows:
    print(f"appendfsync {mode:8}: {float(rate):8.1f} items/s, p99 {p99} ms")
(_, ra, pa), (_, re, pe) = rows
print(f"always/everysec: throughput {float(ra) / float(re):.2f}x, p99 {float(pa) / max(float(pe), 1):.2f}x")
PY
