package engine

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	root  = Identity{UserID: "root", Role: RoleSystem}
	alice = Identity{UserID: "alice", Role: RoleUser}
	bob   = Identity{UserID: "bob", Role: RoleUser}
	svc   = Identity{UserID: "svc", Role: RoleService}
	dba   = Identity{UserID: "admin", Role: RoleDBA}
)

// fakeClock is a settable engine clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// newTestEngine starts an engine with users alice, bob (user), svc
// (service) and admin (dba), and namespace app.
func newTestEngine(t testing.TB, opts Options) *Engine {
	t.Helper()
	if opts.RootPassword == "" {
		opts.RootPassword = "RootPass1!"
	}
	e, err := New(opts)
	require.NoError(t, err, "New")
	t.Cleanup(func() {
		assert.NoError(t, e.Close(), "Close")
	})
	mustExec(t, e, root, `CREATE NAMESPACE app;
		CREATE USER alice WITH PASSWORD 'pw' ROLE user;
		CREATE USER bob WITH PASSWORD 'pw' ROLE user;
		CREATE USER svc WITH PASSWORD 'pw' ROLE service;
		CREATE USER admin WITH PASSWORD 'pw' ROLE dba`)
	return e
}

func exec(e *Engine, id Identity, sql string, params ...any) ([]Result, *Error) {
	return e.Execute(Request{Identity: id, SQL: sql, Params: params})
}

func mustExec(t testing.TB, e *Engine, id Identity, sql string, params ...any) []Result {
	t.Helper()
	res, err := exec(e, id, sql, params...)
	require.Nil(t, err, "Execute(%q) as %s: %v", sql, id.UserID, err)
	return res
}

func mustFail(t testing.TB, e *Engine, id Identity, sql string, params ...any) *Error {
	t.Helper()
	res, err := exec(e, id, sql, params...)
	require.NotNil(t, err, "Execute(%q) as %s succeeded with %+v; want an error", sql, id.UserID, res)
	return err
}

// rowsJSON renders a result's rows compactly for comparisons.
func rowsJSON(t testing.TB, r Result) string {
	t.Helper()
	b, err := json.Marshal(r.Rows)
	require.NoError(t, err, "marshal rows")
	return string(b)
}

func schemaJSON(t testing.TB, r Result) string {
	t.Helper()
	b, err := json.Marshal(r.Schema)
	require.NoError(t, err, "marshal schema")
	return string(b)
}

func queryRowsJSON(t testing.TB, e *Engine, id Identity, sql string, params ...any) string {
	t.Helper()
	res := mustExec(t, e, id, sql, params...)
	require.Len(t, res, 1, "%q gave %d results, want 1", sql, len(res))
	return rowsJSON(t, res[0])
}

func wantContains(t testing.TB, got, want string) {
	t.Helper()
	require.Contains(t, got, want, "got %q\nwant it to contain %q", got, want)
}
