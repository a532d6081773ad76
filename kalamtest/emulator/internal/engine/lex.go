package engine

import (
	"fmt"
	"strings"
)

// asciiSpace is the whitespace the lexer skips.
const asciiSpace = " \t\n\r\f\v"

// tokKind is the lexical class of a SQL token.
type tokKind int

const (
	tkSpace   tokKind = iota // whitespace
	tkComment                // -- or /* */
	tkWord                   // identifier or keyword
	tkQIdent                 // "quoted identifier"
	tkString                 // 'string literal'
	tkNumber                 // 12, 1.5, 1e3
	tkParam                  // $1
	tkPunct                  // operators and punctuation
)

// token is one lexeme; text is exactly as written.
type token struct {
	kind tokKind
	text string
}

// upper is the keyword form of a word token ("" for other kinds).
func (t token) upper() string {
	if t.kind != tkWord {
		return ""
	}
	return strings.ToUpper(t.text)
}

// ident returns the identifier a word or quoted identifier names: words
// fold to lowercase as DataFusion does, quoted ones keep their case.
func (t token) ident() (string, bool) {
	switch t.kind {
	case tkWord:
		return strings.ToLower(t.text), true
	case tkQIdent:
		return strings.ReplaceAll(t.text[1:len(t.text)-1], `""`, `"`), true
	}
	return "", false
}

// stringValue unquotes a string literal token.
func (t token) stringValue() string {
	return strings.ReplaceAll(t.text[1:len(t.text)-1], "''", "'")
}

func isIdentStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// lex splits sql into tokens. It fails only on an unterminated quote or
// block comment.
func lex(sql string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(sql) {
		c := sql[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			for i < len(sql) && strings.IndexByte(asciiSpace, sql[i]) >= 0 {
				i++
			}
			toks = append(toks, token{tkSpace, sql[start:i]})
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
			toks = append(toks, token{tkComment, sql[start:i]})
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil, fmt.Errorf("unterminated block comment at byte %d", start)
			}
			i += 2 + end + 2
			toks = append(toks, token{tkComment, sql[start:i]})
		case c == '\'' || c == '"' || c == '`':
			i++
			for {
				if i >= len(sql) {
					return nil, &unterminatedError{quote: c, start: start}
				}
				if sql[i] == c {
					if i+1 < len(sql) && sql[i+1] == c {
						i += 2
						continue
					}
					i++
					break
				}
				i++
			}
			kind := tkString
			text := sql[start:i]
			if c != '\'' {
				kind = tkQIdent
				if c == '`' {
					text = `"` + strings.ReplaceAll(text[1:len(text)-1], `"`, `""`) + `"`
				}
			}
			toks = append(toks, token{kind, text})
		case isDigit(c) || c == '.' && i+1 < len(sql) && isDigit(sql[i+1]):
			for i < len(sql) && (isDigit(sql[i]) || sql[i] == '.') {
				i++
			}
			if i < len(sql) && (sql[i] == 'e' || sql[i] == 'E') {
				j := i + 1
				if j < len(sql) && (sql[j] == '+' || sql[j] == '-') {
					j++
				}
				if j < len(sql) && isDigit(sql[j]) {
					i = j
					for i < len(sql) && isDigit(sql[i]) {
						i++
					}
				}
			}
			toks = append(toks, token{tkNumber, sql[start:i]})
		case c == '$' && i+1 < len(sql) && isDigit(sql[i+1]):
			i++
			for i < len(sql) && isDigit(sql[i]) {
				i++
			}
			toks = append(toks, token{tkParam, sql[start:i]})
		case isIdentStart(c):
			for i < len(sql) && isIdentPart(sql[i]) {
				i++
			}
			toks = append(toks, token{tkWord, sql[start:i]})
		default:
			i++
			for _, op := range []string{"->>", "<=", ">=", "<>", "!=", "||", "::", "->", "=="} {
				if strings.HasPrefix(sql[start:], op) {
					i = start + len(op)
					break
				}
			}
			toks = append(toks, token{tkPunct, sql[start:i]})
		}
	}
	return toks, nil
}

// significant drops whitespace and comments.
func significant(toks []token) []token {
	out := make([]token, 0, len(toks))
	for _, t := range toks {
		if t.kind != tkSpace && t.kind != tkComment {
			out = append(out, t)
		}
	}
	return out
}

// splitStatements cuts sql at top-level semicolons, dropping statements
// that hold only whitespace and comments. Each piece is trimmed.
func splitStatements(sql string) ([]string, error) {
	toks, err := lex(sql)
	if err != nil {
		return nil, err
	}
	var out []string
	var cur strings.Builder
	meaningful := false
	flush := func() {
		if meaningful {
			out = append(out, strings.Trim(cur.String(), asciiSpace))
		}
		cur.Reset()
		meaningful = false
	}
	for _, t := range toks {
		if t.kind == tkPunct && t.text == ";" {
			flush()
			continue
		}
		if t.kind != tkSpace && t.kind != tkComment {
			meaningful = true
		}
		cur.WriteString(t.text)
	}
	flush()
	return out, nil
}

// join rebuilds SQL text from tokens.
func join(toks []token) string {
	var b strings.Builder
	for _, t := range toks {
		b.WriteString(t.text)
	}
	return b.String()
}

// quoteIdent quotes a SQLite identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteString quotes a SQL string literal.
func quoteString(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// unterminatedError is a quote left open; sqlparser reports a string one
// as a TokenizerError at its 1-based line and column.
type unterminatedError struct {
	quote byte
	start int
}

func (e *unterminatedError) Error() string {
	return fmt.Sprintf("unterminated quoted text starting at byte %d", e.start)
}

// tokenizerText is sqlparser's message for an open string literal.
func (e *unterminatedError) tokenizerText(sql string) string {
	return "TokenizerError(\"Unterminated string literal at " + SQLPosition(sql, e.start) + "\")"
}

// SQLPosition is sqlparser's 1-based "Line: L, Column: C" of byte offset
// off in sql (columns count characters).
func SQLPosition(sql string, off int) string {
	line, col := 1, 1
	for _, r := range sql[:min(off, len(sql))] {
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return fmt.Sprintf("Line: %d, Column: %d", line, col)
}
