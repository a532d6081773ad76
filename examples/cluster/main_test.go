package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The example runs to the end: its own checks (every row once, the client
// on another node) are its assertions.
func TestExampleRuns(t *testing.T) {
	t.Setenv("KALAMDB_URLS", "")
	t.Setenv("KALAMDB_URL", "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, run(ctx))
}
