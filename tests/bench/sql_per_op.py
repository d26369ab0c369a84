"""Sums PostgreSQL's statement log (log_min_duration_statement = 0) read from stdin into statements
and milliseconds per operation: `sql_per_op.py N UNIT LABEL`, e.g. `12000 msg "delivered message"`.
Shared by smtp-profile.sh, imap-profile.sh and trust-sql.sh. With a fourth argument `phases` the parse and bind steps'
durations (planning happens in bind for a prepared statement) are added to their statement's time; calls count executions."""
import collections, re, sys

n, unit, label = int(sys.argv[1]), sys.argv[2], sys.argv[3]
phases = len(sys.argv) > 4 and sys.argv[4] == "phases"
count, ms = collections.Counter(), collections.Counter()
for line in sys.stdin:
    m = re.search(r"duration: ([0-9.]+) ms\s+(statement|execute|parse|bind)( [^:]*)?: (.*)", line)
    if not m or (m.group(2) in ("parse", "bind") and not phases):
        continue
    sql = re.sub(r"\s+", " ", m.group(4))[:110]
    if m.group(2) in ("statement", "execute"):
        count[sql] += 1
    ms[sql] += float(m.group(1))
print(f"SQL per {label} ({n} {unit}s), busiest first:")
for sql, c in sorted(count.items(), key=lambda kv: -ms[kv[0]])[:40]:
    print(f"  {c / n:7.3f}/{unit} {ms[sql] / n:7.3f} ms/{unit}  {sql}")
print(f"  total {sum(count.values()) / n:.3f} statements and {sum(ms.values()) / n:.3f} ms per {label.split()[-1]}")
