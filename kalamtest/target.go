package kalamtest

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest/emulator"
)

// The environment variables that pick the KalamDB a test runs against.
// Without any of them every suite runs on the embedded emulator.
const (
	// EnvServerBin names a local kalamdb-server binary: Start runs it with a
	// fresh data directory, a free loopback port and a test configuration.
	EnvServerBin = "KALAMTEST_SERVER_BIN"
	// EnvURL names an external server; EnvUser (default root) and
	// EnvPassword log in to it as an admin.
	EnvURL      = "KALAMDB_URL"
	EnvUser     = "KALAMDB_USER"
	EnvPassword = "KALAMDB_PASSWORD"
	// EnvImage names a container image (image:tag) to start per test.
	EnvImage = "KALAMTEST_IMAGE"
)

// Target kinds, in Server.Target.
const (
	TargetEmulator  = "emulator"
	TargetBinary    = "server-binary"
	TargetURL       = "external-url"
	TargetContainer = "container"
)

// Start returns the KalamDB the environment names, ready to log in to, and
// stops it (if it started one) when the test ends:
//
//   - KALAMTEST_SERVER_BIN: a real server binary, a fresh one per call;
//   - KALAMDB_URL with KALAMDB_USER / KALAMDB_PASSWORD: an external server,
//     shared, so tests must isolate themselves by namespace and user;
//   - KALAMTEST_IMAGE: a container of that image;
//   - none of them: the embedded emulator, as NewServer.
//
// Options that configure the emulator apply only to it. A test that needs
// the emulator's controls calls NeedEmulator, which skips elsewhere.
func Start(t testing.TB, opts ...ServerOption) *Server {
	t.Helper()
	target, err := targetFromEnv()
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	var sc serverConfig
	for _, o := range opts {
		o(&sc)
	}
	if sc.needsSetup && (target == TargetURL || target == TargetContainer) {
		t.Skipf("kalamtest: needs a server whose root has no password yet; the %s target's root has one", target)
	}
	switch target {
	case TargetBinary:
		return startBinaryForTest(t, os.Getenv(EnvServerBin), opts...)
	case TargetURL:
		user := os.Getenv(EnvUser)
		if user == "" {
			user = "root"
		}
		return &Server{URL: strings.TrimRight(os.Getenv(EnvURL), "/"), RootUser: user,
			RootPassword: os.Getenv(EnvPassword), Target: TargetURL}
	case TargetContainer:
		url, user, password, _ := StartContainerFromEnv(t)
		return &Server{URL: url, RootUser: user, RootPassword: password, Target: TargetContainer}
	}
	return NewServer(t, opts...)
}

// TargetName says which kind of KalamDB Start would return, for test logs
// and skip messages; an invalid environment is an error.
func TargetName() (string, error) { return targetFromEnv() }

func targetFromEnv() (string, error) {
	var set []string
	for _, v := range []string{EnvServerBin, EnvURL, EnvImage} {
		if os.Getenv(v) != "" {
			set = append(set, v)
		}
	}
	if len(set) > 1 {
		return "", fmt.Errorf("only one target at a time: %s are all set", strings.Join(set, ", "))
	}
	switch {
	case os.Getenv(EnvServerBin) != "":
		return TargetBinary, nil
	case os.Getenv(EnvURL) != "":
		if os.Getenv(EnvPassword) == "" {
			return "", fmt.Errorf("%s is set but %s is empty", EnvURL, EnvPassword)
		}
		return TargetURL, nil
	case os.Getenv(EnvImage) != "":
		return TargetContainer, nil
	}
	return TargetEmulator, nil
}

// NeedEmulator returns the emulator's controls (clock, faults, ExecAs), or
// skips the test with the reason when the target is a real KalamDB.
func (s *Server) NeedEmulator(t testing.TB, why string) *emulator.Server {
	t.Helper()
	if s.Emulator == nil {
		t.Skipf("kalamtest: needs the emulator's test controls (%s); the target is a %s", why, s.Target)
	}
	return s.Emulator
}

// IsEmulator reports whether the server is the embedded emulator.
func (s *Server) IsEmulator() bool { return s.Emulator != nil }

// RandomSuffix returns 8 hex characters for names a test makes on a shared
// server (namespaces, users, topics).
func RandomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
