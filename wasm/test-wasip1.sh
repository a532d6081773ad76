#!/usr/bin/env bash
# Runs the GOOS=wasip1 tests under wazero (wasm/wazeroexec): the packages
# that must work in WASI runtimes (sockets are in-memory: transport/mock).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/wazeroexec" ./wasm/wazeroexec
GOOS=wasip1 GOARCH=wasm go test -count=1 -exec "$tmp/wazeroexec" \
  ./transport/mock ./kalamtest/emulator/internal/engine ./sdk/... ./conformance "$@"
