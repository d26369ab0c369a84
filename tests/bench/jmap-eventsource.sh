#!/usr/bin/env bash
# N JMAP EventSource clients (default 1,000, over 100 accounts) held over HTTPS; the RSS of the process
# holding them, and the latency from an SMTP delivery (250 after DATA) to the StateChange at each
# client of the account.   flock -o /tmp/grainmail.lock tests/bench/jmap-eventsource.sh [N] [ACCOUNTS]
# The streams are held by a gateway-only process (GRAINMAIL_ROLE=gateway, an Orleans client of the
# node's silo), whose RSS is measured alone (issue 18: under 300 MB); GATEWAY=0 holds them on the node.
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
https=18443 holder=$pid
if [ "${GATEWAY:-1}" != 0 ]; then
  gwdata=$(mktemp -d /tmp/grainmail-jmapgw.XXXX)
  node_pid=$pid node_data=$data
  # Only HTTPS: deliveries still go to the node's MX. The gateway finds the silo at the node's Orleans gateway port.
  GRAINMAIL_ROLE=gateway GRAINMAIL_SILOS=127.0.0.1:31000 GRAINMAIL_DATA="$gwdata" GRAINMAIL_HTTP=http://127.0.0.1:18081 \
    GRAINMAIL_HTTPS_PORT=18444 GRAINMAIL_SMTP_MX_PORT=0 GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 \
    GRAINMAIL_IMAP_PORT=0 GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 GRAINMAIL_MANAGESIEVE_PORT=0 \
    without_lock_fds dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$gwdata/host.log" 2>&1
  holder=$!
  trap 'kill -TERM $holder $node_pid 2>/dev/null; wait $holder $node_pid 2>/dev/null; rm -rf "$gwdata" "$node_data"' EXIT
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18081/readyz >/dev/null && break; sleep 0.5; done
  for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/18444) 2>/dev/null && break; sleep 0.5; done
  https=18444
  echo "gateway-only process: pid $holder, RSS $(grep VmRSS /proc/$holder/status | awk '{print $2/1024 " MiB"}') before any stream; node RSS $(grep VmRSS /proc/$node_pid/status | awk '{print $2/1024 " MiB"}')"
fi
python3 tests/bench/jmap_eventsource.py -n "$n" --accounts "$accounts" --https-port "$https" --smtp-port 12525 --pid "$holder"
if [ "${GATEWAY:-1}" != 0 ]; then
  echo "gateway-only process: VmHWM $(grep VmHWM /proc/$holder/status | awk '{print $2/1024 " MiB"}'); node RSS $(grep VmRSS /proc/$node_pid/status | awk '{print $2/1024 " MiB"}')"
fi
