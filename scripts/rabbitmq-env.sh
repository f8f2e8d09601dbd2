# shellcheck shell=bash
# The environment of the test RabbitMQ in $DIR (sourced by the rabbitmq-*
# scripts): everything on loopback, its state in $DIR.
export HOME=$DIR RABBITMQ_NODENAME=p2pglance@localhost RABBITMQ_DIST_PORT=$((PORT + 20000))
export ERL_EPMD_ADDRESS=127.0.0.1 ERL_EPMD_PORT=$((PORT - 1300))
export RABBITMQ_MNESIA_BASE=$DIR/mnesia RABBITMQ_LOG_BASE=$DIR/log RABBITMQ_PID_FILE=$DIR/pid
export RABBITMQ_CONFIG_FILE=$DIR/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$DIR/enabled_plugins
export RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
export RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}"
