#!/usr/bin/env python3
"""Summarises a dotnet-counters CSV (collect --format csv): per counter, the samples' sum, mean and max.

Rates (collections, pause time, bytes allocated per interval) read best as the sum over the run; gauges
(heap size, thread-pool queue length, working set) as the mean and max.
"""
import csv, sys
from collections import defaultdict

values = defaultdict(list)
with open(sys.argv[1], newline="") as f:
    rows = csv.reader(f)
    header = next(rows, None)
    for row in rows:
        if len(row) < 5:
            continue
        name, kind = row[2], row[3]
        try:
            v = float(row[4])
        except ValueError:
            continue
        values[(name, kind)].append(v)
wanted = ("gc", "thread_pool", "working_set", "alloc", "Allocation", "GC", "ThreadPool", "lock", "cpu")
print("  runtime counters during the run (sum / mean / max of the 1 s samples):")
for (name, kind), xs in sorted(values.items()):
    if not any(w in name for w in wanted):
        continue
    print(f"    {name[:90]:90} {kind[:10]:10} sum {sum(xs):14.4f}  mean {sum(xs) / len(xs):14.4f}  max {max(xs):14.4f}")
