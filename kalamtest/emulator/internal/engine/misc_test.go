package engine

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestUsers covers root bootstrap, CheckPassword, soft delete and setup
// (http-api §4.6-4.7, sql-model §8).
func TestUsers(t *testing.T) {
	e, err := New(Options{})
	require.NoError(t, err)
	defer e.Close()
	require.False(t, e.RootHasPassword(), "root has a password without RootPassword")
	if _, ok := e.CheckPassword("root", ""); ok {
		require.FailNow(t, "root without password matched an empty password")
	}
	rootUser, ok := e.LookupUser("root")
	require.True(t, ok)
	require.Equal(t, RoleSystem, rootUser.Role)
	require.NotNil(t, rootUser.Email)
	require.Equal(t, "root@localhost", *rootUser.Email)
	require.False(t, rootUser.HasPassword, "root: %+v", rootUser)
	email := "ops@example.com"
	u, serr := e.SetupServer("ops", "OpsPass1!", "RootPass1!", &email)
	require.NoError(t, serr)
	require.Equal(t, "ops", u.ID)
	require.Equal(t, RoleDBA, u.Role, "SetupServer: %+v %v", u, serr)
	require.True(t, e.RootHasPassword(), "root has no password after setup")
	_, ok = e.CheckPassword("root", "RootPass1!")
	require.True(t, ok, "root password does not match after setup")
	_, ok = e.CheckPassword("ops", "wrong")
	require.False(t, ok, "wrong password matched")
	_, err = e.SetupServer("ops", "x", "y", nil)
	require.Error(t, err, "second setup with an existing user succeeded")
	mustExec(t, e, root, `CREATE USER 'dave' WITH PASSWORD 'p1' ROLE readonly`)
	u, ok = e.CheckPassword("dave", "p1")
	require.True(t, ok)
	require.Equal(t, RoleUser, u.Role, "dave: %+v %v", u, ok)
	mustExec(t, e, root, `ALTER USER dave SET PASSWORD 'p2'`)
	_, ok = e.CheckPassword("dave", "p2")
	require.True(t, ok, "ALTER USER SET PASSWORD did not apply")
	err2 := mustFail(t, e, root, `CREATE USER dave WITH PASSWORD 'x' ROLE user`)
	wantContains(t, err2.Message, "Already exists: User 'dave' already exists")
	mustExec(t, e, root, `DROP USER dave`)
	_, ok = e.CheckPassword("dave", "p2")
	require.False(t, ok, "dropped user can still log in")
	u, ok = e.LookupUser("dave")
	require.True(t, ok)
	require.True(t, u.Deleted, "dropped user lookup: %+v %v", u, ok)
	got := queryRowsJSON(t, e, root, `SELECT user_id FROM system.users WHERE deleted_at IS NOT NULL`)
	require.Equal(t, `[["dave"]]`, got, "soft delete in system.users: %s", got)
}

// TestNamespaceResolution: unqualified names use Request.Namespace, else
// "default"; kalam.ns.t and ns.t.col resolve too (sql-model §1).
func TestNamespaceResolution(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED');
		CREATE TABLE t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED');
		INSERT INTO app.t (id, v) VALUES (1, 'app'); INSERT INTO t (id, v) VALUES (1, 'default')`)
	res, err := e.Execute(Request{Identity: root, SQL: `SELECT v FROM t`, Namespace: "app"})
	require.Nil(t, err)
	require.Equal(t, `[["app"]]`, rowsJSON(t, res[0]), "namespace app: %+v %v", res, err)
	for sql, want := range map[string]string{
		`SELECT v FROM t`:                                      `[["default"]]`,
		`SELECT app.t.v FROM app.t`:                            `[["app"]]`,
		`SELECT x.v FROM kalam.app.t AS x`:                     `[["app"]]`,
		`SELECT a.v, d.v FROM app.t a JOIN t d ON a.id = d.id`: `[["app","default"]]`,
		`SELECT v FROM app.t WHERE id IN (SELECT id FROM t)`:   `[["app"]]`,
		`WITH x AS (SELECT v FROM app.t) SELECT v FROM x`:      `[["app"]]`,
		`USE app; SELECT v FROM t`:                             `[["app"]]`,
		"SELECT v FROM app.t -- trailing comment":              `[["app"]]`,
		`SELECT (SELECT COUNT(*) FROM t) AS n, v FROM app.t`:   `[["1","app"]]`,
	} {
		res := mustExec(t, e, root, sql)
		got := rowsJSON(t, res[len(res)-1])
		assert.Equal(t, want, got, "%s: %s, want %s", sql, got, want)
	}
}

// TestPersistence reopens a DataPath database with its catalog, rows and
// users intact.
func TestPersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kalam.db")
	e, err := New(Options{DataPath: path, RootPassword: "r"})
	require.NoError(t, err)
	mustExec(t, e, root, `CREATE NAMESPACE app; CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE='SHARED'); INSERT INTO app.t (id) VALUES (7);
		CREATE USER zed WITH PASSWORD 'z' ROLE user`)
	require.NoError(t, e.Close())
	e, err = New(Options{DataPath: path, RootPassword: "ignored"})
	require.NoError(t, err)
	defer e.Close()
	got := queryRowsJSON(t, e, root, `SELECT id FROM app.t`)
	require.Equal(t, `[[7]]`, got, "rows after reopen: %s", got)
	_, ok := e.CheckPassword("zed", "z")
	require.True(t, ok, "user lost on reopen")
	_, ok = e.CheckPassword("root", "r")
	require.True(t, ok, "root password changed on reopen")
}

// TestSnowflakeSeq checks the _seq layout: ms since 2024-01-01 in the high
// bits, strictly increasing under a frozen clock (sql-model §3).
func TestSnowflakeSeq(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now})
	var last int64
	for i := 0; i < 5000; i++ {
		s := e.nextSeq()
		require.Greater(t, s, last, "seq %d not after %d", s, last)
		last = s
	}
	first := e.nextSeq()
	ms := first>>22 + snowflakeEpochMS
	require.GreaterOrEqual(t, ms, clock.Now().UnixMilli(), "seq timestamp %d before clock %d", ms, clock.Now().UnixMilli())
}

// TestSplitStatements cuts batches at top-level semicolons only
// (http-api §6.3).
func TestSplitStatements(t *testing.T) {
	for _, c := range []struct {
		sql  string
		want []string
	}{
		{"SELECT 1", []string{"SELECT 1"}},
		{"SELECT 1;", []string{"SELECT 1"}},
		{"SELECT ';'; SELECT 2", []string{"SELECT ';'", "SELECT 2"}},
		{"SELECT 1 -- a; b\n; SELECT \"x;y\"", []string{"SELECT 1 -- a; b", `SELECT "x;y"`}},
		{"/* ; */ ; ;", nil},
		{"SELECT 'it''s;'", []string{"SELECT 'it''s;'"}},
	} {
		got, err := splitStatements(c.sql)
		assert.False(t, err != nil || fmt.Sprint(got) != fmt.Sprint(c.want), "split(%q) = %q, %v; want %q", c.sql, got, err, c.want)
	}
	_, err := splitStatements("SELECT 'open")
	assert.Error(t, err, "unterminated quote split without error")
}

// FuzzSplitStatements: every piece is non-empty, trimmed and one statement.
func FuzzSplitStatements(f *testing.F) {
	for _, s := range []string{"SELECT 1; SELECT 2", "SELECT ';' -- x\n", "/* a */ INSERT INTO t VALUES ('a''b')", `SELECT "a""b"`, "$1::int;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		parts, err := splitStatements(sql)
		if err != nil {
			return
		}
		for _, p := range parts {
			require.NotEqual(t, "", strings.Trim(p, asciiSpace))
			require.Equal(t, strings.Trim(p, asciiSpace), p, "empty statement from %q", sql)
			again, err := splitStatements(p)
			require.NoError(t, err)
			require.Len(t, again, 1, "piece %q of %q re-splits into %q (%v)", p, sql, again, err)
		}
	})
}

// TestClosedEngine: calls after Close fail with an error instead of
// touching the closed database.
func TestClosedEngine(t *testing.T) {
	e, err := New(Options{RootPassword: "r"})
	require.NoError(t, err)
	require.NoError(t, e.Close())
	require.NoError(t, e.Close(), "second Close")
	_, ferr := exec(e, root, "SELECT 1")
	require.NotNil(t, ferr)
	require.Equal(t, "INTERNAL_ERROR", ferr.Code, "Execute after Close: %+v", ferr)
	_, ferr = e.Consume(svc, ConsumeRequest{TopicID: "x"})
	require.NotNil(t, ferr, "Consume after Close succeeded")
}

// TestOnChangeCancel stops delivery to a cancelled callback while others
// keep receiving.
func TestOnChangeCancel(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE='SHARED')`)
	first := make(chan Change, 10)
	second := make(chan Change, 10)
	cancel := e.OnChange(func(c Change) { first <- c })
	cancel2 := e.OnChange(func(c Change) { second <- c })
	defer cancel2()
	mustExec(t, e, root, `INSERT INTO app.t (id) VALUES (1)`)
	for _, ch := range []chan Change{first, second} {
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			require.FailNow(t, "change not delivered within 5s")
		}
	}
	cancel()
	mustExec(t, e, root, `INSERT INTO app.t (id) VALUES (2)`)
	select {
	case c := <-second:
		require.Equal(t, "2", string(c.Row["id"]), "second got %s", c.Row["id"])
	case <-time.After(5 * time.Second):
		require.FailNow(t, "second callback starved after the first was cancelled")
	}
	select {
	case c := <-first:
		require.FailNow(t, fmt.Sprintf("cancelled callback received %+v", c))
	default:
	}
}
