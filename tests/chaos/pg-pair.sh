#!/usr/bin/env bash
# A replicated PostgreSQL pair on loopback, as the two regions run it: a primary and a
# synchronous streaming standby (synchronous_commit = on, synchronous_standby_names names the
# standby), so that a commit acknowledged to a sender is on both before the sender hears 250.
#
#   pg-pair.sh setup   DIR PORT_A PORT_B   primary "beijing" on PORT_A, standby "hangzhou" on PORT_B
#   pg-pair.sh promote DIR NODE            promote NODE (beijing|hangzhou) to primary; it runs without
#                                          a synchronous standby until the other one rejoins
#   pg-pair.sh rejoin  DIR NODE            rebuild NODE as the standby of the other (pg_basebackup),
#                                          then make it the synchronous standby again
#   pg-pair.sh kill    DIR NODE            SIGKILL the node's postmaster (a datacenter going dark)
#   pg-pair.sh stop    DIR                 stop both
#   pg-pair.sh url     DIR                 the connection string listing both hosts
#
# Loopback only, trust authentication for the user "grainmail": a drill fixture, not a
# production setup (k8s/README.md says how the production pair is provided).
set -euo pipefail

cmd=${1:?usage: pg-pair.sh setup|promote|rejoin|kill|stop|url DIR ...}
dir=$(realpath -m "${2:?data directory}")
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "PostgreSQL server binaries not found under /usr/lib/postgresql" >&2; exit 1; }

as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
port_of() { cat "$dir/$1.port"; }
other() { [ "$1" = beijing ] && echo hangzhou || echo beijing; }
psql_on() { as_pg "$bin/psql" -h 127.0.0.1 -p "$(port_of "$1")" -U grainmail -d postgres -Atq -c "$2"; }
start() {
  as_pg "$bin/pg_ctl" -D "$dir/$1" -l "$dir/$1.log" -w -t 60 start >/dev/null
}
standby_conf() {
  # $1 standby, following $2
  cat >>"$dir/$1/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=127.0.0.1 port=$(port_of "$2") user=grainmail application_name=$1'
port = $(port_of "$1")
synchronous_standby_names = ''
CONF
  touch "$dir/$1/standby.signal"
}
basebackup() {
  # $1 new standby, copied from $2
  rm -rf "${dir:?}/$1"
  as_pg "$bin/pg_basebackup" -h 127.0.0.1 -p "$(port_of "$2")" -U grainmail -D "$dir/$1" -X stream -c fast
  standby_conf "$1" "$2"
}

wait_sync() {
  # $1 primary, $2 standby: ready when the standby streams synchronously.
  for _ in $(seq 1 150); do
    [ "$(psql_on "$1" "SELECT sync_state FROM pg_stat_replication WHERE application_name = '$2'")" = sync ] && return 0
    sleep 0.2
  done
  echo "$2 is not a synchronous standby of $1 after 30 s" >&2; return 1
}

case "$cmd" in
setup)
  a=${3:?port of beijing}; b=${4:?port of hangzhou}
  rm -rf "$dir"; mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$dir"
  echo "$a" >"$dir/beijing.port"; echo "$b" >"$dir/hangzhou.port"
  as_pg "$bin/initdb" -D "$dir/beijing" -U grainmail --auth trust -E UTF8 --no-locale --no-instructions >/dev/null
  cat >>"$dir/beijing/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $a
unix_socket_directories = '$dir'
wal_level = replica
max_wal_senders = 8
max_connections = 400
synchronous_commit = on
wal_keep_size = '256MB'
fsync = on
CONF
  echo "host replication grainmail 127.0.0.1/32 trust" >>"$dir/beijing/pg_hba.conf"
  start beijing
  psql_on beijing "CREATE DATABASE grainmail"
  basebackup hangzhou beijing
  start hangzhou
  # Synchronous only once the standby exists (until then every commit would wait for it).
  psql_on beijing "ALTER SYSTEM SET synchronous_standby_names = 'hangzhou'" && psql_on beijing "SELECT pg_reload_conf()" >/dev/null
  wait_sync beijing hangzhou
  echo "primary beijing on $a, synchronous standby hangzhou on $b"
  ;;
promote)
  node=${3:?node}
  as_pg "$bin/pg_ctl" -D "$dir/$node" -w -t 60 promote >/dev/null
  # Alone now: a synchronous standby that does not exist would block every commit.
  psql_on "$node" "ALTER SYSTEM SET synchronous_standby_names = ''" && psql_on "$node" "SELECT pg_reload_conf()" >/dev/null
  echo "$node promoted"
  ;;
rejoin)
  node=${3:?node}; primary=$(other "$node")
  as_pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
  basebackup "$node" "$primary"
  start "$node"
  psql_on "$primary" "ALTER SYSTEM SET synchronous_standby_names = '$node'" && psql_on "$primary" "SELECT pg_reload_conf()" >/dev/null
  wait_sync "$primary" "$node"
  echo "$node is the synchronous standby of $primary"
  ;;
kill)
  node=${3:?node}
  pid=$(head -1 "$dir/$node/postmaster.pid" 2>/dev/null || true)
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  # The postmaster's children go with it (a dark datacenter keeps no backend alive).
  pkill -9 -f -- "-D $dir/$node" 2>/dev/null || true
  for p in $(pgrep -u postgres 2>/dev/null || true); do
    grep -qs "$dir/$node" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p" 2>/dev/null || true
  done
  echo "$node killed"
  ;;
stop)
  for node in beijing hangzhou; do
    [ -f "$dir/$node/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/$node" -m immediate stop >/dev/null 2>&1 || true
  done
  ;;
url)
  echo "Host=127.0.0.1:$(port_of beijing),127.0.0.1:$(port_of hangzhou);Username=grainmail;Database=grainmail;Target Session Attributes=primary;Host Recheck Seconds=1;Timeout=5;Command Timeout=30"
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
