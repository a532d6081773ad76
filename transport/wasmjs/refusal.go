//go:build js && wasm

package wasmjs

import (
	"context"
	"fmt"
	"strings"
	"syscall/js"
	"time"

	"github.com/kalamstack/kalam-go/transport"
)

// A browser shows a request refused by CORS, and a WebSocket upgrade
// refused for the page's origin, exactly as it shows a server that is down:
// "TypeError: Failed to fetch", or an error event with no status. To tell
// them apart the transport asks once more in "no-cors" mode, where the
// browser hands back an opaque response (no status, no body) from any
// server that answers: if that succeeds, the server is up and refused us.

// probeTimeout bounds the extra request.
const probeTimeout = 2 * time.Second

// reachable reports whether the server at url answers a no-cors GET.
func reachable(ctx context.Context, url string) bool {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	if rest, ok := strings.CutPrefix(url, "ws"); ok {
		url = "http" + rest // ws→http, wss→https
	}
	abort := js.Global().Get("AbortController").New()
	stop := context.AfterFunc(ctx, func() { abort.Call("abort") })
	defer stop()
	init := map[string]any{"mode": "no-cors", "credentials": "omit", "cache": "no-store", "signal": abort.Get("signal")}
	promise, err := jsCall("fetch", func() js.Value { return js.Global().Call("fetch", url, init) })
	if err != nil {
		return false
	}
	resp, err := await(ctx, promise)
	if err != nil {
		return false
	}
	if body := resp.Get("body"); !body.IsNull() && !body.IsUndefined() {
		body.Call("cancel").Call("catch", ignoreRejection)
	}
	return true
}

func pageOrigin() string {
	if loc := js.Global().Get("location"); !loc.IsUndefined() && loc.Get("origin").Type() == js.TypeString {
		return loc.Get("origin").String()
	}
	return "(unknown)"
}

// diagnoseFetch explains a failed fetch: refused (wrapping
// transport.ErrRefused) when the server answers a no-cors request.
func diagnoseFetch(ctx context.Context, url string, err error) error {
	if !reachable(ctx, url) {
		return fmt.Errorf("fetch failed: %w (no answer from the server: down, unreachable or blocked)", err)
	}
	return fmt.Errorf("fetch failed: %w; the server answered a no-cors request, so the browser withheld the response: the server's CORS settings do not allow this page's origin %s (KalamDB: security.cors.allowed_origins): %w", err, pageOrigin(), transport.ErrRefused)
}

// diagnoseDial explains a WebSocket that failed to open.
func diagnoseDial(ctx context.Context, url string) error {
	if !reachable(ctx, url) {
		return fmt.Errorf("no answer from the server (down, unreachable or blocked)")
	}
	return fmt.Errorf("the server answers HTTP, so it refused the upgrade (the browser hides its status): most likely its CORS settings do not allow this page's origin %s (KalamDB: security.cors.allowed_origins): %w", pageOrigin(), transport.ErrRefused)
}
