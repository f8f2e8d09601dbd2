#!/usr/bin/env bash
# rabbitmqctl against the test RabbitMQ of scripts/rabbitmq-setup.sh, e.g.
#   scripts/rabbitmq-ctl.sh stop_app; scripts/rabbitmq-ctl.sh start_app
set -euo pipefail
DIR=${P2PGLANCE_RABBITMQ_DIR:-/var/lib/p2pglance-rabbitmq}
PORT=${P2PGLANCE_RABBITMQ_PORT:-5699}
# shellcheck source=scripts/rabbitmq-env.sh
. "$(dirname "$0")/rabbitmq-env.sh"
exec /usr/lib/rabbitmq/bin/rabbitmqctl -q "$@"
