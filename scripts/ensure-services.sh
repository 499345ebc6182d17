#!/usr/bin/env bash
# Start the services the tests need when they are not running: PostgreSQL (the store's second backend) and
# NATS with JetStream (the broker of `vigil serve --broker` and `vigil worker`). Safe to run again; prints
# what it did.
set -u
here="$(cd "$(dirname "$0")" && pwd)"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! port_open 4222; then
  if ! command -v nats-server >/dev/null && [ ! -x /usr/sbin/nats-server ]; then
    "$here/install-debian-package.sh" nats-server nats-server || true
  fi
  nats="$(command -v nats-server || echo /usr/sbin/nats-server)"
  if [ -x "$nats" ]; then
    echo "starting nats-server with JetStream on 127.0.0.1:4222" >&2
    mkdir -p /tmp/vigil-nats
    nohup "$nats" -a 127.0.0.1 -p 4222 -js -sd /tmp/vigil-nats >/tmp/vigil-nats/server.log 2>&1 &
    for _ in $(seq 1 30); do port_open 4222 && break; sleep 0.2; done
  fi
  port_open 4222 || echo "NATS is not available on 127.0.0.1:4222: the broker tests will be skipped" >&2
fi

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
