#!/usr/bin/env bash
# Start the services the tests need when they are not running: PostgreSQL (the store's second backend).
# Safe to run again; prints what it did.
set -u
if command -v pg_isready >/dev/null && pg_isready -h 127.0.0.1 -p 5432 -q; then
  exit 0
fi
if ls /etc/postgresql >/dev/null 2>&1; then
  echo "starting PostgreSQL" >&2
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start || true
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && exit 0; sleep 1; done
fi
echo "PostgreSQL is not available on 127.0.0.1:5432: the PostgreSQL store tests will be skipped" >&2
exit 0
