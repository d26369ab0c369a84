#!/usr/bin/env bash
# Builds the webmail into webmail/dist when its sources changed: `npm ci` when package-lock.json
# is newer than the installed packages, then the type check and the Vite build. Quick when nothing
# changed, so ./grainmail run and tests/run-tests.sh call it every time. Not part of `dotnet build`.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"
if ! command -v npm >/dev/null 2>&1; then
  echo "webmail: npm not found; installing Debian's nodejs and npm" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm >/dev/null
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "webmail: npm ci" >&2
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules/.package-lock.json
fi
stamp=dist/index.html
if [ -f "$stamp" ] && [ -z "$(find src index.html public package.json package-lock.json vite.config.ts tsconfig.json -newer "$stamp" -print -quit 2>/dev/null)" ]; then
  exit 0
fi
echo "webmail: building" >&2
npm run --silent build
