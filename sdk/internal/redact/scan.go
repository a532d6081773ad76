package redact

import "strings"

// isJWTByte reports whether c belongs to a JWT segment ([A-Za-z0-9_-]).
func isJWTByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-'
}

func skipJWT(s string, i int) int {
	for i < len(s) && isJWTByte(s[i]) {
		i++
	}
	return i
}

// redactJWTs replaces every eyJ….…[.…] run by Mark.
func redactJWTs(s string) string {
	var b strings.Builder
	last := 0
	for i := 0; ; {
		k := strings.Index(s[i:], "eyJ")
		if k < 0 {
			break
		}
		p := i + k
		j := skipJWT(s, p+3)
		if j == len(s) || s[j] != '.' {
			// No later eyJ inside this run can reach a dot either.
			i = j
			continue
		}
		j = skipJWT(s, j+1)
		if j < len(s) && s[j] == '.' {
			j = skipJWT(s, j+1)
		}
		b.WriteString(s[last:p])
		b.WriteString(Mark)
		last, i = j, j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// passwordAt returns the end of "password" matched case-insensitively at
// s[i:], or -1. With long, 'ſ' (U+017F) counts as an s, as (?i) folds it.
func passwordAt(s string, i int, long bool) int {
	const word = "password"
	for k := 0; k < len(word); k++ {
		if i >= len(s) {
			return -1
		}
		c := s[i]
		if c|0x20 == word[k] {
			i++
			continue
		}
		if long && word[k] == 's' && c == 0xc5 && i+1 < len(s) && s[i+1] == 0xbf {
			i += 2
			continue
		}
		return -1
	}
	return i
}

// indexPassword returns the first i >= from where passwordAt matches, or -1.
func indexPassword(s string, from int, long bool) int {
	for i := from; i < len(s); i++ {
		if s[i]|0x20 == 'p' && passwordAt(s, i, long) >= 0 {
			return i
		}
	}
	return -1
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// identRune returns the width of the identifier character at s[i] in a
// $tag$ under (?i) ([A-Za-z_], digits too unless first, plus 'ſ' and the
// Kelvin sign that fold to s and k), or 0.
func identRune(s string, i int, first bool) int {
	c := s[i]
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		return 1
	case '0' <= c && c <= '9':
		if first {
			return 0
		}
		return 1
	case strings.HasPrefix(s[i:], "\u017f"):
		return 2
	case strings.HasPrefix(s[i:], "\u212a"):
		return 3
	}
	return 0
}

// passwordScan holds, for every position from base on, where the
// PASSWORD pattern's separators and literal would end if they started
// there; filled right to left, since each step only looks further on.
type passwordScan struct {
	s    string
	base int
	pre  []int // end of the separators (start of the literal), -1: no match
	end  []int // end of the literal
	good []int // first "*/" at or after i whose continuation matches, -1
	q1   []int // end of (?:[^']|'')* from i
	q2   []int // end of (?:[^"\\]|\\.|"")* from i
	dd   []int // first "$$" at or after i, -1
	nl   []int // first '\n' at or after i, len(s) when none
}

func newPasswordScan(s string, base int) *passwordScan {
	n := len(s)
	size := n - base + 2
	ps := &passwordScan{s: s, base: base}
	for _, a := range []*[]int{&ps.pre, &ps.end, &ps.good, &ps.q1, &ps.q2, &ps.dd, &ps.nl} {
		*a = make([]int, size)
	}
	at := func(a []int, i int) int { return a[i-base] }
	for _, i := range []int{n + 1, n} {
		ps.pre[i-base], ps.good[i-base], ps.dd[i-base] = -1, -1, -1
		ps.q1[i-base], ps.q2[i-base], ps.nl[i-base] = n, n, n
	}
	for i := n - 1; i >= base; i-- {
		c := s[i]
		k := i - base
		// Helpers first: the literal at i needs them at i+1 and i+2.
		switch {
		case c != '\'':
			ps.q1[k] = at(ps.q1, i+1)
		case i+1 < n && s[i+1] == '\'':
			ps.q1[k] = at(ps.q1, i+2)
		default:
			ps.q1[k] = i
		}
		switch {
		case c == '\\' && i+1 < n:
			ps.q2[k] = at(ps.q2, i+2)
		case c == '"' && i+1 < n && s[i+1] == '"':
			ps.q2[k] = at(ps.q2, i+2)
		case c == '"' || c == '\\':
			ps.q2[k] = i
		default:
			ps.q2[k] = at(ps.q2, i+1)
		}
		if c == '$' && i+1 < n && s[i+1] == '$' {
			ps.dd[k] = i
		} else {
			ps.dd[k] = at(ps.dd, i+1)
		}
		if c == '\n' {
			ps.nl[k] = i
		} else {
			ps.nl[k] = at(ps.nl, i+1)
		}
		ps.pre[k] = -1
		// Separators, in the pattern's order of preference (the star is
		// greedy: another separator is tried before the literal).
		next := -1
		switch {
		case isSpace(c) || c == '=' || c == ':':
			next = i + 1
		case c == '"':
			j := i + 1
			for j < n && isSpace(s[j]) {
				j++
			}
			if j < n && s[j] == ':' {
				next = j + 1
			}
		case c == '/' && i+1 < n && s[i+1] == '*':
			// The lazy comment ends at the first "*/" after which the
			// rest matches (an unclosed one runs to the end, where no
			// literal can follow).
			if g := at(ps.good, i+2); g >= 0 {
				next = g + 2
			}
		case c == '-' && i+1 < n && s[i+1] == '-':
			next = at(ps.nl, i+2) + 1
			if next > n {
				next = n
			}
		}
		if next >= 0 && at(ps.pre, next) >= 0 {
			ps.pre[k], ps.end[k] = at(ps.pre, next), at(ps.end, next)
		} else if e := ps.literal(i); e >= 0 {
			ps.pre[k], ps.end[k] = i, e
		}
		if c == '*' && i+1 < n && s[i+1] == '/' && at(ps.pre, i+2) >= 0 {
			ps.good[k] = i
		} else {
			ps.good[k] = at(ps.good, i+1)
		}
	}
	return ps
}

// literal returns the end of the quoted literal starting at s[i], or -1.
func (ps *passwordScan) literal(i int) int {
	s, n, b := ps.s, len(ps.s), ps.base
	c := s[i]
	switch {
	case (c == 'e' || c == 'E' || c == 'n' || c == 'N') && i+1 < n && s[i+1] == '\'':
		i++
		fallthrough
	case c == '\'':
		e := ps.q1[i+1-b]
		if e < n && s[e] == '\'' {
			e++
		}
		return e
	case c == '"':
		e := ps.q2[i+1-b]
		if e < n && s[e] == '"' {
			e++
		}
		return e
	case c == '$' && i+1 < n && s[i+1] == '$':
		if d := ps.dd[i+2-b]; d >= 0 {
			return d + 2
		}
		return n
	case c == '$' && i+1 < n:
		w := identRune(s, i+1, true)
		if w == 0 {
			return -1
		}
		j := i + 1 + w
		for j < n {
			w := identRune(s, j, false)
			if w == 0 {
				break
			}
			j += w
		}
		if j < n && s[j] == '$' {
			return n
		}
	}
	return -1
}

// passwordLiterals calls fn with the bounds of every literal that follows
// PASSWORD in s, in order.
func passwordLiterals(s string, fn func(pre, end int)) {
	first := indexPassword(s, 0, true)
	if first < 0 {
		return
	}
	ps := newPasswordScan(s, first)
	for i := first; i >= 0 && i < len(s); {
		p := indexPassword(s, i, true)
		if p < 0 {
			break
		}
		w := passwordAt(s, p, true)
		pre := ps.pre[w-first]
		if pre < 0 {
			i = p + 1
			continue
		}
		end := ps.end[w-first]
		fn(pre, end)
		i = end
	}
}

// redactPasswords replaces the literal after every PASSWORD by Mark, keeping
// its quotes and what came before it.
func redactPasswords(s string) string {
	var b strings.Builder
	last := 0
	passwordLiterals(s, func(pre, end int) {
		lit := s[pre:end]
		if lit == "'…'" { // already elided (sqlPreview)
			return
		}
		q := lit[:1]
		switch q {
		case "e", "E", "n", "N":
			q = "'"
		case "$":
			q = "$$"
		}
		b.WriteString(s[last:pre])
		b.WriteString(q + Mark + q)
		last = end
	})
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// PasswordValues returns the values of the literals that follow PASSWORD in
// s, without their quotes: a server may quote such a value on its own (a
// parser error "found: 'value'"), where no PASSWORD precedes it to match.
func PasswordValues(s string) []string {
	var vals []string
	passwordLiterals(s, func(pre, end int) {
		if v := unquote(s[pre:end]); len(v) >= 4 {
			vals = append(vals, v)
		}
	})
	return vals
}

// unquote strips a literal's quotes ('…', E'…', N'…', "…", $$…$$).
func unquote(lit string) string {
	if lit != "" && strings.IndexByte("eEnN", lit[0]) >= 0 {
		lit = lit[1:]
	}
	switch {
	case strings.HasPrefix(lit, "$$"):
		lit = strings.TrimSuffix(lit[2:], "$$")
	case len(lit) >= 1 && (lit[0] == '\'' || lit[0] == '"'):
		q := lit[:1]
		lit = strings.TrimSuffix(lit[1:], q)
		lit = strings.ReplaceAll(lit, q+q, q)
	}
	return lit
}

// Values replaces every occurrence of each value in s by Mark.
func Values(s string, vals []string) string {
	for _, v := range vals {
		if v != "" && strings.Contains(s, v) {
			s = strings.Join(strings.Split(s, v), Mark)
		}
	}
	return s
}
