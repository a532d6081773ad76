//go:build !js && !wasip1

package kalamcontainer

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/containerd/errdefs"
)

// EmulatorImage is the tag the README and CI give Dockerfile.test's
// emulator stage.
const EmulatorImage = "kalamdb-emulator:test"

// SkipIfNoEngine skips t, with one line saying how to get an engine, when no
// Docker engine answers. Under CI=true it fails t instead: CI provides an
// engine, so a missing one is a broken CI, never a quiet skip.
func SkipIfNoEngine(t testing.TB) {
	t.Helper()
	cli, err := NewDockerClient(context.Background())
	if err != nil {
		skipOrFail(t, err.Error())
		return
	}
	cli.Close()
}

// SkipIfNoImage is SkipIfNoEngine, and also skips (fails under CI=true)
// when img is not present locally, saying how to build the emulator image:
// tests that call it never pull.
func SkipIfNoImage(t testing.TB, img string) {
	t.Helper()
	cli, err := NewDockerClient(context.Background())
	if err != nil {
		skipOrFail(t, err.Error())
		return
	}
	defer cli.Close()
	if _, err := cli.ImageInspect(context.Background(), img); err != nil {
		if !errdefs.IsNotFound(err) {
			t.Fatalf("kalamcontainer: inspect image %s: %v", img, err)
		}
		skipOrFail(t, fmt.Sprintf("image %s is not present locally; the emulator image builds with: "+
			"CGO_ENABLED=0 go build -o kalamdb-emulator ./cmd/kalamdb-emulator && "+
			"docker build -f Dockerfile.test --target emulator -t %s .", img, EmulatorImage))
	}
}

func skipOrFail(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("kalamcontainer: CI=true and %s", msg)
	}
	t.Skipf("kalamcontainer: %s", msg)
}
