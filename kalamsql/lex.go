package kalamsql

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// scanSQL walks sql and calls fn for every $n placeholder outside string
// literals, quoted identifiers and comments, with its byte span and number.
func scanSQL(sql string, fn func(start, end, n int) error) error {
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(sql) {
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return nil
			}
			i += end + 4
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9':
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(sql[i+1 : j])
			if err != nil || n == 0 {
				return fmt.Errorf("kalamsql: invalid placeholder %q", sql[i:j])
			}
			if err := fn(i, j, n); err != nil {
				return err
			}
			i = j
		default:
			i++
		}
	}
	return nil
}

// numInput is the highest placeholder number in sql (what database/sql
// checks the argument count against), or -1 when sql cannot be scanned.
func numInput(sql string) int {
	max := 0
	if err := scanSQL(sql, func(_, _, n int) error {
		if n > max {
			max = n
		}
		return nil
	}); err != nil {
		return -1
	}
	return max
}

// firstKeyword returns the upper-cased first word of sql, skipping
// whitespace and comments.
func firstKeyword(sql string) string {
	s := sql
	for {
		s = strings.TrimLeft(s, " \t\r\n;")
		switch {
		case strings.HasPrefix(s, "--"):
			if i := strings.IndexByte(s, '\n'); i >= 0 {
				s = s[i+1:]
				continue
			}
			return ""
		case strings.HasPrefix(s, "/*"):
			if i := strings.Index(s, "*/"); i >= 0 {
				s = s[i+2:]
				continue
			}
			return ""
		}
		break
	}
	end := strings.IndexFunc(s, func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
	})
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}

// inlineArgs replaces $n placeholders with SQL literals. It is used only
// for statements queued in a transaction, because KalamDB rejects
// parameters in multi-statement requests (PARAMS_WITH_BATCH) and a
// transaction must travel as one BEGIN; ...; COMMIT batch.
func inlineArgs(sql string, args []driver.NamedValue) (string, error) {
	if len(args) == 0 {
		if n := numInput(sql); n > 0 {
			return "", fmt.Errorf("kalamsql: statement uses $%d but no arguments were given", n)
		}
		return sql, nil
	}
	lits := make([]string, len(args))
	for i, a := range args {
		l, err := literal(a.Value)
		if err != nil {
			return "", fmt.Errorf("kalamsql: argument $%d: %w", i+1, err)
		}
		lits[i] = l
	}
	var b strings.Builder
	last := 0
	err := scanSQL(sql, func(start, end, n int) error {
		if n > len(lits) {
			return fmt.Errorf("kalamsql: statement uses $%d but only %d argument(s) were given", n, len(lits))
		}
		b.WriteString(sql[last:start])
		b.WriteString(lits[n-1])
		last = end
		return nil
	})
	if err != nil {
		return "", err
	}
	b.WriteString(sql[last:])
	return b.String(), nil
}

// literal renders a value that passed CheckNamedValue as KalamDB SQL text,
// with the same meaning the bound parameter would have.
func literal(v any) (string, error) {
	switch v := v.(type) {
	case nil:
		return "NULL", nil
	case bool:
		if v {
			return "TRUE", nil
		}
		return "FALSE", nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "", fmt.Errorf("%v has no SQL literal", v)
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s, nil
	case string:
		return quote(v), nil
	case []byte:
		if !utf8.Valid(v) {
			return "", fmt.Errorf("[]byte is not valid UTF-8")
		}
		return quote(string(v)), nil
	case time.Time:
		return quote(v.UTC().Truncate(time.Microsecond).Format("2006-01-02T15:04:05.999999Z07:00")), nil
	case json.Number:
		if _, err := strconv.ParseFloat(string(v), 64); err != nil {
			return "", fmt.Errorf("json.Number %q is not a number", string(v))
		}
		return string(v), nil
	}
	return "", fmt.Errorf("unsupported type %T", v)
}

func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
