//go:build !js

package sdk_test

import (
	"context"
	"testing"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/sdk/internal/realtime/fakews"
	"github.com/stretchr/testify/require"
)

func ids(t *testing.T, rows []sdk.Row) []string {
	t.Helper()
	out := make([]string, len(rows))
	for i, r := range rows {
		id, err := r.String("id")
		require.NoError(t, err)
		out[i] = id
	}
	return out
}

func nextRows(t *testing.T, l *sdk.LiveRows) []sdk.Row {
	t.Helper()
	rows, err := l.Next(waitCtx(t))
	require.NoError(t, err)
	return rows
}

// Official SDK defect R3: an empty row set was emitted on every ack, so
// UIs flashed an empty list before the first batch.
func TestDefectR3LiveRowsNoEmptyFlashBeforeSnapshot(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 5)
	c, _ := rtClient(t, srv)
	l, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(2))
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, []string{"r-00", "r-01", "r-02", "r-03", "r-04"}, ids(t, nextRows(t, l)), "the first update is the whole snapshot")
}

// Official SDK defect R4: rows were keyed by a column named "id" only and
// updated rows moved to the end. Here the key comes from the schema's pk
// flags (or KeyColumns) and rows keep their place.
func TestDefectR4LiveRowsKeyedByPrimaryKeyStableOrder(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 3)
	c, _ := rtClient(t, srv)
	l, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, []string{"r-00", "r-01", "r-02"}, ids(t, nextRows(t, l)))
	srv.Update("app.t", "r-00", map[string]any{"body": "edited"})
	rows := nextRows(t, l)
	require.Equal(t, []string{"r-00", "r-01", "r-02"}, ids(t, rows), "an update keeps the row's position")
	body, _ := rows[0].String("body")
	require.Equal(t, "edited", body)
	srv.Insert("app.t", "r-03", nil)
	require.Equal(t, []string{"r-00", "r-01", "r-02", "r-03"}, ids(t, nextRows(t, l)))
	srv.Delete("app.t", "r-01")
	require.Equal(t, []string{"r-00", "r-02", "r-03"}, ids(t, nextRows(t, l)))

	srv.Insert("app.k", "a", map[string]any{"body": "x"})
	srv.Insert("app.k", "b", map[string]any{"body": "x"})
	srv.Insert("app.k", "c", map[string]any{"body": "y"})
	byBody, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.k", sdk.KeyColumns("body"))
	require.NoError(t, err)
	defer byBody.Close()
	require.Equal(t, []string{"b", "c"}, ids(t, nextRows(t, byBody)), "keyed by body: b replaced a in place")
}

func TestLiveRowsLimitKeepsNewest(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 3)
	c, _ := rtClient(t, srv)
	l, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t", sdk.Limit(2))
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, []string{"r-01", "r-02"}, ids(t, nextRows(t, l)))
	srv.Insert("app.t", "r-03", nil)
	require.Equal(t, []string{"r-02", "r-03"}, ids(t, nextRows(t, l)))
}

// After a reconnect the set is fetched whole and swapped in: a row deleted
// while the client was away disappears (a from-based resume would never
// learn of it), and rows changed meanwhile are not duplicated.
func TestLiveRowsCorrectAfterResume(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 3)
	c, tr := rtClient(t, srv)
	l, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t", sdk.BatchSize(2))
	require.NoError(t, err)
	defer l.Close()
	require.Equal(t, []string{"r-00", "r-01", "r-02"}, ids(t, nextRows(t, l)))
	tr.FailNext(2)
	srv.CutAll()
	srv.Delete("app.t", "r-01")
	srv.Update("app.t", "r-02", map[string]any{"body": "offline edit"})
	srv.Insert("app.t", "r-03", nil)
	var rows []sdk.Row
	eventually(t, "the resynced set", func() bool {
		rows = nextRows(t, l)
		return len(rows) == 3
	})
	require.Equal(t, []string{"r-00", "r-02", "r-03"}, ids(t, rows))
	body, _ := rows[1].String("body")
	require.Equal(t, "offline edit", body)
}

func TestLiveRowsUpdatesIterator(t *testing.T) {
	srv := fakews.New()
	seed(srv, "app.t", "r", 1)
	c, _ := rtClient(t, srv)
	l, err := c.LiveRows(waitCtx(t), "SELECT * FROM app.t")
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(waitCtx(t))
	defer cancel()
	var sizes []int
	for rows, err := range l.Updates(ctx) {
		require.NoError(t, err)
		sizes = append(sizes, len(rows))
		if len(rows) == 1 {
			srv.Insert("app.t", "r-01", nil)
		} else {
			l.Close()
		}
	}
	require.Equal(t, []int{1, 2}, sizes)
}
