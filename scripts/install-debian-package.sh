#!/usr/bin/env bash
# Install a Debian package when the program it provides is missing: `install-debian-package.sh PACKAGE PROGRAM`.
# make test uses it for chromium (the dashboard's browser tests drive Debian's Chromium with Playwright; its own
# browser download is not used) and graphviz (`dot` lays out `vigil sop --format svg`). Safe to run again: does
# nothing when PROGRAM is on the PATH. Exits 0 either way; says so when it could not install (the tests that need
# the program then fail or skip, naming it).
set -u
package="$1"
program="$2"
if command -v "$program" >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "$program is missing and apt-get is not available: install $package by hand" >&2
  exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO="sudo -n"
  else
    echo "$program is missing and installing it needs root: apt-get install $package" >&2
    exit 0
  fi
fi
echo "installing $package (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q "$package" >/dev/null \
  || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "$package" >/dev/null; } \
  || echo "could not install $package with apt-get" >&2
command -v "$program" >/dev/null 2>&1 || echo "$program is still missing after the install attempt" >&2
exit 0
