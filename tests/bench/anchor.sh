# Sourced by the benchmark scripts: `anchor start|reset|...` runs ../shared/bench's
# anchor-postfix-dovecot.sh (the caller sets $shared). Postfix and Dovecot daemonise: they must not
# inherit the caller's descriptors, the benchmark lock's among them when run under flock, or a
# daemon started here would hold the machine-wide lock for as long as it runs.
anchor() {
  (
    for fd in $(ls /proc/$BASHPID/fd); do
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    bash "$shared/anchor-postfix-dovecot.sh" "$@" >/dev/null 2>&1
  )
}
