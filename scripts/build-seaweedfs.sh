#!/usr/bin/env bash
# Builds SeaweedFS's `weed` (a real S3 server, for the object-store tests)
# into bin/weed, once: from the Go module proxy (go install refuses the
# module for its replace directives, so the module is downloaded and built
# in a writable copy). About 4 minutes on 2 cores; a ~230 MB binary, kept
# under bin/ (git-ignored) and rebuilt only when the pinned version
# changes.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${SEAWEEDFS_VERSION:-v0.0.0-20261109003541-7506e5f91cd6}
OUT=bin/weed
if [ -x "$OUT" ] && [ "$(cat bin/weed.version 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
mkdir -p bin
work=$(mktemp -d "${TMPDIR:-/tmp}/p2pglance-seaweedfs.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
echo "build-seaweedfs: downloading github.com/seaweedfs/seaweedfs@$VERSION" >&2
dir=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/seaweedfs/seaweedfs@$VERSION" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
[ -n "$dir" ] && [ -d "$dir" ] || { echo "build-seaweedfs: download failed" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
echo "build-seaweedfs: building weed (a few minutes)" >&2
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$PWD/../weed" ./weed)
mv "$work/weed" "$OUT"
echo "$VERSION" >bin/weed.version
echo "build-seaweedfs: $OUT ($(du -h "$OUT" | cut -f1))" >&2
