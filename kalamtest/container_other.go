//go:build js || wasip1

package kalamtest

import (
	"os"
	"testing"
)

// StartContainerFromEnv: containers need a native build (testcontainers-go
// does not build for js or wasip1), so a set KALAMTEST_IMAGE fails the test
// here rather than quietly testing something else.
func StartContainerFromEnv(t testing.TB) (url, user, password string, ok bool) {
	t.Helper()
	if img := os.Getenv(EnvImage); img != "" {
		t.Fatalf("kalamtest: %s=%s: containers need a native build, not js or wasip1", EnvImage, img)
	}
	return "", "", "", false
}
