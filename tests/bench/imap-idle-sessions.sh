#!/usr/bin/env bash
# N concurrent IMAP sessions (LOGIN, SELECT INBOX, IDLE) held against GrainMail from one process;
# then one message by SMTP to u1@bench.test and the time until its idling sessions see EXISTS,
# and the host's memory.   tests/bench/imap-idle-sessions.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-10000}
cd "$root"
ulimit -n "$(ulimit -Hn)"
source tests/bench/grainmail-host.sh
start_grainmail imapidle GrainMail__ImapMaxConnectionsPerIp=$((n + 100)) GrainMail__ImapMaxConnections=$((n + 100))
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 100); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
echo "GrainMail host before the sessions: VmRSS $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
python3 tests/bench/imap_idle.py -n "$n" --port 11143 --user-format 'u{n}@bench.test' --accounts 100 \
  --password secret123 --smtp-port 12525 --pid "$pid" --hold 5 --pg-pattern "$data/pg"
