#!/usr/bin/env bash
# Builds the minimal browser app (wasm/bundlesize/app: connect, one query,
# one subscription) as a release would and checks its size. The limits are
# a ratchet just above today's size (override with KALAM_BUNDLE_MAX_RAW and
# KALAM_BUNDLE_MAX_GZIP, in bytes); issue 11's target is 4.5 MB / 1.2 MB,
# which needs more than this SDK can drop without changing its API (see
# the README's browser section).
set -euo pipefail
cd "$(dirname "$0")/../.."
max_raw=${KALAM_BUNDLE_MAX_RAW:-5000000}
max_gzip=${KALAM_BUNDLE_MAX_GZIP:-1360000}
out=$(mktemp --suffix=.wasm)
trap 'rm -f "$out"' EXIT
GOOS=js GOARCH=wasm go build -ldflags='-s -w' -trimpath -o "$out" ./wasm/bundlesize/app
raw=$(stat -c%s "$out")
gz=$(gzip -9c "$out" | wc -c)
printf 'bundle (connect, query, subscribe): %d bytes raw (limit %d), %d bytes gzip -9 (limit %d)\n' "$raw" "$max_raw" "$gz" "$max_gzip"
for pkg in net mime/multipart regexp compress/gzip crypto/rand crypto/sha256 net/url; do
  if GOOS=js GOARCH=wasm go list -deps ./wasm/bundlesize/app | grep -qx "$pkg"; then
    echo "bundle: $pkg is linked into the browser build again"; exit 1
  fi
done
if [ "$raw" -gt "$max_raw" ] || [ "$gz" -gt "$max_gzip" ]; then
  echo "bundle: over the limit"; exit 1
fi
