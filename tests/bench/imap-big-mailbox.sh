#!/usr/bin/env bash
# A 100,000-message INBOX: SELECT and UID FETCH 1:* (FLAGS) on GrainMail and on the Dovecot
# anchor, same script, one run.   tests/bench/imap-big-mailbox.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
n=${1:-100000}
cd "$root"

bash "$shared/anchor-postfix-dovecot.sh" start >/dev/null 2>&1
bash "$shared/anchor-postfix-dovecot.sh" reset >/dev/null 2>&1
echo "anchor (Dovecot, maildir):"
# Dovecot's maildir APPEND slows down as the folder grows (hours for 100,000), so its INBOX is
# written as maildir files and indexed by the first SELECT.
mkdir -p /var/tmp/grainmail-anchor/mail/anchor.test
chown vmail:vmail /var/tmp/grainmail-anchor/mail/anchor.test
python3 tests/bench/imap_big_mailbox.py --port 10143 --user big@anchor.test --password anchor -n "$n" --label dovecot \
  --maildir /var/tmp/grainmail-anchor/mail/anchor.test/big

dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
data=$(mktemp -d /tmp/grainmail-bigbox.XXXX)
chmod 755 "$data"
export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18080 GRAINMAIL_SMTP_MX_PORT=0 \
  GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_ADMIN_TOKEN=bench-token \
  GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21111 GRAINMAIL_GATEWAY_PORT=31000 Logging__LogLevel__Default=Warning \
  GRAINMAIL_IMAP_PORT=11143 GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 \
  GrainMail__AllowPlaintextAuth=true
dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$data/host.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.5; done
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/11143) 2>/dev/null && break; sleep 0.5; done
api() { curl -sf -H "Authorization: Bearer bench-token" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:18080$1" >/dev/null; }
api /api/v1/domains '{"name":"bench.test"}'
api /api/v1/domains/bench.test/accounts '{"localPart":"big","password":"secret123"}'
echo "GrainMail (single node, embedded PostgreSQL):"
python3 tests/bench/imap_big_mailbox.py --port 11143 --user big@bench.test --password secret123 -n "$n" --label grainmail
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
