#!/usr/bin/env bash
# Install Prometheus (promtool and the server) and Alertmanager from Debian when either is missing.
# The Prometheus tests use promtool to lint /metrics and a real server to scrape it. Safe to run again:
# does nothing when promtool is already there. Exits 0 either way; says so when it could not install.
set -u
if command -v promtool >/dev/null 2>&1 && [ -x /usr/bin/prometheus-alertmanager ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "promtool is missing and apt-get is not available: install Prometheus by hand" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "promtool is missing and installing it needs root: apt-get install prometheus" >&2
    exit 0
  fi
fi
echo "installing prometheus and prometheus-alertmanager (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q prometheus prometheus-alertmanager >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q prometheus prometheus-alertmanager >/dev/null; } \
  || echo "could not install prometheus with apt-get" >&2
command -v promtool >/dev/null 2>&1 || echo "promtool is still missing after the install attempt" >&2
exit 0
