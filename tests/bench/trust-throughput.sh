#!/usr/bin/env bash
# Inbound filtering throughput (issue 14), two figures:
#  1. the whole check pipeline alone (parse, SPF, DKIM, DMARC, ARC, two DNSBLs, a URI list, scoring), in msg/s,
#     against a local DNS server over UDP; once without and once with a clamd scan (when clamd is installed);
#  2. end-to-end SMTP delivery with the shared benchmark (../shared/bench/smtp-delivery-bench.py), one GrainMail
#     node with spam filtering off (GRAINMAIL_TRUST=false) and on (trust against the same local DNS, two node
#     blocklists), same load; first both without a virus scanner, then (when clamd is installed) both with
#     clamd. Each pair differs only in GRAINMAIL_TRUST: the loss it shows is the spam filtering's alone.
#   flock /tmp/grainmail.lock tests/bench/trust-throughput.sh [PIPELINE_MESSAGES] [SMTP_TOTAL] [PROCS] [SESSIONS]
# Starts its own clamd (signatures made by sigtool, as the tests do) and its DNS server, both without the lock's
# descriptor (without_lock_fds), and stops everything it started on exit or interruption.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
messages=${1:-3000} total=${2:-3000} procs=${3:-10} sessions=${4:-2}
cd "$root"
dotnet build tests/GrainMail.Benchmarks -c Release -nologo -v quiet -clp:ErrorsOnly
bench=tests/GrainMail.Benchmarks/bin/Release/net10.0/GrainMail.Benchmarks.dll

source tests/bench/grainmail-host.sh
work=$(mktemp -d /tmp/grainmail-trustbench.XXXX)
clamd_pid="" dns_pid="" pid=""
cleanup() {
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$dns_pid" ]; then kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null || true; fi
  if [ -n "$clamd_pid" ]; then kill "$clamd_pid" 2>/dev/null; wait "$clamd_pid" 2>/dev/null || true; fi
  rm -rf "$work" "${data:-}"
  exit 0
}
trap cleanup EXIT INT TERM

clamd_endpoint=""
if command -v clamd >/dev/null && command -v sigtool >/dev/null; then
  printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$work/eicar"
  echo "GrainMail.Test.EICAR:0:*:$(sigtool --hex-dump < "$work/eicar" | tr -d '\n')" > "$work/bench.ndb"
  printf 'Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\nLogFile %s\nMaxThreads 8\n' \
    "$work/clamd.sock" "$work" "$work/clamd.log" > "$work/clamd.conf"
  without_lock_fds clamd -c "$work/clamd.conf" >/dev/null 2>&1
  clamd_pid=$!
  for _ in $(seq 1 120); do [ -S "$work/clamd.sock" ] && break; sleep 0.5; done
  clamd_endpoint="unix:$work/clamd.sock"
fi

echo "== pipeline (no SMTP, no storage) on $(nproc) cores"
# Negative answers uncached (as before RFC 2308 caching), then cached; then the checks with DNS answered in process.
dotnet "$bench" trust "$messages" 32 --no-negative-cache
dotnet "$bench" trust "$messages" 32
dotnet "$bench" trust "$messages" 32 --memory-dns
[ -n "$clamd_endpoint" ] && dotnet "$bench" trust "$messages" 32 --clamd "$clamd_endpoint"

# The same zone, served for the node (GRAINMAIL_DNS).
without_lock_fds dotnet "$bench" dns "$work/dns.port" > /dev/null
dns_pid=$!
for _ in $(seq 1 120); do [ -s "$work/dns.port" ] && break; sleep 0.5; done
dns_port=$(cat "$work/dns.port")

run_smtp() {
  local label=$1; shift
  # start_grainmail exports its settings: nothing of the previous run may carry over.
  unset GRAINMAIL_CLAMD GRAINMAIL_DNS GRAINMAIL_DNSBL
  start_grainmail "trust-$label" "$@"
  trap cleanup EXIT INT TERM
  api /api/v1/domains '{"name":"bench.test"}'
  for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
  echo "== SMTP delivery, filtering $label"
  python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11143 --domain bench.test --pass secret123 \
    --total "$total" --procs "$procs" --sessions "$sessions"
  grep -c "deferred\|refused" "$data/host.log" | sed 's/^/refusals or deferrals logged: /' || true
  # Where the silo's time went (stage timers, issue 14): mean ms per call and calls, by stage and PG operation.
  curl -sf http://127.0.0.1:18080/metrics | grep -E '^grainmail_(trust_stage|storage_pg)_duration_milliseconds_(sum|count)' \
    | sed -E 's/_milliseconds_(sum|count)\{[^}]*(stage|operation)="([^"]+)"[^}]*\} / \1 \3 /' \
    | awk '{k=$1" "$3; if ($2=="sum") s[k]=$4; else c[k]=$4} END {for (k in c) if (c[k]>0) printf "  %-55s %8.3f ms x %d\n", k, s[k]/c[k], c[k]}' | sort || true
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  pid=""
  rm -rf "$data"
}
trust_on=(GRAINMAIL_TRUST=true "GRAINMAIL_DNS=127.0.0.1:$dns_port" GRAINMAIL_DNSBL=bl1.bench,bl2.bench)
run_smtp off GRAINMAIL_TRUST=false
run_smtp on "${trust_on[@]}"
if [ -n "$clamd_endpoint" ]; then
  run_smtp off-with-clamd GRAINMAIL_TRUST=false "GRAINMAIL_CLAMD=$clamd_endpoint"
  run_smtp on-with-clamd "${trust_on[@]}" "GRAINMAIL_CLAMD=$clamd_endpoint"
fi
