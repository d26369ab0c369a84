#!/usr/bin/env python3
"""What the whole machine did during a benchmark window, to tell a slow run's cause apart from the code's.

  machine_window.py snap FILE            records /proc/stat (user, system, idle, iowait, steal) and every
                                         process's CPU ticks and major page faults into FILE (JSON)
  machine_window.py diff BEFORE AFTER    prints the machine's split over the window, the CPU the hypervisor
                                         took (steal), and the processes that used the most CPU or faulted

A run on this 2-core VM is only comparable to another when the steal, the other processes' CPU and the
major faults (pages the host's reclaim took back and the process had to read again) were alike.
"""
import json, os, sys


def snap():
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    procs = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                s = f.read()
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        rest = s[s.rindex(")") + 2:].split()
        # fields after the command: state(0) ... majflt(9) ... utime(11) stime(12)
        procs[pid] = {"name": (cmd or comm)[:70], "majflt": int(rest[9]), "ticks": int(rest[11]) + int(rest[12])}
    # Pressure stall information: microseconds in which some runnable task waited for a CPU (or for memory, I/O).
    psi = {}
    for kind in ("cpu", "memory", "io"):
        try:
            with open(f"/proc/pressure/{kind}") as f:
                psi[kind] = int(f.readline().split("total=")[1])
        except (OSError, IndexError, ValueError):
            pass
    return {"cpu": cpu, "procs": procs, "psi": psi}


def diff(a, b):
    hz = os.sysconf("SC_CLK_TCK")
    d = [y - x for x, y in zip(a["cpu"], b["cpu"])]
    total = sum(d[:8]) or 1
    names = ["user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"]
    split = {n: 100.0 * d[i] / total for i, n in enumerate(names)}
    print(f"  machine over {total / hz / os.cpu_count():.1f} s: user {split['user'] + split['nice']:.0f} %, system "
          f"{split['system'] + split['irq'] + split['softirq']:.0f} %, idle {split['idle']:.0f} %, iowait {split['iowait']:.0f} %, "
          f"steal {split['steal']:.1f} %")
    wall = total / hz / os.cpu_count()
    psi = {k: (b.get("psi", {}).get(k, 0) - v) / 1e6 / wall * 100 for k, v in a.get("psi", {}).items()}
    if psi:
        print("  pressure (share of the time some task waited): " + ", ".join(f"{k} {v:.0f} %" for k, v in psi.items()))
    rows = []
    for pid, p in b["procs"].items():
        q = a["procs"].get(pid, {"ticks": 0, "majflt": 0})
        rows.append((p["ticks"] - q["ticks"], p["majflt"] - q["majflt"], pid, p["name"]))
    rows.sort(reverse=True)
    # CPU of processes that ended inside the window (the load client, PostgreSQL's autovacuum workers, other agents' short
    # commands): the machine's busy time less that of the processes still alive at the end.
    busy = sum(d[i] for i in (0, 1, 2, 5, 6)) / hz
    alive = sum(max(r[0], 0) for r in rows) / hz
    print(f"  busy CPU {busy:.1f} s, of which processes alive at the end {alive:.1f} s, ended inside the window (or kernel) {max(busy - alive, 0):.1f} s")
    for ticks, majflt, pid, name in rows[:6]:
        if ticks > 0 or majflt > 0:
            print(f"    {ticks / hz:6.2f} s CPU  {majflt:6d} major faults  {pid:>7} {name}")
    faults = sorted(rows, key=lambda r: -r[1])
    if faults and faults[0][1] > 0:
        print(f"  major faults, all processes: {sum(r[1] for r in rows)} (most: {faults[0][1]} in {faults[0][3][:40]})")


if __name__ == "__main__":
    if sys.argv[1] == "snap":
        with open(sys.argv[2], "w") as f:
            json.dump(snap(), f)
    else:
        with open(sys.argv[2]) as f:
            a = json.load(f)
        with open(sys.argv[3]) as f:
            b = json.load(f)
        diff(a, b)
