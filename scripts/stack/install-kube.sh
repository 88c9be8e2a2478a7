#!/usr/bin/env bash
# Builds a real Kubernetes control plane from the Go module proxy into a version-keyed
# cache: kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, and
# kwok/kwokctl (simulated nodes). k8s.io/kubernetes replaces its staging modules with
# local paths, so a wrapper module pins each one to its published v0.x version
# (kubernetes/kubernetes#79384). Cold build: 15-25 min on 2 cores.
set -euo pipefail
K8S="${REKEY_K8S_VERSION:-v1.36.3}"
ETCD="${REKEY_ETCD_VERSION:-v3.6.16}"
KWOK="${REKEY_KWOK_VERSION:-v0.8.0}"
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
DEST="$CACHE/kube-$K8S-etcd-$ETCD-kwok-$KWOK"
if [ -f "$DEST/.complete" ]; then echo "$DEST"; exit 0; fi
command -v go >/dev/null || { echo "install-kube: Go toolchain not found" >&2; exit 1; }
export GOFLAGS=-mod=mod CGO_ENABLED=0 GOTOOLCHAIN="${GOTOOLCHAIN:-local}"
mkdir -p "$DEST/bin"
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT

echo "install-kube: kwok/kwokctl $KWOK" >&2
GOBIN="$DEST/bin" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK" "sigs.k8s.io/kwok/cmd/kwokctl@$KWOK" >&2

echo "install-kube: etcd $ETCD" >&2
mkdir -p "$work/etcd" && cd "$work/etcd"
cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
go mod init rekey.local/etcd >/dev/null 2>&1
go get "go.etcd.io/etcd/server/v3@$ETCD" >&2
go mod tidy >&2
go build -o "$DEST/bin/etcd" . >&2

echo "install-kube: Kubernetes $K8S (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl)" >&2
mkdir -p "$work/k8s" && cd "$work/k8s"
go mod init rekey.local/kube >/dev/null 2>&1
modfile="$(go mod download -json "k8s.io/kubernetes@$K8S" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
staging_version="v0.${K8S#v1.}"
for m in $(grep -E '^\s*k8s.io/[^ ]+ => ./staging' "$modfile" | awk '{print $1}'); do
  go mod edit -replace "$m=$m@$staging_version"
done
cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
go get "k8s.io/kubernetes@$K8S" >&2
go mod tidy -e >&2 || true
for cmd in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  echo "install-kube:   building $cmd" >&2
  go build -o "$DEST/bin/$cmd" "k8s.io/kubernetes/cmd/$cmd" >&2
done
touch "$DEST/.complete"
echo "$DEST"
