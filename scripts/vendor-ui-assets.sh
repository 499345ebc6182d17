#!/usr/bin/env bash
# Put the dashboard's third-party assets in place from the npm registry, at pinned versions, checked
# against the registry's integrity hash: uPlot's script, its stylesheet and its licence, into
# vigil/server/ui/static/vendor/uplot/. The files are committed, so `pip install` alone gives a working
# dashboard; run this only to reproduce or upgrade them (then update ASSETS.md beside them).
set -euo pipefail
UPLOT_VERSION=1.6.32
UPLOT_INTEGRITY="sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw=="

here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$here/vigil/server/ui/static/vendor/uplot"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "uplot@$UPLOT_VERSION" >/dev/null
tarball="uplot-$UPLOT_VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$got" != "$UPLOT_INTEGRITY" ]; then
  echo "uplot@$UPLOT_VERSION: integrity mismatch (got $got)" >&2
  exit 1
fi
tar xzf "$tarball"
mkdir -p "$dest"
cp package/dist/uPlot.iife.min.js package/dist/uPlot.min.css "$dest/"
cp package/LICENSE "$dest/LICENSE"
echo "uplot@$UPLOT_VERSION -> $dest"
