#!/usr/bin/env bash
# A 100,000-message INBOX: SELECT and UID FETCH 1:* (FLAGS) on GrainMail and on the Dovecot
# anchor, same script, one run.   tests/bench/imap-big-mailbox.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
n=${1:-100000}
cd "$root"

source tests/bench/anchor.sh

# The anchor's daemons stop once its part is measured (and if the script fails before that).
trap 'anchor stop' EXIT
anchor start
anchor reset
echo "anchor (Dovecot, maildir):"
# Dovecot's maildir APPEND slows down as the folder grows (hours for 100,000), so its INBOX is
# written as maildir files and indexed by the first SELECT.
mkdir -p /var/tmp/grainmail-anchor/mail/anchor.test
chown vmail:vmail /var/tmp/grainmail-anchor/mail/anchor.test
python3 tests/bench/imap_big_mailbox.py --port 10143 --user big@anchor.test --password anchor -n "$n" --label dovecot \
  --maildir /var/tmp/grainmail-anchor/mail/anchor.test/big
anchor stop
trap - EXIT

source tests/bench/grainmail-host.sh
start_grainmail bigbox
api /api/v1/domains '{"name":"bench.test"}'
api /api/v1/domains/bench.test/accounts '{"localPart":"big","password":"secret123"}'
echo "GrainMail (single node, embedded PostgreSQL):"
python3 tests/bench/imap_big_mailbox.py --port 11143 --user big@bench.test --password secret123 -n "$n" --label grainmail
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
