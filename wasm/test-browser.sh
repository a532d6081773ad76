#!/usr/bin/env bash
# Runs the GOOS=js tests in headless Chromium (wasm/chromeexec): the
# transport suite for transport/wasmjs, the client suite (the whole SDK)
# against an emulator on another origin, the browser-only tests
# (wasm/browsertest) and the browser gunzip. Prints the pass counts.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || command -v google-chrome >/dev/null ||
  { echo "test-browser: chromium is required (apt-get install -y chromium)"; exit 1; }
go build -o /tmp/kalam-chromeexec ./wasm/chromeexec
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# suite LABEL PACKAGE RUN-PATTERN: runs one package in Chromium and prints
# how many tests and subtests passed and failed.
suite() {
  local s=0
  KALAM_BROWSER_FIXTURES=1 GOOS=js GOARCH=wasm go test -count=1 -v -run "$3" -exec /tmp/kalam-chromeexec "$2" >"$log" 2>&1 || s=$?
  local pass fail
  pass=$(grep -cE '^\s*--- PASS' "$log" || true)
  fail=$(grep -cE '^\s*--- FAIL' "$log" || true)
  grep -E 'browser_test.go:[0-9]+: (refused|frozen)' "$log" | cut -c1-200 || true
  printf 'browser: %-34s passed %3d, failed %d%s\n' "$1" "$pass" "$fail" "$([ $s -ne 0 ] && echo ' (FAILED)')"
  if [ $s -ne 0 ]; then grep -vE '^(=== RUN|\s*--- PASS)' "$log" | tail -60; status=1; fi
}
suite "transport suite (transport/wasmjs)" ./transport/wasmjs 'TestConformance'
suite "client suite (whole SDK)" ./conformance 'TestClientBrowser'
suite "browser-only (wasm/browsertest)" ./wasm/browsertest '.'
suite "gunzip via DecompressionStream" ./sdk/internal/realtime 'TestGunzip'
exit $status
