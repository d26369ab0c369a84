#!/usr/bin/env bash
# The submit path's cost of governance (issue 17 item 9): authenticated SMTP submission throughput
# on one node, once with no governance rules in the domain and once with three outbound approval
# rules that every message is checked against and none holds (a keyword rule, which makes the
# silo parse the whole message, a size rule and an outside-domain rule). Both runs pay the policy
# call, the message_index row (with its subject word tokens) and the report counters; the
# difference is the rules' matching. Same load both times (tests/bench/submit_load.py).
#   flock /tmp/grainmail.lock tests/bench/governance-submit.sh [TOTAL] [PROCS]
# Starts its own node (tests/bench/grainmail-host.sh) and stops it on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
total=${1:-3000} procs=${2:-8}
cd "$root"
source tests/bench/grainmail-host.sh

run() {
  local label=$1
  start_grainmail "gov-$label"
  api /api/v1/domains '{"name":"bench.test"}'
  for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
  api /api/v1/domains/bench.test/accounts '{"localPart":"reviewer","password":"secret123"}'
  if [ "$label" = rules ]; then
    api /api/v1/domains/bench.test/approval-rules '{"name":"keywords","keywords":["acquisition","merger"],"reviewer":"reviewer@bench.test","expireAfterSeconds":3600,"expiryReason":"expired"}'
    api /api/v1/domains/bench.test/approval-rules '{"name":"large","sizeOver":50000000,"reviewer":"reviewer@bench.test","expireAfterSeconds":3600,"expiryReason":"expired"}'
    api /api/v1/domains/bench.test/approval-rules '{"name":"leaving","outsideDomain":true,"reviewer":"reviewer@bench.test","expireAfterSeconds":3600,"expiryReason":"expired"}'
  fi
  # A short warm-up (JIT, connection pools), then the measured run.
  python3 tests/bench/submit_load.py --total $((procs * 20)) --procs "$procs" > /dev/null
  echo "== governance $label: $(python3 tests/bench/submit_load.py --total "$total" --procs "$procs")"
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$data"
  trap - EXIT
}
run none
run rules
