#!/usr/bin/env bash
# Sets up and runs Herald on its embedded default: heraldd starts its own redis-server under
# var/demo, and herald-sim stands in for the platforms. Ctrl-C stops everything.
# Usage: scripts/run.sh   Ports (127.0.0.1) from the environment: HERALD_API_PORT (API, 8080),
#   HERALD_FEEDS_PORT (feeds, 8081), HERALD_SIM_PORT (herald-sim, 8091), HERALD_SMTP_PORT (its SMTP sink, 8025)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,5p' "$0"; exit 0
fi

port=${HERALD_API_PORT:-8080}
feeds_port=${HERALD_FEEDS_PORT:-8081}
sim_port=${HERALD_SIM_PORT:-8091}
smtp_port=${HERALD_SMTP_PORT:-8025}
export HERALD_SIM_URL="http://127.0.0.1:${sim_port}"

# Before anything is built or started: a port in use would only show as a failure later.
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in "HERALD_API_PORT=$port" "HERALD_FEEDS_PORT=$feeds_port" "HERALD_SIM_PORT=$sim_port" \
  "HERALD_SMTP_PORT=$smtp_port"; do
  value=${p#*=}
  case "$value" in
    '' | *[!0-9]*) echo "run.sh: ${p%%=*} must be a port number, got '$value'" >&2; exit 2 ;;
  esac
  if ! port_free "$value"; then
    echo "run.sh: port $value (${p%%=*}) is in use on 127.0.0.1; free it or set ${p%%=*}" >&2
    exit 1
  fi
done

scripts/setup.sh

# config/herald.demo.json with the ports above, written next to the demo's data (its one relative
# path, data_dir, then names that same directory).
mkdir -p var/demo
config=var/demo/herald.json
sed -e "s#\"127\.0\.0\.1:8080\"#\"127.0.0.1:${port}\"#" \
  -e "s#\"127\.0\.0\.1:8081\"#\"127.0.0.1:${feeds_port}\"#" \
  -e "s#\"http://127\.0\.0\.1:8081\"#\"http://127.0.0.1:${feeds_port}\"#" \
  -e "s#\"smtp://127\.0\.0\.1:8025\"#\"smtp://127.0.0.1:${smtp_port}\"#" \
  -e 's#"data_dir": "\.\./var/demo"#"data_dir": "."#' config/herald.demo.json >"$config"
for expected in "\"127.0.0.1:${port}\"" "\"127.0.0.1:${feeds_port}\"" \
  "\"smtp://127.0.0.1:${smtp_port}\"" '"data_dir": "."'; do
  grep -qF -- "$expected" "$config" ||
    { echo "run.sh: config/herald.demo.json changed shape: no $expected in $config" >&2; exit 1; }
done

sim_pid=
heraldd_pid=
stop_all() {
  [ -z "$heraldd_pid" ] || kill -TERM "$heraldd_pid" 2>/dev/null || true
  [ -z "$heraldd_pid" ] || wait "$heraldd_pid" 2>/dev/null || true
  [ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null || true
}
trap stop_all EXIT
# Background jobs of a script ignore SIGINT: Ctrl-C reaches heraldd through this trap instead.
trap 'exit 130' INT TERM

build/services/herald-sim/herald-sim --listen "127.0.0.1:${sim_port}" --smtp-listen "127.0.0.1:${smtp_port}" --portal-key demo-portal-key > var/demo/herald-sim.log 2>&1 &
sim_pid=$!
for _ in $(seq 100); do
  curl -fs "${HERALD_SIM_URL}/_sim/health" >/dev/null 2>&1 && break
  kill -0 "$sim_pid" 2>/dev/null || break
  sleep 0.05
done
if ! curl -fs "${HERALD_SIM_URL}/_sim/health" >/dev/null 2>&1; then
  echo "run.sh: herald-sim did not start:" >&2
  cat var/demo/herald-sim.log >&2
  exit 1
fi

# heraldd logs to this terminal; the banner waits until it answers /readyz (Redis up, dispatchers
# running), and a heraldd that fails (a port taken meanwhile, a bad config) ends the script with
# its exit code, its error above.
build/services/heraldd/heraldd --config "$config" &
heraldd_pid=$!
until curl -fs "http://127.0.0.1:${port}/readyz" >/dev/null 2>&1; do
  if ! kill -0 "$heraldd_pid" 2>/dev/null; then
    status=0
    wait "$heraldd_pid" || status=$?
    heraldd_pid=
    echo "run.sh: heraldd exited with status $status before it was ready (its error is above)" >&2
    exit $(( status == 0 ? 1 : status ))
  fi
  sleep 0.1
done

cat <<TXT

Herald API:  http://127.0.0.1:${port}
herald-sim:  ${HERALD_SIM_URL}   (what the platforms received: /_sim/published?platform=weibo|wechat|portal|webhook|websub|smtp)
Feeds:       http://127.0.0.1:${feeds_port}/feeds/news.rss, /feeds/news.atom, /feeds/alerts.cap.atom, /feeds/cap/{id}.xml
Demo tokens: demo-duty-token (duty officer), demo-admin-token (admin, reviewer, compiler), demo-reviewer-token (reviewer)

In another terminal, from ${PWD}: submit the sample alert as the duty officer, have two reviewers
approve it (两级审核), watch it reach Weibo, WeChat, the portal and the media feeds, then retract it
(the README has the whole session):

  export PATH="\$PWD/build/services/heraldctl:\$PATH" HERALD_URL=http://127.0.0.1:${port} HERALD_TOKEN=demo-duty-token
  id=\$(heraldctl submit --file config/sample-alert.json -q)
  HERALD_TOKEN=demo-admin-token heraldctl approve \$id --comment 核实无误
  HERALD_TOKEN=demo-reviewer-token heraldctl approve \$id --comment 同意发布
  heraldctl wait \$id && heraldctl show \$id
  curl -s http://127.0.0.1:${feeds_port}/feeds/cap/\$id.xml
  heraldctl retract \$id --reason "局势缓和，撤回提醒"

TXT
status=0
wait "$heraldd_pid" || status=$?
heraldd_pid=
exit "$status"
