#!/usr/bin/env bash
# SMTP delivery: GrainMail against the Postfix + Dovecot anchor, same load, one run.
#   tests/bench/smtp-vs-anchor.sh [TOTAL] [PROCS] [SESSIONS]
# Needs root (the anchor installs and starts Postfix and Dovecot from Debian's packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
total=${1:-6000} procs=${2:-20} sessions=${3:-2}
cd "$root"

bash "$shared/anchor-postfix-dovecot.sh" start >/dev/null 2>&1
bash "$shared/anchor-postfix-dovecot.sh" reset >/dev/null 2>&1
echo "anchor (Postfix + Dovecot, maildir, fsync):"
python3 "$shared/smtp-delivery-bench.py" --smtp 10025 --imap 10143 --pass anchor --total "$total" --procs "$procs" --sessions "$sessions"

dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
data=$(mktemp -d /tmp/grainmail-smtpbench.XXXX)
chmod 755 "$data"
export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18080 GRAINMAIL_SMTP_MX_PORT=12525 \
  GRAINMAIL_SMTP_SUBMISSION_PORT=12587 GRAINMAIL_SMTP_SUBMISSIONS_PORT=12465 GRAINMAIL_ADMIN_TOKEN=bench-token \
  GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21111 GRAINMAIL_GATEWAY_PORT=31000 Logging__LogLevel__Default=Warning \
  GRAINMAIL_IMAP_PORT=11143 GRAINMAIL_IMAPS_PORT=11993 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0
dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$data/host.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.5; done
api() { curl -sf -H "Authorization: Bearer bench-token" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:18080$1" >/dev/null; }
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
echo "GrainMail (single node, embedded PostgreSQL, fsync on):"
# Counted exactly as the anchor is: the shared script's IMAP STATUS polling (here over implicit TLS).
python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11993 --imap-ssl --domain bench.test --pass secret123 \
  --total "$total" --procs "$procs" --sessions "$sessions"
echo "GrainMail peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
