#!/usr/bin/env bash
# Builds SeaweedFS (`weed`: its S3 gateway is the real S3 server that the S3 tests and the S3
# benchmark run against) from the Go module proxy and caches it by version outside the work tree
# (STRONGBOX_TEST_CACHE, default ~/.cache/strongbox-test). Prints the binary's path. The first
# build takes a few minutes on two cores; later runs find the cache. Nothing of SeaweedFS is
# kept in this repository: it is built inside its own module as downloaded.
set -euo pipefail
WEED=v0.0.0-20261109003541-7506e5f91cd6
BIN="${STRONGBOX_TEST_CACHE:-$HOME/.cache/strongbox-test}/seaweedfs-$WEED/weed"
# --path: where the binary is (or will be), without building anything.
if [ "${1:-}" = --path ]; then
  echo "$BIN"
  exit 0
fi
if [ -x "$BIN" ]; then
  echo "$BIN"
  exit 0
fi
export PATH="$PATH:/usr/local/go/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0
mkdir -p "$(dirname "$BIN")"
src=$(go mod download -json "github.com/seaweedfs/seaweedfs@$WEED" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
[ -n "$src" ] || { echo "go mod download github.com/seaweedfs/seaweedfs@$WEED failed" >&2; exit 1; }
(cd "$src" && go build -trimpath -o "$BIN.tmp" ./weed)
mv "$BIN.tmp" "$BIN"
echo "$BIN"
