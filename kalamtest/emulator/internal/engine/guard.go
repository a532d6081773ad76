package engine

import (
	"fmt"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// guard confines the SQLite statements built from client SQL, whatever
// shape the translation missed (issue 9): SQLite's authorizer lets such a
// statement read only the physical tables that resolved through the
// catalog for the caller, call no engine-internal function, and do
// nothing but SELECT. The engine's own statements run unguarded.
type guard struct {
	active bool
	allow  map[string]bool // lower-case physical table names
	// ctes are the statement's CTE names (lower case): SQLite reports a
	// CTE read without columns (count(*)) as a read of a table of that
	// name, with no schema, exactly as it reports such a read of a real table.
	ctes map[string]bool
	// denied describes the first refusal, for the error.
	denied struct {
		action sqlite3.AuthorizerActionCode
		name   string
	}
}

// internalFuncs are registered for the engine's own SQL (triggers), not
// for clients.
var internalFuncs = map[string]bool{"kv_capture": true}

func (e *Engine) authorize(action sqlite3.AuthorizerActionCode, name3rd, name4th, _, _ string) sqlite3.AuthorizerReturnCode {
	g := &e.guard
	if !g.active {
		return sqlite3.AUTH_OK
	}
	name := name3rd
	switch action {
	case sqlite3.AUTH_SELECT, sqlite3.AUTH_RECURSIVE:
		return sqlite3.AUTH_OK
	case sqlite3.AUTH_FUNCTION:
		if !internalFuncs[strings.ToLower(name4th)] {
			return sqlite3.AUTH_OK
		}
		name = name4th
	case sqlite3.AUTH_READ:
		n := strings.ToLower(name3rd)
		if g.allow[n] || name4th == "" && g.ctes[n] {
			return sqlite3.AUTH_OK
		}
	}
	if g.denied.action == 0 { // 0 is no action code: nothing refused yet
		g.denied.action, g.denied.name = action, name
	}
	return sqlite3.AUTH_DENY
}

// guarded prepares sql with only the tables in allow readable. The guard
// stays on until done is called: SQLite re-prepares (and re-authorizes) a
// statement whose schema changed when it is stepped.
func (e *Engine) guarded(sql string, allow map[string]bool, tr *translation) (stmt *sqlite3.Stmt, tail string, done func(), err error) {
	ctes := make(map[string]bool, len(tr.refs)+len(tr.ctes))
	for _, r := range tr.refs {
		ctes[strings.ToLower(r.cte)] = true
	}
	for _, n := range tr.ctes {
		// A CTE named like an internal table is refused rather than told
		// apart from the table in another scope.
		if n = strings.ToLower(n); !reservedName(n) {
			ctes[n] = true
		}
	}
	e.guard.active, e.guard.allow, e.guard.ctes = true, allow, ctes
	e.guard.denied.action, e.guard.denied.name = 0, ""
	// Installed only while needed: every callback costs the engine's own
	// statements too.
	if err := e.conn.SetAuthorizer(e.authorize); err != nil {
		e.guard.active = false
		return nil, "", func() {}, fmt.Errorf("install authorizer: %w", err)
	}
	done = func() {
		e.guard.active, e.guard.allow, e.guard.ctes = false, nil, nil
		_ = e.conn.SetAuthorizer(nil)
	}
	stmt, tail, err = e.conn.Prepare(sql)
	return stmt, tail, done, err
}

// deniedErr is the error for a statement the guard refused, nil when it
// refused nothing. A table the client may not reach is answered as the
// server answers a table it does not know (sql-model §error table).
func (e *Engine) deniedErr() *stmtErr {
	d := e.guard.denied
	switch {
	case d.action == 0:
		return nil
	case d.action == sqlite3.AUTH_READ:
		return execErr("Table not found: Error during planning: table '%s' not found", d.name)
	case d.action == sqlite3.AUTH_FUNCTION:
		return execErr("Execution error: SQL error: no such function: %s", d.name)
	}
	return execErr("Execution error: SQL error: statement not supported")
}

// reservedName reports names of SQLite's and the engine's own tables and
// table-valued functions.
func reservedName(lower string) bool {
	for _, p := range []string{"sqlite_", "_kv_", "sys$", "u$", "pragma_", "json_", "jsonb_", "__kv"} {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	return false
}
