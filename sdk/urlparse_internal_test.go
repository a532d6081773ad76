package sdk

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// oracleBaseURL is normalizeBaseURL as written with net/url.
func oracleBaseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.User != nil, u.Scheme != "http" && u.Scheme != "https", u.Host == "" || u.Hostname() == "",
		u.RawQuery != "" || u.ForceQuery, u.Fragment != "":
		return "", errors.New("refused")
	}
	p := strings.TrimRight(u.EscapedPath(), "/")
	if p == "/v1" || strings.HasPrefix(p, "/v1/") || strings.Contains(p, "/v1/api") {
		return "", errors.New("refused")
	}
	return u.Scheme + "://" + u.Host + p, nil
}

// The hand-written URL code accepts and rewrites base URLs as net/url does
// and escapes as url.PathEscape and url.QueryEscape do.
func TestURLCodeMatchesNetURL(t *testing.T) {
	cases := []string{
		"http://host:8080/proxy/kalam/", "HTTPS://Host.Example/", "http://[::1]:8080/x", "http://[fe80::1%25en0]/",
		"http://h/a b/c", "http://h/a%20b", "http://h/%zz", "http://h:abc/", "http://h:/", "http://:8080",
		"http://u:p@h/", "http://h/?", "http://h/#", "http://h/#f", "http://h?x=1", "http:h", "http:/h", "//h/x",
		"http://h/v1", "http://h/v1/", "http://h/p/v1/api", "http://h/ü/é", "http://hé/", "http://h h/",
		"http://h/a;b,c", "http://h/a?b", "1http://h", "ht!tp://h", "http://[::1/", "http://[::1]x/",
		"http://h/%2F", "http://h/a%2fb/", "http://h\x7f/", "http://h/\t", "http://[zz::1]/", "http://h%41/",
	}
	r := rand.New(rand.NewPCG(5, 6))
	parts := []string{"http", "://", "h", ":", "80", "/", "[", "]", "::1", "%", "2", "f", "@", "?", "#", " ", "v1", "é", "x", ";"}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(9) {
			b.WriteString(parts[r.IntN(len(parts))])
		}
		cases = append(cases, b.String())
	}
	v6 := []string{"::", ":", "1", "ffff", "abcd", "12345", "1.2.3.4", "01.2.3.4", "%25", "en0", "g", "0"}
	for range 20000 {
		var b strings.Builder
		for range r.IntN(10) {
			b.WriteString(v6[r.IntN(len(v6))])
		}
		cases = append(cases, "http://["+b.String()+"]:80/")
	}
	for _, raw := range cases {
		want, wantErr := oracleBaseURL(raw)
		got, gotErr := normalizeBaseURL(raw)
		if strings.TrimSpace(raw) == "" {
			continue
		}
		require.Equal(t, wantErr == nil, gotErr == nil, "%q: net/url %v, ours %v", raw, wantErr, gotErr)
		require.Equal(t, want, got, "%q", raw)
	}

	for range 5000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteByte(byte(r.IntN(256)))
		}
		s := b.String()
		require.Equal(t, url.PathEscape(s), escape(s, escapeSegmentMode), "%q", s)
		require.Equal(t, url.QueryEscape(s), escape(s, escapeQueryMode), "%q", s)
	}
}
