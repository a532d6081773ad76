//go:build !js

package live

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// §14: the live filter evaluates what filter_eval.rs evaluates; anything else
// is an error (the change is skipped); a WHERE it cannot parse is no filter.
func TestFilterSemantics(t *testing.T) {
	row := rowView{row: map[string]json.RawMessage{
		"id": json.RawMessage(`"9007199254740993"`), "title": json.RawMessage(`"Hello_World"`),
		"n": json.RawMessage(`7`), "f": json.RawMessage(`2.5`), "ok": json.RawMessage(`true`), "gone": json.RawMessage(`null`),
	}, numeric: map[string]bool{"id": true}}
	for _, tc := range []struct {
		where string
		match bool
		fails bool
	}{
		{"id = 9007199254740993", true, false},
		{"id = 9007199254740992", false, false}, // exact int64 equality
		{"id = '9007199254740993'", false, false},
		{"n > 5 AND f <= 2.5", true, false},
		{"n < 5 OR NOT ok = false", true, false},
		{"t.title LIKE 'Hello\\_%' ESCAPE '\\'", true, false},
		{"title LIKE 'hello%'", false, false},
		{"title ILIKE 'hello%'", true, false},
		{"title NOT LIKE 'H%'", false, false},
		{"TITLE = 'Hello_World'", true, false}, // upper/lower fallback
		{"gone = NULL", false, false},
		{"n IN (7)", false, true},
		{"gone IS NULL", false, true},
		{"n BETWEEN 1 AND 9", false, true},
		{"n + 1 = 8", false, true},
		{"lower(title) = 'x'", false, true},
		{"missing = 1", false, true},
		{"title > 3", false, true},
		{"(n = 7)", true, false},
	} {
		f, ok := parseFilter(tc.where, "u")
		require.True(t, ok, "%q did not parse", tc.where)
		got, err := f.matches(row, 0)
		require.Equal(t, tc.fails, err != nil)
		require.Equal(t, tc.match, got, "%q: match %v err %v, want match %v fails %v", tc.where, got, err, tc.match, tc.fails)
	}
	_, ok := parseFilter("id = = 3", "u")
	require.False(t, ok, "a malformed WHERE parsed")
	f, _ := parseFilter("owner = CURRENT_USER()", "o'brien")
	ok, err := f.matches(rowView{row: map[string]json.RawMessage{"owner": json.RawMessage(`"o'brien"`)}}, 0)
	require.True(t, ok)
	require.NoError(t, err, "CURRENT_USER() replacement: %v", ok)
}

// §14: subscription SQL shape checks.
func TestAnalyzeSubscription(t *testing.T) {
	q, err := analyzeSubscription(`SELECT id, "Title" FROM App.Todos t WHERE t.id > 3;`)
	require.Nil(t, err)
	require.Equal(t, "app", q.namespace)
	require.Equal(t, "todos", q.table)
	require.Equal(t, "t.id > 3", q.where)
	require.Equal(t, "App.Todos t", q.fromText)
	require.Len(t, q.columns, 2)
	require.Equal(t, "Title", q.columns[1], "%+v", q)
	for _, bad := range []string{
		"SELECT * FROM a.b; SELECT 1", "WITH x AS (SELECT 1) SELECT * FROM a.b", "SELECT * FROM a.b LIMIT 3",
		"SELECT DISTINCT id FROM a.b", "SELECT * FROM a.b GROUP BY id", "SELECT * FROM a.b, a.c",
		"SELECT * FROM (SELECT 1)", "SELECT * FROM a.b WHERE id IN (SELECT id FROM a.c)", "SELECT * FROM b",
		"SELECT _deleted FROM a.b", "UPDATE a.b SET x = 1", "SELECT * FROM a.b UNION SELECT * FROM a.c", "",
	} {
		_, err := analyzeSubscription(bad)
		require.NotNil(t, err)
		require.Equal(t, "INVALID_SQL", err.code, "%q: got %v, want INVALID_SQL", bad, err)
	}
	_, err = analyzeSubscription("SELECT id + 1 FROM a.b")
	require.NotNil(t, err)
	require.Equal(t, "SUBSCRIPTION_FAILED", err.code, "expression projection: %v, want SUBSCRIPTION_FAILED", err)
}
