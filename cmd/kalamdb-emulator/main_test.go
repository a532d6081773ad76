package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
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
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", cfg.host)
	require.Equal(t, "8080", cfg.port)
	require.Equal(t, 24*time.Hour, cfg.opts.TokenTTL)
	require.Equal(t, "", cfg.opts.RootPassword)
	require.False(t, cfg.opts.AllowRemoteSetup)
	require.Nil(t, cfg.opts.AllowedOrigins)
	require.Equal(t, "", cfg.opts.DataPath, "defaults %+v", cfg)
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
	require.NoError(t, err)
	require.Equal(t, "0.0.0.0", cfg.host)
	require.Equal(t, "9000", cfg.port)
	require.Equal(t, "pw", cfg.opts.RootPassword)
	require.Equal(t, 2*time.Hour, cfg.opts.TokenTTL)
	require.True(t, cfg.opts.AllowRemoteSetup)
	require.Len(t, cfg.opts.AllowedOrigins, 2)
	require.Equal(t, "http://b.example", cfg.opts.AllowedOrigins[1])
	require.Equal(t, "/tmp/kdb/kalamdb-emulator.db", cfg.opts.DataPath)
	require.Equal(t, "s3cret-s3cret-s3cret-s3cret-s3cret", cfg.opts.JWTSecret, "configured %+v", cfg)
	for _, bad := range []map[string]string{
		{"KALAMDB_JWT_EXPIRY_HOURS": "soon"},
		{"KALAMDB_ALLOW_REMOTE_SETUP": "maybe"},
		{"KALAMDB_LOG_LEVEL": "loud"},
	} {
		_, err := loadConfig(nil, env(bad))
		assert.Error(t, err, "%v accepted", bad)
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
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		require.FailNow(t, fmt.Sprintf("run ended before listening: %v", err))
	}
	resp, err := http.Post("http://"+addr+"/v1/api/auth/login", "application/json", strings.NewReader(`{"user":"root","password":"RootPass123!"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, "login status %d", resp.StatusCode)
	cancel()
	require.NoError(t, <-done, "run")
	_, err = http.Get("http://" + addr + "/health")
	require.Error(t, err, "server still answering after shutdown")
}

// -h prints what the command is, its flags and the environment it reads.
func TestHelp(t *testing.T) {
	_, err := loadConfig([]string{"-h"}, func(string) string { return "" })
	var help helpError
	require.ErrorAs(t, err, &help)
	for _, want := range []string{"standalone server", "setup_required", "-root-password", "-data-dir", "KALAMDB_ROOT_PASSWORD", "KALAMDB_DATA_DIR", "KALAMDB_LOG_LEVEL"} {
		assert.Contains(t, help.usage, want)
	}
	_, err = loadConfig([]string{"-no-such-flag"}, func(string) string { return "" })
	require.ErrorContains(t, err, "no-such-flag")
	require.NotErrorAs(t, err, &help)
}

// The binary itself: -h exits 0 and prints to stdout.
func TestHelpExitsZero(t *testing.T) {
	if os.Getenv("KALAMDB_EMULATOR_TEST_MAIN") == "1" {
		os.Args = []string{"kalamdb-emulator", "-h"}
		main()
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelpExitsZero$")
	cmd.Env = append(os.Environ(), "KALAMDB_EMULATOR_TEST_MAIN=1")
	out, err := cmd.Output()
	require.NoError(t, err, "exit status of -h")
	require.Contains(t, string(out), "Usage:\n  kalamdb-emulator [flags]")
}

// The banner says setup is required when root has no password, and that
// the commands it prints work: setup, then login as the new user.
func TestBannerSetupFlow(t *testing.T) {
	cfg, err := loadConfig([]string{"-port", "0"}, func(string) string { return "" })
	require.NoError(t, err)
	var banner bytes.Buffer
	cfg.banner = &banner
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		require.FailNow(t, fmt.Sprintf("run ended before listening: %v", err))
	}
	base := "http://" + addr
	require.Contains(t, banner.String(), "Setup required")
	require.Contains(t, banner.String(), base+"/v1/api/auth/setup")
	post := func(path, body string) int {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	require.Equal(t, http.StatusPreconditionRequired, post("/v1/api/auth/login", `{"user":"root","password":""}`))
	require.Equal(t, http.StatusOK, post("/v1/api/auth/setup", `{"user":"admin","password":"AdminPass123!","root_password":"RootPass123!"}`))
	require.Equal(t, http.StatusOK, post("/v1/api/auth/login", `{"user":"admin","password":"AdminPass123!"}`))
	cancel()
	require.NoError(t, <-done)

	var configured bytes.Buffer
	writeBanner(&configured, base, false, "/data")
	require.Contains(t, configured.String(), `"user":"root"`)
	require.Contains(t, configured.String(), "kept in /data")
	require.NotContains(t, configured.String(), "Setup required")
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
