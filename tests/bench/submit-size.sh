#!/usr/bin/env bash
# How long the reply to DATA takes by message size, on a healthy database, with clamd scanning every message (its own
# clamd with a one-signature database made by sigtool, so the scan is cheaper than with a full signature set: a lower
# bound). The question behind it: when does a submission outlast the 8 s grain call timeout (docs/architecture.md,
# "Submission call timeouts")? Messages up to 1 MiB go in one Submit call, larger ones through an upload grain's Commit.
#   flock /tmp/grainmail.lock bash tests/bench/submit-size.sh            (SIZES="0.9,5,12,24" RUNS=3 by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/grainmail-host.sh
work=$(mktemp -d /tmp/grainmail-size.XXXX)
chmod 755 "$work"
clamd_pid=""
cleanup() {
  rc=$?
  if [ -n "${pid:-}" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$clamd_pid" ]; then kill "$clamd_pid" 2>/dev/null; wait "$clamd_pid" 2>/dev/null || true; fi
  rm -rf "$work" "${data:-}"
  exit "$rc"
}
trap cleanup EXIT INT TERM
printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$work/eicar"
echo "GrainMail.Test.EICAR:0:*:$(sigtool --hex-dump < "$work/eicar" | tr -d '\n')" > "$work/bench.ndb"
# StreamMaxLength above the largest message, so every byte is scanned.
printf 'Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\nLogFile %s\nMaxThreads 8\nStreamMaxLength 60M\n' \
  "$work/clamd.sock" "$work" "$work/clamd.log" > "$work/clamd.conf"
without_lock_fds clamd -c "$work/clamd.conf" >/dev/null 2>&1
clamd_pid=$!
for _ in $(seq 1 120); do [ -S "$work/clamd.sock" ] && break; sleep 0.5; done
start_grainmail size GRAINMAIL_CLAMD="unix:$work/clamd.sock" GrainMail__Clamd__StreamMaxLength=62914560 \
  GrainMail__MaxMessageBytes=52428800
trap cleanup EXIT INT TERM
api /api/v1/domains '{"name":"size.test"}'
api /api/v1/domains/size.test/accounts '{"localPart":"sender","password":"correct horse battery"}'
api /api/v1/domains/size.test/accounts '{"localPart":"rcpt","password":"correct horse battery"}'
echo "== $(date -u +%FT%TZ) $(git rev-parse --short HEAD) on $(nproc) cores; clamd $(clamd --version | cut -d/ -f1)"
python3 tests/bench/submit_size.py --sizes "${SIZES:-0.9,5,12,24}" --runs "${RUNS:-3}"
echo "== submit calls that failed (gateway log): $(grep -c 'A submit call failed' "$data/host.log" || true)"
