#!/usr/bin/env bash
# JMAP on a 100,000-message INBOX: Email/query (INBOX, newest first, 50) + Email/get of those 50
# (the webmail's list page) in one request, over HTTPS with keep-alive; p50/p99 of N requests at
# pages across the folder. The INBOX is filled over IMAP by imap_big_mailbox.py first.
#   flock /tmp/grainmail.lock tests/bench/jmap-query.sh [MESSAGES] [REQUESTS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-100000} requests=${2:-500}
cd "$root"
source tests/bench/grainmail-host.sh
start_grainmail jmapbench
api /api/v1/domains '{"name":"bench.test"}'
api /api/v1/domains/bench.test/accounts '{"localPart":"big","password":"secret123"}'
python3 tests/bench/imap_big_mailbox.py --port 11143 --user big@bench.test --password secret123 -n "$n" --repeat 1 --label fill >/dev/null
python3 tests/bench/jmap_query.py --port "$GRAINMAIL_HTTPS_PORT" --cafile "$data/tls/cert.pem" --user big@bench.test --password secret123 --requests "$requests"
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
