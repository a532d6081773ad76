package emulator

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// catalogBypassEnv has a USER table app.notes holding one row of alice's
// and one of bob's, and a private SHARED table app.secrets only root can
// read. It returns alice's token.
func catalogBypassEnv(t *testing.T) (*testEnv, string) {
	s, url := engineEnv(t, Options{SQLRateLimit: -1})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	for _, sql := range []string{
		"CREATE NAMESPACE app",
		"CREATE TABLE app.notes (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'USER')",
		"CREATE TABLE app.secrets (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE = 'SHARED', ACCESS_LEVEL = 'PRIVATE')",
		"INSERT INTO app.secrets (id, body) VALUES (1, 'root-secret')",
		"CREATE USER 'alice' WITH PASSWORD 'AlicePass123!' ROLE user",
		"CREATE USER 'bob' WITH PASSWORD 'BobPass123!' ROLE user",
	} {
		wantStatus(t, e.sql(root, `{"sql":`+quote(sql)+`}`), http.StatusOK)
	}
	bob := e.token("bob", "BobPass123!")
	wantStatus(t, e.sql(bob, `{"sql":"INSERT INTO app.notes (id, body) VALUES (7, 'bob-secret')"}`), http.StatusOK)
	alice := e.token("alice", "AlicePass123!")
	wantStatus(t, e.sql(alice, `{"sql":"INSERT INTO app.notes (id, body) VALUES (1, 'alice-note')"}`), http.StatusOK)
	return e, alice
}

// Issue 9 item 1: as a user-role account, no SQL shape reaches a physical
// SQLite table that did not resolve through the catalog for that user:
// not another user's rows, not the catalog (password hashes), not
// sqlite_master, not PRAGMA functions, not ATTACH. Each answers like the
// server answers an unknown table (400, redacted for a user) and leaks nothing.
func TestUserCannotBypassCatalog(t *testing.T) {
	e, alice := catalogBypassEnv(t)
	bypasses := []string{
		// The reported shapes: a parenthesised first FROM item.
		`SELECT * FROM (SELECT 1) AS x, "u$app$notes"`,
		`SELECT * FROM (SELECT 1), _kv_meta`,
		`SELECT * FROM (SELECT 1) x, sqlite_master`,
		`SELECT * FROM (SELECT 1) AS x, sqlite_temp_master`,
		`SELECT * FROM (SELECT 1) AS x, _kv_msgs`,
		`SELECT * FROM (SELECT 1) AS x NATURAL JOIN _kv_files`,
		// Nested parentheses, spacing and comments.
		`SELECT * FROM ((SELECT 1)) AS x, "u$app$notes"`,
		`SELECT * FROM(SELECT 1)x,"u$app$notes"`,
		`SELECT * FROM (SELECT 1) AS x,/**/"u$app$notes"`,
		`SELECT * FROM (SELECT 1) AS x, (("u$app$notes"))`,
		`SELECT * FROM (SELECT * FROM (SELECT 1) AS a, "u$app$notes") AS b`,
		// Joins.
		`SELECT * FROM (SELECT 1) AS x CROSS JOIN "u$app$notes"`,
		`SELECT * FROM (SELECT 1) AS x LEFT JOIN (SELECT * FROM "u$app$notes") AS y ON 1=1`,
		`SELECT * FROM app.notes INNER JOIN (SELECT 1 AS k) AS k ON 1=1, "u$app$notes"`,
		// The raw name of a table the statement also reads legitimately.
		`SELECT * FROM app.notes n JOIN "u$app$notes" r ON 1=1`,
		`SELECT * FROM app.notes, (SELECT 1) AS x, "u$app$notes"`,
		// Quoting and case variants SQLite accepts.
		`SELECT * FROM app.notes, (SELECT 1) AS x, "U$APP$NOTES"`,
		`SELECT * FROM app.notes, (SELECT 1) AS x, [u$app$notes]`,
		"SELECT * FROM app.notes, (SELECT 1) AS x, `u$app$notes`",
		`SELECT * FROM (SELECT 1) AS x, u$app$notes`,
		`SELECT * FROM (SELECT 1) AS x, "_KV_META"`,
		`SELECT * FROM (SELECT 1) AS x, main."u$app$notes"`,
		`SELECT * FROM (SELECT 1) AS x, main.sqlite_master`,
		`SELECT * FROM (SELECT 1) AS x, temp."sys$users"`,
		`SELECT * FROM [_kv_meta]`,
		// Subqueries, CTEs and set operations.
		`SELECT (SELECT group_concat(body) FROM "u$app$notes")`,
		`SELECT (SELECT v FROM (SELECT 1) AS y, _kv_meta)`,
		`SELECT * FROM app.notes WHERE id IN (SELECT 1 FROM (SELECT 1) AS y, "u$app$notes")`,
		`WITH c AS (SELECT * FROM (SELECT 1) AS y, "u$app$notes") SELECT * FROM c`,
		`WITH c AS (SELECT 1 AS k) SELECT * FROM c, "u$app$notes"`,
		`WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r, "u$app$notes" WHERE n < 2) SELECT * FROM r`,
		`SELECT body FROM app.notes UNION SELECT body FROM (SELECT 1) AS y, "u$app$notes"`,
		`SELECT body FROM app.notes UNION ALL SELECT v FROM _kv_meta`,
		`SELECT body FROM app.notes EXCEPT SELECT body FROM (SELECT 1) AS y, "u$app$notes"`,
		// Reads without columns, and CTEs named like internal tables in
		// another scope.
		`SELECT count(*) FROM (SELECT 1) AS x, "u$app$notes"`,
		`SELECT (WITH "u$app$notes" AS (SELECT 1) SELECT 1), (SELECT count(*) FROM "u$app$notes")`,
		`SELECT (WITH pragma_table_list AS (SELECT 1) SELECT 1), (SELECT count(*) FROM pragma_table_list)`,
		// Reads that name no column still reveal row counts and rowids.
		`SELECT rowid FROM (SELECT 1) AS x, "u$app$notes"`,
		`SELECT EXISTS (SELECT 1 FROM (SELECT 1) AS x, "u$app$notes")`,
		`SELECT 1 FROM (SELECT 1) AS x, "u$app$notes" LIMIT 1`,
		`SELECT (SELECT max(rowid) FROM (SELECT 1) AS x, "u$app$notes")`,
		`SELECT * FROM app.notes WHERE EXISTS (SELECT 1 FROM [u$app$notes] WHERE _owner = 'bob')`,
		// Table-valued and PRAGMA functions.
		`SELECT * FROM pragma_table_info('u$app$notes')`,
		`SELECT * FROM (SELECT 1) AS x, pragma_table_list`,
		`SELECT * FROM (SELECT 1) AS x JOIN pragma_table_info('_kv_meta') ON 1=1`,
		`SELECT * FROM app.notes AS n, json_each((SELECT v FROM (SELECT 1) AS y, _kv_meta))`,
		`SELECT (SELECT count(*) FROM pragma_database_list)`,
		// Other statements SQLite would run.
		`ATTACH DATABASE ':memory:' AS other`,
		`PRAGMA table_info('_kv_meta')`,
		// Change capture is the engine's, not the user's.
		`SELECT kv_capture('app.notes', 'i', 99, 'forged', 1, 0, 'bob')`,
		// Writes whose source reads a foreign table.
		`INSERT INTO app.notes (id, body) SELECT id + 100, body FROM (SELECT 1) AS x, "u$app$notes"`,
		`UPDATE app.notes SET body = (SELECT group_concat(body) FROM (SELECT 1) AS x, "u$app$notes") WHERE id = 1`,
		`DELETE FROM app.notes WHERE id IN (SELECT id FROM (SELECT 1) AS x, "u$app$notes")`,
	}
	for _, q := range bypasses {
		t.Run(q, func(t *testing.T) {
			r := e.sql(alice, `{"sql":`+quote(q)+`}`)
			body := string(r.body)
			assert.Contains(t, []int{http.StatusBadRequest, http.StatusForbidden}, r.status, "body: %s", body)
			assert.Contains(t, body, `"status":"error"`)
			for _, leak := range []string{"bob-secret", "root-secret", "password", "catalog", "CREATE TABLE", "u$app", "_kv_", "sqlite", "forged"} {
				assert.NotContains(t, body, leak)
			}
		})
	}

	// The reported table-name shapes fail as the server fails an unknown table.
	for _, q := range []string{
		`SELECT * FROM (SELECT 1) AS x, "u$app$notes"`,
		`SELECT * FROM (SELECT 1), _kv_meta`,
		`SELECT * FROM (SELECT 1) x, sqlite_master`,
		`SELECT * FROM app.notes, (SELECT 1) AS x, [u$app$notes]`,
		`SELECT * FROM pragma_table_info('u$app$notes')`,
	} {
		_, err := e.s.ExecAs("alice", q)
		var sqlErr *SQLError
		require.ErrorAs(t, err, &sqlErr, q)
		assert.Equal(t, http.StatusBadRequest, sqlErr.HTTPStatus, q)
		assert.True(t, strings.HasPrefix(sqlErr.Message, "Statement 1 failed: Table not found: Error during planning: table "), "%s: %s", q, sqlErr.Message)
	}

	// Nothing was written or forged: alice still sees only her row, bob his.
	r := e.sql(alice, `{"sql":"SELECT id, body FROM app.notes"}`)
	wantStatus(t, r, http.StatusOK)
	assert.Contains(t, string(r.body), `"rows":[["1","alice-note"]]`)
	res, err := e.s.ExecAs("bob", "SELECT body FROM app.notes")
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Len(t, res[0].Rows, 1)
	assert.Equal(t, `"bob-secret"`, string(res[0].Rows[0][0]))
}

// The same FROM-list shapes over catalog tables work and stay scoped to
// the caller's rows.
func TestUserFromListShapesStayScoped(t *testing.T) {
	e, alice := catalogBypassEnv(t)
	for q, want := range map[string]string{
		`SELECT body FROM (SELECT 1) AS x, app.notes`:                                      `[["alice-note"]]`,
		`SELECT body FROM ((SELECT 1)) AS x, app.notes`:                                    `[["alice-note"]]`,
		`SELECT n.body FROM (SELECT 1 AS k) AS x JOIN app.notes AS n ON 1=1`:               `[["alice-note"]]`,
		`SELECT n.body FROM (app.notes AS n JOIN (SELECT 1 AS k) AS x ON 1=1)`:             `[["alice-note"]]`,
		`SELECT body FROM (SELECT 1) AS x, app.notes, (SELECT 2) AS y`:                     `[["alice-note"]]`,
		`WITH c AS (SELECT body FROM (SELECT 1) AS x, app.notes) SELECT body FROM c`:       `[["alice-note"]]`,
		`SELECT body FROM app.notes UNION ALL SELECT body FROM (SELECT 1) AS y, app.notes`: `[["alice-note"],["alice-note"]]`,
		`SELECT (SELECT count(*) FROM (SELECT 1) AS y, app.notes) AS n`:                    `[["1"]]`,
	} {
		t.Run(q, func(t *testing.T) {
			r := e.sql(alice, `{"sql":`+quote(q)+`}`)
			wantStatus(t, r, http.StatusOK)
			assert.Contains(t, string(r.body), `"rows":`+want+`,`)
		})
	}
}

// Issue 9 item 13 asked that trailing garbage after ALTER USER … SET
// PASSWORD '…' be rejected, but the real parser (kalamdb-dialect
// ddl/user_commands.rs, AlterUserStatement::parse) reads the value and
// ignores what follows, so the emulator keeps doing the same: the quoted
// value, and only it, becomes the password.
func TestAlterUserPasswordTrailingTokensAsReal(t *testing.T) {
	s, url := engineEnv(t, Options{SQLRateLimit: -1})
	e := &testEnv{t: t, s: s, url: url}
	root := e.token("root", testRootPassword)
	wantStatus(t, e.sql(root, `{"sql":"CREATE USER 'carol' WITH PASSWORD 'CarolPass123!' ROLE user"}`), http.StatusOK)
	wantStatus(t, e.sql(root, `{"sql":"ALTER USER carol SET PASSWORD 'NewCarol123!' ROLE dba garbage"}`), http.StatusOK)
	e.token("carol", "NewCarol123!")
	r := e.postJSON("/v1/api/auth/login", `{"user":"carol","password":"NewCarol123! ROLE dba garbage"}`)
	assert.Equal(t, http.StatusUnauthorized, r.status, "the trailing tokens are not part of the password")
	res, err := s.ExecAs("root", "SELECT role FROM system.users WHERE user_id = 'carol'")
	require.NoError(t, err)
	require.Len(t, res[0].Rows, 1)
	assert.Equal(t, `"user"`, string(res[0].Rows[0][0]), "nor do they change the role")
}
