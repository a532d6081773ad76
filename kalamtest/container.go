//go:build !js && !wasip1

package kalamtest

import (
	"context"
	"os"
	"testing"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"

	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
)

// StartContainerFromEnv starts a container of the image KALAMTEST_IMAGE
// names, with kalamcontainer's test configuration, removes it when the test
// ends, and returns where root logs in. ok is false when the variable is
// unset. The variable asks for a container explicitly, so a missing Docker
// engine or a failed start fails the test (with the container's logs).
func StartContainerFromEnv(t testing.TB) (url, user, password string, ok bool) {
	t.Helper()
	img := os.Getenv(EnvImage)
	if img == "" {
		return "", "", "", false
	}
	ctr, err := kalamcontainer.Run(context.Background(), img, testcontainers.WithLogger(tclog.TestLogger(t)))
	testcontainers.CleanupContainer(t, ctr)
	if err != nil {
		t.Fatalf("kalamtest: %s=%s: %v", EnvImage, img, err)
	}
	return ctr.URL, ctr.RootUser, ctr.RootPassword, true
}
