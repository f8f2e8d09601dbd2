#!/usr/bin/env bash
# Measures the figures in BENCHMARKS.md (make bench calls this after
# building bin/p2pglance). It builds cmd/p2pglance-bench and runs every
# phase: upload and download vs plain-file baselines, peer download,
# creates, list latency, read-your-writes across nodes (GET latency and
# leader load with and without the revision cookie), and the memory of
# the real binary. Each figure is taken side by side with its baseline in
# the same run.
#
# Output: markdown tables on stdout, also saved with CPU profiles (one
# extra, unmeasured run per phase) and their pprof summaries under
# bench-results/<UTC time>/. Extra arguments go to p2pglance-bench
# (e.g. ./scripts/bench.sh -only list -list-sizes 10000).
#
# Environment: BENCH_DIR (default $TMPDIR or /tmp) holds node data and
# baseline files, removed afterwards; it needs about 16 GiB free (the
# local phase keeps every file it writes until it ends: 6 uploads and 6
# baseline files of -size). BIN is the agent binary (default
# bin/p2pglance, built if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BIN=${BIN:-bin/p2pglance}
DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
OUT=${BENCH_OUT:-bench-results/$(date -u +%Y%m%dT%H%M%SZ)}

[ -x "$BIN" ] || "$GO" build -o "$BIN" ./cmd/p2pglance
"$GO" build -o bin/p2pglance-bench ./cmd/p2pglance-bench

free_kb=$(df -Pk "$DIR" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((16 * 1024 * 1024)) ]; then
  echo "bench: $DIR has $((free_kb / 1024)) MiB free; need 16 GiB (set BENCH_DIR)" >&2
  exit 1
fi
mkdir -p "$OUT/profiles"
: >"$OUT/stderr.log"

cmd=(bin/p2pglance-bench -dir "$DIR" -binary "$BIN" -profile-dir "$OUT/profiles" "$@")
. scripts/bench-lib.sh
bench_run bench bench "" "$@"

# What the bench process itself used (clients and in-process nodes).
{
  echo
  echo "Benchmark process (GNU time): $(grep -E 'Elapsed|Maximum resident' "$OUT/stderr.log" | sed 's/^[[:space:]]*//' | paste -sd ';' -)"
  echo
  echo "### Profiles (one extra, unmeasured run of each phase)"
  echo
  echo "CPU: top functions by own CPU time. Heap: live memory by allocation site after loading the list catalog. Syscall blocking (from the execution trace): where goroutines waited in system calls (fsync/msync, socket reads/writes)."
  for p in "$OUT"/profiles/*.pprof; do
    name=$(basename "$p" .pprof)
    case $name in *.syscall) continue ;; esac
    "$GO" tool pprof -top -nodecount=40 bin/p2pglance-bench "$p" >"$OUT/profiles/$name.top.txt" 2>/dev/null || continue
    echo
    case $name in
    heap-*) echo "\`$name\` live heap (in use): $(grep -m1 '^Showing nodes' "$OUT/profiles/$name.top.txt")" ;;
    *) echo "\`$name\` CPU: $(grep -m1 '^Duration' "$OUT/profiles/$name.top.txt")" ;;
    esac
    echo
    echo '```'
    awk '/flat%/ {p=1} p' "$OUT/profiles/$name.top.txt" | head -13
    echo '```'
    t="$OUT/profiles/$name.trace"
    if [ -f "$t" ] && "$GO" tool trace -pprof=syscall "$t" >"$OUT/profiles/$name.syscall.pprof" 2>/dev/null &&
      "$GO" tool pprof -top -nodecount=40 "$OUT/profiles/$name.syscall.pprof" >"$OUT/profiles/$name.syscall.txt" 2>/dev/null; then
      echo
      echo "\`$name\` syscall blocking: $(grep -m1 '^Showing nodes' "$OUT/profiles/$name.syscall.txt")"
      echo
      echo '```'
      awk '/flat%/ {p=1} p' "$OUT/profiles/$name.syscall.txt" | head -7
      echo '```'
    fi
  done
} >>"$OUT/results.md"
cat "$OUT/results.md"
echo "bench: results in $OUT/results.md, profiles in $OUT/profiles (go tool pprof -http=: bin/p2pglance-bench <file>)" >&2
