#!/usr/bin/env bash
# Where the directory import's time goes: one GrainMail node, the issue-15 CSV of N accounts
# (default 100,000), and for the real import (1) every SQL statement the node ran, counted and
# timed per imported account from PostgreSQL's own statement log, (2) the CPU of the node and of
# PostgreSQL while it ran, (3) the time PostgreSQL spends on each index of directory_account,
# measured by re-inserting the imported rows into a copy of the table with that one index.
#   flock /tmp/grainmail.lock tests/bench/directory-import-profile.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-100000}
cd "$root"
source tests/bench/grainmail-host.sh
export GRAINMAIL_IMAP_PORT=0 GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0
start_grainmail directoryprofile
api /api/v1/domains '{"name":"corp.test"}'
csv="$data/staff.csv"
python3 tests/bench/directory_gen.py corp.test "$n" > "$csv"

pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d grainmail -Atq -c "$1"; }
timed() { psql -h 127.0.0.1 -p "$port" -U grainmail -d grainmail -Atq -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'; }
psql_ "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ "SELECT pg_reload_conf()" >/dev/null
log=$(find "$data" -name postgresql.log | head -1)
mark=$(wc -l < "$log")

echo "import of $n accounts:"
python3 tests/bench/cpu_split.py --label import -- curl -sS -o "$data/report.json" -w '%{http_code} %{time_total} s\n' \
  -H "Authorization: Bearer bench-token" -H 'Content-Type: text/csv' --data-binary "@$csv" \
  http://127.0.0.1:18080/api/v1/domains/corp.test/import
head -c 300 "$data/report.json"; echo
psql_ "ALTER SYSTEM RESET log_min_duration_statement" && psql_ "SELECT pg_reload_conf()" >/dev/null
tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$n" account "imported account"

# Each index of directory_account alone: the same rows inserted into an empty copy of the table
# that carries only that index, in one INSERT ... SELECT, timed by PostgreSQL.
echo "directory_account's indexes, each alone, $n rows inserted in one statement:"
psql_ "CREATE TABLE ab_probe (LIKE directory_account INCLUDING DEFAULTS)"
ins="INSERT INTO ab_probe SELECT * FROM directory_account"
probe() { psql_ "TRUNCATE ab_probe"; timed "$ins"; }
echo "  no index: $(probe) ms"
psql_ "SELECT indexname || '|' || indexdef FROM pg_indexes WHERE tablename = 'directory_account'" | while IFS='|' read -r name def; do
  psql_ "$(echo "$def" | sed -E 's/INDEX [a-z_0-9]+ ON (public\.)?directory_account /INDEX ab_probe_index ON ab_probe /')" < /dev/null
  echo "  $name: $(probe < /dev/null) ms"
  psql_ "DROP INDEX ab_probe_index" < /dev/null
done
# The index expressions' functions alone (no index): what every inserted or renamed row pays.
for f in "address_book_initials(display_name)" "address_book_grams(display_name)" "address_book_grams(local_part)" "lower(display_name)"; do
  echo "  $f over $n rows: $(timed "SELECT count($f) FROM directory_account") ms"
done
# PROBE_SQL=file: functions to compare (their own timings and checks, run as written).
if [ -n "${PROBE_SQL:-}" ]; then
  psql -h 127.0.0.1 -p "$port" -U grainmail -d grainmail -Atq -f "$PROBE_SQL"
fi
