// Package browsertest holds the SDK's browser-only tests: behaviour that
// only a real browser shows (CORS refusals, no visible pongs or handshake
// statuses, callbacks after the program exits). They run in headless
// Chromium under wasm/chromeexec with KALAM_BROWSER_FIXTURES=1 (see
// wasm/test-browser.sh); elsewhere they are skipped.
package browsertest
