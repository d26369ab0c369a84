#!/usr/bin/env bash
# JMAP and the webmail on a 100,000-message INBOX (issue 18):
#  1. Email/query (INBOX, newest first, 50) + Email/get of those 50 (the webmail's list page) in one
#     request, over HTTPS with keep-alive; p50/p99 of N requests at pages across the folder
#     (tests/bench/jmap_query.py);
#  2. the webmail in Debian's Chromium (Playwright, tests/GrainMail.Tests/Bench/WebmailBench.cs):
#     login → first page of the list, and opening a message — the latter both as the page measures it
#     (performance.measure "grainmail.open": click event → paint with the body) and as the driver does.
# The INBOX is filled over IMAP by imap_big_mailbox.py first (pipelined APPEND, LITERAL+).
# Needs the solution built (Release) and the webmail built (bash webmail/build.sh).
#   flock -o /tmp/grainmail.lock tests/bench/jmap-query.sh [MESSAGES] [REQUESTS]
# BENCH_ROUNDS (default 12) sets the webmail rounds; BENCH_TRACE=FILE records the last opening (webmail_trace.py).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-100000} requests=${2:-500}
cd "$root"
bash webmail/build.sh
source tests/bench/grainmail-host.sh
start_grainmail jmapbench GRAINMAIL_WEBMAIL="$root/webmail/dist" GrainMail__Jmap__ServerTimingGc=true
api /api/v1/domains '{"name":"bench.test"}'
api /api/v1/domains/bench.test/accounts '{"localPart":"big","password":"secret123"}'
t0=$(date +%s)
python3 tests/bench/imap_big_mailbox.py --port 11143 --user big@bench.test --password secret123 -n "$n" --repeat 1 --label fill >/dev/null
echo "INBOX filled to $n messages by pipelined APPEND in $(( $(date +%s) - t0 )) s"
python3 tests/bench/jmap_query.py --port "$GRAINMAIL_HTTPS_PORT" --cafile "$data/tls/cert.pem" --user big@bench.test --password secret123 --requests "$requests"
# JMAP_ONLY=1: the JMAP figures alone (the JMAP tail's A/B runs, docs/benchmarks.md session 9), without the webmail part.
if [ -n "${JMAP_ONLY:-}" ]; then echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"; exit 0; fi
out="$data/webmail-bench.txt"
BENCH_URL="https://127.0.0.1:$GRAINMAIL_HTTPS_PORT" BENCH_USER=big@bench.test BENCH_PASSWORD=secret123 BENCH_OUT="$out" \
  dotnet tests/GrainMail.Tests/bin/Release/net10.0/GrainMail.Tests.dll -explicit only \
  -method GrainMail.Tests.Bench.WebmailBench.First_page_after_login_and_opening_a_message >"$data/webmail-bench.log" 2>&1 \
  || { tail -30 "$data/webmail-bench.log"; exit 1; }
echo "webmail (Chromium):"; cat "$out"
# BENCH_TRACE=FILE: the last round's opening of a message, from Chromium's performance timeline.
if [ -n "${BENCH_TRACE:-}" ] && [ -f "$BENCH_TRACE" ]; then python3 tests/bench/webmail_trace.py "$BENCH_TRACE"; fi
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
