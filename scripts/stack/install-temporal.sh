#!/usr/bin/env bash
# Builds the Temporal CLI (dev server + Web UI) from the Go module proxy into a
# version-keyed cache outside the checkout. v1.5.1 is the newest tag whose go.mod
# has no `replace`, so it is the newest one `go install` can build.
set -euo pipefail
VERSION="${REKEY_TEMPORAL_CLI_VERSION:-v1.5.1}"
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
DEST="$CACHE/temporal-cli-$VERSION"
if [ -x "$DEST/temporal" ]; then echo "$DEST/temporal"; exit 0; fi
command -v go >/dev/null || { echo "install-temporal: Go toolchain not found; install Go >= 1.23" >&2; exit 1; }
mkdir -p "$DEST.tmp"
echo "install-temporal: building temporal CLI $VERSION (first run only, a few minutes)" >&2
GOBIN="$DEST.tmp" CGO_ENABLED=0 GOFLAGS=-mod=mod go install "github.com/temporalio/cli/cmd/temporal@$VERSION" >&2
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
echo "$DEST/temporal"
