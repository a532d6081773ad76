package engine

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// FuzzExecute feeds arbitrary SQL through the whole translator: any input
// must end in a result or an *Error with a code, never a panic.
func FuzzExecute(f *testing.F) {
	for _, s := range []string{
		"SELECT * FROM app.t WHERE id = $1",
		"INSERT INTO app.t (id, v) VALUES ($1, 'x')",
		"UPDATE app.t SET v = v || 'y' WHERE id IN ($1, 2)",
		"DELETE FROM app.t WHERE id BETWEEN $1 AND 3",
		"EXECUTE AS USER 'alice' (SELECT app.t.v FROM app.t)",
		"CREATE TABLE app.x (id INT PRIMARY KEY DEFAULT 1, b DECIMAL(3,1)) WITH (TYPE='USER')",
		"WITH c AS (SELECT 1) SELECT * FROM c, app.t",
		"CONSUME FROM app.tp GROUP 'g' FROM 0 LIMIT 1",
		"SELECT CAST(v AS TIMESTAMP), v::INT FROM app.t WHERE app.t.v NOT ILIKE $1",
		"SUBSCRIBE TO app.t WHERE id > 1 OPTIONS (last_rows=1)",
		"SELECT (SELECT COUNT(*) FROM app.t) AS n, MAX(id) FROM app.t GROUP BY v",
	} {
		f.Add(s)
	}
	e := newTestEngine(f, Options{})
	mustExec(f, e, root, `CREATE TABLE app.t (id INT PRIMARY KEY, v TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public');
		INSERT INTO app.t (id, v) VALUES (1, 'a'); CREATE TOPIC app.tp`)
	f.Fuzz(func(t *testing.T, sql string) {
		for _, id := range []Identity{root, alice} {
			res, err := e.Execute(Request{Identity: id, SQL: sql, Params: []any{json.Number("1")}})
			require.False(t, err != nil && (err.Code == "" || err.HTTPStatus == 0 || err.Message == ""), "error without code/status/message: %+v", err)
			if err != nil {
				require.NotContains(t, err.Message, "internal error:", "panic for %q", sql)
			}
			require.False(t, err == nil && res == nil, "no results and no error for %q", sql)
		}
	})
}
