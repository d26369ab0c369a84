#!/usr/bin/env bash
# Runs every GrainMail test and ends with the line "N passed, N failed".
# Installs what is missing: PostgreSQL from Debian's packages, NuGet packages by restore.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "Installing PostgreSQL (Debian package 'postgresql')"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null || {
    echo "could not install PostgreSQL"; echo "0 passed, 1 failed"; exit 1; }
fi

# Domain names go through ICU (grains/GrainMail.Contracts/Names/Icu.cs); the grainmail verbs use curl.
# Both come with a usual .NET machine; a bare one gets them from Debian's packages.
missing=()
command -v curl >/dev/null 2>&1 || missing+=(curl)
ls /usr/lib/*/libicuuc.so.[0-9]* /usr/lib/libicuuc.so.[0-9]* >/dev/null 2>&1 || missing+=(icu)
# The inbound-trust tests read RFC 7208's test suite (python3-spf), cross-check DKIM and ARC with an
# independent implementation (python3-dkim's dkimsign and arcsign) and use the public suffix list (publicsuffix).
[ -f /usr/share/doc/python3-spf/rfc7208-tests.yml.gz ] || missing+=(python3-spf)
command -v dkimsign >/dev/null 2>&1 && command -v arcsign >/dev/null 2>&1 || missing+=(python3-dkim)
[ -f /usr/share/publicsuffix/public_suffix_list.dat ] || missing+=(publicsuffix)
# The virus tests run a clamd of their own (clamav-daemon) with signatures made by sigtool (clamav) for
# EICAR and clamav-testfiles' clam.exe: no signature database can be downloaded here.
command -v clamd >/dev/null 2>&1 || missing+=(clamav-daemon)
command -v sigtool >/dev/null 2>&1 || missing+=(clamav)
[ -f /usr/share/clamav-testfiles/clam.exe ] || missing+=(clamav-testfiles)
# The integration API tests sign requests with an independent implementation (python3-cryptography).
python3 -c 'import cryptography' >/dev/null 2>&1 || missing+=(python3-cryptography)
# The login locator reads Debian's legacy GeoIP country files; geoiplookup (geoip-bin) cross-checks the reader.
[ -f /usr/share/GeoIP/GeoIP.dat ] || missing+=(geoip-database)
command -v geoiplookup >/dev/null 2>&1 || missing+=(geoip-bin)
# The Unicode normalization tests check GrainMail's NFKD/NFKC against the standard's own test file.
[ -f /usr/share/unicode/NormalizationTest.txt.bz2 ] || [ -f /usr/share/unicode/NormalizationTest.txt ] || missing+=(unicode-data)
# The Sieve tests upload scripts with an independent ManageSieve client (sieve-connect).
command -v sieve-connect >/dev/null 2>&1 || missing+=(sieve-connect)
# The CardDAV tests sync the address book with an independent client (vdirsyncer); the certificate tests read
# what each TLS listener presents with openssl s_client.
command -v vdirsyncer >/dev/null 2>&1 || missing+=(vdirsyncer)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# The webmail's browser tests drive Debian's Chromium (no browser download here); the webmail
# itself is built with Node.js and npm (webmail/build.sh installs Debian's when node is missing).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# Chinese text in the browser tests' screenshots needs a CJK font (a bare machine has none).
[ -d /usr/share/fonts/truetype/wqy ] || missing+=(fonts-wqy-zenhei)
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  pkgs=("${missing[@]/icu/$(apt-cache search --names-only '^libicu[0-9]+$' | cut -d' ' -f1 | sort -V | tail -1)}")
  echo "Installing ${pkgs[*]} (Debian packages)"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${pkgs[@]}" >/dev/null || echo "could not install ${pkgs[*]}"
fi

# npm ci and the Vite build when the webmail's sources changed (quick otherwise); not part of dotnet build.
bash webmail/build.sh || echo "the webmail did not build: its browser tests will fail"

if ! dotnet build Cluster.sln -c Release -nologo -v quiet -clp:ErrorsOnly; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

results="$root/tests/TestResults"
rm -rf "$results"; mkdir -p "$results"
# xunit v3 test projects are executables; -xml writes the counts we report.
# The protocol tests (no database) first: they take seconds and say at once when a parser broke.
code=0
dotnet tests/GrainMail.Protocol.Tests/bin/Release/net10.0/GrainMail.Protocol.Tests.dll -xml "$results/protocol.xml" || code=$?
dotnet tests/GrainMail.Tests/bin/Release/net10.0/GrainMail.Tests.dll -xml "$results/tests.xml" -parallel collections -maxThreads 2 "$@" || code=$?

count() { cat "$results"/*.xml 2>/dev/null | grep -o '<assembly [^>]*' | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*' | awk '{s+=$1} END {print s+0}'; }
if [ -f "$results/tests.xml" ] && [ -f "$results/protocol.xml" ]; then
  passed=$(count passed)
  failed=$(( $(count failed) + $(count errors) ))
else
  passed=$(count passed); failed=$(( $(count failed) + $(count errors) + 1 ))
fi
[ "$code" = 0 ] || [ "$failed" -gt 0 ] || failed=1
echo "${passed:-0} passed, ${failed} failed"
[ "$failed" = 0 ]
