package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// http-api.md §11: the real environment variables and defaults.
func TestLoadConfig(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	cfg, err := loadConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.host != "127.0.0.1" || cfg.port != "8080" || cfg.opts.TokenTTL != 24*time.Hour || cfg.opts.RootPassword != "" ||
		cfg.opts.AllowRemoteSetup || cfg.opts.AllowedOrigins != nil || cfg.opts.DataPath != "" {
		t.Fatalf("defaults %+v", cfg)
	}
	cfg, err = loadConfig([]string{"-port", "9000"}, env(map[string]string{
		"KALAMDB_SERVER_HOST":                   "0.0.0.0",
		"KALAMDB_SERVER_PORT":                   "8081",
		"KALAMDB_ROOT_PASSWORD":                 "pw",
		"KALAMDB_JWT_SECRET":                    "s3cret-s3cret-s3cret-s3cret-s3cret",
		"KALAMDB_JWT_EXPIRY_HOURS":              "2",
		"KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS": "http://a.example, http://b.example",
		"KALAMDB_ALLOW_REMOTE_SETUP":            "yes",
		"KALAMDB_DATA_DIR":                      "/tmp/kdb",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.host != "0.0.0.0" || cfg.port != "9000" || cfg.opts.RootPassword != "pw" || cfg.opts.TokenTTL != 2*time.Hour ||
		!cfg.opts.AllowRemoteSetup || len(cfg.opts.AllowedOrigins) != 2 || cfg.opts.AllowedOrigins[1] != "http://b.example" ||
		cfg.opts.DataPath != "/tmp/kdb/kalamdb-emulator.db" || cfg.opts.JWTSecret != "s3cret-s3cret-s3cret-s3cret-s3cret" {
		t.Fatalf("configured %+v", cfg)
	}
	for _, bad := range []map[string]string{
		{"KALAMDB_JWT_EXPIRY_HOURS": "soon"},
		{"KALAMDB_ALLOW_REMOTE_SETUP": "maybe"},
		{"KALAMDB_LOG_LEVEL": "loud"},
	} {
		if _, err := loadConfig(nil, env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// run serves until its context ends, then shuts down cleanly.
func TestRunServesAndShutsDown(t *testing.T) {
	cfg, err := loadConfig([]string{"-port", "0"}, func(k string) string {
		if k == "KALAMDB_ROOT_PASSWORD" {
			return "RootPass123!"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("run ended before listening: %v", err)
	}
	resp, err := http.Post("http://"+addr+"/v1/api/auth/login", "application/json", strings.NewReader(`{"user":"root","password":"RootPass123!"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login status %d", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if _, err := http.Get("http://" + addr + "/health"); err == nil {
		t.Fatal("server still answering after shutdown")
	}
}

// Issue 13 item 5: a load test lifts the WebSocket limits without Go.
func TestLoadConfigWebSocketLimits(t *testing.T) {
	cfg, err := loadConfig([]string{"-ws-max-subscriptions-per-connection", "-1",
		"-ws-max-subscriptions-per-user", "20000", "-ws-max-messages-per-second", "-1"}, func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, -1, cfg.opts.WebSocket.MaxSubscriptionsPerConnection)
	assert.Equal(t, 20000, cfg.opts.WebSocket.MaxSubscriptionsPerUser)
	assert.Equal(t, -1, cfg.opts.WebSocket.MaxMessagesPerSecond)
	_, err = loadConfig([]string{"-ws-max-messages-per-second", "many"}, func(string) string { return "" })
	assert.Error(t, err)
}
