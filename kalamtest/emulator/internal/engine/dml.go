package engine

import (
	"bytes"
	"fmt"
	"strings"
)

// dmlTarget reads the statement's table name and checks write access.
func (e *Engine) dmlTarget(c *tokCursor, s *session) (*tableInfo, *stmtErr) {
	parts := []string{}
	for {
		n, ok := c.next().ident()
		if !ok {
			return nil, execErr("Execution error: SQL error: ParserError(\"Expected: table name\")")
		}
		parts = append(parts, strings.ToLower(n))
		if !c.accept(".") {
			break
		}
	}
	if len(parts) == 3 && parts[0] == "kalam" {
		parts = parts[1:]
	}
	ns, name := s.ns, parts[len(parts)-1]
	if len(parts) == 2 {
		ns = parts[0]
	} else if len(parts) > 2 {
		return nil, tableNotFound(parts[0], strings.Join(parts[1:], "."))
	}
	if ns == "system" {
		if sysTables[name] == nil {
			return nil, tableNotFound(ns, name)
		}
		return nil, execErr("Invalid operation: Cannot modify system table 'system.%s'", name)
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return nil, tableNotFound(ns, name)
	}
	if se := e.checkAccess(t, s, true); se != nil {
		return nil, se
	}
	return t, nil
}

func (e *Engine) execDML(st *stmt, s *session, inTx bool) (Result, *stmtErr) {
	c := &tokCursor{t: st.sig}
	switch st.kind {
	case kInsert:
		c.accept("INSERT")
		if !c.accept("INTO") {
			return Result{}, execErr("Execution error: SQL error: ParserError(\"Expected: INTO, found: %s\")", c.peek().text)
		}
	case kUpdate:
		c.accept("UPDATE")
	case kDelete:
		c.accept("DELETE")
		if !c.accept("FROM") {
			return Result{}, execErr("Execution error: SQL error: ParserError(\"Expected: FROM, found: %s\")", c.peek().text)
		}
	}
	t, se := e.dmlTarget(c, s)
	if se != nil {
		return Result{}, se
	}
	if inTx && t.Type == "stream" {
		return Result{}, execErr("Invalid operation: stream tables are not supported inside explicit transactions")
	}
	switch st.kind {
	case kInsert:
		return e.execInsert(st, c, t, s)
	case kUpdate:
		return e.execUpdate(st, c, t, s)
	}
	return e.execDelete(st, c, t, s)
}

// defaultValue evaluates a column DEFAULT for an insert.
func (e *Engine) defaultValue(col column, s *session) (any, error) {
	d := col.Default
	if d == nil {
		return nil, nil
	}
	switch d.Func {
	case "NOW":
		us := e.opts.Now().UnixMicro()
		switch col.Type.Name {
		case "Date":
			return floorDiv(us, 86400e6), nil
		case "Time":
			return us - floorDiv(us, 86400e6)*86400e6, nil
		case "Text":
			return e.opts.Now().UTC().Format("2006-01-02T15:04:05.000000Z"), nil
		}
		return coerce(col.Type, us)
	case "SNOWFLAKE_ID":
		return coerce(col.Type, e.nextSeq())
	case "UUID_V7":
		return coerce(col.Type, e.uuidV7())
	case "ULID":
		return coerce(col.Type, e.ulid())
	case "CURRENT_USER":
		return coerce(col.Type, s.user)
	}
	return coerce(col.Type, d.literal())
}

func describePK(v any) string {
	switch x := v.(type) {
	case []byte:
		return string(x)
	case float64:
		return formatFloat(x, 64)
	}
	return fmt.Sprint(v)
}

// owner is the partition a write goes to (sql-model §2.2).
func owner(t *tableInfo, s *session) string {
	if t.Type == "shared" {
		return ""
	}
	return s.user
}

func (e *Engine) execInsert(st *stmt, c *tokCursor, t *tableInfo, s *session) (Result, *stmtErr) {
	var names []string
	if c.peek().text == "(" {
		list, err := parseNameList(c)
		if err != nil {
			return Result{}, execErr("Execution error: SQL error: ParserError(\"%v\")", err)
		}
		names = list
	} else {
		for _, col := range t.Columns {
			names = append(names, col.Name)
		}
	}
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = t.col(n)
		if idx[i] < 0 {
			if n == "_seq" || n == "_deleted" {
				return Result{}, execErr("Invalid operation: Column name '%s' is reserved and cannot be written", n)
			}
			return Result{}, noField(t, n)
		}
	}
	// The values (VALUES list or SELECT) are evaluated by SQLite, then
	// coerced to the column types in Go.
	switch c.peek().upper() {
	case "VALUES", "SELECT", "WITH":
	default:
		return Result{}, execErr("Execution error: SQL error: ParserError(\"Expected: VALUES or SELECT, found: %s\")", c.peek().text)
	}
	sourceStart := allIndexOfSig(st.toks, c.i)
	src := st.toks[sourceStart:]
	if strings.EqualFold(src[0].text, "VALUES") {
		// SELECT * FROM (VALUES ...) keeps the translator's SELECT logic.
		src = append([]token{{kind: tkWord, text: "SELECT"}, {kind: tkSpace, text: " "}, {kind: tkPunct, text: "*"},
			{kind: tkSpace, text: " "}, {kind: tkWord, text: "FROM"}, {kind: tkSpace, text: " "}, {kind: tkPunct, text: "("}}, src...)
		src = append(src, token{kind: tkPunct, text: ")"})
	}
	tr, se := e.translate(src, s, translateOpts{})
	if se != nil {
		return Result{}, se
	}
	_, rows, se := e.runTranslation(tr, 1<<31-1)
	if se != nil {
		return Result{}, se
	}
	pk := t.pk()
	own := owner(t, s)
	seen := map[string]bool{}
	colList := make([]string, 0, len(t.Columns)+4)
	for _, col := range t.Columns {
		colList = append(colList, quoteIdent(col.Name))
	}
	colList = append(colList, "_seq", "_deleted", "_owner", "_ts")
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(colList)), ", ")
	insertSQL := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", quoteIdent(t.phys()), strings.Join(colList, ", "), marks)
	reviveSQL := fmt.Sprintf("UPDATE %s SET (%s) = (%s) WHERE rowid = ?", quoteIdent(t.phys()), strings.Join(colList, ", "), marks)
	for r, row := range rows {
		if len(row) != len(names) {
			return Result{}, execErr("Execution error: Error during planning: Inserting query must have the same schema length as the table. Expected table schema length: %d, got: %d", len(names), len(row))
		}
		vals := make([]any, len(t.Columns))
		given := make([]bool, len(t.Columns))
		for i, v := range row {
			cv, err := coerce(t.Columns[idx[i]].Type, v)
			if ce, ok := err.(*coercionError); ok {
				return Result{}, execErr("%s", ce.forColumn(t.Columns[idx[i]].Name))
			}
			if err != nil {
				return Result{}, execErr("Execution error: %v", err)
			}
			vals[idx[i]], given[idx[i]] = cv, true
		}
		for i, col := range t.Columns {
			if !given[i] {
				v, err := e.defaultValue(col, s)
				if err != nil {
					return Result{}, execErr("Execution error: %v", err)
				}
				vals[i] = v
			}
			if vals[i] == nil && col.NotNull {
				if !given[i] {
					return Result{}, execErr("Already exists: Execution error: Constraint violation: Execution error: NOT NULL constraint violation: column '%s' cannot be NULL (row %d)", col.Name, r+1)
				}
				// The real server wraps the constraint error as AlreadyExists
				// (kalamdb-core error.rs, Constraint violation mapping).
				return Result{}, execErr("Already exists: Execution error: Constraint violation: Execution error: NOT NULL constraint violation: column '%s' cannot be NULL (row %d)", col.Name, r+1)
			}
		}
		revive := int64(-1)
		if pk >= 0 && t.Type != "stream" {
			key := fmt.Sprintf("%T:%v", vals[pk], vals[pk])
			if seen[key] {
				return Result{}, execErr("Already exists: Primary key violation: value '%s' appears multiple times in the insert batch for column '%s'", describePK(vals[pk]), t.Columns[pk].Name)
			}
			seen[key] = true
			existing, err := e.queryRows(fmt.Sprintf("SELECT rowid, _deleted FROM %s WHERE _owner = ? AND %s = ?", quoteIdent(t.phys()), quoteIdent(t.Columns[pk].Name)), own, vals[pk])
			if err != nil {
				return Result{}, execErr("Execution error: %v", err)
			}
			if len(existing) > 0 {
				if d, _ := existing[0][1].(int64); d == 0 {
					return Result{}, execErr("Already exists: Execution error: Already exists: Primary key violation: value '%s' already exists in column '%s'", describePK(vals[pk]), t.Columns[pk].Name)
				}
				revive = existing[0][0].(int64)
			}
		}
		args := append(vals, e.nextSeq(), int64(0), own, e.opts.Now().UnixMilli())
		var err error
		if revive >= 0 {
			err = e.exec(reviveSQL, append(args, revive)...)
		} else {
			err = e.exec(insertSQL, args...)
		}
		if err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
	}
	return Result{RowCount: len(rows), Message: fmt.Sprintf("Inserted %d row(s)", len(rows))}, nil
}

func noField(t *tableInfo, name string) *stmtErr {
	var valid []string
	for _, c := range t.allColumns() {
		valid = append(valid, t.id()+"."+c.Name)
	}
	return execErr("Invalid operation: Schema error: No field named %s. Valid fields are %s.", name, strings.Join(valid, ", "))
}

// splitTopLevel splits tokens at depth-0 commas.
func splitTopLevel(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
		case t.kind == tkPunct && t.text == "," && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// whereIndex finds the depth-0 WHERE among all tokens, -1 when none.
func whereIndex(toks []token, from int) int {
	depth := 0
	for i := from; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == tkPunct && t.text == "(":
			depth++
		case t.kind == tkPunct && t.text == ")":
			depth--
		case depth == 0 && t.upper() == "WHERE":
			return i
		}
	}
	return -1
}

// allIndexOfSig maps a significant-token index to its index among all
// tokens (len(toks) when past the end).
func allIndexOfSig(toks []token, sigIndex int) int {
	n := -1
	for i, t := range toks {
		if t.kind != tkSpace && t.kind != tkComment {
			n++
			if n == sigIndex {
				return i
			}
		}
	}
	return len(toks)
}

// matchRows selects rowid, the visible columns and extra expressions
// of the target's rows in the writer's scope matching the WHERE text.
func (e *Engine) matchRows(t *tableInfo, s *session, tableToks, whereToks []token, exprs [][]token) ([][]any, *stmtErr) {
	var b []token
	add := func(text string) { b = append(b, token{kind: tkPunct, text: text}) }
	add("SELECT __kv_rowid, ")
	for _, c := range t.allColumns() {
		add(quoteIdent(c.Name) + ", ")
	}
	for _, ex := range exprs {
		add("(")
		b = append(b, ex...)
		add("), ")
	}
	add("NULL FROM ")
	b = append(b, tableToks...)
	add(" ")
	b = append(b, whereToks...)
	// Re-lex so the translator sees real word tokens for SELECT/FROM.
	toks, err := lex(join(b))
	if err != nil {
		return nil, execErr("Execution error: %v", err)
	}
	tr, se := e.translate(toks, s, translateOpts{dml: true})
	if se != nil {
		return nil, se
	}
	_, rows, se := e.runTranslation(tr, 1<<31-1)
	return rows, se
}

func (e *Engine) execUpdate(st *stmt, c *tokCursor, t *tableInfo, s *session) (Result, *stmtErr) {
	if t.Type == "stream" {
		return Result{}, execErr("Execution error: UPDATE operation on table '%s'\ncaused by\nError during planning: UPDATE not supported for STREAM tables", t.id())
	}
	tableEnd := allIndexOfSig(st.toks, c.i)
	tableStart := allIndexOfSig(st.toks, 1)
	if !c.accept("SET") {
		return Result{}, execErr("Execution error: SQL error: ParserError(\"Expected: SET, found: %s\")", c.peek().text)
	}
	setStart := allIndexOfSig(st.toks, c.i)
	w := whereIndex(st.toks, setStart)
	if w < 0 {
		return Result{}, execErr("Execution error: Error during planning: UPDATE requires a WHERE clause")
	}
	assigns := splitTopLevel(st.toks[setStart:w])
	cols := make([]int, len(assigns))
	exprs := make([][]token, len(assigns))
	for i, a := range assigns {
		sig := significant(a)
		if len(sig) < 3 || sig[1].text != "=" {
			return Result{}, execErr("Execution error: SQL error: ParserError(\"Expected: column = expression in SET\")")
		}
		name, _ := sig[0].ident()
		name = strings.ToLower(name)
		k := t.col(name)
		if k < 0 {
			return Result{}, noField(t, name)
		}
		if t.Columns[k].PK {
			return Result{}, execErr("Already exists: UPDATE operation on table '%s'\ncaused by\nError during planning: UPDATE cannot modify primary key column '%s'", t.id(), name)
		}
		cols[i] = k
		eq := 0
		for j, tk := range a {
			if tk.text == "=" {
				eq = j
				break
			}
		}
		exprs[i] = a[eq+1:]
	}
	rows, se := e.matchRows(t, s, st.toks[tableStart:tableEnd], st.toks[w:], exprs)
	if se != nil {
		return Result{}, se
	}
	n := len(t.Columns)
	setList := make([]string, 0, n+1)
	for _, col := range t.Columns {
		setList = append(setList, quoteIdent(col.Name)+" = ?")
	}
	setList = append(setList, "_seq = ?")
	updateSQL := fmt.Sprintf("UPDATE %s SET %s WHERE rowid = ?", quoteIdent(t.phys()), strings.Join(setList, ", "))
	changed := 0
	for r, row := range rows {
		rowid := row[0].(int64)
		old := row[1 : 1+n]
		vals := append([]any(nil), old...)
		for i, k := range cols {
			v, err := coerce(t.Columns[k].Type, row[1+n+2+i])
			if err != nil {
				return Result{}, execErr("Execution error: %v", err)
			}
			if v == nil && t.Columns[k].NotNull {
				return Result{}, execErr("Execution error: NOT NULL constraint violation: column '%s' cannot be NULL (row %d)", t.Columns[k].Name, r+1)
			}
			vals[k] = v
		}
		same := true
		for i := range vals {
			if !sameValue(vals[i], old[i]) {
				same = false
			}
		}
		if same {
			continue // no-op updates count 0 (sql-model §5.3)
		}
		for i, col := range t.Columns {
			if col.Type.Name == "File" && !sameValue(vals[i], old[i]) {
				if err := e.deleteFileCell(t, owner(t, s), old[i]); err != nil {
					return Result{}, execErr("Execution error: %v", err)
				}
			}
		}
		if err := e.exec(updateSQL, append(vals, e.nextSeq(), rowid)...); err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
		changed++
	}
	return Result{RowCount: changed, Message: fmt.Sprintf("Updated %d row(s)", changed)}, nil
}

func sameValue(a, b any) bool {
	if ab, ok := a.([]byte); ok {
		bb, ok := b.([]byte)
		return ok && bytes.Equal(ab, bb)
	}
	if _, ok := b.([]byte); ok {
		return false
	}
	return a == b
}

func (e *Engine) execDelete(st *stmt, c *tokCursor, t *tableInfo, s *session) (Result, *stmtErr) {
	tableStart := allIndexOfSig(st.toks, 2)
	tableEnd := allIndexOfSig(st.toks, c.i)
	w := whereIndex(st.toks, tableEnd)
	if w < 0 {
		return Result{}, execErr("Execution error: Error during planning: DELETE requires a WHERE clause")
	}
	rows, se := e.matchRows(t, s, st.toks[tableStart:tableEnd], st.toks[w:], nil)
	if se != nil {
		return Result{}, se
	}
	for _, row := range rows {
		rowid := row[0].(int64)
		for i, col := range t.Columns {
			if col.Type.Name == "File" {
				if err := e.deleteFileCell(t, owner(t, s), row[1+i]); err != nil {
					return Result{}, execErr("Execution error: %v", err)
				}
			}
		}
		var err error
		if t.Type == "stream" {
			err = e.exec(fmt.Sprintf("DELETE FROM %s WHERE rowid = ?", quoteIdent(t.phys())), rowid)
		} else {
			// Soft delete: a tombstone version with a new _seq (sql-model §3).
			err = e.exec(fmt.Sprintf("UPDATE %s SET _deleted = 1, _seq = ? WHERE rowid = ?", quoteIdent(t.phys())), e.nextSeq(), rowid)
		}
		if err != nil {
			return Result{}, execErr("Execution error: %v", err)
		}
	}
	return Result{RowCount: len(rows), Message: fmt.Sprintf("Deleted %d row(s)", len(rows))}, nil
}
