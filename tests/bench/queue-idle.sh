#!/usr/bin/env bash
# What an idle node costs: one GrainMail node with no traffic at all, measured over SECONDS (30) after WARM (20)
# seconds: the node's CPU (user+system, from /proc/PID/stat), PostgreSQL's committed transactions per second
# (pg_stat_database), and every statement PostgreSQL ran (its statement log), per second, busiest first.
# The stream queue's pulling agents lease each partition on Orleans' timer whether or not anything was enqueued:
# this is the baseline for a wake-up (LISTEN/NOTIFY) instead of polling.
#   tests/bench/queue-idle.sh [SECONDS] [WARM]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
seconds=${1:-30} warm=${2:-20}
cd "$root"

source tests/bench/grainmail-host.sh
start_grainmail queueidle
pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
psql_() { psql -h 127.0.0.1 -p "$port" -U grainmail -d postgres -Atq -c "$1"; }
sleep "$warm"
psql_ "ALTER SYSTEM SET log_min_duration_statement = 0" && psql_ "SELECT pg_reload_conf()" >/dev/null
log=$(find "$data" -name postgresql.log | head -1)
mark=$(wc -l < "$log")
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
xacts() { psql_ "SELECT sum(xact_commit + xact_rollback) FROM pg_stat_database"; }
t0=$(ticks) x0=$(xacts)
sleep "$seconds"
t1=$(ticks) x1=$(xacts)
psql_ "ALTER SYSTEM RESET log_min_duration_statement" && psql_ "SELECT pg_reload_conf()" >/dev/null
hz=$(getconf CLK_TCK)
echo "idle node over ${seconds} s: CPU $(awk -v t=$((t1 - t0)) -v hz="$hz" -v s="$seconds" 'BEGIN { printf "%.1f", 100 * t / hz / s }') % of one core," \
  "PostgreSQL $(awk -v x=$((x1 - x0)) -v s="$seconds" 'BEGIN { printf "%.1f", x / s }') transactions/s (the measuring psql calls included)"
tail -n +"$mark" "$log" | python3 tests/bench/sql_per_op.py "$seconds" s "idle second"
