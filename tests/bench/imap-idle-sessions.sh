#!/usr/bin/env bash
# N concurrent IMAP sessions (LOGIN, SELECT INBOX, IDLE) held against GrainMail from one process;
# then one message by SMTP to u1@bench.test and the time until its idling sessions see EXISTS,
# and the host's memory.   tests/bench/imap-idle-sessions.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-10000}
cd "$root"
ulimit -n "$(ulimit -Hn)"
dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
data=$(mktemp -d /tmp/grainmail-imapidle.XXXX)
chmod 755 "$data"
export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18080 GRAINMAIL_SMTP_MX_PORT=12525 \
  GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_ADMIN_TOKEN=bench-token \
  GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21111 GRAINMAIL_GATEWAY_PORT=31000 Logging__LogLevel__Default=Warning \
  GRAINMAIL_IMAP_PORT=11143 GRAINMAIL_IMAPS_PORT=11993 GRAINMAIL_POP3_PORT=11110 GRAINMAIL_POP3S_PORT=11995 \
  GrainMail__AllowPlaintextAuth=true GrainMail__ImapMaxConnectionsPerIp=$((n + 100)) \
  GrainMail__ImapMaxConnections=$((n + 100))
dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$data/host.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.5; done
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/11143) 2>/dev/null && break; sleep 0.5; done
api() { curl -sf -H "Authorization: Bearer bench-token" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:18080$1" >/dev/null; }
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 100); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
echo "GrainMail host before the sessions: VmRSS $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
python3 tests/bench/imap_idle.py -n "$n" --port 11143 --user-format 'u{n}@bench.test' --accounts 100 \
  --password secret123 --smtp-port 12525 --pid "$pid" --hold 5 --pg-pattern "$data/pg"
