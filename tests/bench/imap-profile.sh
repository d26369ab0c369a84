#!/usr/bin/env bash
# Where the IMAP mix's time goes on GrainMail alone: runs tests/bench/imap_mix.py (the same load as
# imap-mix-vs-anchor.sh) against one node over TLS and prints (1) the CPU split of the run (node,
# PostgreSQL, load client, other), (2) with PROFILE_SQL=1 every SQL statement the node ran, counted
# per IMAP command and with its total time, from PostgreSQL's statement log, and (3) with
# PROFILE_TRACE=1 a CPU sample trace of the node (dotnet-trace into /tmp/grainmail-imap.nettrace,
# over PROFILE_SECONDS (20); needs dotnet-trace in ~/.dotnet/tools), or (4) with PROFILE_PERF=1 a perf
# sample of the node with kernel and JIT frames (perf.data in /tmp/grainmail-imap.perf; read it with
# `perf report -i /tmp/grainmail-imap.perf --no-children --sort dso,sym`). Run it under the machine's lock:
#   flock /tmp/grainmail.lock tests/bench/imap-profile.sh [MAILBOXES] [CLIENTS_PER_MAILBOX] [DURATION] [SEED] [PROCS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mailboxes=${1:-5} per=${2:-4} duration=${3:-60} seed=${4:-200} procs=${5:-2}
cd "$root"

source tests/bench/grainmail-host.sh
perfmap=()
if [ "${PROFILE_PERF:-0}" = 1 ]; then perfmap=(DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0); fi
start_grainmail imapprofile GrainMail__ImapMaxConnectionsPerIp=$((mailboxes * per + 100)) "${perfmap[@]}"
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$mailboxes"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"m$i\",\"password\":\"secret123\"}"; done

pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d postgres -Atq -c "$1"; }
log=$(find "$data" -name postgresql.log | head -1)

mix() { python3 tests/bench/imap_mix.py --mailboxes "$mailboxes" --clients-per-mailbox "$per" --duration "$duration" \
  --seed-messages "$seed" --procs "$procs" --port 11993 --tls --user-format 'm{n}@bench.test' --password secret123 --label grainmail "$@"; }

if [ "${PROFILE_SQL:-0}" = 1 ]; then
  # Seed first (the run then finds the mailboxes full), so that only the mix is logged.
  mix --duration 0 > /dev/null
  psql_ "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ "SELECT pg_reload_conf()" >/dev/null
  mark=$(wc -l < "$log")
fi
if [ "${PROFILE_TRACE:-0}" = 1 ]; then
  # Started once the mix is past its seeding; a fixed duration (no terminal to stop it with).
  ( sleep "${PROFILE_DELAY:-20}"; ~/.dotnet/tools/dotnet-trace collect -p "$pid" --profile dotnet-sampled-thread-time \
      --duration "00:00:00:${PROFILE_SECONDS:-20}" -o /tmp/grainmail-imap.nettrace > "$data/trace.log" 2>&1 < /dev/null ) &
  tracer=$!
fi
if [ "${PROFILE_PERF:-0}" = 1 ]; then
  ( sleep "${PROFILE_DELAY:-20}"; perf record -F 499 -g -p "$pid" -o /tmp/grainmail-imap.perf -- sleep "${PROFILE_SECONDS:-20}" \
      > "$data/perf.log" 2>&1 < /dev/null ) &
  tracer=$!
fi
python3 tests/bench/cpu_split.py --label grainmail -- bash -c "$(declare -f mix); mailboxes=$mailboxes per=$per duration=$duration seed=$seed procs=$procs; mix" \
  | tee "$data/mix.txt"
if [ -n "${tracer:-}" ]; then wait "$tracer" || true; fi

if [ "${PROFILE_SQL:-0}" = 1 ]; then
  psql_ "ALTER SYSTEM RESET log_min_duration_statement" && psql_ "SELECT pg_reload_conf()" >/dev/null
  n=$(sed -n 's/^RESULT .*commands=\([0-9]*\).*/\1/p' "$data/mix.txt")
  tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$n" cmd "IMAP command"
fi
grep -E -A6 "^(warn|fail|crit):" "$data/host.log" | grep -v -E "Unexpected target grain|HostedClient|ServerGC|Participant check|GrainMail is running|admin API|health  " | head -n 40 || true
echo "GrainMail peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
echo "GrainMail host log, warnings and errors: $(grep -cE '^(warn|fail|crit):' "$data/host.log" || true)"
