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

bash "$shared/anchor-postfix-dovecot.sh" start >/dev/null 2>&1
bash "$shared/anchor-postfix-dovecot.sh" reset >/dev/null 2>&1
echo "anchor (Dovecot IMAP, maildir, fsync):"
python3 tests/bench/imap_load.py --port 10143 --user-format 'u{n}@anchor.test' --password anchor \
  --clients "$clients" --duration "$duration" --seed-messages "$seed" --label dovecot | tee "$out/dovecot.txt" || true

dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly
data=$(mktemp -d /tmp/grainmail-imapbench.XXXX)
chmod 755 "$data"
export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18080 GRAINMAIL_SMTP_MX_PORT=12525 \
  GRAINMAIL_SMTP_SUBMISSION_PORT=12587 GRAINMAIL_SMTP_SUBMISSIONS_PORT=12465 GRAINMAIL_ADMIN_TOKEN=bench-token \
  GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21111 GRAINMAIL_GATEWAY_PORT=31000 Logging__LogLevel__Default=Warning \
  GRAINMAIL_IMAP_PORT=11143 GRAINMAIL_IMAPS_PORT=11993 GRAINMAIL_POP3_PORT=11110 GRAINMAIL_POP3S_PORT=11995 \
  GrainMail__AllowPlaintextAuth=true GrainMail__ImapMaxConnectionsPerIp=$((clients + 100))
dotnet silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll > "$data/host.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$out"' EXIT
for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.5; done
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/11143) 2>/dev/null && break; sleep 0.5; done
api() { curl -sf -H "Authorization: Bearer bench-token" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:18080$1" >/dev/null; }
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
