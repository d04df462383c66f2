#!/usr/bin/env bash
# Builds the benchmark's peers from the Go module proxy — restic and Kopia at their newest
# releases served there, and SeaweedFS (its S3 gateway: a real S3 server for the S3 scenario) —
# and caches them by version outside the work tree (STRONGBOX_BENCH_CACHE, default
# ~/.cache/strongbox-bench). Prints one line per peer: NAME PATH, or NAME - REASON when it
# could not be built (the benchmark reports such a peer, it does not drop it silently).
# Each is built inside its own module as downloaded (its go.mod, go.sum and replace
# directives as its authors ship them); nothing of these projects is kept in this repository.
# Not part of `npm test`. The first build takes minutes per peer on two cores.
set -uo pipefail
RESTIC=v0.19.1
KOPIA=v0.23.1
CACHE="${STRONGBOX_BENCH_CACHE:-$HOME/.cache/strongbox-bench}"
export PATH="$PATH:/usr/local/go/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0

build() { # name module version package-in-module binary
  local name=$1 mod=$2 version=$3 pkg=$4 bin=$5
  local dir="$CACHE/$name-$version"
  if [ -x "$dir/$bin" ]; then echo "$name $dir/$bin"; return; fi
  if ! command -v go >/dev/null; then echo "$name - Go is not installed (/usr/local/go/bin/go)"; return; fi
  mkdir -p "$dir"
  local src
  src=$(go mod download -json "$mod@$version" 2>"$dir.log" | sed -n 's/.*"Dir": "\(.*\)",*/\1/p')
  if [ -z "$src" ]; then echo "$name - go mod download $mod@$version failed: $(tail -1 "$dir.log")"; return; fi
  if (cd "$src" && go build -trimpath -o "$dir/$bin" "./$pkg") >>"$dir.log" 2>&1; then echo "$name $dir/$bin"
  else echo "$name - building $mod@$version failed: $(tail -1 "$dir.log")"; fi
}

build restic github.com/restic/restic "$RESTIC" cmd/restic restic
build kopia github.com/kopia/kopia "$KOPIA" . kopia
# SeaweedFS is the S3 tests' server too: scripts/seaweedfs.sh builds and caches it for both.
if weed=$(bash "$(dirname "$0")/seaweedfs.sh" 2>/tmp/strongbox-seaweedfs-build.log); then echo "seaweedfs $weed"
else echo "seaweedfs - building it failed: $(tail -1 /tmp/strongbox-seaweedfs-build.log)"; fi
