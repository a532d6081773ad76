package live

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// Subscription SQL (§14): validation as
// kalamdb-dialect query_parser.rs::analyze_subscription_query does it, and
// the live filter as [LIVE]/helpers/filter_eval.rs evaluates it.

type token struct {
	kind byte // 'w' word, 'q' quoted identifier, 's' string, 'n' number, 'p' punctuation, '$' parameter
	text string
	pos  int
}

func (t token) is(word string) bool { return t.kind == 'w' && strings.EqualFold(t.text, word) }

func tokenize(sql string) ([]token, error) {
	var out []token
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated comment at position %d", i)
			}
			i += end + 4
		case c == '\'' || c == '"':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, fmt.Errorf("unterminated quoted text at position %d", i)
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						b.WriteByte(c)
						j += 2
						continue
					}
					break
				}
				b.WriteByte(sql[j])
				j++
			}
			kind := byte('s')
			if c == '"' {
				kind = 'q'
			}
			out = append(out, token{kind: kind, text: b.String(), pos: i})
			i = j + 1
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i
			for j < len(sql) && (sql[j] >= '0' && sql[j] <= '9' || sql[j] == '.' || sql[j] == 'e' || sql[j] == 'E' ||
				(sql[j] == '+' || sql[j] == '-') && (sql[j-1] == 'e' || sql[j-1] == 'E')) {
				j++
			}
			out = append(out, token{kind: 'n', text: sql[i:j], pos: i})
			i = j
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			j := i
			for j < len(sql) && (sql[j] == '_' || sql[j] >= 'a' && sql[j] <= 'z' || sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9' || sql[j] >= 0x80) {
				j++
			}
			out = append(out, token{kind: 'w', text: sql[i:j], pos: i})
			i = j
		case c == '$':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			out = append(out, token{kind: '$', text: sql[i:j], pos: i})
			i = j
		default:
			for _, op := range []string{"<>", "!=", "<=", ">=", "||", "::"} {
				if strings.HasPrefix(sql[i:], op) {
					out = append(out, token{kind: 'p', text: op, pos: i})
					i += 2
					goto next
				}
			}
			out = append(out, token{kind: 'p', text: string(c), pos: i})
			i++
		next:
		}
	}
	return out, nil
}

// subQuery is a validated subscription query.
type subQuery struct {
	namespace, table string
	fromText         string   // "ns.t [alias]" as written
	columns          []string // nil for SELECT *
	where            string   // WHERE text as written, "" when none
}

// queryError is a subscribe failure with its wire code.
type queryError struct {
	code, msg string
}

func (e *queryError) Error() string { return e.code + ": " + e.msg }

// invalidSQL is LiveError::InvalidSql wrapping QueryParseError::InvalidSql,
// whose Display adds its own "Invalid SQL: " (kalamdb-dialect/src/parser/
// query_parser.rs), hence the doubled prefix on the wire.
func invalidSQL(format string, args ...any) *queryError {
	return &queryError{code: "INVALID_SQL", msg: "Invalid SQL: Invalid SQL: " + fmt.Sprintf(format, args...)}
}

// parseError is the same for QueryParseError::ParseError (sqlparser failed).
func parseError(format string, args ...any) *queryError {
	return &queryError{code: "INVALID_SQL", msg: "Invalid SQL: Parse error: Failed to parse SQL: sql parser error: " + fmt.Sprintf(format, args...)}
}

const onlySimpleSelect = "Subscription query supports only SELECT ... FROM ... [WHERE ...]."

// rejectedWords are the clauses a subscription may not use (§14), with
// the real validator's text for each (query_parser.rs
// validate_subscription_query_ast / validate_subscription_select).
var rejectedWords = map[string]string{
	"ORDER": "Subscription query does not support ORDER BY. Only SELECT ... FROM ... [WHERE ...] is supported.",
	"GROUP": "Subscription query does not support GROUP BY. Only SELECT ... FROM ... [WHERE ...] is supported.",
	"JOIN":  "Subscription query does not support JOIN clauses. Only SELECT ... FROM ... [WHERE ...] is supported.",
	"LIMIT": onlySimpleSelect, "FETCH": onlySimpleSelect, "OFFSET": onlySimpleSelect, "FOR": onlySimpleSelect,
	"DISTINCT": onlySimpleSelect, "TOP": onlySimpleSelect, "HAVING": onlySimpleSelect, "QUALIFY": onlySimpleSelect,
	"WINDOW": onlySimpleSelect, "OVER": onlySimpleSelect,
	"UNION":     "Subscription query supports only simple SELECT statements.",
	"INTERSECT": "Subscription query supports only simple SELECT statements.",
	"EXCEPT":    "Subscription query supports only simple SELECT statements.",
}

// statementWords start a statement sqlparser knows; any other first word
// is its "Expected: an SQL statement" parse error.
var statementWords = map[string]bool{
	"SELECT": true, "WITH": true, "INSERT": true, "UPDATE": true, "DELETE": true, "CREATE": true,
	"DROP": true, "ALTER": true, "TRUNCATE": true, "SHOW": true, "DESCRIBE": true, "DESC": true,
	"EXPLAIN": true, "SET": true, "BEGIN": true, "START": true, "COMMIT": true, "ROLLBACK": true,
	"VALUES": true, "MERGE": true, "GRANT": true, "REVOKE": true, "USE": true, "COPY": true,
	"ANALYZE": true, "VACUUM": true, "CALL": true, "PREPARE": true, "EXECUTE": true, "DEALLOCATE": true,
	"DECLARE": true, "FETCH": true, "CLOSE": true, "KILL": true, "REPLACE": true, "UPSERT": true,
	"SAVEPOINT": true, "RELEASE": true, "LOCK": true, "UNLOCK": true, "LOAD": true, "CACHE": true,
	"UNCACHE": true, "MSCK": true, "COMMENT": true, "ASSERT": true, "INSTALL": true, "ATTACH": true,
	"DETACH": true, "PRAGMA": true, "FLUSH": true, "LISTEN": true, "NOTIFY": true, "UNLISTEN": true,
	"RESET": true, "DISCARD": true, "OPTIMIZE": true, "RENAME": true, "RETURN": true, "PRINT": true,
	"RAISE": true, "SUBSCRIBE": true, "STORAGE": true, "BACKUP": true, "RESTORE": true, "EXPORT": true,
}

func analyzeSubscription(sql string) (*subQuery, *queryError) {
	toks, err := tokenize(sql)
	if err != nil {
		return nil, invalidSQL("%v", err)
	}
	for len(toks) > 0 && toks[len(toks)-1].kind == 'p' && toks[len(toks)-1].text == ";" {
		toks = toks[:len(toks)-1]
	}
	if len(toks) == 0 {
		return nil, invalidSQL("Empty SQL statement")
	}
	depth := 0
	for i, t := range toks {
		switch {
		case t.kind == 'p' && t.text == ";":
			return nil, invalidSQL("Subscription query must contain exactly one SELECT statement")
		case t.kind == 'p' && t.text == "(":
			depth++
		case t.kind == 'p' && t.text == ")":
			depth--
		case t.is("SELECT") && i > 0:
			return nil, invalidSQL("Subqueries are not supported in subscriptions")
		case t.kind == 'w' && depth == 0:
			if text, bad := rejectedWords[strings.ToUpper(t.text)]; bad {
				return nil, invalidSQL("%s", text)
			}
		}
	}
	if toks[0].is("WITH") {
		return nil, invalidSQL("Subscription query does not support WITH clauses. Only SELECT ... FROM ... [WHERE ...] is supported.")
	}
	if !toks[0].is("SELECT") {
		if toks[0].kind == 'w' && !statementWords[strings.ToUpper(toks[0].text)] {
			return nil, parseError("Expected: an SQL statement, found: %s at %s", toks[0].text, engine.SQLPosition(sql, toks[0].pos))
		}
		return nil, invalidSQL("Only SELECT queries are supported for subscriptions")
	}
	from := -1
	for i, t := range toks {
		if t.is("FROM") {
			from = i
			break
		}
	}
	if from < 0 {
		return nil, invalidSQL("Subscription query must have a FROM clause")
	}
	q := &subQuery{}
	proj := toks[1:from]
	if len(proj) == 1 && proj[0].kind == 'p' && proj[0].text == "*" {
		q.columns = nil
	} else {
		if len(proj) == 0 {
			return nil, invalidSQL("Subscription query selects no columns")
		}
		for _, item := range splitTop(proj) {
			name, ok := plainColumn(item)
			if !ok {
				// The real server accepts it, then fails the snapshot query.
				return nil, &queryError{code: "SUBSCRIPTION_FAILED", msg: "Execution error: projection must be plain column names, got " + joinTokens(item)}
			}
			if strings.HasPrefix(name, "_") && (strings.EqualFold(name, "_seq") || strings.EqualFold(name, "_deleted")) {
				return nil, invalidSQL("Subscriptions cannot project system columns (%s)", name)
			}
			q.columns = append(q.columns, name)
		}
	}
	rest := toks[from+1:]
	var name []token
	for len(rest) > 0 && (rest[0].kind == 'w' || rest[0].kind == 'q') && !rest[0].is("WHERE") {
		name = append(name, rest[0])
		rest = rest[1:]
		if len(rest) > 0 && rest[0].kind == 'p' && rest[0].text == "." {
			rest = rest[1:]
			continue
		}
		break
	}
	if len(name) == 0 || len(rest) > 0 && rest[0].kind == 'p' && rest[0].text == "(" {
		return nil, invalidSQL("Subscription FROM must name one table")
	}
	if len(name) != 2 {
		return nil, invalidSQL("Query must use namespace.table format")
	}
	q.namespace, q.table = strings.ToLower(name[0].text), name[1].text
	if name[1].kind == 'w' {
		q.table = strings.ToLower(q.table)
	}
	if len(rest) > 0 && rest[0].is("AS") {
		rest = rest[1:]
	}
	if len(rest) > 0 && (rest[0].kind == 'w' || rest[0].kind == 'q') && !rest[0].is("WHERE") {
		rest = rest[1:] // alias
	}
	end := len(sql)
	if len(rest) > 0 {
		if rest[0].kind == 'p' && rest[0].text == "," {
			return nil, invalidSQL("Subscriptions support a single table in FROM")
		}
		if !rest[0].is("WHERE") || len(rest) == 1 {
			return nil, invalidSQL("Unexpected %q after the table name", rest[0].text)
		}
		end = rest[0].pos
		q.where = strings.TrimRight(strings.TrimSpace(sql[rest[1].pos:]), "; \t\r\n")
	}
	q.fromText = strings.TrimSpace(sql[toks[from].pos+len("FROM") : end])
	q.fromText = strings.TrimRight(q.fromText, "; \t\r\n")
	return q, nil
}

// splitTop splits tokens at top-level commas.
func splitTop(toks []token) [][]token {
	var out [][]token
	depth, start := 0, 0
	for i, t := range toks {
		switch {
		case t.kind == 'p' && t.text == "(":
			depth++
		case t.kind == 'p' && t.text == ")":
			depth--
		case t.kind == 'p' && t.text == "," && depth == 0:
			out = append(out, toks[start:i])
			start = i + 1
		}
	}
	return append(out, toks[start:])
}

// plainColumn accepts "col", "\"col\"" or "t.col" and returns the column.
func plainColumn(item []token) (string, bool) {
	ident := func(t token) bool { return t.kind == 'w' || t.kind == 'q' }
	name := func(t token) string {
		if t.kind == 'w' {
			return strings.ToLower(t.text)
		}
		return t.text
	}
	switch {
	case len(item) == 1 && ident(item[0]):
		return name(item[0]), true
	case len(item) == 3 && ident(item[0]) && item[1].text == "." && ident(item[2]):
		return name(item[2]), true
	}
	return "", false
}

func joinTokens(toks []token) string {
	parts := make([]string, len(toks))
	for i, t := range toks {
		parts[i] = t.text
	}
	return strings.Join(parts, " ")
}

// ---- live filter ----

// scalar is a value as the live filter sees it: ScalarValue-like kinds.
type scalar struct {
	kind byte // 'n' typed null, 'N' literal NULL, 'b', 'i', 'f', 's', 'o' other (list, bytes)
	b    bool
	i    int64
	f    float64
	s    string
}

func (v scalar) asFloat() (float64, bool) {
	switch v.kind {
	case 'i':
		return float64(v.i), true
	case 'f':
		return v.f, true
	}
	return 0, false
}

func scalarsEqual(l, r scalar) bool {
	if l.kind == r.kind && l.kind != 'n' && l.kind != 'o' {
		switch l.kind {
		case 'N':
			return true
		case 'b':
			return l.b == r.b
		case 'i':
			return l.i == r.i
		case 'f':
			return l.f == r.f
		case 's':
			return l.s == r.s
		}
	}
	lf, lok := l.asFloat()
	rf, rok := r.asFloat()
	return lok && rok && math.Abs(lf-rf) < math.SmallestNonzeroFloat64+2.220446049250313e-16
}

// filterNode is a parsed WHERE expression. Kinds the real evaluator cannot
// evaluate are kept (kind 'x') so evaluation fails exactly where it does.
type filterNode struct {
	kind   byte // '&' and, '|' or, '!' not, 'c' comparison, 'l' like, 'i' identifier, 'v' literal, 'x' unsupported
	op     string
	kids   []*filterNode
	name   string
	lit    scalar
	ilike  bool
	negate bool
	escape *rune
	re     *regexp.Regexp // compiled literal LIKE pattern
	what   string         // for 'x': what is unsupported
}

// parseFilter parses a WHERE clause; ok=false means the real server would
// fail to re-parse it and deliver changes unfiltered.
func parseFilter(where, userID string) (*filterNode, bool) {
	where = replaceCurrentUser(where, userID)
	toks, err := tokenize(where)
	if err != nil {
		return nil, false
	}
	p := &filterParser{toks: toks}
	n := p.or()
	if p.err || p.i != len(p.toks) {
		return nil, false
	}
	return n, true
}

var currentUserCall = regexp.MustCompile(`(?i)current_user\s*\(\s*\)`)

func replaceCurrentUser(where, userID string) string {
	quoted := "'" + strings.ReplaceAll(userID, "'", "''") + "'"
	return currentUserCall.ReplaceAllLiteralString(where, quoted)
}

type filterParser struct {
	toks []token
	i    int
	err  bool
}

func (p *filterParser) peek() token {
	if p.i < len(p.toks) {
		return p.toks[p.i]
	}
	return token{}
}

func (p *filterParser) accept(word string) bool {
	if p.peek().is(word) || p.peek().kind == 'p' && p.peek().text == word {
		p.i++
		return true
	}
	return false
}

func (p *filterParser) or() *filterNode {
	n := p.and()
	for !p.err && p.accept("OR") {
		n = &filterNode{kind: '|', kids: []*filterNode{n, p.and()}}
	}
	return n
}

func (p *filterParser) and() *filterNode {
	n := p.not()
	for !p.err && p.accept("AND") {
		n = &filterNode{kind: '&', kids: []*filterNode{n, p.not()}}
	}
	return n
}

func (p *filterParser) not() *filterNode {
	if p.accept("NOT") {
		return &filterNode{kind: '!', kids: []*filterNode{p.not()}}
	}
	return p.predicate()
}

func (p *filterParser) predicate() *filterNode {
	left := p.additive()
	if p.err {
		return nil
	}
	t := p.peek()
	switch {
	case t.kind == 'p' && (t.text == "=" || t.text == "!=" || t.text == "<>" || t.text == "<" || t.text == ">" || t.text == "<=" || t.text == ">="):
		p.i++
		op := t.text
		if op == "<>" {
			op = "!="
		}
		return &filterNode{kind: 'c', op: op, kids: []*filterNode{left, p.additive()}}
	case t.is("IS"):
		p.i++
		p.accept("NOT")
		if !p.accept("NULL") && !p.accept("TRUE") && !p.accept("FALSE") {
			p.err = true
		}
		return &filterNode{kind: 'x', what: "IS"}
	}
	negate := p.accept("NOT")
	switch {
	case p.accept("LIKE"), p.peek().is("ILIKE"):
		ilike := p.toks[p.i-1].is("ILIKE")
		if !ilike && p.peek().is("ILIKE") {
			p.i++
			ilike = true
		}
		if p.accept("ANY") {
			p.skipParens()
			return &filterNode{kind: 'x', what: "LIKE ANY"}
		}
		n := &filterNode{kind: 'l', ilike: ilike, negate: negate, kids: []*filterNode{left, p.additive()}}
		if p.accept("ESCAPE") {
			e := p.peek()
			p.i++
			if e.kind != 's' {
				return &filterNode{kind: 'x', what: "LIKE ESCAPE value"}
			}
			r := []rune(e.text)
			if len(r) != 1 {
				return &filterNode{kind: 'x', what: "LIKE ESCAPE must be a single character"}
			}
			n.escape = &r[0]
		}
		if pat := n.kids[1]; pat.kind == 'v' && pat.lit.kind == 's' {
			n.re, _ = likeRegexp(pat.lit.s, n.escape, ilike)
		}
		return n
	case p.accept("IN"):
		p.skipParens()
		return &filterNode{kind: 'x', what: "IN"}
	case p.accept("BETWEEN"):
		p.additive()
		if !p.accept("AND") {
			p.err = true
		}
		p.additive()
		return &filterNode{kind: 'x', what: "BETWEEN"}
	}
	if negate {
		p.err = true
	}
	return left
}

func (p *filterParser) skipParens() {
	if !p.accept("(") {
		p.err = true
		return
	}
	for depth := 1; depth > 0; p.i++ {
		if p.i >= len(p.toks) {
			p.err = true
			return
		}
		switch t := p.toks[p.i]; {
		case t.kind == 'p' && t.text == "(":
			depth++
		case t.kind == 'p' && t.text == ")":
			depth--
		}
	}
}

func (p *filterParser) additive() *filterNode {
	n := p.primary()
	for !p.err {
		t := p.peek()
		if t.kind != 'p' || !strings.Contains("+-*/%||::", t.text) || t.text == "" {
			return n
		}
		p.i++
		p.primary()
		n = &filterNode{kind: 'x', what: "arithmetic"}
	}
	return n
}

func (p *filterParser) primary() *filterNode {
	t := p.peek()
	p.i++
	switch {
	case t.kind == 's':
		return &filterNode{kind: 'v', lit: scalar{kind: 's', s: t.text}}
	case t.kind == 'n':
		if i, err := strconv.ParseInt(t.text, 10, 64); err == nil {
			return &filterNode{kind: 'v', lit: scalar{kind: 'i', i: i}}
		}
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			p.err = true
			return nil
		}
		return &filterNode{kind: 'v', lit: scalar{kind: 'f', f: f}}
	case t.is("TRUE"), t.is("FALSE"):
		return &filterNode{kind: 'v', lit: scalar{kind: 'b', b: t.is("TRUE")}}
	case t.is("NULL"):
		return &filterNode{kind: 'v', lit: scalar{kind: 'N'}}
	case t.kind == 'p' && t.text == "(":
		n := p.or()
		if !p.accept(")") {
			p.err = true
		}
		return n
	case t.kind == 'p' && (t.text == "-" || t.text == "+"):
		p.primary()
		return &filterNode{kind: 'x', what: "unary operator"}
	case t.kind == '$':
		return &filterNode{kind: 'x', what: "placeholder"}
	case t.kind == 'w' || t.kind == 'q':
		if t.kind == 'w' && p.peek().kind == 's' { // typed literal: DATE '2024-01-01'
			p.i++
			return &filterNode{kind: 'x', what: "typed literal"}
		}
		name := t.text
		for p.peek().kind == 'p' && p.peek().text == "." {
			p.i++
			nt := p.peek()
			p.i++
			if nt.kind != 'w' && nt.kind != 'q' {
				p.err = true
				return nil
			}
			name = nt.text
		}
		if p.peek().kind == 'p' && p.peek().text == "(" {
			p.skipParens()
			return &filterNode{kind: 'x', what: "function " + name}
		}
		return &filterNode{kind: 'i', name: name}
	}
	p.err = true
	return nil
}

// likeRegexp turns a LIKE pattern into an anchored regexp.
func likeRegexp(pattern string, escape *rune, ilike bool) (*regexp.Regexp, error) {
	var b strings.Builder
	if ilike {
		b.WriteString("(?is)^")
	} else {
		b.WriteString("(?s)^")
	}
	escaped := false
	for _, r := range pattern {
		switch {
		case escaped:
			b.WriteString(regexp.QuoteMeta(string(r)))
			escaped = false
		case escape != nil && r == *escape:
			escaped = true
		case r == '%':
			b.WriteString(".*")
		case r == '_':
			b.WriteByte('.')
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	if escaped {
		return nil, fmt.Errorf("LIKE pattern has dangling escape character: %q", pattern)
	}
	b.WriteByte('$')
	return regexp.Compile(b.String())
}

const maxFilterDepth = 64

// rowView is a change row with the column types the filter needs.
type rowView struct {
	row     map[string]json.RawMessage
	numeric map[string]bool // columns whose string cells are numbers (BigInt, Decimal)
}

func (rv rowView) lookup(name string) (scalar, bool) {
	key := name
	cell, ok := rv.row[key]
	if !ok {
		key = strings.ToLower(name)
		if cell, ok = rv.row[key]; !ok {
			key = strings.ToUpper(name)
			cell, ok = rv.row[key]
		}
	}
	if !ok {
		return scalar{}, false
	}
	return cellScalar(cell, rv.numeric[key]), true
}

func cellScalar(cell json.RawMessage, numeric bool) scalar {
	s := string(cell)
	switch {
	case len(cell) == 0 || s == "null":
		return scalar{kind: 'n'}
	case s == "true" || s == "false":
		return scalar{kind: 'b', b: s == "true"}
	case cell[0] == '"':
		var str string
		if json.Unmarshal(cell, &str) != nil {
			return scalar{kind: 'o'}
		}
		if numeric {
			if i, err := strconv.ParseInt(str, 10, 64); err == nil {
				return scalar{kind: 'i', i: i}
			}
			if f, err := strconv.ParseFloat(str, 64); err == nil {
				return scalar{kind: 'f', f: f}
			}
		}
		return scalar{kind: 's', s: str}
	case cell[0] == '-' || cell[0] >= '0' && cell[0] <= '9':
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return scalar{kind: 'i', i: i}
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return scalar{kind: 'f', f: f}
		}
	}
	return scalar{kind: 'o'}
}

// matches evaluates the filter; an error means the real server would skip
// this change for the subscriber.
func (n *filterNode) matches(rv rowView, depth int) (bool, error) {
	if depth > maxFilterDepth {
		return false, fmt.Errorf("filter expression too deeply nested (max %d levels)", maxFilterDepth)
	}
	switch n.kind {
	case '&':
		l, err := n.kids[0].matches(rv, depth+1)
		if err != nil || !l {
			return false, err
		}
		return n.kids[1].matches(rv, depth+1)
	case '|':
		l, err := n.kids[0].matches(rv, depth+1)
		if err != nil || l {
			return l, err
		}
		return n.kids[1].matches(rv, depth+1)
	case '!':
		v, err := n.kids[0].matches(rv, depth+1)
		return !v, err
	case 'c':
		l, err := n.kids[0].value(rv)
		if err != nil {
			return false, err
		}
		r, err := n.kids[1].value(rv)
		if err != nil {
			return false, err
		}
		switch n.op {
		case "=":
			return scalarsEqual(l, r), nil
		case "!=":
			return !scalarsEqual(l, r), nil
		}
		lf, lok := l.asFloat()
		rf, rok := r.asFloat()
		if !lok || !rok {
			return false, fmt.Errorf("cannot compare non-numeric values with %s", n.op)
		}
		switch n.op {
		case "<":
			return lf < rf, nil
		case ">":
			return lf > rf, nil
		case "<=":
			return lf <= rf, nil
		}
		return lf >= rf, nil
	case 'l':
		v, err := n.kids[0].value(rv)
		if err != nil {
			return false, err
		}
		pat, err := n.kids[1].value(rv)
		if err != nil {
			return false, err
		}
		if v.kind != 's' || pat.kind != 's' {
			return false, fmt.Errorf("cannot evaluate LIKE against non-string values")
		}
		re := n.re
		if re == nil {
			if re, err = likeRegexp(pat.s, n.escape, n.ilike); err != nil {
				return false, err
			}
		}
		return re.MatchString(v.s) != n.negate, nil
	case 'x':
		return false, fmt.Errorf("unsupported expression in live filter: %s", n.what)
	}
	return false, fmt.Errorf("unsupported expression type in live filter")
}

func (n *filterNode) value(rv rowView) (scalar, error) {
	switch n.kind {
	case 'i':
		v, ok := rv.lookup(n.name)
		if !ok {
			return scalar{}, fmt.Errorf("column not found in row data: %s", n.name)
		}
		return v, nil
	case 'v':
		return n.lit, nil
	case 'x':
		return scalar{}, fmt.Errorf("unsupported expression in live filter: %s", n.what)
	}
	return scalar{}, fmt.Errorf("unsupported expression in value extraction")
}
