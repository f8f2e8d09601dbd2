#!/usr/bin/env bash
# Starts three p2pglance nodes on this machine in the foreground:
# Glance API on 127.0.0.1:9292, :9293, :9294, data under ./data/cluster/nodeN.
# Ctrl-C (or SIGTERM) stops all three cleanly. P2PGLANCE_* environment
# variables pass through to every node (e.g. P2PGLANCE_REPLICAS=2, or
# P2PGLANCE_AUTH=keystone with P2PGLANCE_KEYSTONE_URL and _PASSWORD).
# Node-to-node traffic is authenticated with a cluster secret (below).
set -euo pipefail
BIN=${1:-bin/p2pglance}
DATA=${P2PGLANCE_CLUSTER_DIR:-./data/cluster}
mkdir -p "$DATA"
# The nodes share a cluster secret: P2PGLANCE_CLUSTER_SECRET(_FILE) if
# set, else a dev secret generated once into $DATA/cluster-secret.
secret_args=()
if [ -z "${P2PGLANCE_CLUSTER_SECRET:-}" ] && [ -z "${P2PGLANCE_CLUSTER_SECRET_FILE:-}" ]; then
  if [ ! -s "$DATA/cluster-secret" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$DATA/cluster-secret")
  fi
  secret_args=(--cluster-secret-file "$DATA/cluster-secret")
fi
pids=()
stop() {
  trap - INT TERM
  echo "stopping cluster..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait
  echo "cluster stopped"
}
trap stop INT TERM
for i in 0 1 2; do
  join=""
  if [ "$i" -gt 0 ]; then join="--join 127.0.0.1:9492"; fi
  "$BIN" agent --node-id "node$i" --data-dir "$DATA/node$i" \
    --api-addr "127.0.0.1:929$((2 + i))" --peer-addr "127.0.0.1:949$((2 + i))" \
    --raft-addr "127.0.0.1:959$((2 + i))" --gossip-addr "127.0.0.1:969$((2 + i))" \
    --zone "zone$((i % 2))" --rack "rack$i" "${secret_args[@]}" $join > >(sed -u "s/^/[node$i] /") 2>&1 &
  pids+=($!)
  if [ "$i" -eq 0 ]; then sleep 1; fi
done
echo "p2pglance cluster: http://127.0.0.1:9292 http://127.0.0.1:9293 http://127.0.0.1:9294 (Ctrl-C to stop)"
wait
