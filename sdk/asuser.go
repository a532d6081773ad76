package sdk

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// AsUser runs the statement as another user, as KalamDB's
// EXECUTE AS USER '<user>' (<statement>) does: the statement sees and
// writes that user's rows of USER tables, with role user. The caller's role
// must allow it (system: anyone; dba: service and user accounts; service:
// user accounts) and the server refuses it on SHARED tables.
//
// The SDK builds the wrapper itself and quotes the name (a quote is
// doubled), so a name can never end the literal and inject SQL. Names the
// server cannot take back exactly are refused with an error naming the
// reason: empty, leading or trailing white space (the server trims it),
// '(' or ')' (a cluster node finds the wrapper's parenthesis by a plain
// search), control characters, and what KalamDB forbids in user ids ("..",
// "/", "\"). The statement must be a single one (a trailing ';' is fine)
// and not already wrapped.
func AsUser(user string) QueryOption {
	return func(q *queryConfig) error {
		if err := checkImpersonatedUser(user); err != nil {
			return err
		}
		q.asUser = user
		return nil
	}
}

func checkImpersonatedUser(user string) error {
	bad := func(why string) error { return fmt.Errorf("sdk: AsUser(%q): %s", user, why) }
	switch {
	case user == "":
		return bad("empty user name")
	case !utf8.ValidString(user):
		return bad("the name is not valid UTF-8")
	case strings.TrimSpace(user) != user:
		return bad("leading or trailing white space, which the server would trim away")
	case strings.ContainsAny(user, "()"):
		return bad("'(' or ')' cannot be quoted safely: a KalamDB cluster node looks for the wrapper's '(' without reading quotes")
	case strings.Contains(user, ".."), strings.ContainsAny(user, `/\`):
		return bad(`KalamDB user ids cannot contain "..", "/" or "\"`)
	case strings.IndexFunc(user, unicode.IsControl) >= 0:
		return bad("control characters in a user name")
	}
	return nil
}

// executeAsUser wraps sql in EXECUTE AS USER with user quoted.
func executeAsUser(user, sql string) (string, error) {
	inner, err := singleStatement(sql)
	if err != nil {
		return "", fmt.Errorf("sdk: AsUser: %w", err)
	}
	if strings.HasPrefix(strings.ToUpper(strings.Join(strings.Fields(inner), " ")), "EXECUTE AS USER") {
		return "", errors.New("sdk: AsUser: the statement is already an EXECUTE AS USER; KalamDB does not nest them")
	}
	return "EXECUTE AS USER '" + strings.ReplaceAll(user, "'", "''") + "' (" + inner + ")", nil
}

// singleStatement returns sql without trailing semicolons and white space,
// or an error when it holds more than one statement or an unterminated
// quote or comment (which would swallow the wrapper's closing parenthesis).
// It reads quotes and comments as the server's split_statements does; a
// ';' left inside the parentheses would split the batch there.
func singleStatement(sql string) (string, error) {
	end := -1 // byte after the last significant character
	sawSemicolon := false
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			j := i + 1
			for ; j < len(sql); j++ {
				if sql[j] == c {
					if c != '`' && j+1 < len(sql) && sql[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(sql) {
				return "", fmt.Errorf("unterminated %c quote starting at byte %d", c, i)
			}
			if sawSemicolon {
				return "", errors.New("EXECUTE AS USER wraps exactly one statement; this SQL holds several")
			}
			i, end = j, j+1
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				i = len(sql)
			} else {
				i += j
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return "", fmt.Errorf("unterminated /* comment starting at byte %d", i)
			}
			i += j + 3
		case c == ';':
			sawSemicolon = true
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		default:
			if sawSemicolon {
				return "", errors.New("EXECUTE AS USER wraps exactly one statement; this SQL holds several")
			}
			end = i + 1
		}
	}
	if end < 0 {
		return "", errors.New("empty statement")
	}
	return strings.TrimSpace(sql[:end]), nil
}
