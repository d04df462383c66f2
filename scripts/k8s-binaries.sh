#!/usr/bin/env bash
# Builds the Kubernetes API server and etcd that the Kubernetes tests run against, from the Go
# module proxy, and caches them by version outside the work tree (STRONGBOX_TEST_CACHE, default
# ~/.cache/strongbox-test). Prints the directory that holds them. The first build takes about
# five minutes on two cores; later runs find the cache. Nothing of either project is
# kept in this repository: the build module is written to a temporary directory here.
set -euo pipefail
K8S=v1.37.2
ETCD=v3.7.3
CACHE="${STRONGBOX_TEST_CACHE:-$HOME/.cache/strongbox-test}/k8s-$K8S-etcd-$ETCD"
# --dir: where the binaries are (or will be), without building anything.
if [ "${1:-}" = --dir ]; then
  echo "$CACHE"
  exit 0
fi
if [ -x "$CACHE/kube-apiserver" ] && [ -x "$CACHE/kube-controller-manager" ] && [ -x "$CACHE/etcd" ]; then
  echo "$CACHE"
  exit 0
fi
mkdir -p "$CACHE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-buildvcs=false CGO_ENABLED=0

# kube-apiserver and kube-controller-manager (which finalizes deleted namespaces): the k8s.io/kubernetes module points its staging modules at ./staging; a
# consumer points them at their published versions (v0.X.Y for v1.X.Y).
mkdir "$work/apiserver"
cd "$work/apiserver"
kmod=$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)",*/\1/p')
staging=${K8S/v1./v0.}
{
  echo "module strongbox.test/kube-apiserver"
  echo "go 1.26.0"
  echo "require k8s.io/kubernetes $K8S"
  echo "replace ("
  sed -n 's#^\s*\(k8s.io/[a-z0-9-]*\) => ./staging/src/.*#\t\1 => \1 '"$staging"'#p' "$kmod"
  echo ")"
} > go.mod
mkdir apiserver controller-manager
cat > apiserver/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() { os.Exit(cli.Run(app.NewAPIServerCommand())) }
GO
cat > controller-manager/main.go <<'GO'
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-controller-manager/app"
)

func main() { os.Exit(cli.Run(app.NewControllerManagerCommand())) }
GO
go mod tidy >/dev/null
go build -trimpath -o "$CACHE/kube-apiserver.tmp" ./apiserver
go build -trimpath -o "$CACHE/kube-controller-manager.tmp" ./controller-manager
mv "$CACHE/kube-apiserver.tmp" "$CACHE/kube-apiserver"
mv "$CACHE/kube-controller-manager.tmp" "$CACHE/kube-controller-manager"

mkdir "$work/etcd"
cd "$work/etcd"
printf 'module strongbox.test/etcd\ngo 1.26.0\nrequire go.etcd.io/etcd/server/v3 %s\n' "$ETCD" > go.mod
cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
go mod tidy >/dev/null
go build -trimpath -o "$CACHE/etcd.tmp" .
mv "$CACHE/etcd.tmp" "$CACHE/etcd"
echo "$CACHE"
