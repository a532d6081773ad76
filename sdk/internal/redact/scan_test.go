package redact

import (
	mathrand "math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The regular expressions the scanners replaced (regexp costs the browser
// bundle about 300 KB, so it stays in this test).
var (
	jwtRegexp      = regexp.MustCompile(`eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	passwordRegexp = regexp.MustCompile(`(?is)(password(?:\s|=|:|"\s*:|/\*.*?(?:\*/|$)|--[^\n]*(?:\n|$))*)` +
		`([eEnN]?'(?:[^']|'')*'?|"(?:[^"\\]|\\.|"")*"?|\$\$.*?(?:\$\$|$)|\$[A-Za-z_][A-Za-z_0-9]*\$.*)`)
)

// oracle is the regexp-based redaction of JWTs and PASSWORD literals.
func oracle(s string) string {
	if strings.Contains(s, "eyJ") {
		s = jwtRegexp.ReplaceAllString(s, Mark)
	}
	if strings.Contains(strings.ToLower(s), "password") {
		s = passwordRegexp.ReplaceAllStringFunc(s, func(m string) string {
			sub := passwordRegexp.FindStringSubmatch(m)
			lit := sub[2]
			if lit == "'…'" {
				return m
			}
			q := lit[:1]
			switch q {
			case "e", "E", "n", "N":
				q = "'"
			case "$":
				q = "$$"
			}
			return sub[1] + q + Mark + q
		})
	}
	return s
}

func TestScannersMatchRegexps(t *testing.T) {
	cases := []string{
		"", "plain", "token eyJhbGc.eyJzdWIi.sig rest", "eyJ", "eyJabc", "eyJa.b", "xeyJa.b.c.d", "eyJa..b", "eyJeyJ.x",
		`PASSWORD = 'pw-secret'`, `password/**/'x'`, `password/*/'x'*/'y'`, `password /* a */ x /* b */ 'lit'`,
		`password":`, `password":"x"`, `password"  "`, `password" : "a\"b" rest`, `password "a\`, `password ""x"" y`,
		`PASSWORD $$a$$ b`, `PASSWORD $$a`, `PASSWORD $t$x$t$ more`, `PASSWORD $1$x`, "PASSWORD $\u017fk$x", "PASSWORD $\u212a$x",
		"PASSWORD -- c\n 'x'", "PASSWORD -- c 'x'", `PASSWORD e'x'`, `PASSWORD N'x' E'y'`, `PASSWORD e x`, `PASSWORD '…' 'y'`,
		"pa\u017f\u017fword 'k' password 'x'", "paSSword 'a' and password 'b'", "passwordpassword'z'", "password''''",
		"password 'a'' ", "password '", "password", "password\f\r\n'x'", `password := 'x'`, "password /* 'x' */", "x eyJa.b password 'eyJc.d'",
		"password \xff'x'", "password '\xff'", `password "\` + "\xe2" + `"`, "é password\n'ü' eyJé.x",
	}
	for _, c := range cases {
		require.Equal(t, oracle(c), String(c), "input %q", c)
	}
	// Random strings over the pieces that matter.
	alphabet := []string{
		"password", "PASSWORD", "Pass", "word", "pa\u017f\u017fword", " ", "\t", "\n", "=", ":", `"`, `""`, `\`, "/*", "*/", "/", "*",
		"--", "-", "'", "''", "e", "N", "$", "$$", "$a$", "a", "_", "1", "\u017f", "\u212a", "…", "'…'", "eyJ", ".", "é", "\xff", "\xe2", "x",
	}
	r := mathrand.New(mathrand.NewPCG(11, 4))
	for range 100000 {
		var b strings.Builder
		for range r.IntN(14) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		require.Equal(t, oracle(s), String(s), "input %q", s)
	}
}

// The scanner stays linear where backtracking could not: many comments and
// quotes after one PASSWORD.
func TestPasswordScanLongInput(t *testing.T) {
	s := "password " + strings.Repeat("/* x */ ", 20000) + strings.Repeat("'", 20001) + strings.Repeat("$$ ", 5000)
	require.Equal(t, oracle(s), String(s))
}

// replaceAll does what the strings.Replacer it replaced did.
func TestReplaceAllMatchesReplacer(t *testing.T) {
	r := mathrand.New(mathrand.NewPCG(5, 6))
	pieces := []string{"ab", "abcd", "abcdabcd", "bcda", "cd", "x", "\"", `\"`, "é"}
	for range 20000 {
		var olds []string
		for range 1 + r.IntN(4) {
			var b strings.Builder
			for range 1 + r.IntN(3) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			if b.Len() >= MinSecret && !slices.Contains(olds, b.String()) {
				olds = append(olds, b.String())
			}
		}
		slices.SortStableFunc(olds, func(a, b string) int { return len(b) - len(a) })
		var pairs []string
		for _, o := range olds {
			pairs = append(pairs, o, Mark)
		}
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		s := b.String()
		want := s
		if len(pairs) > 0 {
			want = strings.NewReplacer(pairs...).Replace(s)
		}
		require.Equal(t, want, replaceAll(s, olds), "input %q, secrets %q", s, olds)
	}
}
