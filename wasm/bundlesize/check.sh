#!/usr/bin/env bash
# Builds the minimal browser app (wasm/bundlesize/app: connect, one query,
# one subscription) as a release would and checks its size against two
# limits: issue 11's hard limit, 4.5 MB / 1.2 MB gzipped, and a ratchet just
# above today's size, 4.36 MB / 1.194 MB (override the ratchet with
# KALAM_BUNDLE_MAX_RAW and KALAM_BUNDLE_MAX_GZIP, in bytes; not the limit).
# Browser builds link no log/slog (WithLogger takes an interface) and none
# of encoding/json's reflection-driven decoder and encoder: they decode and
# encode through sdk/internal/jsonlite, and write the client messages by
# hand. Nor time.Parse: jsonlite parses times itself and calls no method
# named UnmarshalJSON/UnmarshalText through an interface (such a call keeps
# time.Time's, and with them Parse: ~40 KB raw, 11 KB gzipped). What is
# left above Go's empty syscall/js program (1.96 MB / 0.58 MB) is fmt (the
# app prints), reflect, time and the SDK's own code.
set -euo pipefail
cd "$(dirname "$0")/../.."
limit_raw=4500000
limit_gzip=1200000
max_raw=${KALAM_BUNDLE_MAX_RAW:-4360000}
max_gzip=${KALAM_BUNDLE_MAX_GZIP:-1194000}
out=$(mktemp --suffix=.wasm)
trap 'rm -f "$out"' EXIT
GOOS=js GOARCH=wasm go build -ldflags='-s -w' -trimpath -o "$out" ./wasm/bundlesize/app
raw=$(stat -c%s "$out")
gz=$(gzip -9c "$out" | wc -c)
printf 'bundle (connect, query, subscribe): %d bytes raw (ratchet %d, limit %d), %d bytes gzip -9 (ratchet %d, limit %d)\n' \
  "$raw" "$max_raw" "$limit_raw" "$gz" "$max_gzip" "$limit_gzip"
for pkg in net mime/multipart regexp compress/gzip crypto/rand crypto/sha256 net/url sort log/slog; do
  if GOOS=js GOARCH=wasm go list -deps ./wasm/bundlesize/app | grep -qx "$pkg"; then
    echo "bundle: $pkg is linked into the browser build again"; exit 1
  fi
done
# The wasm keeps function names (for tracebacks): encoding/json's general
# decoder and encoder must stay out (jsonscan.Unmarshal/Marshal, not json's).
for fn in 'encoding/json.(*decodeState).unmarshal' 'encoding/json.(*encodeState).marshal'; do
  if grep -qaF "$fn" "$out"; then
    echo "bundle: $fn is linked into the browser build again"; exit 1
  fi
done
# Function names sit NUL-terminated in the pclntab: match them whole.
for fn in 'time.Parse' 'time.parse' 'time.parseStrictRFC3339' 'time.(*Time).UnmarshalJSON' 'time.(*Time).UnmarshalText'; do
  if LC_ALL=C grep -qaP "\x00\Q$fn\E\x00" "$out"; then
    echo "bundle: $fn is linked into the browser build again"; exit 1
  fi
done
if [ "$raw" -gt "$limit_raw" ] || [ "$gz" -gt "$limit_gzip" ]; then
  echo "bundle: over issue 11's hard limit"; exit 1
fi
if [ "$raw" -gt "$max_raw" ] || [ "$gz" -gt "$max_gzip" ]; then
  echo "bundle: over the ratchet (grown since it was set)"; exit 1
fi
