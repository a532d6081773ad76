package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestExampleRuns(t *testing.T) {
	t.Setenv("KALAMDB_URL", "") // always the embedded emulator
	require.NoError(t, run(context.Background()))
}
