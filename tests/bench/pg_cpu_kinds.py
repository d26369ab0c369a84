#!/usr/bin/env python3
"""CPU ticks (user+system) so far of one PostgreSQL server, by kind of process: `pg_cpu_kinds.py DATA_DIR`
prints "kind ticks" lines. The server is the postmaster whose command line names DATA_DIR; its children are told apart
by their process titles (client backends, walwriter, checkpointer, background writer, autovacuum, ...). Children that
have exited (a backend whose connection closed, an autovacuum worker) are counted in the postmaster's reaped-children
time ("exited"), which the per-process sums of trust-throughput.sh leave out."""
import os, sys

data = sys.argv[1]
procs = {}
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        cmd = open(f"/proc/{p}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
    procs[int(p)] = (int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]), cmd)
masters = [p for p, (_, _, _, cmd) in procs.items() if "postgres" in cmd and data in cmd]
kinds = {}
for m in masters:
    kinds["postmaster"] = kinds.get("postmaster", 0) + procs[m][1]
    kinds["exited"] = kinds.get("exited", 0) + procs[m][2]
    for pid, (ppid, ticks, _, cmd) in procs.items():
        if ppid != m:
            continue
        title = cmd.removeprefix("postgres: ")
        # A client backend's title is "user database host(port) state"; background processes name themselves.
        kind = "client backends" if "(" in title and ")" in title else title.split(" ")[0] + ("" if " " not in title else " " + title.split(" ")[1])
        kinds[kind] = kinds.get(kind, 0) + ticks
backends = sum(1 for pid, (ppid, _, _, cmd) in procs.items() if ppid in masters and "(" in cmd and ")" in cmd)
print(f"connections_open {backends}")
for k, v in sorted(kinds.items()):
    print(f"{k.replace(' ', '_')} {v}")
