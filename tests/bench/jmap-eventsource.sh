#!/usr/bin/env bash
# N JMAP EventSource clients (default 1,000, over 100 accounts) held on one GrainMail node over HTTPS;
# the node's RSS, and the latency from an SMTP delivery (250 after DATA) to the StateChange at each
# client of the account.   flock -o /tmp/grainmail.lock tests/bench/jmap-eventsource.sh [N] [ACCOUNTS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-1000}
accounts=${2:-100}
cd "$root"
ulimit -n "$(ulimit -Hn)"
source tests/bench/grainmail-host.sh
GRAINMAIL_IMAP_PORT=0 GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 GRAINMAIL_MANAGESIEVE_PORT=0 \
  start_grainmail jmappush
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/18443) 2>/dev/null && break; sleep 0.5; done
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$accounts"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
python3 tests/bench/jmap_eventsource.py -n "$n" --accounts "$accounts" --https-port 18443 --smtp-port 12525 --pid "$pid"
