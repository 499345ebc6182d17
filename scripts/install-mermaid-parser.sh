#!/usr/bin/env bash
# Test-only: install Mermaid's parser (tests/procedure/mermaid, versions pinned by its package-lock.json) so
# the tests can check the Mermaid that `vigil sop` writes with Mermaid itself. Vigil never needs Node.js to
# run. Safe to run again: does nothing when it is installed. Exits 0 either way; without npm (or the
# registry) the tests that need it are skipped and say why.
set -u
here="$(cd "$(dirname "$0")/.." && pwd)/tests/procedure/mermaid"
if [ -f "$here/node_modules/mermaid/package.json" ] && [ -f "$here/node_modules/jsdom/package.json" ]; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: the Mermaid parser tests will be skipped (apt-get install npm to run them)" >&2
  exit 0
fi
echo "installing Mermaid's parser for the tests into $here (npm ci)" >&2
(cd "$here" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) \
  || echo "could not install the Mermaid parser with npm: its tests will be skipped" >&2
exit 0
