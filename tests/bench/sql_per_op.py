"""Sums PostgreSQL's statement log (log_min_duration_statement = 0) read from stdin into statements
and milliseconds per operation: `sql_per_op.py N UNIT LABEL`, e.g. `12000 msg "delivered message"`.
Shared by smtp-profile.sh and imap-profile.sh."""
import collections, re, sys

n, unit, label = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count, ms = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms\s+(?:statement|execute [^:]*): (.*)", line)
    if not m:
        continue
    sql = re.sub(r"\s+", " ", m.group(2))[:110]
    count[sql] += 1
    ms[sql] += float(m.group(1))
print(f"SQL per {label} ({n} {unit}s), busiest first:")
for sql, c in sorted(count.items(), key=lambda kv: -ms[kv[0]])[:25]:
    print(f"  {c / n:7.3f}/{unit} {ms[sql] / n:7.3f} ms/{unit}  {sql}")
print(f"  total {sum(count.values()) / n:.3f} statements and {sum(ms.values()) / n:.3f} ms per {label.split()[-1]}")
