#!/usr/bin/env bash
# Sets up and runs Herald on its embedded default: heraldd starts its own redis-server under
# var/demo, and herald-sim stands in for the platforms. Ctrl-C stops everything.
# Usage: scripts/run.sh   (API on 127.0.0.1:8080, feeds on 127.0.0.1:8081; env HERALD_SIM_PORT moves herald-sim, default 8091)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,4p' "$0"; exit 0
fi

scripts/setup.sh

port=8080  # http.listen of config/herald.demo.json
feeds_port=8081  # http.public.listen of config/herald.demo.json: the feeds' own listener
sim_port="${HERALD_SIM_PORT:-8091}"
export HERALD_SIM_URL="http://127.0.0.1:${sim_port}"
smtp_port=8025  # herald-sim's SMTP sink: channels.media.smtp.url of config/herald.demo.json
mkdir -p var/demo

build/services/herald-sim/herald-sim --listen "127.0.0.1:${sim_port}" --smtp-listen "127.0.0.1:${smtp_port}" --portal-key demo-portal-key > var/demo/herald-sim.log 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "${HERALD_SIM_URL}/_sim/health" >/dev/null 2>&1 && break
  sleep 0.05
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
# Not exec: the EXIT trap must still stop herald-sim when heraldd ends.
build/services/heraldd/heraldd --config config/herald.demo.json
