#!/usr/bin/env bash
# Where one delivered message's cost goes: runs the SMTP delivery load against one GrainMail node
# and prints (1) every SQL statement the node ran, counted per delivered message and with its total
# time, from PostgreSQL's own statement log, and (2) with PROFILE_TRACE=1, a CPU sample trace of the
# node (dotnet-trace, written to /tmp/grainmail-smtp.nettrace over PROFILE_SECONDS (20); needs `dotnet tool install -g dotnet-trace`).
#   tests/bench/smtp-profile.sh [TOTAL] [PROCS] [SESSIONS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
total=${1:-2000} procs=${2:-20} sessions=${3:-2}
cd "$root"

source tests/bench/grainmail-host.sh
start_grainmail smtpprofile
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done

pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d postgres -Atq -c "$1"; }
# Log every statement with its duration from here on (a reload, no restart).
psql_ "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ "SELECT pg_reload_conf()" >/dev/null
log=$(find "$data" -name postgresql.log | head -1)
mark=$(wc -l < "$log")

if [ "${PROFILE_TRACE:-0}" = 1 ]; then
  # A fixed duration: without a terminal, dotnet-trace cannot be stopped by a key press.
  ~/.dotnet/tools/dotnet-trace collect -p "$pid" --profile dotnet-sampled-thread-time --duration "00:00:00:${PROFILE_SECONDS:-20}" \
    -o /tmp/grainmail-smtp.nettrace > "$data/trace.log" 2>&1 < /dev/null &
  tracer=$!
  sleep 2
fi
python3 tests/bench/cpu_split.py --label grainmail -- python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11143 \
  --domain bench.test --pass secret123 --total "$total" --procs "$procs" --sessions "$sessions"
if [ "${PROFILE_TRACE:-0}" = 1 ]; then wait "$tracer" || tail -5 "$data/trace.log"; fi
psql_ "ALTER SYSTEM RESET log_min_duration_statement" && psql_ "SELECT pg_reload_conf()" >/dev/null

tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$total" msg "delivered message"
