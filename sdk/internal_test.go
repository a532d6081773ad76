package sdk

import (
	"strings"
	"testing"
)

func TestIsReadOnlySQL(t *testing.T) {
	cases := map[string]bool{
		"SELECT 1":           true,
		"  select * from t":  true,
		"-- c\nSHOW TABLES":  true,
		"/* x */ DESCRIBE t": true,
		"(SELECT 1)":         true,
		"SELECT 1; SELECT 2": true,
		"EXPLAIN SELECT 1":   true,
		"EXPLAIN ANALYZE INSERT INTO t VALUES (1)": false,
		"INSERT INTO t VALUES (1)":                 false,
		"SELECT 1; DELETE FROM t":                  false,
		"WITH x AS (SELECT 1) SELECT * FROM x":     false,
		"":                                         false,
		"-- only a comment":                        false,
		"/* unterminated":                          false,
	}
	for sql, want := range cases {
		if got := isReadOnlySQL(sql); got != want {
			t.Errorf("isReadOnlySQL(%q) = %v, want %v", sql, got, want)
		}
	}
}

func TestSQLPreviewHidesLiteralsAndCutsSafely(t *testing.T) {
	got := sqlPreview("CREATE USER 'bob' WITH PASSWORD 'hunter2' ROLE user")
	if got != `"CREATE USER '…' WITH PASSWORD '…' ROLE user"` {
		t.Errorf("preview = %s", got)
	}
	long := "SELECT " + strings.Repeat("é", 100)
	if p := sqlPreview(long); strings.ContainsRune(p, '\uFFFD') || !strings.HasSuffix(p, `…"`) {
		t.Errorf("preview split a character or was not cut: %s", p)
	}
}

func TestServerErrorRedactsSecrets(t *testing.T) {
	e := &ServerError{HTTPStatus: 400, Code: "SQL_EXECUTION_ERROR", Message: "Statement 1 failed: bad token eyJhbGc.eyJzdWIi.sig",
		Details: "CREATE USER 'bob' WITH PASSWORD 'hunter2' ROLE user"}
	s := e.Error()
	for _, secret := range []string{"hunter2", "eyJhbGc"} {
		if strings.Contains(s, secret) {
			t.Errorf("error string leaks %q: %s", secret, s)
		}
	}
}
