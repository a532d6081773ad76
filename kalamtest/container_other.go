//go:build js || wasip1

package kalamtest

import (
	"os"
	"testing"
)

// ImageEnv names the image a container target runs (KALAMTEST_IMAGE=image:tag).
const ImageEnv = "KALAMTEST_IMAGE"

// StartContainerFromEnv: containers need a native build (testcontainers-go
// does not build for js or wasip1), so a set KALAMTEST_IMAGE fails the test
// here rather than quietly testing something else.
func StartContainerFromEnv(t testing.TB) (url, user, password string, ok bool) {
	t.Helper()
	if img := os.Getenv(ImageEnv); img != "" {
		t.Fatalf("kalamtest: %s=%s: containers need a native build, not js or wasip1", ImageEnv, img)
	}
	return "", "", "", false
}
