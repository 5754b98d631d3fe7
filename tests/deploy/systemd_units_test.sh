#!/usr/bin/env bash
# systemd-analyze verify on deploy/heraldd.service, alone and with deploy/external-redis.conf, and
# checks the unit keeps its hardening. ExecStart is pointed at the freshly built heraldd (verify
# refuses a unit whose binary does not exist, and /usr/bin/heraldd exists only once installed).
# Usage: tests/deploy/systemd_units_test.sh SOURCE_DIR HERALDD
set -euo pipefail
source_dir=$1
heraldd=$2
unit="$source_dir/deploy/heraldd.service"
fail() { echo "FAIL: $*" >&2; exit 1; }

if ! command -v systemd-analyze >/dev/null; then
  echo "SKIP: no systemd-analyze (Debian package systemd; scripts/setup.sh installs it)"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# What the unit must say, checked as text: verify accepts a unit without any of these.
for line in Type=notify User=herald Group=herald NoNewPrivileges=yes ProtectSystem=strict \
  ProtectHome=yes PrivateTmp=yes ReadWritePaths=/var/lib/herald Restart=on-failure \
  WatchdogSec= "ExecStart=/usr/bin/heraldd --config /etc/herald/herald.json"; do
  grep -q "^$line" "$unit" || fail "heraldd.service lacks $line"
done
grep -q "^Wants=redis-server.service" "$source_dir/deploy/external-redis.conf" &&
  grep -q "^After=redis-server.service" "$source_dir/deploy/external-redis.conf" ||
  fail "external-redis.conf must both want and order after redis-server.service"

sed "s#/usr/bin/heraldd#$heraldd#" "$unit" >"$work/heraldd.service"
# The drop-in's lines appended: the same sections read twice, as systemd merges a drop-in.
cat "$work/heraldd.service" "$source_dir/deploy/external-redis.conf" >"$work/heraldd-external.service"
for tested in heraldd.service heraldd-external.service; do
  if ! out=$(cd "$work" && systemd-analyze verify "$work/$tested" 2>&1); then
    if grep -qiE "Failed to (initialize|connect|create bus)|not booted|Operation not permitted" <<<"$out"; then
      echo "SKIP: systemd-analyze cannot run here: $out"
      exit 0
    fi
    fail "systemd-analyze verify $tested: $out"
  fi
  # verify prints warnings and still exits 0: any output is a finding.
  [ -z "$out" ] || fail "systemd-analyze verify $tested: $out"
done
echo "systemd-analyze verify: heraldd.service and its external-redis drop-in pass"
