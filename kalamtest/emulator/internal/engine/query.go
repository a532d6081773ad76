package engine

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/ncruces/go-sqlite3"
)

// tableRef is one table a query reads, bound to a CTE that applies the
// row visibility rules (owner scoping, tombstones, TTL).
type tableRef struct {
	alias string
	cte   string
	tbl   *tableInfo
	sys   *sysTable
}

func (r *tableRef) columns() []column {
	if r.sys != nil {
		return r.sys.cols
	}
	return r.tbl.allColumns()
}

// translation is a KalamDB statement rewritten for SQLite.
type translation struct {
	// itemTypes types computed select-list items by position (nil: unknown).
	itemTypes []*kType
	sql       string
	shadow    string   // sql with CTEs that read no table (guard.go)
	ctes      []string // the client's own CTE names
	binds     map[string]any
	refs      []*tableRef
	topLimit  bool
}

type translateOpts struct {
	dml bool // expose __kv_rowid and scope USER rows to the writer
}

// fromState is where translate's walk is in a FROM clause at one depth.
type fromState uint8

const (
	fromNone  fromState = iota // not in a FROM clause
	fromItem                   // the next token starts a FROM item
	fromAfter                  // past an item: alias, ON/USING condition, join words
)

// joinWord are clause words that keep a FROM clause going.
var joinWord = map[string]bool{"JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true,
	"CROSS": true, "OUTER": true, "ON": true, "USING": true, "NATURAL": true}

var compareOps = map[string]bool{"=": true, "==": true, "!=": true, "<>": true, "<": true, ">": true, "<=": true, ">=": true}

// clauseEnd are words that cannot be a table alias.
var clauseEnd = map[string]bool{
	"WHERE": true, "JOIN": true, "INNER": true, "LEFT": true, "RIGHT": true, "FULL": true, "CROSS": true,
	"OUTER": true, "ON": true, "USING": true, "ORDER": true, "GROUP": true, "HAVING": true, "LIMIT": true,
	"OFFSET": true, "UNION": true, "INTERSECT": true, "EXCEPT": true, "WINDOW": true, "NATURAL": true,
	"SET": true, "VALUES": true, "SELECT": true, "RETURNING": true,
}

// translate rewrites a SELECT (or the read half of a DML statement):
// table names become visibility CTEs, KalamDB functions become SQLite
// ones, and literals and parameters compared with typed columns are
// coerced as DataFusion would.
func (e *Engine) translate(toks []token, s *session, o translateOpts) (*translation, *stmtErr) {
	toks = append([]token(nil), toks...)
	var sp []int // positions of significant tokens
	for i, t := range toks {
		if t.kind != tkSpace && t.kind != tkComment {
			sp = append(sp, i)
		}
	}
	sig := func(i int) token {
		if i < 0 || i >= len(sp) {
			return token{}
		}
		return toks[sp[i]]
	}
	blank := func(i int) { toks[sp[i]].text = "" }
	orig := make([]token, len(sp))
	for i := range sp {
		orig[i] = toks[sp[i]]
	}

	// Names of the query's own CTEs shadow tables.
	userCTEs := map[string]bool{}
	var ctes []string
	for i := 0; i+2 < len(sp); i++ {
		if sig(i+1).upper() == "AS" && sig(i+2).text == "(" && (sig(i-1).upper() == "WITH" || sig(i-1).upper() == "RECURSIVE" || sig(i-1).text == ",") {
			if n, ok := sig(i).ident(); ok {
				userCTEs[n] = true
				ctes = append(ctes, n)
			}
		}
	}

	tr := &translation{binds: map[string]any{}, ctes: ctes}
	missing := ""
	for i := range sp {
		if t := sig(i); t.kind == tkParam {
			n, err := strconv.Atoi(t.text[1:])
			if err != nil || n < 1 {
				return nil, execErr("Parameter binding error: Invalid placeholder, not a valid index: %s", t.text)
			}
			if n > len(s.params) && missing == "" {
				missing = t.text
			}
		}
	}
	if missing != "" {
		// DataFusion's placeholder substitution fails at the first
		// placeholder without a value (kalamdb-core/src/error.rs wraps it).
		return nil, execErr("Parameter binding error: Error during planning: No value found for placeholder with id %s", missing)
	}
	// SQLite yields NULL for x / 0 and x % 0; DataFusion's Arrow kernels
	// fail the statement. Only a literal zero divisor is caught here.
	for i := range sp {
		if t := sig(i); t.kind == tkPunct && (t.text == "/" || t.text == "%") {
			if d := sig(i + 1); d.kind == tkNumber {
				if f, err := strconv.ParseFloat(d.text, 64); err == nil && f == 0 {
					return nil, execErr("Execution error: Arrow error: Divide by zero error")
				}
			}
		}
	}
	// Per parenthesis depth: whether a SELECT is open there, and where in
	// a FROM clause the walk is. Every item of a FROM list or JOIN, however
	// parenthesised, is resolved through the catalog (issue 9: a name the
	// walk missed used to reach SQLite raw).
	selectAt := []bool{false}
	fromAt := []fromState{fromNone}
	depthOf := make([]int, len(sp))
	var topOrder, topGroup, topSetOp, topDistinct, topJoin bool
	limitAt := -1
	topRefs := 0
	var topRef *tableRef
	for i := 0; i < len(sp); i++ {
		t := sig(i)
		d := len(selectAt) - 1
		depthOf[i] = d
		switch {
		case t.text == "(" && t.kind == tkPunct:
			inner := fromNone
			if fromAt[d] == fromItem {
				// A parenthesised item: a subquery, VALUES, or a
				// table/join list whose names are items too.
				fromAt[d], inner = fromAfter, fromItem
			}
			selectAt = append(selectAt, false)
			fromAt = append(fromAt, inner)
			continue
		case t.text == ")" && t.kind == tkPunct:
			if len(selectAt) > 1 {
				selectAt = selectAt[:len(selectAt)-1]
				fromAt = fromAt[:len(fromAt)-1]
			}
			continue
		case t.text == "," && t.kind == tkPunct:
			if fromAt[d] == fromAfter {
				fromAt[d] = fromItem
				if d == 0 {
					topJoin = true
				}
			}
			continue
		case t.kind != tkWord && t.kind != tkQIdent:
			if fromAt[d] == fromItem {
				fromAt[d] = fromAfter // not a name: SQLite judges it (and the authorizer guards it)
			}
			continue
		}
		u := t.upper()
		if d == 0 {
			switch u {
			case "ORDER":
				topOrder = true
			case "GROUP":
				topGroup = true
			case "UNION", "INTERSECT", "EXCEPT":
				topSetOp = true
			case "DISTINCT":
				topDistinct = true
			case "JOIN":
				topJoin = true
			case "LIMIT", "OFFSET":
				if limitAt < 0 {
					limitAt = i
				}
				if u == "LIMIT" {
					tr.topLimit = true
				}
			}
		}
		switch u {
		case "SELECT", "VALUES", "WITH":
			selectAt[d] = selectAt[d] || u == "SELECT"
			fromAt[d] = fromNone
			continue
		case "CURRENT_TIMESTAMP", "CURRENT_USER", "CURRENT_ROLE", "LOCALTIMESTAMP":
			if sig(i+1).text != "(" {
				fn := map[string]string{"CURRENT_TIMESTAMP": "now()", "LOCALTIMESTAMP": "now()", "CURRENT_USER": "current_user()", "CURRENT_ROLE": "current_role()"}[u]
				toks[sp[i]].text = fn
			}
			continue
		case "FROM":
			// FROM outside a SELECT is EXTRACT(x FROM y), TRIM(... FROM y).
			if selectAt[d] {
				fromAt[d] = fromItem
			}
			continue
		case "JOIN":
			if selectAt[d] || fromAt[d] != fromNone {
				fromAt[d] = fromItem
			}
			continue
		}
		if fromAt[d] == fromAfter && clauseEnd[u] && !joinWord[u] {
			fromAt[d] = fromNone
		}
		if fromAt[d] != fromItem {
			continue
		}
		fromAt[d] = fromAfter
		parts := []string{}
		k := i
		for {
			n, ok := sig(k).ident()
			if !ok {
				break
			}
			parts = append(parts, n)
			if sig(k+1).text == "." {
				k += 2
				continue
			}
			break
		}
		last := i + 2*(len(parts)-1)
		if sig(last+1).text == "(" {
			// KalamDB registers no table function a client can name here;
			// DataFusion's planner answers as for an unknown table.
			return nil, execErr("Table not found: Error during planning: table function '%s' not found", strings.Join(parts, "."))
		}
		for x := i; x <= last; x++ {
			depthOf[x] = d
		}
		if len(parts) == 1 && userCTEs[parts[0]] {
			i = last
			continue
		}
		ref, se := e.resolveRef(parts, s, o)
		if se != nil {
			return nil, se
		}
		ref.cte = fmt.Sprintf("__kv%d", len(tr.refs)+1)
		hasAlias := false
		if next := sig(last + 1); next.upper() == "AS" || (next.kind == tkWord && !clauseEnd[next.upper()]) || next.kind == tkQIdent {
			hasAlias = true
			an := sig(last + 1)
			if an.upper() == "AS" {
				an = sig(last + 2)
			}
			ref.alias, _ = an.ident()
		} else {
			ref.alias = parts[len(parts)-1]
		}
		for x := i + 1; x <= last; x++ {
			blank(x)
		}
		if hasAlias {
			toks[sp[i]].text = quoteIdent(ref.cte)
		} else {
			toks[sp[i]].text = quoteIdent(ref.cte) + " AS " + quoteIdent(ref.alias)
		}
		tr.refs = append(tr.refs, ref)
		if d == 0 {
			topRefs++
			topRef = ref
		}
		i = last
	}
	// ns.table.col → alias.col
	for i := 0; i+4 < len(sp); i++ {
		if sig(i+1).text != "." || sig(i+3).text != "." {
			continue
		}
		a, ok1 := sig(i).ident()
		b, ok2 := sig(i + 2).ident()
		if !ok1 || !ok2 {
			continue
		}
		for _, r := range tr.refs {
			if r.tbl != nil && r.tbl.Namespace == a && r.tbl.Name == b || r.sys != nil && a == "system" && r.sys.name == b {
				toks[sp[i]].text = quoteIdent(r.alias)
				blank(i + 1)
				blank(i + 2)
				break
			}
		}
	}

	// Coerce literals and parameters compared with typed columns.
	for i := 0; i < len(sp); i++ {
		t := sig(i)
		if t.kind != tkParam && t.kind != tkString {
			continue
		}
		typ, ok := contextType(sp, toks, i, tr.refs)
		if t.kind == tkParam {
			n, _ := strconv.Atoi(t.text[1:])
			v := s.params[n-1]
			if b, isBool := v.(bool); isBool {
				v = boolInt(b)
			}
			name := fmt.Sprintf(":kv_p%d", i)
			toks[sp[i]].text = name
			if ok && v != nil {
				cv, err := coerce(typ, v)
				if err != nil {
					return nil, execErr("Execution error: %v", err)
				}
				v = cv
			}
			tr.binds[name] = v
			continue
		}
		if !ok {
			continue
		}
		switch typ.Name {
		case "Text", "Json", "File", "Bytes", "Embedding":
			continue
		}
		cv, err := coerce(typ, t.stringValue())
		if err != nil {
			return nil, execErr("Execution error: %v", err)
		}
		switch x := cv.(type) {
		case int64:
			toks[sp[i]].text = strconv.FormatInt(x, 10)
		case float64:
			toks[sp[i]].text = strconv.FormatFloat(x, 'g', -1, 64)
		case string:
			toks[sp[i]].text = quoteString(x)
		}
	}

	// expr::TYPE casts (DataFusion syntax) become kv_cast(expr, 'type'),
	// which casts like an insert into a column of that type.
	for i := 1; i+1 < len(sp); i++ {
		if sig(i).kind != tkPunct || sig(i).text != "::" {
			continue
		}
		start := i - 1
		if sig(start).text == ")" {
			depth := 0
			for ; start >= 0; start-- {
				if sig(start).text == ")" {
					depth++
				} else if sig(start).text == "(" {
					depth--
					if depth == 0 {
						break
					}
				}
			}
			if start < 0 {
				return nil, execErr("Execution error: SQL error: ParserError(\"unbalanced parentheses before ::\")")
			}
			if start > 0 && sig(start-1).kind == tkWord {
				start--
			}
		}
		c := &tokCursor{t: make([]token, 0, len(sp)-i-1)}
		for k := i + 1; k < len(sp); k++ {
			c.t = append(c.t, sig(k))
		}
		typ, _, err := parseType(c)
		if err != nil {
			return nil, execErr("Execution error: SQL error: ParserError(\"%v\")", err)
		}
		spec, _ := json.Marshal(typ)
		toks[sp[start]].text = "kv_cast(" + toks[sp[start]].text
		toks[sp[i]].text = ", " + quoteString(string(spec)) + ")"
		for k := i + 1; k < i+1+c.i; k++ {
			blank(k)
		}
		i += c.i
	}

	// a ILIKE b (DataFusion) becomes lower(a) LIKE lower(b) for a column
	// reference and a single-token pattern; LIKE itself is case-sensitive.
	for i := 1; i+1 < len(sp); i++ {
		if sig(i).upper() != "ILIKE" {
			continue
		}
		left := i - 1
		if sig(left).upper() == "NOT" {
			left--
		}
		end := left
		// Walk back over qualifiers, past tokens blanked by earlier rewrites.
		prev := func(k int) int {
			k--
			for k >= 0 && toks[sp[k]].text == "" {
				k--
			}
			return k
		}
		for d := prev(left); d >= 1 && sig(d).text == "."; d = prev(left) {
			q := prev(d)
			if q < 0 {
				break
			}
			left = q
		}
		if _, ok := sig(end).ident(); !ok || sig(i+1).kind == tkPunct {
			return nil, execErr("Execution error: SQL error: ILIKE is supported only as <column> ILIKE <literal, parameter or column>")
		}
		toks[sp[left]].text = "lower(" + toks[sp[left]].text
		toks[sp[end]].text += ")"
		toks[sp[i]].text = "LIKE"
		toks[sp[i+1]].text = "lower(" + toks[sp[i+1]].text + ")"
	}

	// CAST(expr AS TYPE) gets the same cast semantics.
	for i := 0; i+1 < len(sp); i++ {
		if sig(i).upper() != "CAST" || sig(i+1).text != "(" {
			continue
		}
		depth, as, end := 0, -1, -1
		for k := i + 1; k < len(sp) && end < 0; k++ {
			switch {
			case sig(k).text == "(":
				depth++
			case sig(k).text == ")":
				depth--
				if depth == 0 {
					end = k
				}
			case depth == 1 && sig(k).upper() == "AS":
				as = k
			}
		}
		if as < 0 || end < 0 {
			continue // let SQLite report the malformed CAST
		}
		c := &tokCursor{t: orig[as+1 : end]}
		typ, _, err := parseType(c)
		if err != nil || !c.done() {
			return nil, execErr("Execution error: SQL error: ParserError(\"invalid CAST target type\")")
		}
		spec, _ := json.Marshal(typ)
		toks[sp[i]].text = "kv_cast"
		toks[sp[as]].text = ", " + quoteString(string(spec))
		for k := as + 1; k < end; k++ {
			blank(k)
		}
	}

	// Default ORDER BY primary key (or _seq) for a plain single-table read.
	if !o.dml && topRefs == 1 && !topJoin && !topOrder && !topGroup && !topSetOp && !topDistinct {
		if r := topRef; r.tbl != nil {
			key := "_seq"
			if pk := r.tbl.pk(); pk >= 0 {
				key = r.tbl.Columns[pk].Name
			}
			clause := " ORDER BY " + quoteIdent(r.alias) + "." + quoteIdent(key) + " "
			if limitAt >= 0 {
				toks[sp[limitAt]].text = clause + toks[sp[limitAt]].text
			} else {
				// On its own line: the statement may end in a -- comment.
				toks = append(toks, token{kind: tkSpace, text: "\n" + clause})
			}
		}
	}

	// DataFusion takes any word after AS as an alias; SQLite rejects some
	// of its keywords there (NULL AS nothing), so those are quoted, folded
	// to lower case as DataFusion folds unquoted names.
	for i := 0; i+1 < len(sp); i++ {
		if next := sig(i + 1); strings.EqualFold(sig(i).text, "AS") && next.kind == tkWord && sqliteAliasKeywords[next.upper()] {
			toks[sp[i+1]].text = quoteIdent(strings.ToLower(next.text))
		}
	}

	tr.itemTypes = selectItemTypes(orig, depthOf, tr.refs)

	// The statement reads each table through its visibility CTE. The
	// shadow is the same statement over CTEs that read nothing: what it
	// reads is what the client's own text reads, which must be nothing
	// physical (see guard.go).
	withCTEs := func(body func(r *tableRef) string) string {
		if len(tr.refs) == 0 {
			return join(toks)
		}
		ctes := make([]string, len(tr.refs))
		for i, r := range tr.refs {
			ctes[i] = quoteIdent(r.cte) + " AS (" + body(r) + ")"
		}
		prefix := strings.Join(ctes, ", ")
		if sig(0).upper() != "WITH" {
			return "WITH " + prefix + " " + join(toks)
		}
		at := 0
		if sig(1).upper() == "RECURSIVE" {
			at = 1
		}
		kw := toks[sp[at]].text
		toks[sp[at]].text += " " + prefix + ","
		defer func() { toks[sp[at]].text = kw }()
		return join(toks)
	}
	tr.sql = withCTEs(func(r *tableRef) string { return e.cteBody(r, s, o, tr.binds) })
	tr.shadow = withCTEs(func(r *tableRef) string { return shadowBody(r, o) })
	return tr, nil
}

// selectItemTypes types the top-level select list's computed items the way
// DataFusion would (aggregates keep their argument's type, casts their
// target), since SQLite cannot say.
func selectItemTypes(sig []token, depthOf []int, refs []*tableRef) []*kType {
	start := -1
	for i, t := range sig {
		if depthOf[i] == 0 && t.upper() == "SELECT" {
			start = i + 1
			break
		}
	}
	if start < 0 {
		return nil
	}
	if sig := sig[start:]; len(sig) > 0 && (sig[0].upper() == "DISTINCT" || sig[0].upper() == "ALL") {
		start++
	}
	end := start
	for end < len(sig) && !(depthOf[end] == 0 && (sig[end].upper() == "FROM" || clauseEnd[sig[end].upper()])) {
		end++
	}
	var out []*kType
	for _, item := range splitTopLevel(sig[start:end]) {
		if len(item) == 0 {
			return out
		}
		if item[len(item)-1].text == "*" {
			return out // a star expands to an unknown number of columns
		}
		if len(item) >= 3 && item[len(item)-2].upper() == "AS" {
			item = item[:len(item)-2]
		}
		out = append(out, exprType(item, refs))
	}
	return out
}

// exprType types an expression when its outermost form says the type.
func exprType(item []token, refs []*tableRef) *kType {
	for k := len(item) - 2; k > 0; k-- {
		if item[k].text == "::" {
			c := &tokCursor{t: item[k+1:]}
			if t, _, err := parseType(c); err == nil && c.done() {
				return &t
			}
			return nil
		}
	}
	if len(item) == 1 && (item[0].upper() == "CURRENT_TIMESTAMP" || item[0].upper() == "LOCALTIMESTAMP") {
		t := tNowNanos
		return &t
	}
	if len(item) == 1 && (item[0].upper() == "TRUE" || item[0].upper() == "FALSE") {
		t := tBoolean // SQLite has no boolean: 1/0 would come back as BigInt
		return &t
	}
	if len(item) < 3 || item[0].kind != tkWord || item[1].text != "(" || item[len(item)-1].text != ")" {
		return nil
	}
	args := item[2 : len(item)-1]
	if len(args) > 0 && args[0].upper() == "DISTINCT" {
		args = args[1:]
	}
	var argType *kType
	if n := len(args); n == 1 || n == 3 && args[1].text == "." {
		name, _ := args[n-1].ident()
		qual := ""
		if n == 3 {
			qual, _ = args[0].ident()
		}
		if t, ok := lookupColumn(refs, qual, name); ok {
			argType = &t
		}
	}
	typ := func(t kType) *kType { return &t }
	switch item[0].upper() {
	case "COUNT":
		return typ(tBigInt)
	case "MIN", "MAX", "FIRST_VALUE", "LAST_VALUE":
		return argType
	case "SUM":
		if argType != nil {
			switch argType.Name {
			case "SmallInt", "Int", "BigInt":
				return typ(tBigInt)
			case "Float", "Double":
				return typ(tDouble)
			case "Decimal":
				return typ(kType{Name: "Decimal", Precision: min(38, argType.Precision+10), Scale: argType.Scale})
			}
		}
	case "AVG":
		return typ(tDouble)
	case "NOW":
		return typ(tNowNanos)
	case "SNOWFLAKE_ID":
		return typ(tBigInt)
	case "UUID_V7", "ULID", "CURRENT_USER", "CURRENT_ROLE":
		return typ(tText)
	case "CAST":
		for k := len(args) - 1; k > 0; k-- {
			if args[k].upper() == "AS" {
				c := &tokCursor{t: args[k+1:]}
				if t, _, err := parseType(c); err == nil && c.done() {
					return &t
				}
				return nil
			}
		}
	}
	return nil
}

// contextType finds the column a literal or parameter at sig index i is
// compared with: col op x, x op col, col IN (.., x, ..), col BETWEEN x AND y.
func contextType(sp []int, toks []token, i int, refs []*tableRef) (kType, bool) {
	sig := func(k int) token {
		if k < 0 || k >= len(sp) {
			return token{}
		}
		return toks[sp[k]]
	}
	colAt := func(k int) (kType, bool) { // column reference ending at k
		name, ok := sig(k).ident()
		if !ok || sig(k).kind == tkWord && reservedWords[sig(k).upper()] {
			return kType{}, false
		}
		qual := ""
		if sig(k-1).text == "." {
			qual, _ = sig(k - 2).ident()
		}
		return lookupColumn(refs, qual, name)
	}
	colBefore := func(k int) (kType, bool) { // column reference ending at k, skipping NOT
		if sig(k).upper() == "NOT" {
			k--
		}
		return colAt(k)
	}
	if compareOps[sig(i-1).text] {
		if t, ok := colAt(i - 2); ok {
			return t, true
		}
	}
	if compareOps[sig(i+1).text] {
		k := i + 2
		if name, ok := sig(k).ident(); ok {
			qual := ""
			if sig(k+1).text == "." {
				qual = name
				name, _ = sig(k + 2).ident()
			}
			if t, ok := lookupColumn(refs, qual, name); ok {
				return t, true
			}
		}
	}
	switch sig(i - 1).upper() {
	case "BETWEEN":
		return colBefore(i - 2)
	case "AND":
		if sig(i-3).upper() == "BETWEEN" {
			return colBefore(i - 4)
		}
	case "LIKE":
		return kType{}, false
	}
	// IN list
	k := i - 1
	for k >= 0 && (sig(k).text == "," || sig(k).kind == tkString || sig(k).kind == tkParam || sig(k).kind == tkNumber) {
		k--
	}
	if sig(k).text == "(" && sig(k-1).upper() == "IN" {
		return colBefore(k - 2)
	}
	return kType{}, false
}

func lookupColumn(refs []*tableRef, qual, name string) (kType, bool) {
	for _, r := range refs {
		if qual != "" && r.alias != qual {
			continue
		}
		for _, c := range r.columns() {
			if c.Name == name {
				return c.Type, true
			}
		}
	}
	return kType{}, false
}

// resolveRef finds a table named by 1-3 name parts and checks access.
func (e *Engine) resolveRef(parts []string, s *session, o translateOpts) (*tableRef, *stmtErr) {
	if len(parts) == 3 && parts[0] == "kalam" {
		parts = parts[1:]
	}
	var ns, name string
	switch len(parts) {
	case 1:
		ns, name = s.ns, parts[0]
	case 2:
		ns, name = parts[0], parts[1]
	default:
		return nil, execErr("Table not found: Error during planning: table '%s' not found", strings.Join(parts, "."))
	}
	if ns == "system" {
		st := sysTables[name]
		if st == nil {
			return nil, tableNotFound(ns, name)
		}
		if o.dml {
			return nil, execErr("Invalid operation: Cannot modify system table 'system.%s'", name)
		}
		if !s.role.IsAdmin() {
			return nil, permErr("Permission denied: Error during planning: Access denied: Role '%s' cannot access table 'system.%s'. System tables require 'dba' or 'system' role.", roleName(s.role), name)
		}
		if err := e.refreshSystemTable(st); err != nil {
			return nil, execErr("Execution error: read system.%s: %v", name, err)
		}
		return &tableRef{sys: st}, nil
	}
	t := e.cat.Tables[ns+"."+name]
	if t == nil {
		return nil, tableNotFound(ns, name)
	}
	if se := e.checkAccess(t, s, o.dml); se != nil {
		return nil, se
	}
	return &tableRef{tbl: t}, nil
}

// checkAccess applies the table-type and access-level rules of sql-model §8.
func (e *Engine) checkAccess(t *tableInfo, s *session, write bool) *stmtErr {
	if s.role == RoleAnonymous || s.role == "" {
		return permErr("Access denied: Role '%s' cannot access table '%s'. Authentication required.", roleName(s.role), t.id())
	}
	if t.Type != "shared" {
		return nil
	}
	if s.impersonated {
		return sharedImpersonationErr(t)
	}
	if !sharedAllowed(t.Access, s.role, write) {
		// kalamdb-session permissions.rs: writes and reads are denied with different reasons.
		what := "access"
		if write {
			what = "write"
		}
		return permErr("Permission denied: Error during planning: Access denied: Role '%s' cannot access table '%s'. Shared table %s denied (access_level=%s)", roleName(s.role), t.id(), what, roleName(Role(t.Access)))
	}
	return nil
}

func sharedAllowed(access string, r Role, write bool) bool {
	switch access {
	case "public":
		return !write || r == RoleService || r.IsAdmin()
	case "dba":
		return r.IsAdmin()
	default: // private, restricted
		return r == RoleService || r.IsAdmin()
	}
}

// cteBody selects the rows of r visible to s.
func (e *Engine) cteBody(r *tableRef, s *session, o translateOpts, binds map[string]any) string {
	if r.sys != nil {
		return "SELECT * FROM temp." + quoteIdent(r.sys.phys())
	}
	t := r.tbl
	cols := make([]string, 0, len(t.Columns)+4)
	if o.dml {
		cols = append(cols, "rowid AS __kv_rowid")
	}
	for _, c := range t.allColumns() {
		cols = append(cols, quoteIdent(c.Name))
	}
	where := []string{"_deleted = 0"}
	ownerScoped := t.Type == "stream" || t.Type == "user" && (o.dml || s.role == RoleUser || s.impersonated)
	if ownerScoped {
		where = append(where, "_owner = :kv_owner")
		binds[":kv_owner"] = s.user
	}
	if t.Type == "stream" {
		where = append(where, fmt.Sprintf("_ts + %d > :kv_now", t.TTLSeconds*1000))
		binds[":kv_now"] = e.opts.Now().UnixMilli()
	}
	return fmt.Sprintf("SELECT %s FROM %s WHERE %s", strings.Join(cols, ", "), quoteIdent(t.phys()), strings.Join(where, " AND "))
}

// shadowBody has the columns cteBody has, and reads no table.
func shadowBody(r *tableRef, o translateOpts) string {
	cols := make([]string, 0, len(r.columns())+1)
	if o.dml && r.tbl != nil {
		cols = append(cols, "NULL AS __kv_rowid")
	}
	for _, c := range r.columns() {
		cols = append(cols, "NULL AS "+quoteIdent(c.Name))
	}
	return "SELECT " + strings.Join(cols, ", ") + " WHERE 0"
}

// outCol is one result column.
type outCol struct {
	name  string
	typ   kType
	flags []string
	known bool
}

// run executes a translation, keeping at most limit rows.
func (e *Engine) runTranslation(tr *translation, limit int) ([]outCol, [][]any, *stmtErr) {
	// The client's own text may read no physical table: its shadow, with
	// CTEs that read nothing, must prepare with nothing readable.
	shadow, _, done, err := e.guarded(tr.shadow, nil, tr)
	if shadow != nil {
		shadow.Close()
	}
	done()
	if se := e.deniedErr(); se != nil {
		return nil, nil, se
	}
	if err != nil {
		return nil, nil, e.sqliteErr(err, tr)
	}
	allow := make(map[string]bool, len(tr.refs))
	for _, r := range tr.refs {
		if r.sys != nil {
			allow[strings.ToLower(r.sys.phys())] = true
		} else {
			allow[strings.ToLower(r.tbl.phys())] = true
		}
	}
	stmt, tail, done, err := e.guarded(tr.sql, allow, tr)
	defer done()
	if se := e.deniedErr(); se != nil {
		return nil, nil, se
	}
	if err != nil {
		return nil, nil, e.sqliteErr(err, tr)
	}
	defer stmt.Close()
	if stmt == nil {
		return nil, nil, execErr("Execution error: empty statement")
	}
	if strings.TrimSpace(tail) != "" {
		return nil, nil, execErr("Execution error: SQL error: ParserError(\"Expected end of statement, found: %s\")", strings.TrimSpace(tail))
	}
	for name, v := range tr.binds {
		if idx := stmt.BindIndex(name); idx > 0 {
			if err := bindValue(stmt, idx, v); err != nil {
				return nil, nil, execErr("Execution error: Parameter binding error: %v", err)
			}
		}
	}
	n := stmt.ColumnCount()
	cols := make([]outCol, n)
	phys := e.physIndex()
	for i := range cols {
		cols[i].name = stmt.ColumnName(i)
		tbl, orig := stmt.ColumnTableName(i), stmt.ColumnOriginName(i)
		if tbl == "" || orig == "" {
			continue
		}
		var defs []column
		if t := phys[tbl]; t != nil {
			defs = t.allColumns()
		} else if st := sysTables[strings.TrimPrefix(tbl, "sys$")]; st != nil && strings.HasPrefix(tbl, "sys$") {
			defs = st.cols
		}
		for _, c := range defs {
			if c.Name == orig {
				cols[i].typ, cols[i].flags, cols[i].known = c.Type, c.flags(), true
				if c.Name == "_seq" || c.Name == "_deleted" {
					cols[i].flags = []string{"nn"}
				}
				if strings.EqualFold(cols[i].name, orig) {
					cols[i].name = orig
				}
			}
		}
	}
	var rows [][]any
	for len(rows) < limit && stmt.Step() {
		row := make([]any, n)
		for i := range row {
			row[i] = columnValue(stmt, i)
		}
		rows = append(rows, row)
	}
	if err := stmt.Err(); err != nil {
		if se := e.deniedErr(); se != nil {
			return nil, nil, se
		}
		return nil, nil, e.sqliteErr(err, tr)
	}
	for i := range cols {
		if !cols[i].known {
			if i < len(tr.itemTypes) && tr.itemTypes[i] != nil {
				cols[i].typ = *tr.itemTypes[i]
			} else {
				cols[i].typ = inferColumn(i, rows)
			}
			// DataFusion names computed columns with lowercase functions: count(*).
			if open := strings.IndexByte(cols[i].name, '('); open > 0 && isIdentName(cols[i].name[:open]) {
				cols[i].name = strings.ToLower(cols[i].name[:open]) + cols[i].name[open:]
			}
		}
	}
	return cols, rows, nil
}

// inferColumn types a computed column selectItemTypes could not type by
// its values (http-api §6.4: Int64 → BigInt, Float64 → Double, else Text).
func inferColumn(i int, rows [][]any) kType {
	for _, r := range rows {
		if r[i] != nil {
			return inferType(r[i])
		}
	}
	return tText
}

func (e *Engine) physIndex() map[string]*tableInfo {
	m := make(map[string]*tableInfo, len(e.cat.Tables))
	for _, t := range e.cat.Tables {
		m[t.phys()] = t
	}
	return m
}

// sqliteErr maps an SQLite failure to the server's error class.
func (e *Engine) sqliteErr(err error, tr *translation) *stmtErr {
	msg := err.Error()
	var serr *sqlite3.Error
	if ok := asSqliteError(err, &serr); ok {
		msg = serr.Error()
	}
	if idx := strings.Index(msg, "no such column: "); idx >= 0 {
		col := strings.TrimSpace(msg[idx+len("no such column: "):])
		var valid []string
		for _, r := range tr.refs {
			prefix := "system." + r.alias
			if r.tbl != nil {
				prefix = r.tbl.id()
			}
			for _, c := range r.columns() {
				valid = append(valid, prefix+"."+c.Name)
			}
		}
		return execErr("Invalid operation: Schema error: No field named %s. Valid fields are %s.", strings.ToLower(col), strings.Join(valid, ", "))
	}
	return execErr("Execution error: SQL error: %s", strings.TrimPrefix(msg, "sqlite3: "))
}

// encodeResult turns raw rows into a wire Result, masking credentials for
// non-admin roles (http-api §6.5).
func encodeResult(cols []outCol, rows [][]any, role Role) (Result, *stmtErr) {
	res := Result{ReturnsRows: true, RowCount: len(rows), Schema: make([]Column, len(cols)), Rows: make([][]json.RawMessage, len(rows))}
	mask := make([]bool, len(cols))
	for i, c := range cols {
		res.Schema[i] = Column{Name: c.name, DataType: c.typ.dataTypeJSON(), Index: i, Flags: c.flags}
		mask[i] = !role.IsAdmin() && (c.name == "credentials" || c.name == "password_hash")
	}
	for r, row := range rows {
		out := make([]json.RawMessage, len(cols))
		for i, v := range row {
			if mask[i] && v != nil {
				out[i] = json.RawMessage(`"***"`)
				continue
			}
			cell, err := encodeCell(cols[i].typ, v)
			if err != nil {
				return Result{}, &stmtErr{code: "INTERNAL_ERROR", status: 500, msg: "Serialization error: " + err.Error(), sensitive: true}
			}
			out[i] = cell
		}
		res.Rows[r] = out
	}
	return res, nil
}

func (e *Engine) execSelect(st *stmt, s *session) (Result, *stmtErr) {
	tr, se := e.translate(st.toks, s, translateOpts{})
	if se != nil {
		return Result{}, se
	}
	limit := e.opts.DefaultQueryLimit
	if tr.topLimit {
		limit = e.opts.MaxQueryLimit
	}
	cols, rows, se := e.runTranslation(tr, limit)
	if se != nil {
		return Result{}, se
	}
	return encodeResult(cols, rows, s.role)
}

func isIdentName(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isIdentPart(s[i]) {
			return false
		}
	}
	return s != ""
}

// sharedImpersonationErr is raised before execution, bare and redacted for
// non-admins (execution_paths.rs).
func sharedImpersonationErr(t *tableInfo) *stmtErr {
	return &stmtErr{code: "SQL_EXECUTION_ERROR", status: 400, bare: true, sensitive: true,
		msg: fmt.Sprintf("EXECUTE AS USER is not allowed on SHARED tables (table '%s:%s'). AS USER impersonation is only supported for USER tables.", t.Namespace, t.Name)}
}

// sqliteAliasKeywords are the SQLite keywords that cannot follow AS
// unquoted, less those that start a query (CREATE TABLE t AS SELECT).
var sqliteAliasKeywords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`ADD ALL ALTER AND AUTOINCREMENT BETWEEN CASE CHECK COLLATE COMMIT
		CONSTRAINT CREATE DEFAULT DEFERRABLE DELETE DISTINCT DROP ELSE ESCAPE EXCEPT EXISTS FOREIGN
		GROUP HAVING IN INDEX INSERT INTERSECT INTO IS ISNULL JOIN LIMIT NOTHING NOTNULL NULL ON OR
		ORDER PRIMARY REFERENCES RETURNING SET TABLE THEN TO TRANSACTION UNION UNIQUE UPDATE USING
		WHEN WHERE`) {
		m[w] = true
	}
	return m
}()
