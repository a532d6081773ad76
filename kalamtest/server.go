// Package kalamtest starts KalamDB servers for tests: the embedded emulator
// on a loopback port (NewServer), or whichever KalamDB the environment names
// (Start): a local server binary, an external URL or a container. Each is
// closed by t.Cleanup.
package kalamtest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// DefaultRootPassword is root's password on a server from NewServer unless
// an option sets another.
const DefaultRootPassword = "kalamtest-root-Pw1!"

// Server is a running emulator.
type Server struct {
	// URL is the base URL, http://127.0.0.1:<port>, without a trailing slash.
	URL string
	// RootUser and RootPassword log in as root (role system).
	RootUser     string
	RootPassword string
	// Emulator gives tests its controls: ExecAs, SetNow, Advance, FailNext,
	// ...; nil when the target is a real KalamDB (see Start, NeedEmulator).
	Emulator *emulator.Server
	// Target is the kind of KalamDB: TargetEmulator, TargetBinary, ...
	Target string
}

// ServerOption configures NewServer.
type ServerOption func(*serverConfig)

type serverConfig struct {
	opts       emulator.Options
	needsSetup bool
}

// NeedsSetup starts a server whose root has no password yet, so login
// answers 428 until POST /v1/api/auth/setup runs: on the emulator and on a
// real server binary alike.
func NeedsSetup() ServerOption {
	return func(c *serverConfig) { c.needsSetup = true }
}

// WithEmulatorOptions lets fn adjust the emulator's options before it
// starts (RootPassword, TokenTTL, rate limits, ...).
func WithEmulatorOptions(fn func(*emulator.Options)) ServerOption {
	return func(c *serverConfig) { fn(&c.opts) }
}

// NewServer starts an in-memory emulator on 127.0.0.1 with root's password
// set, and stops it when the test ends. Set RootPassword to "" through
// WithEmulatorOptions to get a server that needs setup.
func NewServer(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	srv, stop, err := startServer(opts...)
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("kalamtest: %v", err)
		}
	})
	return srv
}

// startServer starts the emulator and returns the function that stops it.
func startServer(opts ...ServerOption) (*Server, func() error, error) {
	cfg := serverConfig{opts: emulator.Options{RootPassword: DefaultRootPassword}}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.needsSetup {
		cfg.opts.RootPassword = ""
	}
	emu, err := emulator.New(cfg.opts)
	if err != nil {
		return nil, nil, fmt.Errorf("start emulator: %w", err)
	}
	hs := httptest.NewUnstartedServer(emu)
	// Like the real server (enable_http2 defaults to true), accept HTTP/2
	// with prior knowledge over cleartext besides HTTP/1.1.
	hs.Config.Protocols = new(http.Protocols)
	hs.Config.Protocols.SetHTTP1(true)
	hs.Config.Protocols.SetUnencryptedHTTP2(true)
	hs.Start()
	stop := func() error {
		hs.Close()
		if err := emu.Close(); err != nil {
			return fmt.Errorf("close emulator: %w", err)
		}
		return nil
	}
	return &Server{URL: hs.URL, RootUser: "root", RootPassword: cfg.opts.RootPassword, Emulator: emu, Target: TargetEmulator}, stop, nil
}
