package engine

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStatementMessages runs each statement kind and checks its message
// (sql-model §1, §2, §5, §7, §8; http-api §6.4).
func TestStatementMessages(t *testing.T) {
	e := newTestEngine(t, Options{})
	cases := []struct {
		sql, msg string
		rows     int
	}{
		{`CREATE NAMESPACE shop`, "Namespace 'shop' created successfully", 0},
		{`CREATE NAMESPACE IF NOT EXISTS shop`, "Namespace 'shop' already exists", 0},
		{`CREATE TABLE shop.orders (id BIGINT PRIMARY KEY DEFAULT SNOWFLAKE_ID(), item TEXT NOT NULL, qty INT DEFAULT 1, at TIMESTAMP DEFAULT NOW()) WITH (TYPE='USER')`, "CREATE TABLE via Raft consensus: user table shop.orders created successfully", 0},
		{`CREATE SHARED TABLE shop.catalog (sku TEXT PRIMARY KEY, price DOUBLE)`, "created successfully", 0},
		{`CREATE STREAM TABLE shop.events (id TEXT PRIMARY KEY DEFAULT ULID(), kind TEXT) WITH (TTL_SECONDS = 60)`, "created successfully", 0},
		{`CREATE TABLE IF NOT EXISTS shop.orders (id INT PRIMARY KEY)`, "user table shop.orders created successfully", 0},
		{`INSERT INTO shop.orders (item) VALUES ('a'), ('b'), ('c')`, "Inserted 3 row(s)", 3},
		{`UPDATE shop.orders SET qty = 2 WHERE item = 'a'`, "Updated 1 row(s)", 1},
		{`UPDATE shop.orders SET qty = 2 WHERE item = 'a'`, "Updated 0 row(s)", 0},
		{`DELETE FROM shop.orders WHERE item = 'b'`, "Deleted 1 row(s)", 1},
		{`DELETE FROM shop.orders WHERE item = 'b'`, "Deleted 0 row(s)", 0},
		{`ALTER TABLE shop.catalog SET ACCESS LEVEL public`, "altered", 0},
		{`ALTER TABLE shop.orders ADD COLUMN note TEXT`, "altered", 0},
		{`CREATE TOPIC shop.changes PARTITIONS 2`, "Created topic 'shop.changes' with 2 partition(s)", 0},
		{`ALTER TOPIC shop.changes ADD SOURCE shop.orders ON INSERT`, "Added source shop.orders ON Insert to topic 'shop.changes'", 0},
		{`CREATE USER 'carol' WITH PASSWORD 'x' ROLE developer EMAIL 'c@example.com'`, "User 'carol' created", 0},
		{`ALTER USER carol SET ROLE dba`, "User 'carol' updated", 0},
		{`DROP USER carol`, "User 'carol' dropped (soft delete)", 0},
		{`DROP USER IF EXISTS nobody`, "does not exist", 0},
		{`USE shop`, "Namespace switched to 'shop'", 0},
		{`STORAGE FLUSH TABLE shop.orders`, "Storage flush skipped", 0},
		{`DROP TOPIC shop.changes`, "Dropped topic 'shop.changes'", 0},
		{`DROP TABLE shop.events`, "Table shop.events dropped successfully", 0},
		{`DROP TABLE IF EXISTS shop.events`, "Table shop.events does not exist (skipped)", 0},
		{`DROP NAMESPACE shop CASCADE`, "Namespace 'shop' dropped successfully", 0},
		{`DROP NAMESPACE IF EXISTS shop`, "Namespace 'shop' does not exist", 0},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			res := mustExec(t, e, root, c.sql)
			require.Len(t, res, 1, "got %d results, want 1", len(res))
			wantContains(t, res[0].Message, c.msg)
			require.Equal(t, c.rows, res[0].RowCount)
			require.Equal(t, "root", res[0].AsUser)
			require.False(t, res[0].ReturnsRows, "result %+v: want row_count %d as root, no rows", res[0], c.rows)
		})
	}
	_, ok := e.cat.Tables["shop.orders"]
	require.False(t, ok, "DROP NAMESPACE left its tables behind (sql-model §1: it always drops them)")
}

// TestBatchAggregation moves DML results into summaries at the end
// (http-api §6.3).
func TestBatchAggregation(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='USER')`)
	res := mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (1, 'a'); SELECT id FROM app.t; INSERT INTO app.t (id, v) VALUES (2, 'b'), (3, 'c');
		DELETE FROM app.t WHERE id = 3; UPDATE app.t SET v = 'z' WHERE id < 3`)
	var got []string
	for _, r := range res {
		got = append(got, fmt.Sprintf("%d:%s:%s:%v", r.RowCount, r.Message, r.AsUser, r.ReturnsRows))
	}
	want := []string{"1::alice:true", "3:Inserted 3 row(s):alice:false", "2:Updated 2 row(s):alice:false", "1:Deleted 1 row(s):alice:false"}
	require.Equal(t, strings.Join(want, "|"), strings.Join(got, "|"), "results\n got %v\nwant %v", got, want)
	// A single statement yields exactly its own result.
	res = mustExec(t, e, alice, `INSERT INTO app.t (id, v) VALUES (9, 'x')`)
	require.Len(t, res, 1)
	require.Equal(t, "Inserted 1 row(s)", res[0].Message, "single insert: %+v", res)
	// Summaries carry the authenticated user even after EXECUTE AS.
	res = mustExec(t, e, root, `EXECUTE AS USER 'bob' (INSERT INTO app.t (id, v) VALUES (1, 'b')); SELECT COUNT(*) AS n FROM app.t`)
	require.Len(t, res, 2)
	require.Equal(t, "root", res[1].AsUser)
	require.Equal(t, "Inserted 1 row(s)", res[1].Message, "batch with EXECUTE AS: %+v", res)
}

// TestRowCaps applies the default LIMIT 50 and the 1000 cap (sql-model §5.4,
// http-api §6.3) with row_count after truncation.
func TestRowCaps(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.n (id INT PRIMARY KEY) WITH (TYPE='SHARED')`)
	var vals []string
	for i := 0; i < 1100; i++ {
		vals = append(vals, fmt.Sprintf("(%d)", i))
	}
	mustExec(t, e, root, `INSERT INTO app.n (id) VALUES `+strings.Join(vals, ","))
	for _, c := range []struct {
		sql  string
		want int
	}{
		{`SELECT * FROM app.n`, 50},
		{`SELECT * FROM app.n LIMIT 10`, 10},
		{`SELECT * FROM app.n LIMIT 5000`, 1000},
		{`SELECT * FROM app.n LIMIT 20 OFFSET 1090`, 10},
		{`SELECT COUNT(*) FROM app.n`, 1},
	} {
		res := mustExec(t, e, root, c.sql)[0]
		assert.False(t, res.RowCount != c.want || len(res.Rows) != c.want, "%s: row_count %d, %d rows; want %d", c.sql, res.RowCount, len(res.Rows), c.want)
	}
	// Default order is by primary key.
	got := queryRowsJSON(t, e, root, `SELECT id FROM app.n WHERE id > 1095`)
	require.Equal(t, `[[1096],[1097],[1098],[1099]]`, got, "default order: %s", got)
	got = queryRowsJSON(t, e, root, `SELECT COUNT(*) AS c FROM app.n`)
	require.Equal(t, `[["1100"]]`, got, "COUNT(*) is a BigInt string: %s", got)
}

// TestErrors checks codes, statuses, prefixes and redaction classes
// (http-api §6.6, sql-model §10).
func TestErrors(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT NOT NULL) WITH (TYPE='SHARED', ACCESS_LEVEL='public');
		INSERT INTO app.t (id, v) VALUES (1, 'a')`)
	cases := []struct {
		name      string
		id        Identity
		sql       string
		params    []any
		code      string
		status    int
		msg       string
		sensitive bool
	}{
		{"empty", root, "  ;  -- nothing\n", nil, "EMPTY_SQL", 400, "No SQL statements provided", false},
		{"too long", root, "SELECT '" + strings.Repeat("x", 1<<20) + "'", nil, "INVALID_SQL", 400, "SQL query too long", false},
		{"params with batch", root, "SELECT $1; SELECT 2", []any{json.Number("1")}, "PARAMS_WITH_BATCH", 400, "Parameters not supported with multi-statement batches", false},
		{"unclassifiable", root, "FROB the table", nil, "INVALID_SQL", 400, "sql parser error", true},
		{"unsupported", root, "GRANT ALL ON x TO y", nil, "INVALID_SQL", 400, "Unsupported statement type", true},
		{"bad create table", root, "CREATE TABLE app.x (a INT, b INT, PRIMARY KEY (a, b))", nil, "INVALID_SQL", 400, "Invalid CREATE TABLE statement: Composite PRIMARY KEYs are not supported yet", true},
		{"role gate", alice, "CREATE NAMESPACE nope", nil, "PERMISSION_DENIED", 403, "Admin privileges (DBA or System role) required for namespace operations", false},
		{"missing table", root, "SELECT * FROM nope.nothing", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Table not found: Error during planning: table 'kalam.nope.nothing' not found", true},
		{"unknown column", root, "SELECT nope FROM app.t", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Invalid operation: Schema error: No field named nope. Valid fields are app.t.id", false},
		{"duplicate pk", root, "INSERT INTO app.t (id, v) VALUES (1, 'b')", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Already exists: Execution error: Already exists: Primary key violation: value '1' already exists in column 'id'", false},
		{"duplicate pk in batch", root, "INSERT INTO app.t (id, v) VALUES (5, 'b'), (5, 'c')", nil, "SQL_EXECUTION_ERROR", 400, "appears multiple times in the insert batch", false},
		{"not null", root, "INSERT INTO app.t (id) VALUES (2)", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Already exists: Execution error: Constraint violation: Execution error: NOT NULL constraint violation: column 'v' cannot be NULL (row 1)", false},
		{"update pk", root, "UPDATE app.t SET id = 3 WHERE id = 1", nil, "SQL_EXECUTION_ERROR", 400, "UPDATE cannot modify primary key column 'id'", false},
		{"update without where", root, "UPDATE app.t SET v = 'x'", nil, "SQL_EXECUTION_ERROR", 400, "UPDATE requires a WHERE clause", true},
		{"delete without where", root, "DELETE FROM app.t", nil, "SQL_EXECUTION_ERROR", 400, "DELETE requires a WHERE clause", true},
		{"second statement fails", root, "SELECT 1; SELECT * FROM app.missing", nil, "SQL_EXECUTION_ERROR", 400, "Statement 2 failed: Table not found", true},
		{"public write as user", alice, "INSERT INTO app.t (id, v) VALUES (7, 'x')", nil, "PERMISSION_DENIED", 403, "Statement 1 failed: Permission denied: Error during planning: Access denied: Role 'User' cannot access table 'app.t'. Shared table write denied (access_level=Public)", false},
		{"system table as user", alice, "SELECT * FROM system.users", nil, "PERMISSION_DENIED", 403, "System tables require 'dba' or 'system' role.", false},
		{"reserved namespace", root, "CREATE NAMESPACE IF NOT EXISTS default", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Namespace 'default' is reserved and cannot be used", true},
		{"write system table", root, "DELETE FROM system.users WHERE user_id = 'alice'", nil, "SQL_EXECUTION_ERROR", 400, "Invalid operation: Cannot modify system table 'system.users'", false},
		{"drop missing table", root, "DROP TABLE app.gone", nil, "SQL_EXECUTION_ERROR", 400, "Not found: Table 'gone' not found in namespace 'app'", true},
		{"bad placeholder", root, "SELECT $0", nil, "SQL_EXECUTION_ERROR", 400, "Invalid placeholder", false},
		{"open transaction", root, "BEGIN; INSERT INTO app.t (id, v) VALUES (8, 'x')", nil, "SQL_EXECUTION_ERROR", 400, "Request completed with an open explicit transaction; rolled back automatically", true},
		{"ddl in transaction", root, "BEGIN; CREATE NAMESPACE inside", nil, "SQL_EXECUTION_ERROR", 400, "DDL is not allowed inside explicit transaction", false},
		{"not implemented", root, "CREATE STORAGE s3 TYPE s3", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Not implemented: CREATE STORAGE - not supported by the emulator", false},
		{"file placeholder in json", root, `INSERT INTO app.t (id, v) VALUES (1, FILE("f"))`, nil, "INVALID_INPUT", 400, "FILE placeholders require multipart/form-data", false},
		{"stream needs ttl", root, "CREATE STREAM TABLE app.s (id INT)", nil, "INVALID_SQL", 400, "STREAM tables must specify 'TTL_SECONDS'", true},
		{"user table needs pk", root, "CREATE USER TABLE app.u (v TEXT)", nil, "SQL_EXECUTION_ERROR", 400, "Invalid operation: User tables require a PRIMARY KEY column", false},
		{"bad uuid", root, "CREATE TABLE app.uu (id UUID PRIMARY KEY); INSERT INTO app.uu (id) VALUES ('nope')", nil, "SQL_EXECUTION_ERROR", 400, "Statement 2 failed: Invalid operation: Schema coercion failed: Invalid UUID literal 'nope' for column 'id': invalid character: found `n` at 1", false},
		{"embedding dimension", root, "CREATE TABLE app.em (id INT PRIMARY KEY, e EMBEDDING(2)); INSERT INTO app.em (id, e) VALUES (1, '[1,2,3]')", nil, "SQL_EXECUTION_ERROR", 400, "Schema coercion failed: Embedding dimension mismatch for column 'e': expected 2, got 3", false},
		{"bigint overflow", root, "CREATE TABLE app.bi (id INT PRIMARY KEY, b BIGINT); INSERT INTO app.bi (id, b) VALUES (1, 9223372036854775808)", nil, "SQL_EXECUTION_ERROR", 400, "Statement 2 failed: Invalid operation: Schema coercion failed: Unable to cast value Float64 to Int64 for column 'b': Arrow error: Cast error: Can't cast value 9.223372036854776e18 to type Int64", false},
		{"decimal too large", root, "CREATE TABLE app.de (id INT PRIMARY KEY, d DECIMAL(10, 2)); INSERT INTO app.de (id, d) VALUES (1, 123456789012.5)", nil, "SQL_EXECUTION_ERROR", 400, "Statement 2 failed: Invalid operation: Schema coercion failed: Unable to cast value Float64 to Decimal128(10, 2) for column 'd': Arrow error: Invalid argument error: 123456789012.50 is too large to store in a Decimal128 of precision 10. Max is 99999999.99", false},
		{"commit without begin", root, "COMMIT", nil, "SQL_EXECUTION_ERROR", 400, "Statement 1 failed: Invalid operation: COMMIT requires an active explicit SQL transaction", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := mustFail(t, e, c.id, c.sql, c.params...)
			require.Equal(t, c.code, err.Code)
			require.Equal(t, c.status, err.HTTPStatus)
			require.Equal(t, c.sensitive, err.Sensitive, "got %s %d sensitive=%v (%s); want %s %d sensitive=%v", err.Code, err.HTTPStatus, err.Sensitive, err.Message, c.code, c.status, c.sensitive)
			wantContains(t, err.Message, c.msg)
			require.False(t, c.id.Role.IsAdmin() && err.Details == "" && strings.HasPrefix(err.Message, "Statement"), "admin error without details: %+v", err)
			require.False(t, !c.id.Role.IsAdmin() && err.Details != "", "non-admin error shows details %q", err.Details)
			if !strings.HasPrefix(err.Message, "Statement") {
				require.Empty(t, err.Details, "an error raised before execution has no details")
			}
		})
	}
	// Nothing of a failed request's open transaction stays.
	got := queryRowsJSON(t, e, root, `SELECT COUNT(*) FROM app.t`)
	require.Equal(t, `[["1"]]`, got, "rows after failures: %s", got)
}

// TestClassifyBeforeRun: a bad statement later in the batch means nothing
// runs (http-api §6.3).
func TestClassifyBeforeRun(t *testing.T) {
	e := newTestEngine(t, Options{})
	err := mustFail(t, e, root, `CREATE NAMESPACE early; FROB`)
	require.Equal(t, "INVALID_SQL", err.Code, "code %s", err.Code)
	_, ok := e.cat.Namespaces["early"]
	require.False(t, ok, "statement 1 ran although statement 2 failed classification")
	// Execution failures keep earlier statements applied.
	mustFail(t, e, root, `CREATE NAMESPACE kept; SELECT * FROM kept.nothing`)
	mustExec(t, e, root, `CREATE TABLE kept.t (id INT PRIMARY KEY)`)
}

// TestTransactions: BEGIN/COMMIT/ROLLBACK within one request (sql-model §5.6).
func TestTransactions(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED')`)
	res := mustExec(t, e, root, `BEGIN; INSERT INTO app.t (id, v) VALUES (1, 'a'); INSERT INTO app.t (id, v) VALUES (2, 'b'); COMMIT`)
	require.Len(t, res, 3)
	require.True(t, strings.HasPrefix(res[0].Message, "Transaction started ("))
	require.True(t, strings.HasPrefix(res[1].Message, "Transaction committed ("))
	require.Equal(t, "Inserted 2 row(s)", res[2].Message, "results %+v", res)
	res = mustExec(t, e, root, `BEGIN; INSERT INTO app.t (id, v) VALUES (3, 'c'); ROLLBACK; SELECT COUNT(*) FROM app.t`)
	require.True(t, strings.HasPrefix(res[1].Message, "Transaction rolled back ("))
	require.Equal(t, `[["2"]]`, rowsJSON(t, res[2]), "rollback: %+v", res)
	// A failure inside the transaction rolls all of it back.
	mustFail(t, e, root, `BEGIN; INSERT INTO app.t (id, v) VALUES (4, 'd'); INSERT INTO app.t (id, v) VALUES (1, 'dup'); COMMIT`)
	got := queryRowsJSON(t, e, root, `SELECT id FROM app.t`)
	require.Equal(t, `[[1],[2]]`, got, "after failed transaction: %s", got)
	// Read-your-writes inside the transaction.
	res = mustExec(t, e, root, `BEGIN; INSERT INTO app.t (id, v) VALUES (5, 'e'); SELECT v FROM app.t WHERE id = 5; COMMIT`)
	require.Equal(t, `[["e"]]`, rowsJSON(t, res[1]), "read your writes: %+v", res)
	mustExec(t, e, root, `CREATE STREAM TABLE app.s (id INT PRIMARY KEY) WITH (TTL_SECONDS=10)`)
	err := mustFail(t, e, root, `BEGIN; INSERT INTO app.s (id) VALUES (1); COMMIT`)
	wantContains(t, err.Message, "stream tables are not supported inside explicit transactions")
}

// TestSubscribeOverHTTP describes the WebSocket instead of subscribing
// (sql-model §9).
func TestSubscribeOverHTTP(t *testing.T) {
	e := newTestEngine(t, Options{})
	for sql, want := range map[string]string{
		`SUBSCRIBE TO app.t WHERE id > 5 OPTIONS (last_rows=10)`: "SELECT * FROM app.t WHERE id > 5",
		`SUBSCRIBE TO SELECT id FROM t`:                          "SELECT id FROM app.t",
	} {
		res, err := e.Execute(Request{Identity: alice, SQL: sql, Namespace: "app"})
		require.Nil(t, err)
		r := res[0]
		var sub struct{ ID, SQL string }
		if err := json.Unmarshal(r.Rows[0][2], &sub); err != nil || sub.SQL != want || !strings.HasPrefix(sub.ID, "sub-app-t-") {
			require.FailNow(t, fmt.Sprintf("%s: subscription %s (%v), want sql %q", sql, r.Rows[0][2], err, want))
		}
		require.Equal(t, `"active"`, string(r.Rows[0][0]))
		require.Equal(t, `"ws://localhost:8080/ws"`, string(r.Rows[0][1]))
		require.Equal(t, "subscription", r.Schema[2].Name, "%s: %s %s", sql, schemaJSON(t, r), rowsJSON(t, r))
	}
}

// TestInsertForms: column lists, defaults, positional VALUES and
// INSERT ... SELECT (sql-model §5.2).
func TestInsertForms(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now})
	mustExec(t, e, root, `CREATE TABLE app.src (id INT PRIMARY KEY, "values" TEXT) WITH (TYPE='SHARED');
		CREATE TABLE app.dst (id INT PRIMARY KEY, v TEXT DEFAULT 'none', who TEXT DEFAULT CURRENT_USER(), at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
			u TEXT DEFAULT UUID_V7(), n INT NOT NULL DEFAULT 7) WITH (TYPE='SHARED')`)
	mustExec(t, e, root, `INSERT INTO app.src (id, "values") VALUES (1, 'a'), (2, 'b')`)
	mustExec(t, e, root, `INSERT INTO app.src VALUES (3, 'c')`)
	res := mustExec(t, e, root, `INSERT INTO app.dst (id, v) SELECT id, "values" FROM app.src WHERE id > 1`)[0]
	require.Equal(t, "Inserted 2 row(s)", res.Message, "INSERT SELECT: %+v", res)
	mustExec(t, e, root, `INSERT INTO app.dst (id) VALUES (10)`)
	got := queryRowsJSON(t, e, root, `SELECT id, v, who, at, n FROM app.dst`)
	at := clock.Now().UnixMicro()
	want := fmt.Sprintf(`[[2,"b","root",%d,7],[3,"c","root",%d,7],[10,"none","root",%d,7]]`, at, at, at)
	require.Equal(t, want, got, "rows %s, want %s", got, want)
	var u string
	err := json.Unmarshal(mustExec(t, e, root, `SELECT u FROM app.dst WHERE id = 10`)[0].Rows[0][0], &u)
	require.NoError(t, err)
	require.Len(t, u, 36)
	require.EqualValues(t, '7', u[14], "UUID_V7 default %q (%v)", u, err)
}

// TestRealAnswerShapes pins answers recorded from kalamdb-server 0.4.2-rc.3
// (kalamtest/transcript sql_types, sql_ddl_dml).
func TestRealAnswerShapes(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.p (id INT PRIMARY KEY) WITH (TYPE='SHARED')`)
	res := mustExec(t, e, root, `SELECT NULL AS nothing, TRUE AS yes, 1 AS "order"`)
	require.JSONEq(t, `[null,true,"1"]`, strings.TrimSuffix(strings.TrimPrefix(rowsJSON(t, res[0]), "["), "]"))
	require.Contains(t, schemaJSON(t, res[0]), `"nothing"`)
	require.Contains(t, schemaJSON(t, res[0]), `"Boolean"`)
	res = mustExec(t, e, root, `ALTER TABLE app.p ADD COLUMN name TEXT`)
	require.Equal(t, "Table app.p altered successfully: ADD COLUMN name TEXT (version 2)", res[0].Message)
	res = mustExec(t, e, root, `ALTER TABLE app.p DROP COLUMN name`)
	require.Equal(t, "Table app.p altered successfully: DROP COLUMN name (version 3)", res[0].Message)
	res = mustExec(t, e, root, `DROP TABLE app.p`)
	require.Regexp(t, `^Table app\.p dropped successfully\. Cleanup job: CL-[0-9a-f]{12}$`, res[0].Message)
}
