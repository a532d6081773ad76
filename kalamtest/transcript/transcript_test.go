//go:build !js && !wasip1

package transcript_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kalamstack/kalam-go/kalamtest"
	"github.com/kalamstack/kalam-go/kalamtest/emulator"
	"github.com/kalamstack/kalam-go/kalamtest/transcript"
	"github.com/stretchr/testify/require"
)

const testdata = "testdata"

// The emulator configured as kalamtest configures a real server binary
// (kalamtest.StartBinary's server.toml), so both answer the same scenario
// under the same settings.
func replayServer(t *testing.T, sc transcript.Scenario) *kalamtest.Server {
	opts := []kalamtest.ServerOption{kalamtest.WithEmulatorOptions(func(o *emulator.Options) {
		o.JWTSecret = transcript.JWTSecret
		o.SQLRateLimit, o.AuthRateLimit, o.IPRateLimit = 100000, 10000, 100000
		o.AllowedOrigins = []string{"*"}
	})}
	if sc.NeedsSetup {
		opts = append(opts, kalamtest.NeedsSetup())
	}
	return kalamtest.NewServer(t, opts...)
}

// Every recorded transcript replays against the emulator with no
// difference but the listed known ones.
func TestReplayAgainstEmulator(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(testdata, "*.json"))
	require.NoError(t, err)
	recorded := map[string]bool{}
	for _, f := range files {
		recorded[strings.TrimSuffix(filepath.Base(f), ".json")] = true
	}
	exchanges := 0
	for _, sc := range transcript.Scenarios {
		require.True(t, recorded[sc.Name], "scenario %s has no transcript: record it against a real server (see package doc)", sc.Name)
		delete(recorded, sc.Name)
		t.Run(sc.Name, func(t *testing.T) {
			want, err := transcript.Load(filepath.Join(testdata, sc.Name+".json"))
			require.NoError(t, err)
			exchanges += len(want.Exchanges)
			srv := replayServer(t, sc)
			got := transcript.Run(context.Background(), sc, srv.URL, srv.RootPassword, "emulator")
			if diffs := transcript.Diff(want, got); len(diffs) > 0 {
				t.Errorf("the emulator differs from %s in %d exchange(s):\n%s", want.Server, len(diffs), strings.Join(diffs, "\n"))
			}
		})
	}
	require.Empty(t, recorded, "transcripts without a scenario")
	require.GreaterOrEqual(t, exchanges, 150, "recorded exchanges")
}

// TestRecord records every scenario against the real KalamDB the
// environment names (one fresh server per scenario with
// KALAMTEST_SERVER_BIN) when KALAMTEST_RECORD=1.
func TestRecord(t *testing.T) {
	if os.Getenv("KALAMTEST_RECORD") != "1" {
		t.Skip("recording runs only with KALAMTEST_RECORD=1 and a real server (KALAMTEST_SERVER_BIN, KALAMDB_URL or KALAMTEST_IMAGE)")
	}
	target, err := kalamtest.TargetName()
	require.NoError(t, err)
	require.NotEqual(t, kalamtest.TargetEmulator, target, "record a real server, not the emulator")
	only := os.Getenv("KALAMTEST_SCENARIO")
	for _, sc := range transcript.Scenarios {
		if only != "" && only != sc.Name {
			continue
		}
		t.Run(sc.Name, func(t *testing.T) {
			var opts []kalamtest.ServerOption
			if sc.NeedsSetup {
				opts = append(opts, kalamtest.NeedsSetup())
			}
			srv := kalamtest.Start(t, opts...)
			name := os.Getenv("KALAMTEST_SERVER_NAME")
			if name == "" {
				name = "kalamdb-server 0.4.2-rc.3"
			}
			tr := transcript.Run(context.Background(), sc, srv.URL, srv.RootPassword, name)
			require.NoError(t, transcript.Save(testdata, tr))
			t.Logf("%s: %d exchanges", sc.Name, len(tr.Exchanges))
		})
	}
}
