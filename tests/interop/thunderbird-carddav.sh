#!/usr/bin/env bash
# Debian's Thunderbird syncs a GrainMail node's CardDAV address book for real (issue 15): headless,
# driven through its Marionette remote protocol, over HTTPS with a certificate from a throw-away
# test CA that only the test's Thunderbird profile trusts. tests/interop/thunderbird_carddav.py
# says what is done and checked; this script installs what is missing, makes the CA, starts one node
# (tests/bench/grainmail-host.sh) and runs it. Ends with PASS or FAIL (exit 0 or 1).
#   flock /tmp/grainmail.lock bash tests/interop/thunderbird-carddav.sh
# THUNDERBIRD_KEEP=1 keeps the work directory (profile, Thunderbird's log) and prints where it is.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"

missing=()
command -v thunderbird >/dev/null 2>&1 || missing+=(thunderbird)
command -v certutil >/dev/null 2>&1 || missing+=(libnss3-tools)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "Installing ${missing[*]} (Debian packages)"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/grainmail-thunderbird.XXXX)
# A CA of this run alone, and the node's certificate from it, for localhost and 127.0.0.1.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=GrainMail interop test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$work/ca.key" -out "$work/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$work/key.pem" -out "$work/node.csr" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n' > "$work/node.ext"
openssl x509 -req -in "$work/node.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial -days 2 \
  -extfile "$work/node.ext" -out "$work/cert.pem" 2>/dev/null

source tests/bench/grainmail-host.sh
GRAINMAIL_SMTP_MX_PORT=0 GRAINMAIL_SMTP_SUBMISSION_PORT=0 GRAINMAIL_SMTP_SUBMISSIONS_PORT=0 GRAINMAIL_IMAP_PORT=0 \
  GRAINMAIL_IMAPS_PORT=0 GRAINMAIL_POP3_PORT=0 GRAINMAIL_POP3S_PORT=0 GRAINMAIL_MANAGESIEVE_PORT=0 \
  start_grainmail thunderbird GrainMail__TlsCertificatePem="$work/cert.pem" GrainMail__TlsKeyPem="$work/key.pem"
# The node is stopped and its data removed by grainmail-host.sh's trap; Thunderbird's directory too.
trap 'kill -TERM $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$data"; if [ "${THUNDERBIRD_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
for _ in $(seq 1 60); do (exec 3<>/dev/tcp/127.0.0.1/"$GRAINMAIL_HTTPS_PORT") 2>/dev/null && break; sleep 0.5; done

start=$(date +%s)
status=0
python3 tests/interop/thunderbird_carddav.py --https "https://localhost:$GRAINMAIL_HTTPS_PORT" --admin http://127.0.0.1:18080 \
  --token bench-token --ca "$work/ca.pem" --work "$work" || status=$?
echo "Thunderbird interop run: $(( $(date +%s) - start )) s"
if [ "$status" != 0 ]; then
  echo "--- the node's log ends:"; tail -20 "$data/host.log"
fi
exit "$status"
