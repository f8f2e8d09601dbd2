#!/usr/bin/env bash
# Fleet benchmark (make bench-fleet): one image to every node of fleets of
# 5, 10, 20 and 40 in-process nodes at once, every node's upload capped,
# p2pglance side by side with single-origin (the same fleet with NoCache,
# so only the image's durable holders serve), then boot-time downloads
# (nothing local vs local cache). See BENCHMARKS.md, section 7.
#
# Output: markdown tables on stdout, also saved under
# bench-results/fleet-<UTC time>/ with the chart (fleet.png), the
# progress log (stderr.log), and a CPU profile + execution trace of one
# extra, unmeasured N=40 p2pglance run with its pprof summary. Extra
# arguments go to p2pglance-bench (e.g. ./scripts/bench-fleet.sh
# -fleet-nodes 5,10 -fleet-size 32MiB). FLEET_PLOT=docs/fleet.png also
# copies the chart there (what BENCHMARKS.md embeds).
#
# Environment: BENCH_DIR (default $TMPDIR or /tmp) holds node data (one
# fleet at a time, removed after it: at most N x S, 5 GiB at N=40,
# S=128 MiB); it needs 8 GiB free.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
OUT=${BENCH_OUT:-bench-results/fleet-$(date -u +%Y%m%dT%H%M%SZ)}

"$GO" build -o bin/p2pglance-bench ./cmd/p2pglance-bench

free_kb=$(df -Pk "$DIR" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((8 * 1024 * 1024)) ]; then
  echo "bench-fleet: $DIR has $((free_kb / 1024)) MiB free; need 8 GiB (set BENCH_DIR)" >&2
  exit 1
fi
mkdir -p "$OUT/profiles"
: >"$OUT/stderr.log"

cmd=(bin/p2pglance-bench -only fleet -dir "$DIR" -profile-dir "$OUT/profiles" -fleet-plot "$OUT/fleet.png" "$@")
. scripts/bench-lib.sh
# Progress lines only: the nodes' own warnings stay in stderr.log.
bench_run bench-fleet bench-fleet '^bench:' "$@"

{
  echo
  echo "Benchmark process (GNU time): $(grep -E 'Elapsed|Maximum resident' "$OUT/stderr.log" | sed 's/^[[:space:]]*//' | paste -sd ';' - || true)"
  echo
  echo "Node log lines at WARN or above during the measured deliveries (shutdown noise is not logged): $(grep -c '^time=' "$OUT/stderr.log" || true)"
  for p in "$OUT"/profiles/fleet-*.pprof; do
    [ -f "$p" ] || continue
    name=$(basename "$p" .pprof)
    "$GO" tool pprof -top -nodecount=40 bin/p2pglance-bench "$p" >"$OUT/profiles/$name.top.txt" 2>/dev/null || continue
    "$GO" tool pprof -top -cum -nodecount=60 bin/p2pglance-bench "$p" >"$OUT/profiles/$name.cum.txt" 2>/dev/null || true
    echo
    echo "\`$name\` CPU (extra, unmeasured run): $(grep -m1 '^Duration' "$OUT/profiles/$name.top.txt")"
    echo
    echo '```'
    awk '/flat%/ {p=1} p' "$OUT/profiles/$name.top.txt" | head -16
    echo '```'
  done
} >>"$OUT/results.md"
if [ -n "${FLEET_PLOT:-}" ] && [ -f "$OUT/fleet.png" ]; then
  cp "$OUT/fleet.png" "$FLEET_PLOT"
  echo "bench-fleet: chart copied to $FLEET_PLOT" >&2
fi
cat "$OUT/results.md"
echo "bench-fleet: results in $OUT/results.md, chart $OUT/fleet.png, profiles in $OUT/profiles" >&2
