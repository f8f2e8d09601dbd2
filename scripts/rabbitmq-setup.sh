#!/usr/bin/env bash
# Starts a real RabbitMQ (Debian's rabbitmq-server) on loopback for the
# notification tests and for trying --notification-transport-url by hand:
#
#   eval "$(scripts/rabbitmq-setup.sh)"    # then: go test ./testcluster -run Notification
#
# Needs root (apt-get installs rabbitmq-server when it is missing; the
# package's own service is not used). The broker runs as this user, its
# AMQP port, Erlang distribution port and epmd all on 127.0.0.1, with a
# user "p2pglance" whose password is made once.
#
# State lives in $P2PGLANCE_RABBITMQ_DIR (default /var/lib/p2pglance-rabbitmq):
# rabbitmq.conf, the database, logs, the PID file, the password. Port:
# $P2PGLANCE_RABBITMQ_PORT (default 5699). Re-running is safe: a running
# broker is left alone.
#
# Prints export lines on stdout (also kept in $DIR/env):
#   P2PGLANCE_TEST_RABBIT_URL (rabbit://p2pglance:PASSWORD@127.0.0.1:PORT/),
#   P2PGLANCE_RABBITMQ_DIR, P2PGLANCE_RABBITMQ_PORT
# Progress goes to stderr. scripts/rabbitmq-stop.sh stops it;
# scripts/rabbitmq-ctl.sh runs rabbitmqctl against it.
set -euo pipefail

DIR=${P2PGLANCE_RABBITMQ_DIR:-/var/lib/p2pglance-rabbitmq}
PORT=${P2PGLANCE_RABBITMQ_PORT:-5699}
HERE=$(cd "$(dirname "$0")" && pwd)
log() { echo "rabbitmq-setup: $*" >&2; }

if [ ! -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  log "installing rabbitmq-server (apt-get)..."
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends rabbitmq-server >/tmp/p2pglance-rabbitmq-apt.log 2>&1 ||
    { apt-get update -qq >>/tmp/p2pglance-rabbitmq-apt.log 2>&1 || true
      apt-get install -y -qq --no-install-recommends rabbitmq-server >>/tmp/p2pglance-rabbitmq-apt.log 2>&1; } ||
    { tail -20 /tmp/p2pglance-rabbitmq-apt.log >&2; log "apt-get install rabbitmq-server failed"; exit 1; }
  # The package may have started its own broker (on all interfaces): stop it.
  if command -v service >/dev/null 2>&1; then service rabbitmq-server stop >/dev/null 2>&1 || true; fi
fi

mkdir -p "$DIR"
chmod 0700 "$DIR"
cd "$DIR"
[ -s password ] || head -c 18 /dev/urandom | base64 | tr -d '/+=' >password
PW=$(cat password)
cat >rabbitmq.conf <<CONF
listeners.tcp.default = 127.0.0.1:$PORT
loopback_users.guest = true
log.file.level = warning
CONF
echo "[]." >enabled_plugins
# shellcheck source=scripts/rabbitmq-env.sh
. "$HERE/rabbitmq-env.sh"

if ! /usr/lib/rabbitmq/bin/rabbitmqctl -q status >/dev/null 2>&1; then
  log "starting rabbitmq on 127.0.0.1:$PORT (state in $DIR)"
  setsid /usr/lib/rabbitmq/bin/rabbitmq-server >"$DIR/server.out" 2>&1 </dev/null &
  if ! /usr/lib/rabbitmq/bin/rabbitmqctl -q wait --timeout 120 "$DIR/pid" >/dev/null 2>&1; then
    tail -30 "$DIR/server.out" >&2 || true
    log "rabbitmq did not start"
    exit 1
  fi
fi
ctl() { /usr/lib/rabbitmq/bin/rabbitmqctl -q "$@"; }
if ! ctl list_users 2>/dev/null | grep -q '^p2pglance\b'; then
  ctl add_user p2pglance "$PW" >/dev/null
fi
ctl change_password p2pglance "$PW" >/dev/null
ctl set_permissions -p / p2pglance '.*' '.*' '.*' >/dev/null
cat >env.tmp <<ENV
export P2PGLANCE_TEST_RABBIT_URL=rabbit://p2pglance:$PW@127.0.0.1:$PORT/
export P2PGLANCE_RABBITMQ_DIR=$DIR
export P2PGLANCE_RABBITMQ_PORT=$PORT
ENV
mv env.tmp env
log "rabbitmq is up on 127.0.0.1:$PORT (pid $(cat "$DIR/pid"))"
cat env
