#!/usr/bin/env bash
# Install Graphviz (its `dot` program) from Debian when it is missing: `vigil sop --format svg` and
# GET /v1/procedure?format=svg lay the diagram out with it, and the tests draw SVG with it. Safe to run again:
# does nothing when dot is already there. Exits 0 either way; says so when it could not install.
set -u
if command -v dot >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Graphviz's dot is missing and apt-get is not available: install Graphviz by hand" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "Graphviz's dot is missing and installing it needs root: apt-get install graphviz" >&2
    exit 0
  fi
fi
echo "installing graphviz (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q graphviz >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q graphviz >/dev/null; } \
  || echo "could not install graphviz with apt-get" >&2
command -v dot >/dev/null 2>&1 || echo "dot is still missing after the install attempt" >&2
exit 0
