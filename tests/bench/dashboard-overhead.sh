#!/usr/bin/env bash
# Does the Orleans dashboard cost SMTP throughput? Same load three times on one GrainMail node:
# dashboard off, dashboard on but nobody looking, dashboard on with a viewer polling it every
# second (its grain-call profiler records while someone looks).
#   tests/bench/dashboard-overhead.sh [TOTAL] [PROCS] [SESSIONS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
total=${1:-12000} procs=${2:-20} sessions=${3:-2}
cd "$root"

run() {
  local label=$1 dashboard=$2 watch=$3
  (
    source tests/bench/grainmail-host.sh
    start_grainmail dashbench "GRAINMAIL_DASHBOARD=$dashboard"
    api /api/v1/domains '{"name":"bench.test"}'
    for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
    viewer=""
    if [ "$watch" = 1 ]; then
      # What the dashboard's page fetches while open.
      (while true; do
        for p in DashboardCounters ClusterStats TopGrainMethods; do
          curl -s -o /dev/null -H "Authorization: Bearer bench-token" "http://127.0.0.1:18080/dashboard/$p"
        done
        sleep 1
      done) &
      viewer=$!
    fi
    echo -n "$label: "
    python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11993 --imap-ssl --domain bench.test --pass secret123 \
      --total "$total" --procs "$procs" --sessions "$sessions"
    [ -z "$viewer" ] || kill "$viewer"
  )
}

run "dashboard off            " false 0
run "dashboard on, not viewed " true 0
run "dashboard on, viewed     " true 1
