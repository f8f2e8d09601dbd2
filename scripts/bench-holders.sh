#!/usr/bin/env bash
# Chunk holders benchmark (make bench-holders; BENCHMARKS.md, "Chunk
# holders (issue 11)"): what knowing who holds which chunk costs each
# agent, before and after holdings left gossip, side by side in one run.
#
# The same program, cmd/p2pglance-bench/holders, is built twice: at BASE
# (default: the commit before gossip/holdings.go was removed, when every
# agent kept every other agent's chunk bitmaps and memberlist's
# push/pull carried them) and at HEAD (node/tracker), then both run with
# the same flags, one after the other, each with its own fresh cluster.
# Extra arguments go to both (e.g. -nodes 30 -images 60).
#
# Environment: BASE (a commit), BENCH_DIR (default $TMPDIR or /tmp) for
# the two builds and the nodes' data (a few hundred MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
BASE=${BASE:-$(git rev-list -1 HEAD -- gossip/holdings.go)^}
tmp=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/bench-holders-XXXXXX")
trap 'rm -rf "$tmp"' EXIT

mkdir -p "$tmp/base"
git archive "$BASE" | tar -x -C "$tmp/base"
mkdir -p "$tmp/base/cmd/p2pglance-bench/holders"
cp cmd/p2pglance-bench/holders/main.go "$tmp/base/cmd/p2pglance-bench/holders/"
(cd "$tmp/base" && "$GO" build -o "$tmp/before" ./cmd/p2pglance-bench/holders)
"$GO" build -o "$tmp/after" ./cmd/p2pglance-bench/holders

echo "before: $(git rev-parse --short "$BASE") (gossip bitmaps); after: $(git rev-parse --short HEAD) (node/tracker)"
BENCH_DIR="$tmp" "$tmp/before" -label before -dir "$tmp/before-data" "$@"
BENCH_DIR="$tmp" "$tmp/after" -label after -dir "$tmp/after-data" "$@"
