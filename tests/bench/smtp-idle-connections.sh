#!/usr/bin/env bash
# 10,000 concurrent idle SMTP sessions (greeting read, EHLO answered) held against GrainMail's MX
# listener; prints the host's memory.   tests/bench/smtp-idle-connections.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-10000}
cd "$root"
ulimit -n "$(ulimit -Hn)"
source tests/bench/grainmail-host.sh
start_grainmail idlebench GrainMail__SmtpMaxConnectionsPerIp=$((n + 100))
python3 tests/bench/idle_connections.py --port 12525 --pid "$pid" -n "$n" --hold 10
