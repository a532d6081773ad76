package engine

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCellEncoding checks every KalamDataType's wire encoding
// (sql-model §4.1, http-api §6.5) through INSERT and SELECT.
func TestCellEncoding(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.all_types (id VARCHAR PRIMARY KEY, col_bool BOOLEAN, col_int INT, col_bigint BIGINT,
		col_double DOUBLE, col_float FLOAT, col_text TEXT, col_timestamp TIMESTAMP, col_date DATE, col_datetime DATETIME,
		col_time TIME, col_json JSON, col_uuid UUID, col_decimal DECIMAL(10, 2), col_smallint SMALLINT, col_bytes BYTES,
		col_emb EMBEDDING(3), col_file FILE) WITH (TYPE='USER')`)
	// The row of sql-model §4.1's example, read back with the values it lists.
	mustExec(t, e, alice, `INSERT INTO app.all_types (id, col_bool, col_int, col_bigint, col_double, col_float, col_text,
		col_timestamp, col_date, col_datetime, col_time, col_json, col_uuid, col_decimal, col_smallint, col_bytes, col_emb)
		VALUES ('row1', true, 123, 1234567890, 123.45, 12.34, 'initial text', '2023-01-01 10:00:00', '2023-01-01',
		'2023-01-01 10:00:00', '10:00:00', '{"key": "initial"}', '550E8400-E29B-41D4-A716-446655440000', 100.50, 100, 'hi',
		'[0.5,0.25,1]')`)
	res := mustExec(t, e, alice, `SELECT * FROM app.all_types`)[0]
	cases := []struct{ col, typ, cell string }{
		{"id", `"Text"`, `"row1"`},
		{"col_bool", `"Boolean"`, `true`},
		{"col_int", `"Int"`, `123`},
		{"col_bigint", `"BigInt"`, `"1234567890"`},
		{"col_double", `"Double"`, `123.45`},
		{"col_float", `"Float"`, `12.34`},
		{"col_text", `"Text"`, `"initial text"`},
		{"col_timestamp", `"Timestamp"`, `1672567200000000`},
		{"col_date", `"Date"`, `19358`},
		{"col_datetime", `"DateTime"`, `1672567200000000`},
		{"col_time", `"Time"`, `36000000000`},
		{"col_json", `"Json"`, `"{\"key\": \"initial\"}"`},
		{"col_uuid", `"Uuid"`, `"550e8400-e29b-41d4-a716-446655440000"`},
		{"col_decimal", `{"Decimal":{"precision":10,"scale":2}}`, `"100.50"`},
		{"col_smallint", `"SmallInt"`, `100`},
		{"col_bytes", `"Bytes"`, `[104,105]`},
		{"col_emb", `{"Embedding":3}`, `[0.5,0.25,1.0]`},
		{"col_file", `"File"`, `null`},
		{"_seq", `"BigInt"`, ``},
		{"_deleted", `"Boolean"`, `false`},
	}
	require.Len(t, res.Schema, len(cases), "schema has %d columns, want %d: %s", len(res.Schema), len(cases), schemaJSON(t, res))
	for i, c := range cases {
		t.Run(c.col, func(t *testing.T) {
			col := res.Schema[i]
			require.Equal(t, c.col, col.Name)
			require.Equal(t, c.typ, string(col.DataType))
			require.Equal(t, i, col.Index, "schema[%d] = %s %s %d, want %s %s %d", i, col.Name, col.DataType, col.Index, c.col, c.typ, i)
			require.False(t, c.cell != "" && string(res.Rows[0][i]) != c.cell, "cell %s = %s, want %s", c.col, res.Rows[0][i], c.cell)
		})
	}
	var seq string
	err := json.Unmarshal(res.Rows[0][18], &seq)
	require.NoError(t, err)
	require.NotEqual(t, "", seq, "_seq cell %s is not a JSON string", res.Rows[0][18])
}

// TestBigIntAbove2p53 keeps int64 exact beyond float64 precision both as a
// literal and as a parameter (http-api §6.2, §6.5).
func TestBigIntAbove2p53(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.big (id BIGINT PRIMARY KEY, v BIGINT) WITH (TYPE='SHARED')`)
	mustExec(t, e, root, `INSERT INTO app.big (id, v) VALUES (1, 9007199254740993)`)
	mustExec(t, e, root, `INSERT INTO app.big (id, v) VALUES ($1, $2)`, json.Number("2"), json.Number("9223372036854775807"))
	got := queryRowsJSON(t, e, root, `SELECT v FROM app.big WHERE v > $1 ORDER BY id`, json.Number("9007199254740992"))
	want := `[["9007199254740993"],["9223372036854775807"]]`
	require.Equal(t, want, got, "rows = %s, want %s", got, want)
	// A numeric string compared with a BIGINT column is cast like DataFusion.
	got = queryRowsJSON(t, e, root, `SELECT id FROM app.big WHERE v = $1`, "9007199254740993")
	want = `[["1"]]`
	require.Equal(t, want, got, "rows = %s, want %s", got, want)
}

// TestParamTyping binds each JSON kind as http-api §6.2 types it.
func TestParamTyping(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.p (id INT PRIMARY KEY, b BOOLEAN, d DOUBLE, s TEXT, ts TIMESTAMP, n TEXT) WITH (TYPE='SHARED')`)
	mustExec(t, e, root, `INSERT INTO app.p (id, b, d, s, ts, n) VALUES ($1, $2, $3, $4, $5, $6)`,
		json.Number("7"), true, json.Number("1.5"), "it's", "2024-01-01T00:00:00Z", nil)
	got := queryRowsJSON(t, e, root, `SELECT id, b, d, s, ts, n FROM app.p WHERE ts = $1 AND b = $2`, "2024-01-01 00:00:00", true)
	want := `[[7,true,1.5,"it's",1704067200000000,null]]`
	require.Equal(t, want, got, "rows = %s, want %s", got, want)
	err := mustFail(t, e, root, `SELECT $1`, []any{1})
	require.Equal(t, "INVALID_PARAMETER", err.Code)
	require.Equal(t, "Parameter $1 invalid: Array parameters not yet supported", err.Message, "array param: %+v", err)
	err = mustFail(t, e, root, `SELECT $2`, json.Number("1"))
	require.Equal(t, "SQL_EXECUTION_ERROR", err.Code)
	require.Equal(t, "Statement 1 failed: Parameter binding error: Error during planning: No value found for placeholder with id $2", err.Message, "count mismatch: %+v", err)
}

// TestFormatFloat matches serde_json's float rendering.
func TestFormatFloat(t *testing.T) {
	for _, c := range []struct {
		f    float64
		want string
	}{{100, "100.0"}, {123.45, "123.45"}, {0.1, "0.1"}, {1e20, "1e20"}, {1.5e-7, "1.5e-7"}, {-2, "-2.0"}} {
		got := formatFloat(c.f, 64)
		assert.Equal(t, c.want, got, "formatFloat(%v) = %s, want %s", c.f, got, c.want)
	}
}

// TestCasts: DataFusion's expr::TYPE casts like an insert into that type
// (sql-model §5.4); computed names use lowercase functions.
func TestCasts(t *testing.T) {
	e := newTestEngine(t, Options{})
	res := mustExec(t, e, root, `SELECT '2023-01-01 10:00:00'::TIMESTAMP AS ts, '42'::BIGINT AS n, (1 + 1)::TEXT AS s, 3::DECIMAL(5,1) AS d`)[0]
	got := rowsJSON(t, res)
	require.Equal(t, `[[1672567200000000,"42","2","3.0"]]`, got, "casts: %s %s", got, schemaJSON(t, res))
	require.Equal(t, `"Timestamp"`, string(res.Schema[0].DataType))
	require.Equal(t, `{"Decimal":{"precision":5,"scale":1}}`, string(res.Schema[3].DataType), "cast types: %s", schemaJSON(t, res))
	res = mustExec(t, e, root, `SELECT COUNT(*) FROM system.namespaces`)[0]
	require.Equal(t, "count(*)", res.Schema[0].Name)
	require.Equal(t, `"BigInt"`, string(res.Schema[0].DataType), "count column: %s", schemaJSON(t, res))
	mustFail(t, e, root, `SELECT 'x'::UUID`)
}

// TestComputedTypes types aggregates and casts with or without aliases
// (http-api §6.4: computed columns are inferred from the Arrow type).
func TestComputedTypes(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.o (id INT PRIMARY KEY, at TIMESTAMP, price DECIMAL(8,2), qty INT) WITH (TYPE='SHARED');
		INSERT INTO app.o (id, at, price, qty) VALUES (1, '2024-01-01T00:00:00Z', 1.25, 2), (2, '2024-01-02T00:00:00Z', 2.5, 3)`)
	res := mustExec(t, e, root, `SELECT MAX(at) AS latest, SUM(price) AS total, AVG(qty) AS a, COUNT(*) AS n, SUM(qty), MIN(o.at),
		CAST('2024-01-01' AS TIMESTAMP) AS c FROM app.o`)[0]
	want := `[{"name":"latest","data_type":"Timestamp","index":0},{"name":"total","data_type":{"Decimal":{"precision":18,"scale":2}},"index":1},` +
		`{"name":"a","data_type":"Double","index":2},{"name":"n","data_type":"BigInt","index":3},{"name":"sum(qty)","data_type":"BigInt","index":4},` +
		`{"name":"min(o.at)","data_type":"Timestamp","index":5},{"name":"c","data_type":"Timestamp","index":6}]`
	got := schemaJSON(t, res)
	require.Equal(t, want, got, "schema\n got %s\nwant %s", got, want)
	got = rowsJSON(t, res)
	require.Equal(t, `[[1704153600000000,"3.75",2.5,"2","5",1704067200000000,1704067200000000]]`, got, "rows %s", got)
}

// TestLikeCase: LIKE is case-sensitive and ILIKE is not, as in DataFusion
// (sql-model §5.4).
func TestLikeCase(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.w (id INT PRIMARY KEY, name TEXT) WITH (TYPE='SHARED');
		INSERT INTO app.w (id, name) VALUES (1, 'Alice'), (2, 'alice'), (3, 'Bob')`)
	for sql, want := range map[string]string{
		`SELECT id FROM app.w WHERE name LIKE 'a%'`:          `[[2]]`,
		`SELECT id FROM app.w WHERE name ILIKE 'A%'`:         `[[1],[2]]`,
		`SELECT id FROM app.w WHERE app.w.name NOT ILIKE $1`: `[[3]]`,
	} {
		got := queryRowsJSON(t, e, root, sql, "a%")
		assert.Equal(t, want, got, "%s: %s, want %s", sql, got, want)
	}
}

// TestNowUnits: SELECT NOW() is DataFusion's nanosecond timestamp while a
// NOW() stored in a TIMESTAMP column reads back in µs (http-api §6.5).
func TestNowUnits(t *testing.T) {
	clock := newClock()
	e := newTestEngine(t, Options{Now: clock.Now})
	mustExec(t, e, root, `CREATE TABLE app.n (id INT PRIMARY KEY, at TIMESTAMP DEFAULT NOW()) WITH (TYPE='SHARED');
		INSERT INTO app.n (id) VALUES (1); INSERT INTO app.n (id, at) VALUES (2, NOW())`)
	us := clock.Now().UnixMicro()
	res := mustExec(t, e, root, `SELECT NOW() AS now, CURRENT_TIMESTAMP`)[0]
	if got, want := rowsJSON(t, res), fmt.Sprintf(`[[%d,%d]]`, us*1000, us*1000); got != want {
		require.FailNow(t, fmt.Sprintf("SELECT NOW(): %s, want %s", got, want))
	}
	if got, want := queryRowsJSON(t, e, root, `SELECT at FROM app.n`), fmt.Sprintf(`[[%d],[%d]]`, us, us); got != want {
		require.FailNow(t, fmt.Sprintf("stored NOW(): %s, want %s", got, want))
	}
}

// TestNoHTMLEscaping writes text the way serde_json does: <, > and & stay
// literal in cells and topic payloads.
func TestNoHTMLEscaping(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.h (id INT PRIMARY KEY, s TEXT) WITH (TYPE='SHARED'); INSERT INTO app.h (id, s) VALUES (1, '<a&b>')`)
	// Checked on the raw cell: json.Marshal of the rows would escape again.
	got := string(mustExec(t, e, root, `SELECT s FROM app.h`)[0].Rows[0][0])
	require.Equal(t, `"<a&b>"`, got, "cell %s", got)
}

// http-api.md §6.4: schema flags come in the real server's order, the
// FieldFlag enum's (pk, nn, uq), not alphabetically.
func TestSchemaFlagOrder(t *testing.T) {
	e := newTestEngine(t, Options{})
	mustExec(t, e, root, `CREATE TABLE app.f (id BIGINT PRIMARY KEY, name TEXT NOT NULL, note TEXT) WITH (TYPE='SHARED')`)
	res := mustExec(t, e, root, `SELECT id, name, note FROM app.f`)
	got := [][]string{res[0].Schema[0].Flags, res[0].Schema[1].Flags, res[0].Schema[2].Flags}
	want := [][]string{{"pk", "nn", "uq"}, {"nn"}, nil}
	require.Equal(t, want, got, "flags %q, want %q", got, want)
}
