#!/usr/bin/env bash
# Stops the test RabbitMQ of scripts/rabbitmq-setup.sh (and its epmd);
# --purge also removes its directory.
set -euo pipefail
DIR=${P2PGLANCE_RABBITMQ_DIR:-/var/lib/p2pglance-rabbitmq}
PORT=${P2PGLANCE_RABBITMQ_PORT:-5699}
if [ -d "$DIR" ]; then
  # shellcheck source=scripts/rabbitmq-env.sh
  . "$(dirname "$0")/rabbitmq-env.sh"
  if [ -s "$DIR/pid" ] && kill -0 "$(cat "$DIR/pid")" 2>/dev/null; then
    /usr/lib/rabbitmq/bin/rabbitmqctl -q stop "$DIR/pid" >/dev/null 2>&1 || kill -TERM "$(cat "$DIR/pid")" 2>/dev/null || true
    echo "rabbitmq-stop: stopped rabbitmq" >&2
  fi
  /usr/bin/epmd -port "$ERL_EPMD_PORT" -kill >/dev/null 2>&1 || true
fi
if [ "${1:-}" = "--purge" ]; then
  rm -rf "$DIR"
  echo "rabbitmq-stop: removed $DIR" >&2
fi
