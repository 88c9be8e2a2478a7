#!/usr/bin/env bash
# Puts promtool into a version-keyed cache outside the checkout, from Debian's own
# `prometheus` package (bookworm ships 2.42, with `check rules` and `test rules`): the
# .deb is downloaded with apt and unpacked, never installed, so no Prometheus daemon is
# configured or started and no root is needed. ~5 s cold (a Go build took ~300 s).
# Prints the bin directory.
set -euo pipefail
CACHE="${REKEY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rekey}"
candidate() { apt-cache policy prometheus 2>/dev/null | sed -n 's/^ *Candidate: //p'; }
c="$(candidate)"
if { [ -z "$c" ] || [ "$c" = "(none)" ]; } && [ "$(id -u)" = 0 ]; then apt-get update -q >&2; c="$(candidate)"; fi
candidate="$c"
[ -n "$candidate" ] && [ "$candidate" != "(none)" ] || {
  echo "install-prometheus: Debian's package 'prometheus' is not known to apt (run apt-get update)" >&2; exit 1; }
DEST="$CACHE/promtool-deb-${candidate//[^A-Za-z0-9.+-]/_}"
if [ -x "$DEST/bin/promtool" ]; then echo "$DEST/bin"; exit 0; fi
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
chmod 0777 "$work"  # apt downloads as its _apt user
echo "install-prometheus: unpacking promtool from Debian's prometheus $candidate" >&2
(cd "$work" && apt-get download -q "prometheus=$candidate" >&2)
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
rm -rf "$DEST.tmp"; mkdir -p "$DEST.tmp/bin"
cp "$work/root/usr/bin/promtool" "$DEST.tmp/bin/promtool"
"$DEST.tmp/bin/promtool" --version >/dev/null
rm -rf "$DEST"; mv "$DEST.tmp" "$DEST"
echo "$DEST/bin"
