#!/usr/bin/env bash
# How much of the IMAP mix's CPU is TLS, and where the load client's own CPU goes: one GrainMail node,
# the mailboxes seeded once, then the same imap_mix.py load over TLS (port 11993, the benchmark of
# record) and in plaintext (port 11143, for comparison only), each wrapped in cpu_split.py, with the
# CPU per command of each group printed. With CLIENT_PROFILE=1 a third run over TLS profiles the load
# client's threads (cProfile, which slows the client: read its split, not its rate). CLIENTS="imaplib lean"
# measures both load client codes of imap_mix.py. Under the lock:
#   flock -o /tmp/grainmail.lock tests/bench/imap-tls-share.sh [MAILBOXES] [CLIENTS_PER_MAILBOX] [DURATION] [SEED] [PROCS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
mailboxes=${1:-5} per=${2:-4} duration=${3:-30} seed=${4:-200} procs=${5:-2}
cd "$root"

source tests/bench/grainmail-host.sh
start_grainmail imaptls GrainMail__ImapMaxConnectionsPerIp=$((mailboxes * per + 100)) ${GRAINMAIL_SETTINGS:-}
api /api/v1/domains '{"name":"bench.test"}'
for i in $(seq 1 "$mailboxes"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"m$i\",\"password\":\"secret123\"}"; done

mix() { python3 tests/bench/imap_mix.py --mailboxes "$mailboxes" --clients-per-mailbox "$per" --duration "$duration" \
  --seed-messages "$seed" --procs "$procs" --user-format 'm{n}@bench.test' --password secret123 "$@"; }
# Seeding first, so that each measured run is the mix alone.
mix --duration 0 --port 11993 --tls --label seed > /dev/null

per_command() {  # the split of a run, with each group's CPU per IMAP command
  local n
  n=$(sed -n 's/^RESULT .*commands=\([0-9]*\).*/\1/p' "$1")
  sed -n '/^cpu split/,$p' "$1" | awk -v n="$n" '/ s cpu / { name = substr($0, 1, index($0, " " $(NF-3) " ") - 1); sub(/^ +/, "", name)
    printf "    %-24s %.3f ms cpu per command\n", name, 1000 * $(NF-3) / n }'
}
run() {
  local label=$1; shift
  python3 tests/bench/cpu_split.py --label "$label" -- bash -c "$(declare -f mix); mailboxes=$mailboxes per=$per duration=$duration seed=$seed procs=$procs; mix $*" \
    | tee "$data/$label.txt"
  per_command "$data/$label.txt"
}
# CLIENTS="imaplib lean": each load client code in turn (imap_mix.py --client), TLS then plaintext.
for client in ${CLIENTS:-imaplib}; do
  run "tls-$client" --port 11993 --tls --client "$client" --label "grainmail-tls-$client"
  run "plaintext-$client" --port 11143 --client "$client" --label "grainmail-plaintext-$client"
done
if [ "${CLIENT_PROFILE:-0}" = 1 ]; then
  prof=$(mktemp -d /tmp/grainmail-imapmix-prof.XXXX)
  # The node is sampled during the same run (dotnet-trace, when installed): its hottest methods by own time.
  # The thread-time profile counts waiting threads too (the pool's idle workers lead the list): for where the
  # CPU goes, use imap-profile.sh with PROFILE_PERF=1.
  if [ -x ~/.dotnet/tools/dotnet-trace ]; then
    ( sleep 8; ~/.dotnet/tools/dotnet-trace collect -p "$pid" --profile dotnet-sampled-thread-time --duration 00:00:00:15 \
        -o /tmp/grainmail-imaptls.nettrace > "$data/trace.log" 2>&1 < /dev/null ) &
    tracer=$!
  fi
  IMAP_MIX_PROFILE=$prof mix --port 11993 --tls --client "${PROFILE_CLIENT:-imaplib}" --label grainmail-tls-profiled | grep -E '^(RESULT|  commands/s)'
  python3 - "$prof" <<'EOF'
import glob, pstats, sys
files = glob.glob(sys.argv[1] + "/*.prof")
st = pstats.Stats(files[0])
for f in files[1:]:
    st.add(f)
print("load client, all connections' threads (cProfile): top 30 by own time")
st.sort_stats("tottime").print_stats(30)
EOF
  rm -rf "$prof"
  if [ -n "${tracer:-}" ]; then
    wait "$tracer" || true
    echo "node, sampled during the profiled run: top methods by own time, then by inclusive time"
    ~/.dotnet/tools/dotnet-trace report /tmp/grainmail-imaptls.nettrace topN -n 40 2>&1 | tail -n 45 || true
    ~/.dotnet/tools/dotnet-trace report /tmp/grainmail-imaptls.nettrace topN -n 60 --inclusive 2>&1 | tail -n 65 || true
  fi
fi
echo "GrainMail host log, warnings and errors: $(grep -cE '^(warn|fail|crit):' "$data/host.log" || true)"
