#!/usr/bin/env bash
# 10,000 concurrent idle SMTP sessions (greeting read, EHLO answered) held against GrainMail's MX
# listener; prints the host's memory.   tests/bench/smtp-idle-connections.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-10000}
cd "$root"
ulimit -n "$(ulimit -Hn)"
dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
data=$(mktemp -d /tmp/grainmail-idlebench.XXXX)
chmod 755 "$data"
export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18081 GRAINMAIL_SMTP_MX_PORT=12526 \
  GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_ADMIN_TOKEN=bench-token \
  GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21112 GRAINMAIL_GATEWAY_PORT=31001 Logging__LogLevel__Default=Warning \
  GrainMail__SmtpMaxConnectionsPerIp=$((n + 100))
dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$data/host.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18081/readyz >/dev/null && break; sleep 0.5; done
python3 tests/bench/idle_connections.py --port 12526 --pid "$pid" -n "$n" --hold 10
