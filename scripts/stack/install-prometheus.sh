#!/usr/bin/env bash
# Builds promtool (and, for the optional scrape check, the Prometheus server) from the
# Go module proxy into a version-keyed cache outside the checkout. Prometheus 3.x is
# published as Go module versions v0.3XX.Y (v0.316.0 = Prometheus 3.16.0); its go.mod
# has no `replace`, so `go install` builds it directly. Prints the bin directory.
# Cold build of promtool: several minutes on 2 cores.
set -euo pipefail
VERSION="${REKEY_PROMETHEUS_VERSION:-v0.316.0}"
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
DEST="$CACHE/prometheus-$VERSION"
if [ -x "$DEST/bin/promtool" ]; then echo "$DEST/bin"; exit 0; fi
command -v go >/dev/null || { echo "install-prometheus: Go toolchain not found; install Go >= 1.26" >&2; exit 1; }
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp/bin"
echo "install-prometheus: building promtool $VERSION (first run only, several minutes)" >&2
GOBIN="$DEST.tmp/bin" CGO_ENABLED=0 GOFLAGS=-mod=mod GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
  go install "github.com/prometheus/prometheus/cmd/promtool@$VERSION" >&2
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
echo "$DEST/bin"
