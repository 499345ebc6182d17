#!/usr/bin/env bash
# Install Debian's Chromium when /usr/bin/chromium is missing: the dashboard's browser tests drive it with
# Playwright (Playwright's own browser download is not used). Safe to run again: does nothing when it is
# there. Exits 0 either way; says so when it could not install (the browser tests then fail, naming it).
set -u
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium is missing and apt-get is not available: install Chromium by hand" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "chromium is missing and installing it needs root: apt-get install chromium" >&2
    exit 0
  fi
fi
echo "installing chromium (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q chromium >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q chromium >/dev/null; } \
  || echo "could not install chromium with apt-get" >&2
[ -x /usr/bin/chromium ] || echo "chromium is still missing after the install attempt" >&2
exit 0
