#!/usr/bin/env bash
# Issue 15's directory benchmark: a CSV of N accounts (default 100,000) in 13-level departments
# imported through the admin API (target ≤ 60 s), re-imported (every row unchanged), exported;
# then the p99 of account list pages and prefix searches (target ≤ 50 ms).
#   flock /tmp/grainmail.lock tests/bench/directory-import.sh [N]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
n=${1:-100000}
cd "$root"
source tests/bench/grainmail-host.sh
export GRAINMAIL_IMAP_PORT=0 GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0
start_grainmail directory
api /api/v1/domains '{"name":"corp.test"}'
csv="$data/staff.csv"
python3 tests/bench/directory_gen.py corp.test "$n" > "$csv"
echo "CSV: $n accounts, $(wc -c < "$csv") bytes"
import() {
  curl -sS -o "$data/report.json" -w '%{http_code} %{time_total}\n' -H "Authorization: Bearer bench-token" \
    -H 'Content-Type: text/csv' --data-binary "@$csv" "http://127.0.0.1:18080/api/v1/domains/corp.test/import$1"
  head -c 300 "$data/report.json"; echo
}
echo "dry run:"; import '?dryRun=true'
echo "import:"; import ''
echo "re-import:"; import ''
echo "export:"; curl -sS -o "$data/export.csv" -w '%{http_code} %{time_total} s\n' -H "Authorization: Bearer bench-token" \
  http://127.0.0.1:18080/api/v1/domains/corp.test/export
echo "exported lines: $(wc -l < "$data/export.csv")"
python3 tests/bench/directory_pages.py http://127.0.0.1:18080 bench-token corp.test 400
echo "GrainMail host RSS: $(grep VmRSS /proc/$pid/status | awk '{print $2/1024 " MiB"}')"
