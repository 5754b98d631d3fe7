#!/usr/bin/env bash
# Checks every tracked C/C++ file against .clang-format, sets up Herald, starts a throw-away
# redis-server on a free loopback port, runs the whole test suite (ctest) against it, then again
# built with ASan+UBSan (build-asan/, clang), then runs each fuzz target briefly
# (HERALD_FUZZ_SECONDS, 15 s each, two at a time), and stops what it started.
# Usage: scripts/test.sh [ctest args...]   (HERALD_TEST_SANITIZE=0: plain suite only)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,6p' "$0"; exit 0
fi

# Formatting first: it takes seconds, and a file out of format fails the run before a build that
# takes minutes. clang-format 14 exactly, since another version formats some constructs otherwise.
scripts/setup.sh --no-build
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  unformatted=()
  while IFS= read -r -d '' file; do
    [ -f "$file" ] || continue  # deleted in the work tree, not yet in the index
    clang-format-14 --style=file --dry-run -Werror "$file" >/dev/null 2>&1 || unformatted+=("$file")
  done < <(git ls-files -z -- '*.cpp' '*.h' '*.c')
  if [ ${#unformatted[@]} -gt 0 ]; then
    echo "test: ${#unformatted[@]} file(s) not formatted as .clang-format says:" >&2
    printf '  %s\n' "${unformatted[@]}" >&2
    echo "test: format them with: clang-format-14 -i FILE..." >&2
    exit 1
  fi
  echo "test: formatting checked"
else
  echo "test: not a git checkout, formatting not checked (it checks the files git tracks)"
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
# The web console in Debian's chromium (tests/browser/, HERALD_TEST_BROWSER=0 skips it): after the
# plain suite and apart from the sanitizer run, whose heraldd would be too slow to click through.
if [ "${HERALD_TEST_BROWSER:-1}" != "0" ]; then
  start=$(date +%s)
  HERALD_BUILD_DIR=build node tests/browser/console.test.mjs
  echo "test: browser tests took $(( $(date +%s) - start )) s"
fi

[ "${HERALD_TEST_SANITIZE:-1}" = "0" ] && exit 0
start=$(date +%s)
scripts/setup.sh --sanitize
echo "test: sanitizer build took $(( $(date +%s) - start )) s"
# Every report goes to a file, the spawned heraldd and herald-sim's included (their stderr is not
# always read by the test that started them): any file there fails the run.
reports="$redis_dir/sanitizer-reports"
mkdir -p "$reports"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:abort_on_error=1:log_path=$reports/ubsan"
start=$(date +%s)
status=0
ctest --test-dir build-asan --output-on-failure -j 2 "$@" || status=$?
echo "test: sanitizer suite took $(( $(date +%s) - start )) s"
if [ -n "$(ls -A "$reports")" ]; then
  for report in "$reports"/*; do echo "test: sanitizer report $report:"; cat "$report"; done
  exit 1
fi
[ "$status" -eq 0 ] || exit "$status"
start=$(date +%s)
scripts/fuzz.sh --seconds "${HERALD_FUZZ_SECONDS:-15}" --jobs 2
echo "test: fuzzing took $(( $(date +%s) - start )) s"
# Last, Herald against BullMQ at small sizes (bench/run --quick, under 3 minutes): its figures are
# not asserted, the run only shows the benchmark still works.
bench/run --quick
