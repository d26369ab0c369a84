#!/usr/bin/env bash
# IMAP command mix: GrainMail against the Postfix + Dovecot anchor, same load, one run.
#   tests/bench/imap-vs-anchor.sh [CLIENTS] [DURATION] [SEED]
# CLIENTS connections (one mailbox each, u<n>), DURATION seconds of load after each mailbox is
# filled to SEED messages; see imap_load.py for the mix. Needs root (the anchor installs and
# starts Postfix and Dovecot from Debian's packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
clients=${1:-20} duration=${2:-30} seed=${3:-200}
cd "$root"
out=$(mktemp -d /tmp/grainmail-imapbench-out.XXXX)
trap 'rm -rf "$out"' EXIT

source tests/bench/anchor.sh

anchor start
anchor reset
echo "anchor (Dovecot IMAP, maildir, fsync):"
python3 tests/bench/imap_load.py --port 10143 --user-format 'u{n}@anchor.test' --password anchor \
  --clients "$clients" --duration "$duration" --seed-messages "$seed" --label dovecot | tee "$out/dovecot.txt" || true

source tests/bench/grainmail-host.sh
start_grainmail imapbench GrainMail__ImapMaxConnectionsPerIp=$((clients + 100))
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$clients"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
echo
echo "GrainMail (single node, embedded PostgreSQL, fsync on):"
python3 tests/bench/imap_load.py --port 11143 --user-format 'u{n}@bench.test' --password secret123 \
  --clients "$clients" --duration "$duration" --seed-messages "$seed" --label grainmail | tee "$out/grainmail.txt" || true

cps() { sed -n 's/^RESULT commands_per_s=\([0-9.]*\).*/\1/p' "$1" | tail -n 1; }
d=$(cps "$out/dovecot.txt") g=$(cps "$out/grainmail.txt")
echo
echo "commands/s: Dovecot ${d:-n/a}, GrainMail ${g:-n/a}, GrainMail/Dovecot $(awk -v g="${g:-0}" -v d="${d:-0}" 'BEGIN { if (d > 0) printf "%.2f", g / d; else print "n/a" }')"
echo "GrainMail peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
rm -rf "$out"
