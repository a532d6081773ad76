//go:build !js

// Command browser serves a web page built on the SDK compiled to
// WebAssembly: a live table of a KalamDB table (LiveRows) with a form that
// inserts rows. It builds the page's wasm (./examples/browser/app), then
// serves the page on 127.0.0.1.
//
// With KALAMDB_URL set (and KALAMDB_USER / KALAMDB_PASSWORD, default root)
// the page talks to that server, whose CORS settings must allow the page's
// origin; otherwise an embedded KalamDB emulator is started.
//
//	go run ./examples/browser            # then open the printed URL
//	go run ./examples/browser -addr 127.0.0.1:8090
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"

	"github.com/kalamstack/kalam-go/examples/internal/target"
	"github.com/kalamstack/kalam-go/wasm/chromium"
)

//go:embed index.html
var indexHTML []byte

// Table is where the page keeps its notes.
const Table = "browser_demo.notes"

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "address to serve the page on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	srv, err := start(*addr)
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	fmt.Println("open", srv.URL)
	<-ctx.Done()
}

// server is the page's server.
type server struct {
	URL    string
	Target *target.Server
	close  []func()
}

func (s *server) Close() {
	for i := len(s.close) - 1; i >= 0; i-- {
		s.close[i]()
	}
}

func start(addr string) (_ *server, err error) {
	s := &server{}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	s.Target, err = target.Get("BrowserDemo123!")
	if err != nil {
		return nil, err
	}
	s.close = append(s.close, s.Target.Close)
	dir, err := os.MkdirTemp("", "kalam-browser-example-")
	if err != nil {
		return nil, err
	}
	s.close = append(s.close, func() { os.RemoveAll(dir) })
	wasm := filepath.Join(dir, "app.wasm")
	if err := buildWasm(wasm); err != nil {
		return nil, err
	}
	execJS, err := chromium.WasmExecJS()
	if err != nil {
		return nil, err
	}
	config, err := json.Marshal(map[string]string{"url": s.Target.URL, "user": s.Target.User, "password": s.Target.Password, "table": Table})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(indexHTML)
	})
	mux.HandleFunc("GET /wasm_exec.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		http.ServeFile(w, r, execJS)
	})
	mux.HandleFunc("GET /app.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		http.ServeFile(w, r, wasm)
	})
	mux.HandleFunc("GET /config.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(config)
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	hs := &http.Server{Handler: mux}
	go hs.Serve(ln)
	s.close = append(s.close, func() { hs.Close() })
	s.URL = "http://" + ln.Addr().String() + "/"
	return s, nil
}

func buildWasm(out string) error {
	cmd := exec.Command(chromium.GoTool(), "build", "-ldflags=-s -w", "-trimpath", "-o", out, "github.com/kalamstack/kalam-go/examples/browser/app")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the page's wasm: %w\n%s", err, b)
	}
	return nil
}
