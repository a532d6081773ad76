// Command chromeexec runs a GOOS=js program (typically a test binary) in
// headless Chromium, so `go test -exec` can run browser tests:
//
//	go build -o /tmp/chromeexec ./wasm/chromeexec
//	GOOS=js GOARCH=wasm go test -count=1 -exec /tmp/chromeexec ./transport/wasmjs
//
// It serves a page, Go's wasm_exec.js and the program from a loopback
// origin, streams the program's stdout and stderr back, and exits with the
// program's exit code. The program gets its arguments and the runner's
// KALAM_* and Go runtime (GODEBUG, GOGC, ...) environment variables; it
// has no file system (wasm_exec.js's stub), and -count=1 avoids go test's
// log file. After the program exits the runner waits (at most 3 s) until
// the page's WebSockets have closed and fetches have settled, and fails if
// any JavaScript exception was left uncaught, before or after the exit: a
// late event calling into the exited program shows up that way.
//
// With KALAM_BROWSER_FIXTURES=1 it also serves the test servers that the
// repository's browser tests need (see fixtures.go).
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/wasm/chromium"
)

//go:embed index.html
var indexHTML []byte

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: chromeexec program.wasm [args...]")
		os.Exit(2)
	}
	code, err := run(os.Args[1], os.Args[2:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "chromeexec: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// passEnv: KALAM_* and the Go runtime's own settings.
func passEnv(k string) bool {
	switch k {
	case "GODEBUG", "GOTRACEBACK", "GOGC", "GOMEMLIMIT", "GOMAXPROCS":
		return true
	}
	return strings.HasPrefix(k, "KALAM_")
}

func run(prog string, args []string) (int, error) {
	execJS, err := chromium.WasmExecJS()
	if err != nil {
		return 0, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	origin := "http://" + ln.Addr().String()
	// The page gets only the variables a test may need, not the whole
	// environment: the config is served to anything on loopback.
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && passEnv(k) {
			env[k] = v
		}
	}
	mux := http.NewServeMux()
	if os.Getenv("KALAM_BROWSER_FIXTURES") != "" {
		fx, err := startFixtures(origin)
		if err != nil {
			return 0, err
		}
		defer fx.close()
		for k, v := range fx.env {
			env[k] = v
		}
		mux.Handle("/", fx.handler)
	}
	config, err := json.Marshal(map[string]any{"argv": append([]string{"test.wasm"}, args...), "env": env})
	if err != nil {
		return 0, err
	}
	mux.HandleFunc("/__kalam/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		switch r.URL.Path {
		case "/__kalam/":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write(indexHTML)
		case "/__kalam/wasm_exec.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, execJS)
		case "/__kalam/test.wasm":
			w.Header().Set("Content-Type", "application/wasm")
			http.ServeFile(w, r, prog)
		case "/__kalam/config":
			w.Header().Set("Content-Type", "application/json")
			w.Write(config)
		default:
			http.NotFound(w, r)
		}
	})
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln)
	defer srv.Close()

	b, err := chromium.Launch()
	if err != nil {
		return 0, err
	}
	defer b.Close()

	exited := make(chan string, 1)
	var mu sync.Mutex
	var uncaught []string
	afterExit := false
	onEvent := func(method string, params json.RawMessage) {
		switch method {
		case "Runtime.bindingCalled":
			var p struct{ Name, Payload string }
			if json.Unmarshal(params, &p) != nil {
				return
			}
			switch p.Name {
			case "__kalamOut":
				if p.Payload == "" {
					return
				}
				out := os.Stdout
				if p.Payload[0] == '2' {
					out = os.Stderr
				}
				out.WriteString(p.Payload[1:])
			case "__kalamExit":
				mu.Lock()
				afterExit = true
				mu.Unlock()
				select {
				case exited <- p.Payload:
				default:
				}
			}
		case "Runtime.exceptionThrown":
			var p struct {
				ExceptionDetails chromium.ExceptionDetails `json:"exceptionDetails"`
			}
			if json.Unmarshal(params, &p) != nil {
				return
			}
			mu.Lock()
			when := "uncaught JavaScript exception"
			if afterExit {
				when += " after the Go program exited"
			}
			uncaught = append(uncaught, when+": "+p.ExceptionDetails.String())
			mu.Unlock()
		case "Inspector.targetCrashed":
			select {
			case exited <- "error: the page crashed":
			default:
			}
		}
	}
	ctx := context.Background()
	setup, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	tab, err := b.NewTab(setup, onEvent)
	if err != nil {
		return 0, err
	}
	for _, step := range []struct {
		method string
		params any
	}{
		{"Runtime.enable", nil},
		{"Inspector.enable", nil},
		{"Runtime.addBinding", map[string]any{"name": "__kalamOut"}},
		{"Runtime.addBinding", map[string]any{"name": "__kalamExit"}},
		{"Page.navigate", map[string]any{"url": origin + "/__kalam/"}},
	} {
		if err := tab.Call(setup, step.method, step.params, nil); err != nil {
			return 0, err
		}
	}

	var status string
	select {
	case status = <-exited:
	case <-b.Done():
		return 0, errors.New("the browser ended before the program exited")
	}
	code, convErr := strconv.Atoi(status)
	if convErr != nil {
		fmt.Fprintf(os.Stderr, "chromeexec: %s\n", status)
		code = 1
	}
	quiet, cancelQuiet := context.WithTimeout(ctx, 10*time.Second)
	defer cancelQuiet()
	var left struct{ Sockets, Fetching int }
	if err := tab.Eval(quiet, "__kalamQuiesce(3000)", &left); err != nil {
		return code, fmt.Errorf("waiting for the page to settle after exit: %w", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(uncaught) > 0 {
		for _, u := range uncaught {
			fmt.Fprintln(os.Stderr, "chromeexec:", u)
		}
		if code == 0 {
			code = 1
		}
	}
	return code, nil
}
