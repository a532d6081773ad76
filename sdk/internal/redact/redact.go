// Package redact hides credentials in text bound for errors and logs: the
// exact passwords and tokens the SDK sends (opaque tokens included), JWTs,
// and the literal after PASSWORD in SQL or JSON a server echoes back.
package redact

import (
	"strings"
	"sync"
)

// Mark replaces a hidden secret.
const Mark = "[REDACTED]"

// MinSecret is the shortest secret hidden by exact match: shorter strings
// cannot be told apart from ordinary words (KalamDB requires 8 characters).
const MinSecret = 4

// String returns s with every known secret, JWT and PASSWORD literal
// replaced by Mark.
//
// The JWT and PASSWORD scanners are hand-written (not regexp, which costs a
// browser bundle about 300 KB); scan_test.go holds them to the regular
// expressions they implement:
//
//	JWT:      eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*
//	PASSWORD: (?is)(password(?:\s|=|:|"\s*:|/\*.*?(?:\*/|$)|--[^\n]*(?:\n|$))*)
//	          ([eEnN]?'(?:[^']|'')*'?|"(?:[^"\\]|\\.|"")*"?|\$\$.*?(?:\$\$|$)|\$[A-Za-z_][A-Za-z_0-9]*\$.*)
//
// PASSWORD, then any run of blanks, '=', ':', comments, or the closing
// quote of a JSON key ("password": "…"), then a quoted literal: 'single'
// (with E/N prefixes), "double" (JSON escapes too), or $$dollar$$.
func String(s string) string {
	s = known.replace(s)
	if strings.Contains(s, "eyJ") {
		s = redactJWTs(s)
	}
	if indexPassword(s, 0, false) >= 0 {
		s = redactPasswords(s)
	}
	return s
}

// Error returns err with String applied to its text, still unwrapping to
// err (errors.Is and errors.As see through it); err itself when its text
// holds nothing to hide.
func Error(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if red := String(msg); red != msg {
		return &redacted{err: err, msg: red}
	}
	return err
}

type redacted struct {
	err error
	msg string
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }

// registry holds the secrets of every live Set, counted (two clients may
// share a password).
type registry struct {
	mu    sync.RWMutex
	count map[string]int
	olds  []string // longest first
}

var known = &registry{count: map[string]int{}}

func (g *registry) replace(s string) string {
	g.mu.RLock()
	olds := g.olds
	g.mu.RUnlock()
	return replaceAll(s, olds)
}

// replaceAll replaces, left to right without overlaps, the longest of olds
// found at each position by Mark, as a strings.Replacer built from olds in
// this order would (which would link all of its variants into the browser
// bundle).
func replaceAll(s string, olds []string) string {
	if len(olds) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	next := make([]int, len(olds)) // where each secret next occurs, from i on
	for j := range next {
		next[j] = -2
	}
	for i := 0; i < len(s); {
		// Skip ahead to the next position where some secret starts.
		n := -1
		for j, o := range olds {
			if next[j] != -1 && next[j] < i {
				next[j] = strings.Index(s[i:], o)
				if next[j] >= 0 {
					next[j] += i
				}
			}
			if next[j] >= 0 && (n < 0 || next[j] < n) {
				n = next[j]
			}
		}
		if n < 0 {
			break
		}
		i = n
		for _, o := range olds {
			if strings.HasPrefix(s[i:], o) {
				b.WriteString(s[last:i])
				b.WriteString(Mark)
				i += len(o)
				last = i
				break
			}
		}
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

func (g *registry) change(secret string, delta int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.count[secret] += delta
	if g.count[secret] <= 0 {
		delete(g.count, secret)
	}
	// Longest first: the replacer tries its patterns in order.
	olds := make([]string, 0, 2*len(g.count))
	for s := range g.count {
		olds = append(olds, s)
		// The JSON-escaped form, as an echoed request body carries it.
		if e := jsonEscaped(s); e != s {
			olds = append(olds, e)
		}
	}
	// Insertion sort: a few secrets, and no sort instantiation in the bundle.
	for i := 1; i < len(olds); i++ {
		for j := i; j > 0 && len(olds[j]) > len(olds[j-1]); j-- {
			olds[j], olds[j-1] = olds[j-1], olds[j]
		}
	}
	g.olds = olds
}

// jsonEscaped is s as it appears inside a JSON string (encoding/json's
// escapes, without HTML escaping).
func jsonEscaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20:
			const hex = "0123456789abcdef"
			b.WriteString(`\u00`)
			b.WriteByte(hex[r>>4])
			b.WriteByte(hex[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Set is one owner's secrets: a client's passwords and its recent tokens.
// The zero Set is ready; Close forgets them all.
type Set struct {
	mu     sync.Mutex
	items  []item
	closed bool
}

type item struct {
	s    string
	kept bool
}

// maxTokens bounds the tokens a Set holds: a long-lived client rotates
// them, and only the recent ones can still be in flight.
const maxTokens = 8

// Keep hides s until Close (a password).
func (t *Set) Keep(s string) { t.add(s, true) }

// Add hides s until Close or until maxTokens newer tokens were added.
func (t *Set) Add(s string) { t.add(s, false) }

func (t *Set) add(s string, kept bool) {
	if len(s) < MinSecret {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	tokens := 0
	for i, have := range t.items {
		if have.s == s {
			t.items[i].kept = have.kept || kept
			return
		}
		if !have.kept {
			tokens++
		}
	}
	known.change(s, 1)
	t.items = append(t.items, item{s, kept})
	if !kept && tokens >= maxTokens {
		for i, have := range t.items {
			if !have.kept {
				known.change(have.s, -1)
				t.items = append(t.items[:i], t.items[i+1:]...)
				break
			}
		}
	}
}

// Close forgets the Set's secrets; later additions are ignored.
func (t *Set) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, it := range t.items {
		known.change(it.s, -1)
	}
	t.items, t.closed = nil, true
}
