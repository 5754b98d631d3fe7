#!/usr/bin/env bash
# Sets up and runs Herald on its embedded default: heraldd starts its own redis-server under
# var/demo, and herald-sim stands in for the platforms. Ctrl-C stops everything.
# Usage: scripts/run.sh   (API on 127.0.0.1:8080; env HERALD_SIM_PORT moves herald-sim, default 8091)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--help" ] || [ "${1:-}" = "-h" ]; then
  sed -n '2,4p' "$0"; exit 0
fi

scripts/setup.sh

port=8080  # http.listen of config/herald.demo.json
sim_port="${HERALD_SIM_PORT:-8091}"
export HERALD_SIM_URL="http://127.0.0.1:${sim_port}"
mkdir -p var/demo

build/services/herald-sim/herald-sim --listen "127.0.0.1:${sim_port}" --portal-key demo-portal-key > var/demo/herald-sim.log 2>&1 &
sim_pid=$!
trap 'kill "$sim_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fs "${HERALD_SIM_URL}/_sim/health" >/dev/null 2>&1 && break
  sleep 0.05
done

cat <<TXT

Herald API:  http://127.0.0.1:${port}
herald-sim:  ${HERALD_SIM_URL}   (what the platforms received: /_sim/published?platform=weibo|portal|webhook)
Demo tokens: demo-duty-token (duty officer), demo-admin-token (admin, reviewer), demo-reviewer-token (reviewer)

In another terminal, from ${PWD}: submit the sample alert as the duty officer, have two reviewers
approve it (两级审核), and see it delivered:

  api=http://127.0.0.1:${port}
  id=\$(curl -s -H 'Authorization: Bearer demo-duty-token' -H 'Content-Type: application/json' --data @config/sample-alert.json \$api/v1/items | sed -E 's/.*"id":"([^"]+)".*/\1/')
  for t in demo-admin-token demo-reviewer-token; do curl -s -H "Authorization: Bearer \$t" -H 'Content-Type: application/json' --data '{"decision":"approve","comment":"核实无误"}' \$api/v1/items/\$id/approvals; echo; done
  sleep 1; curl -s -H 'Authorization: Bearer demo-duty-token' \$api/v1/items/\$id; echo

TXT
# Not exec: the EXIT trap must still stop herald-sim when heraldd ends.
build/services/heraldd/heraldd --config config/herald.demo.json
