#!/usr/bin/env bash
# IMAP stress mix (imap_mix.py: several connections per mailbox, each tracking its view and
# counting state errors) against the Postfix + Dovecot anchor (plaintext IMAP) and GrainMail
# (implicit TLS, port 11993), same load, one run. Needs root (the anchor installs and starts
# Postfix and Dovecot from Debian's packages). Run it under the machine's benchmark lock:
#   flock /tmp/grainmail.lock tests/bench/imap-mix-vs-anchor.sh [MAILBOXES] [CLIENTS_PER_MAILBOX] [DURATION] [SEED] [PROCS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
mailboxes=${1:-5} per=${2:-4} duration=${3:-60} seed=${4:-200} procs=${5:-2}
cd "$root"
out=$(mktemp -d /tmp/grainmail-imapmix-out.XXXX)
trap 'rm -rf "$out"' EXIT

source tests/bench/anchor.sh
# MIX_CLIENT=imaplib|lean picks imap_mix.py's client code (its default otherwise), the same for both servers.
# CPU_SPLIT=1 seeds first and then wraps the timed run in cpu_split.py: where each server's run spent the CPU.
mix() {
  local run=(python3 tests/bench/imap_mix.py --mailboxes "$mailboxes" --clients-per-mailbox "$per" --duration "$duration"
    --seed-messages "$seed" --procs "$procs" ${MIX_CLIENT:+--client "$MIX_CLIENT"} "$@")
  # WARMUP=SECONDS (default 30) runs the same mix that long, unmeasured, before the measured run, on both servers
  # alike: a long-running server has compiled its hot code; a node measured in its first minute pays its JIT in the
  # run (Dovecot, compiled ahead of time, gains nothing). WARMUP=0 measures the cold first minute instead.
  if [ "${WARMUP:-30}" != 0 ]; then
    "${run[@]}" --duration "${WARMUP:-30}" | sed -n 's/^RESULT /warm-up: /p'
  fi
  if [ "${CPU_SPLIT:-0}" = 1 ]; then
    "${run[@]}" --duration 0 > /dev/null
    python3 tests/bench/cpu_split.py --label mix -- "${run[@]}"
  else
    "${run[@]}"
  fi
}

# The anchor's daemons stop as soon as its run is over (and if the script fails before that).
# SKIP_ANCHOR=1 runs GrainMail alone (an A/B run of one setting); GRAINMAIL_SETTINGS="Var=value ..." are
# passed to the node, e.g. GrainMail__Imap__ApplyChangeNotices=false.
if [ "${SKIP_ANCHOR:-0}" != 1 ]; then
  trap 'rm -rf "$out"; anchor stop' EXIT
  anchor start
  anchor reset
  echo "== anchor: Dovecot IMAP, plaintext, maildir with fsync"
  mix --port 10143 --user-format 'm{n}@anchor.test' --password anchor --label dovecot | tee "$out/dovecot.txt" || true
  anchor stop
  trap 'rm -rf "$out"' EXIT
else
  touch "$out/dovecot.txt"
fi

source tests/bench/grainmail-host.sh
# shellcheck disable=SC2086
start_grainmail imapmix GrainMail__ImapMaxConnectionsPerIp=$((mailboxes * per + 100)) ${GRAINMAIL_SETTINGS:-}
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$mailboxes"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"m$i\",\"password\":\"secret123\"}"; done
echo
echo "== GrainMail: single node, embedded PostgreSQL (fsync on), IMAP over TLS (port 11993)"
mix --port 11993 --tls --user-format 'm{n}@bench.test' --password secret123 --label grainmail | tee "$out/grainmail.txt" || true

# Where GrainMail's time went: selected-folder updates by source (a notice that carried the change,
# or a GetChanges grain call) and the mean latency per IMAP command, from the node's /metrics.
curl -sf http://127.0.0.1:18080/metrics > "$out/metrics.txt" || true
echo "view syncs: $(grep '^grainmail_imap_view_syncs_total' "$out/metrics.txt" | sed 's/.*source="\([a-z]*\)".* \([0-9.e+]*\)$/\1=\2/' | tr '\n' ' ')"
awk '/^grainmail_imap_command_duration_milliseconds_(sum|count)\{/ {
    match($0, /command="[A-Z]*"/); c = substr($0, RSTART + 9, RLENGTH - 10)
    if ($0 ~ /_sum\{/) sum[c] = $NF; else cnt[c] = $NF }
  END { for (c in cnt) if (cnt[c] > 0) printf "  %-8s %8d commands, mean %.2f ms\n", c, cnt[c], sum[c] / cnt[c] }' "$out/metrics.txt" | sort -k2 -nr || true

field() { sed -n "s/^RESULT .*$2=\([0-9.]*\).*/\1/p" "$1" | tail -n 1; }
d=$(field "$out/dovecot.txt" commands_per_s) g=$(field "$out/grainmail.txt" commands_per_s)
echo
echo "commands/s: Dovecot ${d:-n/a}, GrainMail ${g:-n/a}, GrainMail/Dovecot $(awk -v g="${g:-0}" -v d="${d:-0}" 'BEGIN { if (d > 0) printf "%.2f", g / d; else print "n/a" }')"
echo "state errors: Dovecot $(field "$out/dovecot.txt" state_errors), GrainMail $(field "$out/grainmail.txt" state_errors)"
if [ "${CPU_SPLIT:-0}" = 1 ]; then
  for f in dovecot grainmail; do
    n=$(field "$out/$f.txt" commands)
    echo "CPU per command, $f run:"
    sed -n '/^cpu split/,$p' "$out/$f.txt" | awk -v n="${n:-0}" '/ s cpu / && n > 0 { name = substr($0, 1, index($0, " " $(NF-3) " ") - 1); sub(/^ +/, "", name)
      printf "  %-24s %.3f ms\n", name, 1000 * $(NF-3) / n }'
  done
fi
echo "GrainMail peak RSS: $(grep VmHWM /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
# What the host logged at warning level or above during the run (the directory goes at exit).
echo "GrainMail host log, warnings and errors: $(grep -cE '^(warn|fail|crit):' "$data/host.log" || true)"
grep -E -A4 '^(warn|fail|crit):' "$data/host.log" | head -n 60 || true
