#!/usr/bin/env bash
# Runs Herald's libFuzzer targets (tests/fuzz/) from their committed corpora, one after another,
# each for SECONDS; if any crashed, it says where and exits non-zero. Needs the clang
# sanitizer tree (scripts/setup.sh --sanitize). New inputs go to a scratch copy of each corpus,
# crashes to artifacts/, each run's output appended to <target>.log, all under --work.
# Usage: scripts/fuzz.sh [--seconds N] [--build DIR] [--work DIR] [--jobs J] [target...]
# (defaults: 60 s, build-asan, DIR/fuzz-work, every target; --jobs runs J targets at once).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
build=build-asan
jobs=1
work=
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) sed -n '2,7p' "$0"; exit 0 ;;
    --seconds) seconds=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --work) work=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [ ${#targets[@]} -eq 0 ]; then
  for dir in tests/fuzz/corpus/*/; do targets+=("$(basename "$dir")"); done
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1:abort_on_error=1}"
work="${work:-$build/fuzz-work}"
mkdir -p "$work/artifacts"

run_one() {
  local target=$1 binary="$build/tests/fuzz/fuzz_$1"
  [ -x "$binary" ] || { echo "fuzz.sh: $binary not built (scripts/setup.sh --sanitize)" >&2; return 2; }
  # New inputs go to a scratch corpus: the committed one stays small and hand-made.
  mkdir -p "$work/corpus/$target"
  local status=0
  "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/$target-" "$work/corpus/$target" "tests/fuzz/corpus/$target" \
    >"$work/$target.run" 2>&1 || status=$?
  cat "$work/$target.run" >>"$work/$target.log"
  # A crashed run has no "Done" line: grep finding nothing is no error here.
  grep -a -E '^Done [0-9]+ runs|#[0-9]+ +DONE' "$work/$target.run" | sed "s/^/fuzz: $target: /" || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz: $target FAILED (exit $status); its output ($work/$target.log) ends:" >&2
    tail -n 40 "$work/$target.run" >&2
  fi
  return "$status"
}

failed=0
running=0
for target in "${targets[@]}"; do
  run_one "$target" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n || failed=1
    running=$((running - 1))
  fi
done
while [ "$running" -gt 0 ]; do
  wait -n || failed=1
  running=$((running - 1))
done
exit "$failed"
