#!/usr/bin/env bash
# `make test-clients`: the facade under the JavaScript clients frontends use
# (Apollo Client, graphql-ws), GraphiQL in headless Chromium, and behind Hive
# Gateway as a federation subgraph (test/supergraph.test.mjs), with Node's
# own test runner. Installs what it needs: the npm packages pinned in
# package-lock.json (npm ci, no install scripts, no browser download) and
# Debian's chromium when /usr/bin/chromium is missing and we are root.
# Results: TAP on stdout, JUnit XML and screenshots in tests/artifacts/.
set -euo pipefail
cd "$(dirname "$0")"

for tool in node npm; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-clients: '$tool' is missing; install Node.js 20 or later" >&2
    exit 1
  fi
done

CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [ ! -x "$CHROMIUM" ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test-clients: $CHROMIUM is missing; installing Debian's chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test-clients: $CHROMIUM is missing. Install Debian's chromium as root" \
      "(apt-get install -y chromium), or point CHROMIUM_PATH at a Chromium." >&2
    exit 1
  fi
fi

if [ ! -f node_modules/.installed ] || [ package-lock.json -nt node_modules/.installed ]; then
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  touch node_modules/.installed
fi

mkdir -p ../tests/artifacts
exec node --test --test-concurrency=1 \
  --test-reporter=tap --test-reporter-destination=stdout \
  --test-reporter=junit --test-reporter-destination=../tests/artifacts/clients-junit.xml \
  test/
