#!/usr/bin/env python3
"""Run a command and report where the machine's CPU went while it ran.

  cpu_split.py [--label NAME] -- COMMAND [ARGS...]

Samples /proc every 0.2 s and charges each process's user+system time (ticks it
used while the command ran) to a group named after what the process is:
GrainMail's host, PostgreSQL, Postfix, Dovecot, the load client, or other. A
process that exits between two samples loses at most its last 0.2 s, so groups
made of many short-lived processes (Postfix's delivery agents) read slightly low;
the machine-wide busy figure from /proc/stat has no such gap and is printed too.
"""
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = {
    "postgres": "postgresql",
    "smtp-source": "load client", "python3": "load client",
    "dotnet": "grainmail (dotnet)",
    # Postfix's daemons
    "master": "postfix", "smtpd": "postfix", "cleanup": "postfix", "qmgr": "postfix",
    "trivial-rewrite": "postfix", "virtual": "postfix", "local": "postfix", "pickup": "postfix",
    "anvil": "postfix", "proxymap": "postfix", "bounce": "postfix", "tlsmgr": "postfix",
    "smtp": "postfix", "lmtp": "postfix/dovecot lmtp", "scache": "postfix",
    # Dovecot's processes
    "dovecot": "dovecot", "imap": "dovecot", "imap-login": "dovecot", "auth": "dovecot",
    "config": "dovecot", "log": "dovecot", "stats": "dovecot", "dovecot-lda": "dovecot",
}


def snapshot():
    seen = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1:raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2:].split()
        # fields[11], fields[12] are utime and stime (stat fields 14 and 15).
        seen[int(name)] = (comm, int(fields[11]) + int(fields[12]))
    return seen


def machine_busy():
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + parts[4]
    return sum(parts) - idle, sum(parts)


def main(argv):
    label = "run"
    if argv[:1] == ["--label"]:
        label, argv = argv[1], argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    base = snapshot()
    busy0, total0 = machine_busy()
    last = dict(base)
    start = time.monotonic()
    child = subprocess.Popen(argv)
    while child.poll() is None:
        time.sleep(0.2)
        last.update(snapshot())
    last.update(snapshot())
    elapsed = time.monotonic() - start
    busy1, total1 = machine_busy()

    spent = {}
    for pid, (comm, ticks) in last.items():
        before = base.get(pid)
        used = ticks - before[1] if before and before[0] == comm else ticks
        if used > 0:
            group = GROUPS.get(comm, "other")
            spent[group] = spent.get(group, 0) + used
    cores = os.cpu_count() or 1
    secs = {g: t / TICK for g, t in spent.items()}
    total = sum(secs.values()) or 1
    print(f"cpu split ({label}, {elapsed:.1f} s wall, {cores} cores, machine busy "
          f"{100 * (busy1 - busy0) / max(1, total1 - total0):.0f}%):")
    for group, s in sorted(secs.items(), key=lambda kv: -kv[1]):
        print(f"  {group:<24} {s:7.1f} s cpu  {100 * s / total:5.1f}%")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
