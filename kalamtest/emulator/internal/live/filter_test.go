//go:build !js

package live

import (
	"encoding/json"
	"testing"
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
		if !ok {
			t.Fatalf("%q did not parse", tc.where)
		}
		got, err := f.matches(row, 0)
		if (err != nil) != tc.fails || got != tc.match {
			t.Fatalf("%q: match %v err %v, want match %v fails %v", tc.where, got, err, tc.match, tc.fails)
		}
	}
	if _, ok := parseFilter("id = = 3", "u"); ok {
		t.Fatal("a malformed WHERE parsed")
	}
	f, _ := parseFilter("owner = CURRENT_USER()", "o'brien")
	if ok, err := f.matches(rowView{row: map[string]json.RawMessage{"owner": json.RawMessage(`"o'brien"`)}}, 0); !ok || err != nil {
		t.Fatalf("CURRENT_USER() replacement: %v %v", ok, err)
	}
}

// §14: subscription SQL shape checks.
func TestAnalyzeSubscription(t *testing.T) {
	q, err := analyzeSubscription(`SELECT id, "Title" FROM App.Todos t WHERE t.id > 3;`)
	if err != nil {
		t.Fatal(err)
	}
	if q.namespace != "app" || q.table != "todos" || q.where != "t.id > 3" || q.fromText != "App.Todos t" || len(q.columns) != 2 || q.columns[1] != "Title" {
		t.Fatalf("%+v", q)
	}
	for _, bad := range []string{
		"SELECT * FROM a.b; SELECT 1", "WITH x AS (SELECT 1) SELECT * FROM a.b", "SELECT * FROM a.b LIMIT 3",
		"SELECT DISTINCT id FROM a.b", "SELECT * FROM a.b GROUP BY id", "SELECT * FROM a.b, a.c",
		"SELECT * FROM (SELECT 1)", "SELECT * FROM a.b WHERE id IN (SELECT id FROM a.c)", "SELECT * FROM b",
		"SELECT _deleted FROM a.b", "UPDATE a.b SET x = 1", "SELECT * FROM a.b UNION SELECT * FROM a.c", "",
	} {
		if _, err := analyzeSubscription(bad); err == nil || err.code != "INVALID_SQL" {
			t.Fatalf("%q: got %v, want INVALID_SQL", bad, err)
		}
	}
	if _, err := analyzeSubscription("SELECT id + 1 FROM a.b"); err == nil || err.code != "SUBSCRIPTION_FAILED" {
		t.Fatalf("expression projection: %v, want SUBSCRIPTION_FAILED", err)
	}
}
