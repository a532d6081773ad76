//go:build !js

package sdk_test

import (
	"context"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

// Seed: "Realtime Subscriptions", against the emulator: the snapshot, then
// an insert, an update and a delete made by another statement arrive as
// typed events, in order.
func TestSeedRealtimeSubscriptions(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	mustQuery(t, c, "CREATE NAMESPACE app")
	mustQuery(t, c, "CREATE TABLE app.messages (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	mustQuery(t, c, "INSERT INTO app.messages (id, body) VALUES (9007199254740993, 'before')")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, err := c.Subscribe(ctx, "SELECT * FROM app.messages")
	require.NoError(t, err)
	defer sub.Close()

	var seen []string
	for ev, err := range sub.Events(ctx) {
		require.NoError(t, err)
		switch e := ev.(type) {
		case *sdk.InitialRows:
			for _, row := range e.Rows {
				id, err := row.Int64("id")
				require.NoError(t, err)
				require.Equal(t, int64(9007199254740993), id)
				seen = append(seen, "snapshot:"+mustString(t, row, "body"))
			}
			if e.Ready {
				mustQuery(t, c, "INSERT INTO app.messages (id, body) VALUES (2, 'hello')")
				mustQuery(t, c, "UPDATE app.messages SET body = 'hello again' WHERE id = 2")
				mustQuery(t, c, "DELETE FROM app.messages WHERE id = 2")
			}
		case *sdk.Insert:
			seen = append(seen, "insert:"+mustString(t, e.Rows[0], "body"))
		case *sdk.Update:
			seen = append(seen, "update:"+mustString(t, e.Rows[0], "body"))
		case *sdk.Delete:
			id, err := e.Rows[0].Int64("id")
			require.NoError(t, err)
			require.Equal(t, int64(2), id)
			seen = append(seen, "delete")
		}
		if len(seen) == 4 {
			break
		}
	}
	require.Equal(t, []string{"snapshot:before", "insert:hello", "update:hello again", "delete"}, seen)
}

// Seed: "Live Row Snapshots", against the emulator: whole row sets, the
// first one complete, then one per change.
func TestSeedLiveRowSnapshots(t *testing.T) {
	srv := e2eServer(t)
	c := e2eClient(t, srv)
	mustQuery(t, c, "CREATE NAMESPACE app")
	mustQuery(t, c, "CREATE TABLE app.messages (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED')")
	mustQuery(t, c, "INSERT INTO app.messages (id, body) VALUES (1, 'one'), (2, 'two')")

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	live, err := c.LiveRows(ctx, "SELECT * FROM app.messages")
	require.NoError(t, err)
	defer live.Close()

	bodies := func(rows []sdk.Row) []string {
		out := []string{}
		for _, r := range rows {
			out = append(out, mustString(t, r, "body"))
		}
		return out
	}
	rows, err := live.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"one", "two"}, bodies(rows))

	mustQuery(t, c, "INSERT INTO app.messages (id, body) VALUES (3, 'three')")
	rows, err = live.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"one", "two", "three"}, bodies(rows))

	mustQuery(t, c, "UPDATE app.messages SET body = 'TWO' WHERE id = 2")
	rows, err = live.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"one", "TWO", "three"}, bodies(rows))

	mustQuery(t, c, "DELETE FROM app.messages WHERE id = 1")
	rows, err = live.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"TWO", "three"}, bodies(rows))
}

func mustString(t *testing.T, row sdk.Row, col string) string {
	t.Helper()
	s, err := row.String(col)
	require.NoError(t, err)
	return s
}
