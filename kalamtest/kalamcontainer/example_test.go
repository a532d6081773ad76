//go:build !js && !wasip1

package kalamcontainer_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/testcontainers/testcontainers-go"

	"github.com/kalamstack/kalam-go/kalamtest/kalamcontainer"
	"github.com/kalamstack/kalam-go/sdk"
)

// A KalamDB in a container, configured for a test, then the SDK against it.
// In a test, call testcontainers.CleanupContainer(t, ctr) right after Run.
func ExampleRun() {
	ctx := context.Background()
	ctr, err := kalamcontainer.Run(ctx, kalamcontainer.DefaultImage,
		kalamcontainer.WithRootPassword("Example-Root-Pw1!"),
		kalamcontainer.WithCORS("http://localhost:5173"),
		kalamcontainer.WithJWTSecret("a-secret-of-at-least-32-characters!!"),
		testcontainers.WithEnv(map[string]string{"KALAMDB_LOG_LEVEL": "debug"}),
	)
	if err != nil {
		log.Fatal(err) // says which step failed, with the container's logs
	}
	defer ctr.Terminate(ctx)

	client, err := sdk.New(ctr.URL, sdk.WithBasicAuth(ctr.RootUser, ctr.RootPassword))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	res, err := client.Query(ctx, "SELECT 1 AS one")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res)
}

// Three KalamDB containers as one cluster; node 3 cut off from its peers
// and back. In a test, register c.Terminate with t.Cleanup right after
// RunCluster.
func ExampleRunCluster() {
	ctx := context.Background()
	c, err := kalamcontainer.RunCluster(ctx, "kalamdb-real:local", 3,
		kalamcontainer.WithStartTimeout(3*time.Minute))
	if err != nil {
		log.Fatal(err) // ErrNoCluster for the emulator image
	}
	defer c.Terminate(ctx)

	client, err := sdk.New(c.Nodes[0].URL, sdk.WithBasicAuth(c.RootUser, c.RootPassword))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	if err := c.Nodes[2].Partition(ctx); err != nil {
		log.Fatal(err)
	}
	// ... node 3 answers clients but cannot write; nodes 1 and 2 go on ...
	if err := c.Nodes[2].Heal(ctx); err != nil {
		log.Fatal(err)
	}
	if err := c.WaitFormed(ctx); err != nil {
		log.Fatal(err)
	}
}
