//go:build !js && !wasip1

package kalamtest

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func clearTargetEnv(t *testing.T) {
	for _, v := range []string{EnvServerBin, EnvURL, EnvUser, EnvPassword, EnvImage} {
		t.Setenv(v, "")
	}
}

func TestTargetFromEnv(t *testing.T) {
	clearTargetEnv(t)
	name, err := TargetName()
	require.NoError(t, err)
	require.Equal(t, TargetEmulator, name)

	t.Setenv(EnvURL, "http://127.0.0.1:1")
	_, err = TargetName()
	require.ErrorContains(t, err, "KALAMDB_PASSWORD is empty")
	t.Setenv(EnvPassword, "pw")
	name, err = TargetName()
	require.NoError(t, err)
	require.Equal(t, TargetURL, name)

	t.Setenv(EnvServerBin, "/bin/true")
	_, err = TargetName()
	require.ErrorContains(t, err, "only one target at a time: KALAMTEST_SERVER_BIN, KALAMDB_URL")
}

// Start with no variables is the emulator, with its controls; NeedEmulator
// hands them over.
func TestStartDefaultsToEmulator(t *testing.T) {
	clearTargetEnv(t)
	srv := Start(t)
	require.Equal(t, TargetEmulator, srv.Target)
	require.True(t, srv.IsEmulator())
	require.NotNil(t, srv.NeedEmulator(t, "clock"))
}

// An external URL is handed back as named, with root as the default user.
func TestStartExternalURL(t *testing.T) {
	clearTargetEnv(t)
	t.Setenv(EnvURL, "http://127.0.0.1:9/")
	t.Setenv(EnvPassword, "secret-pw")
	srv := Start(t)
	require.Equal(t, Server{URL: "http://127.0.0.1:9", RootUser: "root", RootPassword: "secret-pw", Target: TargetURL}, *srv)
	require.False(t, srv.IsEmulator())
}

func TestStartBinaryMissing(t *testing.T) {
	_, err := StartBinary(context.Background(), BinaryConfig{Bin: filepath.Join(t.TempDir(), "kalamdb-server")})
	require.ErrorContains(t, err, "start kalamdb-server")
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = StartBinary(context.Background(), BinaryConfig{})
	require.ErrorContains(t, err, "no binary named")
}

// A server that dies at start is reported at once, with what it printed
// and the configuration it was given.
func TestStartBinaryExitsEarly(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fake-server")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\necho \"config: $1\"\necho 'FATAL: no storage' >&2\nexit 3\n"), 0o755))
	start := time.Now()
	_, err := StartBinary(context.Background(), BinaryConfig{Bin: bin, Dir: t.TempDir(), StartTimeout: time.Minute})
	require.ErrorContains(t, err, "exited before it was ready")
	require.ErrorContains(t, err, "FATAL: no storage")
	require.ErrorContains(t, err, "server.toml")
	require.Less(t, time.Since(start), 30*time.Second, "an exit is noticed, not waited out")
}

// A server that never answers fails within the start timeout and is killed.
func TestStartBinaryNeverReady(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "fake-server")
	require.NoError(t, os.WriteFile(bin, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755))
	_, err := StartBinary(context.Background(), BinaryConfig{Bin: bin, Dir: t.TempDir(), StartTimeout: 300 * time.Millisecond})
	require.ErrorContains(t, err, "not ready within 300ms")
}

// With KALAMTEST_SERVER_BIN set, Start runs a fresh real server per call.
func TestStartRealServerBinary(t *testing.T) {
	bin := os.Getenv(EnvServerBin)
	if bin == "" {
		t.Skip("needs a kalamdb-server binary: set KALAMTEST_SERVER_BIN")
	}
	srv := Start(t)
	require.Equal(t, TargetBinary, srv.Target)
	require.Nil(t, srv.Emulator)
	require.Contains(t, srv.URL, "http://127.0.0.1:")
}
