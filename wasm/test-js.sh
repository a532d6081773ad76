#!/usr/bin/env bash
# Runs the GOOS=js tests under Node: the wasmjs transport against the
# transport conformance suite (served natively by wasm/servetransport), and
# the packages that must work in a browser build (the emulator's engine).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v node >/dev/null || { echo "test-js: node is required (apt-get install -y nodejs)"; exit 1; }
exec_js="$(go env GOROOT)/lib/wasm/go_js_wasm_exec"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/servetransport" ./wasm/servetransport
coproc SERVER { "$tmp/servetransport"; }
read -r url <&"${SERVER[0]}"
echo "transport suite server at $url"
# Node 20 has WebSocket behind a flag; Node 22 has it by default.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 22 ]; then export NODE_OPTIONS="${NODE_OPTIONS:-} --experimental-websocket"; fi
status=0
KALAM_TRANSPORT_URL="$url" GOOS=js GOARCH=wasm go test -count=1 -exec "$exec_js" ./transport/wasmjs ./kalamtest/emulator/internal/engine "$@" || status=$?
eval "exec ${SERVER[1]}>&-"
wait "$SERVER_PID" 2>/dev/null || true
exit $status
