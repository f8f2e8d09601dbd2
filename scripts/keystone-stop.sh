#!/usr/bin/env bash
# Stops the test Keystone that scripts/keystone-setup.sh started (the uwsgi
# master in $P2PGLANCE_KEYSTONE_DIR/uwsgi.pid). Its database stays, so the
# next keystone-setup.sh only starts it again; --purge also removes the
# whole directory (database, keys, passwords, logs).
set -euo pipefail
DIR=${P2PGLANCE_KEYSTONE_DIR:-/var/lib/p2pglance-keystone}
if [ -s "$DIR/uwsgi.pid" ]; then
  pid=$(cat "$DIR/uwsgi.pid")
  if kill -TERM "$pid" 2>/dev/null; then
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    echo "keystone-stop: stopped uwsgi $pid" >&2
  fi
  rm -f "$DIR/uwsgi.pid"
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$DIR"
  echo "keystone-stop: removed $DIR" >&2
fi
