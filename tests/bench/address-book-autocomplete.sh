#!/usr/bin/env bash
# Address-book autocomplete at 100,000 accounts: seeds bench.test (SQL: 13-level department tree,
# 100,000 accounts, visibility rules) on one GrainMail node and measures GET /api/v1/me/address-book?q=
# over HTTPS (keep-alive; HTTP Basic, then a session token) as a restricted user and an unrestricted one.
#   tests/bench/address-book-autocomplete.sh [REQUESTS PER CLIENT] [CLIENTS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
requests=${1:-1000} clients=${2:-4}
cd "$root"

source tests/bench/grainmail-host.sh
GRAINMAIL_SMTP_MX_PORT=0 GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_IMAP_PORT=0 \
  GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 start_grainmail addressbook
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/"$GRAINMAIL_HTTPS_PORT") 2>/dev/null && break; sleep 0.5; done
api /api/v1/domains '{"name":"bench.test"}'
for u in viewer-sales viewer-all; do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"$u\",\"password\":\"secret123\"}"; done

pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d grainmail -Atq "$@"; }
t0=$(date +%s.%N)
psql_ -f tests/bench/address_book_seed.sql
echo "seeded $(psql_ -c "SELECT count(*) FROM directory_account WHERE domain = 'bench.test'") accounts in $(psql_ -c "SELECT count(*) FROM directory_department WHERE domain = 'bench.test'") departments (depth $(psql_ -c "SELECT max(depth) FROM directory_department WHERE domain = 'bench.test'")) in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-5) s"

# viewer-sales sits deep in division 1; a rule gives division 1's members only division 1 (~10% of the domain).
# Twenty more rules for other departments, so that rule matching has rows to look at.
div=$(psql_ -c "SELECT id FROM directory_department WHERE domain = 'bench.test' AND depth = 2 ORDER BY id LIMIT 1")
deep=$(psql_ -c "SELECT id FROM directory_department WHERE domain = 'bench.test' AND path @> ARRAY[$div::bigint] AND depth = 13 ORDER BY id LIMIT 1")
root_id=$(psql_ -c "SELECT id FROM directory_department WHERE domain = 'bench.test' AND depth = 1")
psql_ -c "INSERT INTO directory_account (domain, local_part, display_name, department_id, quota_bytes) VALUES
  ('bench.test', 'viewer-sales', '观察者', $deep, 1), ('bench.test', 'viewer-all', '全局', $root_id, 1)
  ON CONFLICT (domain, local_part) DO UPDATE SET department_id = EXCLUDED.department_id"
api /api/v1/domains/bench.test/address-book/rules "{\"appliesTo\":{\"departments\":[$div]},\"visibleDepartments\":[$div]}"
for d in $(psql_ -c "SELECT id FROM directory_department WHERE domain = 'bench.test' AND depth = 4 ORDER BY id OFFSET 20 LIMIT 20"); do
  api /api/v1/domains/bench.test/address-book/rules "{\"appliesTo\":{\"departments\":[$d],\"accounts\":[\"u1@bench.test\"]},\"visibleDepartments\":[$d,$div]}"
done
echo "visible to viewer-sales: $(psql_ -c "SELECT count(*) FROM directory_account a JOIN directory_department d ON d.id = a.department_id WHERE a.domain = 'bench.test' AND d.path @> ARRAY[$div::bigint] AND a.enabled AND a.in_address_book")"

# CPU time (clock ticks) of the node and of PostgreSQL (postmaster and its backends), to split the cost of a request.
ticks() { awk '{s += $14 + $15} END {print s}' "$@" 2>/dev/null; }
pg_ticks() { local pm; pm=$(head -1 "$pgdir/postmaster.pid"); ticks /proc/"$pm"/stat $(pgrep -P "$pm" | sed 's|.*|/proc/&/stat|'); }
hz=$(getconf CLK_TCK)
# The whole machine's CPU split (steal included), the busiest processes and major page faults over each run:
# a slow run is judged against what else the 2-core VM was doing (tests/bench/machine_window.py).
win=$(mktemp -d /tmp/addressbook-window.XXXX)
window() { python3 tests/bench/machine_window.py snap "$win/$1.json"
  # PostgreSQL's background work on the seeded table: an autovacuum or autoanalyze of directory_account (its expression
  # indexes call the pinyin function per sampled row) inside a run costs CPU that the run did not ask for.
  psql_ -c "SELECT autovacuum_count + autoanalyze_count FROM pg_stat_user_tables WHERE relname = 'directory_account'" > "$win/$1.av" || true; }
window_report() { python3 tests/bench/machine_window.py diff "$win/before.json" "$win/after.json" || true
  local av0 av1; av0=$(cat "$win/before.av" 2>/dev/null || true); av1=$(cat "$win/after.av" 2>/dev/null || true)
  echo "  autovacuum/autoanalyze runs of directory_account finished during the run: $(( ${av1:-0} - ${av0:-0} ))"; }
# Both credentials by default: HTTP Basic on every request (CardDAV-style clients, the figure of sessions 5-7)
# and a session token from one login (the webmail's autocomplete). ADDRESSBOOK_AUTH=basic (or session) for one.
# ADDRESSBOOK_TRACE=FILE.nettrace records a CPU sample trace of the node during the first run (dotnet-trace).
for mode in ${ADDRESSBOOK_AUTH:-basic session}; do
  node0=$(ticks /proc/$pid/stat) pg0=$(pg_ticks); window before
  tracer=
  if [ -n "${ADDRESSBOOK_TRACE:-}" ]; then
    without_lock_fds "$HOME/.dotnet/tools/dotnet-trace" collect -p "$pid" --profile cpu-sampling -o "$ADDRESSBOOK_TRACE" >/dev/null 2>&1
    tracer=$!; sleep 2
  fi
  out=$(python3 tests/bench/address_book_load.py --port "$GRAINMAIL_HTTPS_PORT" --cafile "$data/tls/cert.pem" --auth "$mode" \
    --user viewer-sales@bench.test --user viewer-all@bench.test --password secret123 --requests "$requests" --clients "$clients") \
    || { echo "load run failed; the host's log ends:"; tail -40 "$data/host.log"; [ "${ADDRESSBOOK_HOLD:-0}" -gt 0 ] || exit 1; }
  if [ -n "$tracer" ]; then kill -INT "$tracer"; wait "$tracer" 2>/dev/null || true; ADDRESSBOOK_TRACE=; fi
  node1=$(ticks /proc/$pid/stat) pg1=$(pg_ticks); window after
  echo "$out"; window_report
  # The warm-up (200 requests by one client) is counted too.
  n=$((requests * clients + 200))
  echo "  node CPU $(echo "scale=2; ($node1 - $node0) * 1000 / $hz / $n" | bc) ms, PostgreSQL CPU $(echo "scale=2; ($pg1 - $pg0) * 1000 / $hz / $n" | bc) ms per request"
done

# Open loop (ADDRESSBOOK_RATES="50 100 150"): queries due at a fixed rate, latency from the due time, so a figure
# is stated at a load below saturation; ADDRESSBOOK_RATE_AUTH (default session: the webmail) and
# ADDRESSBOOK_RATE_SECONDS (default 20) per rate, over 8 connections.
# ADDRESSBOOK_COUNTERS=DIR: the node's runtime counters (GC collections and pause time, allocation, heap, thread-pool
# queue) once a second during each open-loop run, from dotnet-counters (a .NET global tool), into DIR/rate-R.csv.
counters_tool="$HOME/.dotnet/tools/dotnet-counters"
for rate in ${ADDRESSBOOK_RATES:-}; do
  node0=$(ticks /proc/$pid/stat) pg0=$(pg_ticks); window before
  counter=
  if [ -n "${ADDRESSBOOK_COUNTERS:-}" ] && [ -x "$counters_tool" ]; then
    mkdir -p "$ADDRESSBOOK_COUNTERS"; rm -f "$ADDRESSBOOK_COUNTERS/rate-$rate.csv"
    without_lock_fds "$counters_tool" collect -p "$pid" --refresh-interval 1 --format csv -o "$ADDRESSBOOK_COUNTERS/rate-$rate.csv" \
      --counters System.Runtime >/dev/null 2>&1
    counter=$!; sleep 1
  fi
  # ADDRESSBOOK_CHURN=SECONDS: a directory change every SECONDS during the run (an account hidden from the book, then
  # shown again, by SQL as an import or sync would write it): each one makes the node's in-memory copy stale at once.
  churner=
  if [ -n "${ADDRESSBOOK_CHURN:-}" ]; then
    ( while :; do sleep "$ADDRESSBOOK_CHURN"
        psql_ -c "UPDATE directory_account SET in_address_book = NOT in_address_book WHERE domain = 'bench.test' AND local_part = 'u5'" >/dev/null
        echo x >> "$win/churn"; done ) &
    churner=$!
  fi
  out=$(python3 tests/bench/address_book_load.py --port "$GRAINMAIL_HTTPS_PORT" --cafile "$data/tls/cert.pem" --auth "${ADDRESSBOOK_RATE_AUTH:-session}" \
    --user viewer-sales@bench.test --user viewer-all@bench.test --password secret123 --clients 8 \
    --rate "$rate" --duration "${ADDRESSBOOK_RATE_SECONDS:-20}") || { echo "open-loop run at $rate failed"; tail -40 "$data/host.log"; exit 1; }
  node1=$(ticks /proc/$pid/stat) pg1=$(pg_ticks); window after
  if [ -n "$churner" ]; then kill "$churner" 2>/dev/null || true; wait "$churner" 2>/dev/null || true
    echo "  directory changes during the run: $(cat "$win/churn" 2>/dev/null | wc -l) (one every ${ADDRESSBOOK_CHURN} s)"; rm -f "$win/churn"; fi
  # (dotnet-counters may have ended by itself: a failed kill must not end the script under set -e)
  if [ -n "$counter" ]; then kill -INT "$counter" 2>/dev/null || true; sleep 1; kill "$counter" 2>/dev/null || true; fi
  echo "$out"; window_report
  if [ -n "$counter" ] && [ -s "$ADDRESSBOOK_COUNTERS/rate-$rate.csv" ]; then
    python3 tests/bench/runtime_counters.py "$ADDRESSBOOK_COUNTERS/rate-$rate.csv" || true
  fi
  n=$(echo "$rate * ${ADDRESSBOOK_RATE_SECONDS:-20} + 200" | bc | cut -d. -f1)
  echo "  node CPU $(echo "scale=2; ($node1 - $node0) * 1000 / $hz / $n" | bc) ms, PostgreSQL CPU $(echo "scale=2; ($pg1 - $pg0) * 1000 / $hz / $n" | bc) ms per request"
done

# ADDRESSBOOK_PROFILE=DIR: every statement one autocomplete request runs, with its duration and (auto_explain)
# its executed plan and buffers, per query and credential, into DIR/<credential>-<query>.log; a summary is printed.
if [ -n "${ADDRESSBOOK_PROFILE:-}" ]; then
  mkdir -p "$ADDRESSBOOK_PROFILE"
  pglog="$(dirname "$pgdir")/postgresql.log"
  psql_ -c "LOAD 'auto_explain'" -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" -c "ALTER SYSTEM SET auto_explain.log_min_duration = 0" \
    -c "ALTER SYSTEM SET auto_explain.log_analyze = on" -c "ALTER SYSTEM SET auto_explain.log_buffers = on" \
    -c "ALTER SYSTEM SET log_min_duration_statement = 0" -c "SELECT pg_reload_conf()" >/dev/null
  # The node's pooled connections predate the setting: end them so that new ones load auto_explain.
  psql_ -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'grainmail' AND backend_type = 'client backend' AND pid <> pg_backend_pid()" >/dev/null
  base="https://127.0.0.1:$GRAINMAIL_HTTPS_PORT/api/v1/me/address-book?limit=10&q="
  token=$(curl -s --cacert "$data/tls/cert.pem" -H 'Content-Type: application/json' -d '{"address":"viewer-sales@bench.test","password":"secret123"}' \
    "https://127.0.0.1:$GRAINMAIL_HTTPS_PORT/api/v1/me/sessions" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  ask() { if [ "$1" = basic ]; then curl -s -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" -u viewer-sales@bench.test:secret123 "$base$2";
          else curl -s -o /dev/null -w '%{http_code}' --cacert "$data/tls/cert.pem" -H "Authorization: Bearer $token" "$base$2"; fi; }
  for q in %E5%BC%A0 %E5%BC%A0%E4%BC%9F zw u123 User%2012 %E4%BC%9F; do
    for cred in basic session; do
      # Enough runs first that every pooled connection is past its custom plans (PostgreSQL's generic plan from the 6th).
      for _ in $(seq 1 40); do ask "$cred" "$q" >/dev/null; done
      sleep 0.3; from=$(wc -c < "$pglog")
      code=$(ask "$cred" "$q"); sleep 0.3
      f="$ADDRESSBOOK_PROFILE/$cred-$(printf '%s' "$q" | tr -c 'A-Za-z0-9' _).log"
      tail -c +$((from + 1)) "$pglog" > "$f"
      echo "profile $cred q=$q ($code): $(grep -c 'LOG:  duration: [0-9.]* ms  \(execute\|statement\)' "$f") statements, $(grep -o 'LOG:  duration: [0-9.]* ms  \(execute\|statement\)' "$f" | awk '{s += $3} END {printf "%.2f", s}') ms executing; $f"
    done
  done
  psql_ -c "ALTER SYSTEM RESET ALL" -c "SELECT pg_reload_conf()" >/dev/null
fi
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
# How the searches were answered (the silo's in-memory copy or SQL) and what loading the copy cost.
curl -sf http://127.0.0.1:18080/metrics | grep -E '^grainmail_addressbook[a-z_]*(_total|_sum|_count)' | sed 's/^/  /' || true

# ADDRESSBOOK_HOLD=SECONDS keeps the node and its seeded database up afterwards (for EXPLAIN in psql):
# the connection line is written to /tmp/grainmail-addressbook.psql; remove $data/hold to end early.
if [ "${ADDRESSBOOK_HOLD:-0}" -gt 0 ]; then
  echo "PGPASSWORD=$PGPASSWORD psql -h 127.0.0.1 -p $port -U grainmail -d grainmail" > /tmp/grainmail-addressbook.psql
  touch "$data/hold"; echo "holding for ${ADDRESSBOOK_HOLD} s: $(cat /tmp/grainmail-addressbook.psql); rm $data/hold to stop"
  for _ in $(seq 1 "$ADDRESSBOOK_HOLD"); do [ -e "$data/hold" ] || break; sleep 1; done
  rm -f /tmp/grainmail-addressbook.psql
fi
