#!/usr/bin/env bash
# Builds the minimal browser app (wasm/bundlesize/app: connect, one query,
# one subscription) as a release would and checks its size. The limits are
# a ratchet just above today's size, 4.90 MB / 1.333 MB with stall detection,
# poison-frame handling and introspection (override with KALAM_BUNDLE_MAX_RAW and
# KALAM_BUNDLE_MAX_GZIP, in bytes); issue 11's target is 4.5 MB / 1.2 MB.
# The floor under it is what the public API itself links: a program using
# only encoding/json, fmt, log/slog and time is 3.70 MB / 1.03 MB, so the
# rest of the way needs the SDK's own code smaller (its JSON decoding
# without encoding/json's reflection paths, msgpack only when chosen), not
# more packages dropped.
set -euo pipefail
cd "$(dirname "$0")/../.."
max_raw=${KALAM_BUNDLE_MAX_RAW:-4910000}
max_gzip=${KALAM_BUNDLE_MAX_GZIP:-1336000}
out=$(mktemp --suffix=.wasm)
trap 'rm -f "$out"' EXIT
GOOS=js GOARCH=wasm go build -ldflags='-s -w' -trimpath -o "$out" ./wasm/bundlesize/app
raw=$(stat -c%s "$out")
gz=$(gzip -9c "$out" | wc -c)
printf 'bundle (connect, query, subscribe): %d bytes raw (limit %d), %d bytes gzip -9 (limit %d)\n' "$raw" "$max_raw" "$gz" "$max_gzip"
for pkg in net mime/multipart regexp compress/gzip crypto/rand crypto/sha256 net/url sort; do
  if GOOS=js GOARCH=wasm go list -deps ./wasm/bundlesize/app | grep -qx "$pkg"; then
    echo "bundle: $pkg is linked into the browser build again"; exit 1
  fi
done
if [ "$raw" -gt "$max_raw" ] || [ "$gz" -gt "$max_gzip" ]; then
  echo "bundle: over the limit"; exit 1
fi
