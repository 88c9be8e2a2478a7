#!/usr/bin/env bash
# moto server (IAM, STS, S3 emulator) in a version-keyed venv outside the checkout.
# A venv cannot be moved, so it is built in place and marked complete at the end.
set -euo pipefail
VERSION=5.2.5
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
DEST="$CACHE/moto-$VERSION"
if [ -f "$DEST/.complete" ]; then echo "$DEST/bin/moto_server"; exit 0; fi
PY="${PYTHON:-python3}"
command -v "$PY" >/dev/null || { echo "install-moto: python3 not found" >&2; exit 1; }
echo "install-moto: creating venv with moto[server]==$VERSION" >&2
rm -rf "$DEST"
"$PY" -m venv "$DEST"
"$DEST/bin/pip" install -q --disable-pip-version-check "moto[server]==$VERSION" >&2
touch "$DEST/.complete"
echo "$DEST/bin/moto_server"
