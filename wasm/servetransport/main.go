// Command servetransport serves the transport conformance suite's server
// side (conformance.TransportHandler) on a loopback port, so that a
// transport compiled to WebAssembly (transport/wasmjs under Node or a
// browser) can run the same suite as the native transports. It prints the
// base URL on its first line and serves until its standard input closes or
// it is signalled.
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/kalamstack/kalam-go/conformance"
)

func main() {
	addr := "127.0.0.1:0"
	if len(os.Args) > 1 {
		addr = os.Args[1]
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("servetransport: listen on %s: %v", addr, err)
	}
	srv := &http.Server{Handler: conformance.TransportHandler()}
	fmt.Printf("http://%s\n", ln.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// The parent closing our stdin means it is done with us.
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatalf("servetransport: %v", err)
	}
}
