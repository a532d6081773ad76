package engine

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestUserIsolation: each user sees and changes only their own rows of a
// USER table; service and admins read all (sql-model §2.2, §8).
func TestUserIsolation(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.notes (id INT PRIMARY KEY, body TEXT) WITH (TYPE='USER')`)
	mustExec(t, e, alice, `INSERT INTO app.notes (id, body) VALUES (1, 'alice 1'), (2, 'alice 2')`)
	// bob may use the same primary key in his own partition.
	mustExec(t, e, bob, `INSERT INTO app.notes (id, body) VALUES (1, 'bob 1')`)
	cases := []struct {
		id   Identity
		want string
	}{
		{alice, `[[1,"alice 1"],[2,"alice 2"]]`},
		{bob, `[[1,"bob 1"]]`},
		{svc, `[[1,"alice 1"],[1,"bob 1"],[2,"alice 2"]]`},
		{dba, `[[1,"alice 1"],[1,"bob 1"],[2,"alice 2"]]`},
	}
	for _, c := range cases {
		t.Run(c.id.UserID, func(t *testing.T) {
			got := queryRowsJSON(t, e, c.id, `SELECT id, body FROM app.notes ORDER BY id, body`)
			require.Equal(t, c.want, got, "%s sees %s, want %s", c.id.UserID, got, c.want)
		})
	}
	// bob's UPDATE/DELETE cannot reach alice's rows.
	r := mustExec(t, e, bob, `UPDATE app.notes SET body = 'hacked' WHERE id = 2`)[0]
	require.Equal(t, 0, r.RowCount, "bob updated %d of alice's rows", r.RowCount)
	r = mustExec(t, e, bob, `DELETE FROM app.notes WHERE id >= 1`)[0]
	require.Equal(t, 1, r.RowCount, "bob deleted %d rows, want only his own 1", r.RowCount)
	got := queryRowsJSON(t, e, alice, `SELECT body FROM app.notes`)
	require.Equal(t, `[["alice 1"],["alice 2"]]`, got, "alice's rows after bob's writes: %s", got)
	// A deleted key can be inserted again; _deleted stays false on visible rows.
	mustExec(t, e, bob, `INSERT INTO app.notes (id, body) VALUES (1, 'bob again')`)
	got = queryRowsJSON(t, e, bob, `SELECT body, _deleted FROM app.notes`)
	require.Equal(t, `[["bob again",false]]`, got, "bob after re-insert: %s", got)
}

// TestSharedAccessLevels applies the access matrix of sql-model §2.3.
func TestSharedAccessLevels(t *testing.T) {
	e := newTestEngine(t, Options{})
	for _, lvl := range []string{"public", "private", "restricted", "dba"} {
		mustExec(t, e, root, `CREATE TABLE app.t_`+lvl+` (id INT PRIMARY KEY) WITH (TYPE='SHARED', ACCESS_LEVEL='`+lvl+`')`)
	}
	cases := []struct {
		lvl         string
		id          Identity
		read, write bool
	}{
		{"public", alice, true, false}, {"public", svc, true, true}, {"public", dba, true, true},
		{"private", alice, false, false}, {"private", svc, true, true}, {"private", root, true, true},
		{"restricted", alice, false, false}, {"restricted", svc, true, true},
		{"dba", svc, false, false}, {"dba", dba, true, true}, {"dba", root, true, true},
	}
	for i, c := range cases {
		t.Run(c.lvl+"/"+c.id.UserID, func(t *testing.T) {
			_, rerr := exec(e, c.id, `SELECT * FROM app.t_`+c.lvl)
			require.Equal(t, c.read, rerr == nil, "read allowed=%v, want %v (%v)", rerr == nil, c.read, rerr)
			require.False(t, rerr != nil && (rerr.HTTPStatus != 403 || !strings.Contains(rerr.Message, "Shared table access denied")), "read error: %+v", rerr)
			_, werr := exec(e, c.id, `INSERT INTO app.t_`+c.lvl+` (id) VALUES ($1)`, int64(i))
			require.Equal(t, c.write, werr == nil, "write allowed=%v, want %v (%v)", werr == nil, c.write, werr)
		})
	}
}

// TestRoleRules checks the role gates of sql-model §8.
func TestRoleRules(t *testing.T) {
	e := newTestEngine(t, Options{})
	cases := []struct {
		id   Identity
		sql  string
		code string // "" means allowed
	}{
		{alice, `CREATE TABLE app.mine (id INT PRIMARY KEY) WITH (TYPE='USER')`, ""},
		{alice, `CREATE TABLE app.sh (id INT PRIMARY KEY)`, "PERMISSION_DENIED"},
		{svc, `CREATE TABLE app.sh (id INT PRIMARY KEY)`, ""},
		{svc, `DROP TABLE app.sh`, "PERMISSION_DENIED"},
		{dba, `DROP TABLE app.sh`, ""},
		{alice, `CREATE USER eve WITH PASSWORD 'x' ROLE user`, "PERMISSION_DENIED"},
		{svc, `CREATE TOPIC app.t`, "PERMISSION_DENIED"},
		{alice, `ALTER USER alice SET PASSWORD 'new'`, "PERMISSION_DENIED"},
		{dba, `ALTER USER alice SET ROLE system`, "PERMISSION_DENIED"},
		{dba, `CREATE USER eve WITH PASSWORD 'x' ROLE service`, ""},
		{alice, `SELECT * FROM system.namespaces`, "PERMISSION_DENIED"},
		{dba, `SELECT * FROM system.namespaces`, ""},
		{alice, `SHOW NAMESPACES`, ""},
		{alice, `SHOW TABLES`, ""},
		{alice, `DESCRIBE TABLE app.mine`, ""},
		{alice, `DESCRIBE app.mine`, "PERMISSION_DENIED"},
		{alice, `EXPLAIN SELECT 1`, "PERMISSION_DENIED"},
		{alice, `STORAGE FLUSH TABLE app.mine`, "PERMISSION_DENIED"},
		{alice, `CONSUME FROM app.x`, "PERMISSION_DENIED"},
		{alice, `SELECT 1`, ""},
	}
	for _, c := range cases {
		t.Run(c.id.UserID+": "+c.sql, func(t *testing.T) {
			_, err := exec(e, c.id, c.sql)
			switch {
			case c.code == "" && err != nil:
				require.FailNow(t, fmt.Sprintf("refused: %+v", err))
			case c.code != "" && err == nil:
				require.FailNow(t, fmt.Sprintf("allowed; want %s", c.code))
			case c.code != "" && err.Code != c.code:
				require.FailNow(t, fmt.Sprintf("got %+v; want %s", err, c.code))
			}
		})
	}
	// A user creating a SHARED table in the namespace named like itself gets a USER table.
	mustExec(t, e, root, `CREATE NAMESPACE alice`)
	mustExec(t, e, alice, `CREATE TABLE alice.own (id INT PRIMARY KEY)`)
	typ := e.cat.Tables["alice.own"].Type
	require.Equal(t, "user", typ, "own-namespace table type %s, want user (sql-model §2.1)", typ)
}

// TestExecuteAs checks the impersonation rules of http-api §6.3.
func TestExecuteAs(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.notes (id INT PRIMARY KEY, body TEXT) WITH (TYPE='USER');
		CREATE TABLE app.shared (id INT PRIMARY KEY) WITH (TYPE='SHARED')`)
	res := mustExec(t, e, svc, `EXECUTE AS USER 'alice' (INSERT INTO app.notes (id, body) VALUES (1, 'via svc'))`)
	require.Equal(t, "alice", res[0].AsUser, "as_user %q, want alice", res[0].AsUser)
	got := queryRowsJSON(t, e, alice, `SELECT body FROM app.notes`)
	require.Equal(t, `[["via svc"]]`, got, "alice's rows: %s", got)
	// The impersonated statement runs with role user: only alice's rows.
	mustExec(t, e, bob, `INSERT INTO app.notes (id, body) VALUES (2, 'bob')`)
	got = queryRowsJSON(t, e, root, `execute as user alice (SELECT body FROM app.notes)`)
	require.Equal(t, `[["via svc"]]`, got, "impersonated read: %s", got)
	cases := []struct {
		id     Identity
		sql    string
		code   string
		status int
		msg    string
	}{
		{alice, `EXECUTE AS USER 'bob' (SELECT 1)`, "PERMISSION_DENIED", 403, "Unauthorized: Role User is not authorized to use AS USER for 'bob' with role User"},
		{svc, `EXECUTE AS USER 'admin' (SELECT 1)`, "PERMISSION_DENIED", 403, "with role Dba"},
		{dba, `EXECUTE AS USER 'root' (SELECT 1)`, "PERMISSION_DENIED", 403, "with role System"},
		{root, `EXECUTE AS USER 'ghost' (SELECT 1)`, "SQL_EXECUTION_ERROR", 400, "Not found: EXECUTE AS USER target 'ghost' was not found"},
		{root, `EXECUTE AS USER 'alice' (SELECT * FROM app.shared)`, "SQL_EXECUTION_ERROR", 400, "EXECUTE AS USER is not allowed on SHARED tables (table 'app:shared')"},
		{root, `EXECUTE AS USER 'alice' (SELECT 1; SELECT 2)`, "INVALID_SQL", 400, "Invalid EXECUTE AS USER syntax"},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			err := mustFail(t, e, c.id, c.sql)
			require.Equal(t, c.code, err.Code)
			require.Equal(t, c.status, err.HTTPStatus, "got %+v, want %s %d", err, c.code, c.status)
			wantContains(t, err.Message, c.msg)
		})
	}
	// Impersonating yourself is always allowed.
	mustExec(t, e, alice, `EXECUTE AS USER alice (SELECT 1)`)
}

// TestSystemTables reads system tables with their real column names and
// masks password_hash (sql-model §2.5, http-api §6.5).
func TestSystemTables(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TOPIC app.events; CREATE TABLE app.t (id INT PRIMARY KEY) WITH (TYPE='USER')`)
	res := mustExec(t, e, dba, `SELECT user_id, password_hash, role, email FROM system.users WHERE user_id = 'root'`)[0]
	got := rowsJSON(t, res)
	require.Equal(t, `[["root","$emulator$redacted","system","root@localhost"]]`, got, "system.users: %s", got)
	res = mustExec(t, e, root, `SELECT * FROM system.users`)[0]
	var names []string
	for _, c := range res.Schema {
		names = append(names, c.Name)
	}
	got = strings.Join(names, ",")
	require.Equal(t, "user_id,password_hash,role,email,auth_type,auth_data,storage_mode,storage_id,failed_login_attempts,locked_until,last_login_at,created_at,updated_at,last_seen,deleted_at", got, "system.users columns: %s", got)
	got = queryRowsJSON(t, e, root, `SELECT namespace_id, table_name, table_type FROM system.tables`)
	require.Equal(t, `[["app","t","user"]]`, got, "system.tables: %s", got)
	got = queryRowsJSON(t, e, root, `SELECT topic_id, partitions FROM system.topics`)
	require.Equal(t, `[["app.events",1]]`, got, "system.topics: %s", got)
	got = queryRowsJSON(t, e, root, `SELECT name FROM system.namespaces ORDER BY name`)
	require.Equal(t, `[["app"],["default"]]`, got, "system.namespaces: %s", got)
	// Non-admins see credentials masked wherever the column appears.
	mustExec(t, e, root, `CREATE TABLE app.creds (id INT PRIMARY KEY, password_hash TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public');
		INSERT INTO app.creds (id, password_hash) VALUES (1, 'secret')`)
	got = queryRowsJSON(t, e, alice, `SELECT password_hash FROM app.creds`)
	require.Equal(t, `[["***"]]`, got, "masked for user: %s", got)
	got = queryRowsJSON(t, e, dba, `SELECT password_hash FROM app.creds`)
	require.Equal(t, `[["secret"]]`, got, "unmasked for dba: %s", got)
	// SHOW TABLES has the system.schemas shape with table_id ns:table.
	res = mustExec(t, e, alice, `SHOW TABLES IN app`)[0]
	require.Equal(t, "table_id", res.Schema[0].Name)
	require.Contains(t, rowsJSON(t, res), `"app:t"`, "SHOW TABLES: %s %s", schemaJSON(t, res), rowsJSON(t, res))
	res = mustExec(t, e, alice, `DESCRIBE TABLE app.t`)[0]
	got = rowsJSON(t, res)
	require.True(t, strings.HasPrefix(got, `[["id",1,1,"INT",false,true,null,null,1],["_seq"`), "DESCRIBE: %s", got)
}

// TestStreamTTL hides STREAM rows older than TTL by the engine clock and
// scopes them to their writer, admins included (sql-model §2.4).
func TestStreamTTL(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now})
	mustExec(t, e, root, `CREATE STREAM TABLE app.ev (id TEXT PRIMARY KEY DEFAULT ULID(), kind TEXT) WITH (TTL_SECONDS = 60)`)
	mustExec(t, e, alice, `INSERT INTO app.ev (kind) VALUES ('old')`)
	clock.Advance(30 * time.Second)
	mustExec(t, e, alice, `INSERT INTO app.ev (kind) VALUES ('new')`)
	got := queryRowsJSON(t, e, alice, `SELECT kind FROM app.ev ORDER BY kind DESC`)
	require.Equal(t, `[["old"],["new"]]`, got, "before expiry: %s", got)
	got = queryRowsJSON(t, e, root, `SELECT kind FROM app.ev`)
	require.Equal(t, `[]`, got, "root sees alice's stream rows: %s", got)
	clock.Advance(31 * time.Second)
	got = queryRowsJSON(t, e, alice, `SELECT kind FROM app.ev`)
	require.Equal(t, `[["new"]]`, got, "after expiry: %s", got)
	err := mustFail(t, e, alice, `UPDATE app.ev SET kind = 'x' WHERE kind = 'new'`)
	wantContains(t, err.Message, "UPDATE not supported for STREAM tables")
	r := mustExec(t, e, alice, `DELETE FROM app.ev WHERE kind = 'new'`)[0]
	require.Equal(t, 1, r.RowCount, "stream delete: %+v", r)
}

// TestExecuteAsParsesLikeTheServer follows execute_as.rs: a quoted name
// doubles its quotes and is trimmed, the bare form works, a trailing
// semicolon after the parentheses is accepted; one inside them splits the
// batch there (split_statements does not count parentheses): an error.
func TestExecuteAsParsesLikeTheServer(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE USER 'o''brien' WITH PASSWORD 'p' ROLE user`)
	for sql, want := range map[string]string{
		`EXECUTE AS USER 'o''brien' (SELECT 1)`: "o'brien",
		`EXECUTE AS USER ' alice ' (SELECT 1)`:  "alice",
		`execute as user alice(SELECT 1)`:       "alice",
		`EXECUTE AS USER 'alice' (SELECT ')');`: "alice",
		`EXECUTE AS USER 'a(b' (SELECT 1)`:      "not found",
		`EXECUTE AS USER Alice (SELECT 1)`:      "not found", // names are case-sensitive, taken as written
		`EXECUTE AS USER 'alice' (SELECT 1;)`:   "error",
	} {
		t.Run(sql, func(t *testing.T) {
			res, err := exec(e, root, sql)
			switch want {
			case "not found":
				require.NotNil(t, err)
				require.Contains(t, err.Message, "was not found")
				return
			case "error":
				require.NotNil(t, err)
				return
			}
			require.Nil(t, err, "%+v", err)
			require.Equal(t, want, res[0].AsUser)
		})
	}
}
