// Command kalamdb-emulator serves the KalamDB emulator as a standalone
// server, configured like the real kalamdb-server through the same
// environment variables and defaults (kalamdb/http-api.md §11), so browsers
// and clients in other languages can test against it.
//
//	KALAMDB_SERVER_HOST                    bind host (127.0.0.1)
//	KALAMDB_SERVER_PORT                    bind port (8080)
//	KALAMDB_ROOT_PASSWORD                  root's password ("" = setup required)
//	KALAMDB_JWT_SECRET                     HS256 secret (CHANGE_ME_IN_PRODUCTION)
//	KALAMDB_JWT_EXPIRY_HOURS               access-token hours (24; refresh 7×)
//	KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS  CSV or * (empty = any)
//	KALAMDB_ALLOW_REMOTE_SETUP             true/1/yes opens /auth/setup remotely
//	KALAMDB_DATA_DIR                       database directory ("" = in memory)
//	KALAMDB_RATE_LIMIT_AUTH_REQUESTS_PER_IP_PER_SEC  auth limit (20)
//
// Flags override the environment; -h lists them and exits 0. At start it
// prints which credentials work, or how to finish setup when root has no
// password (the real server's first-start mode).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// config is the server's settings after env and flags.
type config struct {
	host, port      string
	opts            emulator.Options
	dataDir         string
	logLevel        slog.Level
	shutdownTimeout time.Duration
	// banner, when not nil, receives the start-up notes for a human: the
	// address and which credentials work (or how to set them up).
	banner io.Writer
}

// helpError carries the usage text -h asks for; main prints it and exits 0.
type helpError struct{ usage string }

func (helpError) Error() string { return "help requested" }

const description = `kalamdb-emulator serves the KalamDB emulator (kalam-go's kalamtest/emulator:
SQLite underneath) as a standalone server speaking KalamDB's HTTP and WebSocket
protocol, for browsers, other languages and manual tries. It reads the real
kalamdb-server's environment variables; flags override them.

Like the real server at first start, root has no password unless
KALAMDB_ROOT_PASSWORD (or -root-password) is set: logins then answer 428
setup_required until POST /v1/api/auth/setup creates a DBA user and root's
password. The start-up banner says which case applies.

Usage:
  kalamdb-emulator [flags]

Flags:
`

const envHelp = `
Environment variables (flags take precedence):
  KALAMDB_SERVER_HOST                    bind host (127.0.0.1)
  KALAMDB_SERVER_PORT                    bind port (8080)
  KALAMDB_ROOT_PASSWORD                  root's password at first start ("" = setup required)
  KALAMDB_JWT_SECRET                     HS256 secret (CHANGE_ME_IN_PRODUCTION)
  KALAMDB_JWT_EXPIRY_HOURS               access-token hours (24; refresh tokens 7x)
  KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS  allowed origins, CSV or * (empty = any)
  KALAMDB_ALLOW_REMOTE_SETUP             true/1/yes opens /auth/setup and /auth/status to remote peers
  KALAMDB_DATA_DIR                       database directory ("" = in memory, lost at exit)
  KALAMDB_RATE_LIMIT_AUTH_REQUESTS_PER_IP_PER_SEC  auth requests per IP per second (20)
  KALAMDB_LOG_LEVEL                      error, warn, info, debug or trace (info)
`

func main() {
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	var help helpError
	if errors.As(err, &help) {
		fmt.Print(help.usage)
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kalamdb-emulator:", err)
		fmt.Fprintln(os.Stderr, "run kalamdb-emulator -h for the flags and environment variables")
		os.Exit(2)
	}
	cfg.banner = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: cfg.logLevel}))
	if err := run(ctx, cfg, logger, nil); err != nil {
		fmt.Fprintln(os.Stderr, "kalamdb-emulator:", err)
		os.Exit(1)
	}
}

// loadConfig reads the real server's environment variables, then flags.
func loadConfig(args []string, getenv func(string) string) (config, error) {
	cfg := config{host: "127.0.0.1", port: "8080", shutdownTimeout: 10 * time.Second}
	envOr := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	cfg.host = envOr("KALAMDB_SERVER_HOST", cfg.host)
	cfg.port = envOr("KALAMDB_SERVER_PORT", cfg.port)
	cfg.opts.RootPassword = getenv("KALAMDB_ROOT_PASSWORD")
	cfg.opts.JWTSecret = getenv("KALAMDB_JWT_SECRET")
	cfg.dataDir = getenv("KALAMDB_DATA_DIR")
	expiryHours := envOr("KALAMDB_JWT_EXPIRY_HOURS", "24")
	origins := getenv("KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS")
	remoteSetup := getenv("KALAMDB_ALLOW_REMOTE_SETUP")
	authLimit := envOr("KALAMDB_RATE_LIMIT_AUTH_REQUESTS_PER_IP_PER_SEC", "0")
	logLevel := envOr("KALAMDB_LOG_LEVEL", "info")

	fs := flag.NewFlagSet("kalamdb-emulator", flag.ContinueOnError)
	fs.StringVar(&cfg.host, "host", cfg.host, "bind host (KALAMDB_SERVER_HOST)")
	fs.StringVar(&cfg.port, "port", cfg.port, "bind port (KALAMDB_SERVER_PORT)")
	fs.StringVar(&cfg.opts.RootPassword, "root-password", cfg.opts.RootPassword, "root password at first start (KALAMDB_ROOT_PASSWORD)")
	fs.StringVar(&cfg.opts.JWTSecret, "jwt-secret", cfg.opts.JWTSecret, "JWT HS256 secret (KALAMDB_JWT_SECRET)")
	fs.StringVar(&expiryHours, "jwt-expiry-hours", expiryHours, "access-token lifetime in hours; refresh tokens last 7x (KALAMDB_JWT_EXPIRY_HOURS)")
	fs.StringVar(&origins, "cors-origins", origins, "allowed CORS origins, CSV or * (KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS)")
	fs.StringVar(&remoteSetup, "allow-remote-setup", remoteSetup, "allow /auth/setup from remote peers: true/1/yes (KALAMDB_ALLOW_REMOTE_SETUP)")
	fs.StringVar(&cfg.dataDir, "data-dir", cfg.dataDir, "keep the database in this directory; empty keeps it in memory (KALAMDB_DATA_DIR)")
	fs.StringVar(&authLimit, "auth-rate-limit", authLimit, "auth requests per IP per second; 0 = 20, negative = off")
	fs.StringVar(&logLevel, "log-level", logLevel, "error, warn, info or debug (KALAMDB_LOG_LEVEL)")
	fs.DurationVar(&cfg.shutdownTimeout, "shutdown-timeout", cfg.shutdownTimeout, "how long a shutdown waits for requests in flight")
	sqlLimit := fs.Int("sql-rate-limit", 0, "queries per user per second; 0 = 100, negative = off")
	fs.IntVar(&cfg.opts.WebSocket.MaxSubscriptionsPerConnection, "ws-max-subscriptions-per-connection", 0, "live subscriptions per WebSocket; 0 = 100, negative = no limit")
	fs.IntVar(&cfg.opts.WebSocket.MaxSubscriptionsPerUser, "ws-max-subscriptions-per-user", 0, "live subscriptions per user across connections; 0 = 10, negative = no limit")
	fs.IntVar(&cfg.opts.WebSocket.MaxMessagesPerSecond, "ws-max-messages-per-second", 0, "client messages per WebSocket per second; 0 = 50, negative = no limit")
	// Usage goes to stdout through helpError; parse errors are returned.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			b.WriteString(description)
			fs.SetOutput(&b)
			fs.PrintDefaults()
			b.WriteString(envHelp)
			return cfg, helpError{b.String()}
		}
		return cfg, err
	}

	hours, err := strconv.ParseFloat(expiryHours, 64)
	if err != nil || hours <= 0 {
		return cfg, fmt.Errorf("KALAMDB_JWT_EXPIRY_HOURS: %q is not a positive number of hours", expiryHours)
	}
	cfg.opts.TokenTTL = time.Duration(hours * float64(time.Hour))
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			cfg.opts.AllowedOrigins = append(cfg.opts.AllowedOrigins, o)
		}
	}
	switch strings.ToLower(strings.TrimSpace(remoteSetup)) {
	case "true", "1", "yes":
		cfg.opts.AllowRemoteSetup = true
	case "", "false", "0", "no":
	default:
		return cfg, fmt.Errorf("KALAMDB_ALLOW_REMOTE_SETUP: %q is not true/1/yes or false/0/no", remoteSetup)
	}
	if cfg.opts.AuthRateLimit, err = strconv.Atoi(authLimit); err != nil {
		return cfg, fmt.Errorf("auth rate limit: %q is not an integer", authLimit)
	}
	cfg.opts.SQLRateLimit = *sqlLimit
	if err := cfg.logLevel.UnmarshalText([]byte(logLevel)); err != nil {
		if strings.EqualFold(logLevel, "trace") {
			cfg.logLevel = slog.LevelDebug
		} else {
			return cfg, fmt.Errorf("log level: %q is not error, warn, info, debug or trace", logLevel)
		}
	}
	if cfg.dataDir != "" {
		cfg.opts.DataPath = filepath.Join(cfg.dataDir, "kalamdb-emulator.db")
	}
	return cfg, nil
}

// run serves until ctx ends (SIGINT or SIGTERM), then shuts down cleanly:
// requests in flight finish, new connections are refused. ready, when not
// nil, receives the listening address.
func run(ctx context.Context, cfg config, logger *slog.Logger, ready chan<- string) error {
	cfg.opts.Logger = logger
	if cfg.dataDir != "" {
		if err := os.MkdirAll(cfg.dataDir, 0o755); err != nil {
			return fmt.Errorf("data dir: %w", err)
		}
	}
	emu, err := emulator.New(cfg.opts)
	if err != nil {
		return err
	}
	defer emu.Close()

	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.host, cfg.port))
	if err != nil {
		return err
	}
	// Header and keep-alive timeouts as the real server (the emulator itself
	// bounds request bodies).
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: emulator.DefaultReadHeaderTimeout, IdleTimeout: 75 * time.Second, Protocols: new(http.Protocols)}
	// HTTP/1.1 and h2c with prior knowledge, as the real server's bind_auto_h2c.
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	logger.Info("kalamdb-emulator listening", "addr", "http://"+ln.Addr().String(),
		"version", emulator.Version, "persistent", cfg.dataDir != "")
	if cfg.banner != nil {
		writeBanner(cfg.banner, "http://"+ln.Addr().String(), emu.NeedsSetup(), cfg.dataDir)
	}

	if ready != nil {
		ready <- ln.Addr().String()
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// writeBanner tells a human what to do first. The real server logs that
// root was created without a password (then logins answer 428) or with
// KALAMDB_ROOT_PASSWORD; the emulator says the same with the commands.
func writeBanner(w io.Writer, base string, needsSetup bool, dataDir string) {
	fmt.Fprintf(w, "\nKalamDB emulator %s at %s (WebSocket %s/v1/ws)\n", emulator.Version, base, "ws"+strings.TrimPrefix(base, "http"))
	if dataDir == "" {
		fmt.Fprintln(w, "Data is in memory and is lost at exit (set KALAMDB_DATA_DIR or -data-dir to keep it).")
	} else {
		fmt.Fprintf(w, "Data is kept in %s.\n", dataDir)
	}
	if needsSetup {
		fmt.Fprintf(w, `Setup required: root has no password and cannot log in (an empty password answers 428 setup_required).
Create a DBA user and root's password once (from this machine), then log in as that user:
  curl -s -X POST %[1]s/v1/api/auth/setup -H 'Content-Type: application/json' \
    -d '{"user":"admin","password":"AdminPass123!","root_password":"RootPass123!"}'
  curl -s -X POST %[1]s/v1/api/auth/login -H 'Content-Type: application/json' \
    -d '{"user":"admin","password":"AdminPass123!"}'
Or restart with KALAMDB_ROOT_PASSWORD=... (or -root-password) to log in as root directly.
`, base)
	} else {
		fmt.Fprintf(w, `Log in as root with the root password (KALAMDB_ROOT_PASSWORD / -root-password):
  curl -s -X POST %[1]s/v1/api/auth/login -H 'Content-Type: application/json' \
    -d '{"user":"root","password":"<root password>"}'
`, base)
	}
	fmt.Fprintln(w, "Stop with Ctrl-C. kalamdb-emulator -h lists flags and environment variables.")
	fmt.Fprintln(w)
}
