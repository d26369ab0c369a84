#!/usr/bin/env bash
# Mailing list expansion: a list whose one member is a department of N accounts (default 10,000).
# One post by MX; measures the time until the list's grain has expanded it (all member events
# committed) and until every member has it, and meanwhile the delivery latency of ordinary mail
# to another account, against the same latency before the post and after the expansion (the probe's
# p50/p90/p99 in each phase, and during / (before and after) as a ratio).
#   flock -o /tmp/grainmail.lock tests/bench/list-expansion.sh [N] [NAME=VALUE...]
# Extra NAME=VALUE pairs go to the node's environment, e.g. GrainMail__Lists__PacedBacklog=0
# GrainMail__Lists__ExpansionBatch=500 for the expansion without pacing (as before issue 15's pacing),
# or GrainMail__Lists__ExpansionBatch=200 GrainMail__Lists__PacedBacklog=50 for the pacing of session 8.
# LIST_BASELINE_SECONDS (default 15) is how long the probe runs before the post (and half that after).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-10000}
cd "$root"

source tests/bench/grainmail-host.sh
# Accounts are created by the thousand: a cheap password hash, as the tests use.
start_grainmail listexpansion GrainMail__PasswordHashMemoryKiB=1024 GrainMail__PasswordHashIterations=1 "${@:2}"
api /api/v1/domains '{"name":"bench.test"}'
api /api/v1/domains/bench.test/accounts '{"localPart":"probe","password":"secret123"}'

pgdir=$(dirname "$(find "$data" -name postmaster.pid | head -1)")
port=$(sed -n 4p "$pgdir/postmaster.pid")
export PGPASSWORD=$(cat "$(find "$data" -name pg.password | head -1)")
export PSQL="psql -h 127.0.0.1 -p $port -U grainmail -d grainmail -Atq"

python3 tests/bench/list_expansion.py -n "$n"
