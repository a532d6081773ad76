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
// Flags override the environment; -h lists them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
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
}

func main() {
	cfg, err := loadConfig(os.Args[1:], os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kalamdb-emulator:", err)
		os.Exit(2)
	}
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
	if err := fs.Parse(args); err != nil {
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
	srv := &http.Server{Handler: emu, ReadHeaderTimeout: 30 * time.Second, Protocols: new(http.Protocols)}
	// HTTP/1.1 and h2c with prior knowledge, as the real server's bind_auto_h2c.
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	logger.Info("kalamdb-emulator listening", "addr", "http://"+ln.Addr().String(),
		"version", emulator.Version, "persistent", cfg.dataDir != "")

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
