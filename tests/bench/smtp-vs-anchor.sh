#!/usr/bin/env bash
# SMTP delivery: GrainMail against the Postfix + Dovecot anchor, same load, one run.
#   tests/bench/smtp-vs-anchor.sh [TOTAL] [PROCS] [SESSIONS]
# Each run prints where the CPU went (tests/bench/cpu_split.py): node, PostgreSQL, daemons, load client.
# Needs root (the anchor installs and starts Postfix and Dovecot from Debian's packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
total=${1:-6000} procs=${2:-20} sessions=${3:-2}
cd "$root"

source tests/bench/anchor.sh
anchor start
anchor reset
echo "anchor (Postfix + Dovecot, maildir, fsync):"
python3 tests/bench/cpu_split.py --label anchor -- python3 "$shared/smtp-delivery-bench.py" --smtp 10025 --imap 10143 --pass anchor --total "$total" --procs "$procs" --sessions "$sessions"

source tests/bench/grainmail-host.sh
start_grainmail smtpbench
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
echo "GrainMail (single node, embedded PostgreSQL, fsync on):"
# Counted exactly as the anchor is: the shared script's IMAP STATUS polling, in plaintext on both
# (until 2026-12-01 GrainMail's polling ran over implicit TLS, a handshake per poll the anchor never paid).
python3 tests/bench/cpu_split.py --label grainmail -- python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11143 --domain bench.test --pass secret123 \
  --total "$total" --procs "$procs" --sessions "$sessions"
echo "GrainMail peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
