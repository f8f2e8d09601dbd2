#!/usr/bin/env bash
# Scale benchmark (make bench-scale): for each N of SCALE_N (default
# "50 100 200 300"), N real agent processes (bin/p2pglance, production
# timers) on loopback: time until all joined, idle CPU and RSS per agent
# and of the Raft leader, write visibility on every agent under a steady
# 50 writes/s, creates/s through one agent, the leader's egress during a
# full restart of all N agents vs the catalog snapshot size. See
# BENCHMARKS.md, section "Scale".
#
# Output: markdown tables on stdout, also saved under
# bench-results/scale-<UTC time>/ with the chart (scale.png) and the
# progress log (stderr.log). Extra arguments go to p2pglance-bench (e.g.
# ./scripts/bench-scale.sh -scale-idle 20s -scale-restart=false).
#
# Environment: SCALE_N (fleet sizes, space or comma separated); BENCH_DIR
# (default $TMPDIR or /tmp) holds the agents' data directories (one fleet
# at a time, removed after it; about 10 MiB per agent); BIN is the agent
# binary (default: bin/p2pglance, built afresh). Every agent runs in its
# own process group and dies with the benchmark; each N ends with every
# agent stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN_GIVEN=${BIN:-}
BIN=${BIN:-bin/p2pglance}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
OUT=${BENCH_OUT:-bench-results/scale-$(date -u +%Y%m%dT%H%M%SZ)}
SCALE_N=${SCALE_N:-50 100 200 300}

# The agents must log their byte counters when they stop: build the
# default binary afresh (make bench-scale has just built it and passes BIN).
if [ -z "${BIN_GIVEN:-}" ]; then "$GO" build -o "$BIN" ./cmd/p2pglance; fi
"$GO" build -o bin/p2pglance-bench ./cmd/p2pglance-bench

max_n=0
for n in ${SCALE_N//,/ }; do [ "$n" -gt "$max_n" ] && max_n=$n; done
free_kb=$(df -Pk "$DIR" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((max_n * 64 * 1024)) ]; then
  echo "bench-scale: $DIR has $((free_kb / 1024)) MiB free; need $((max_n * 64)) MiB for $max_n agents (set BENCH_DIR)" >&2
  exit 1
fi
mkdir -p "$OUT"
: >"$OUT/stderr.log"

cmd=(bin/p2pglance-bench -only scale -dir "$DIR" -binary "$BIN" -scale-n "$SCALE_N" -scale-plot "$OUT/scale.png" -scale-logs "$OUT/logs" "$@")
. scripts/bench-lib.sh
bench_run bench-scale bench-scale '^bench:' "$@"

{
  echo
  echo "Benchmark process (GNU time): $(grep -E 'Elapsed|Maximum resident' "$OUT/stderr.log" | sed 's/^[[:space:]]*//' | paste -sd ';' - || true)"
} >>"$OUT/results.md"
cat "$OUT/results.md"
echo "bench-scale: results in $OUT/results.md, chart $OUT/scale.png" >&2
