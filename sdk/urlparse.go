package sdk

import (
	"errors"
	"fmt"
	"strings"
)

// The few URL operations the SDK needs, written out: net/url links
// net/netip and unique into browser builds (about 0.18 MB of wasm). They
// follow net/url's rules (a test compares them with net/url).

// baseURL is a parsed absolute URL, as much of it as the SDK checks.
type baseURL struct {
	scheme, host, path string // path escaped, as url.URL.EscapedPath
	userInfo           bool
	query              string
	hasQuery           bool
	fragment           string
}

func parseBaseURL(raw string) (*baseURL, error) {
	for i := 0; i < len(raw); i++ {
		if raw[i] < 0x20 || raw[i] == 0x7f {
			return nil, errors.New("invalid control character in URL")
		}
	}
	u := &baseURL{}
	rest, frag, hasFrag := strings.Cut(raw, "#")
	if hasFrag {
		f, err := unescape(frag, false)
		if err != nil {
			return nil, err
		}
		u.fragment = f
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			continue
		}
		if i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.') {
			continue
		}
		if c == ':' {
			if i == 0 {
				return nil, errors.New("missing protocol scheme")
			}
			u.scheme, rest = strings.ToLower(rest[:i]), rest[i+1:]
		}
		break
	}
	rest, u.query, u.hasQuery = strings.Cut(rest, "?")
	if u.scheme == "" || !strings.HasPrefix(rest, "//") {
		if u.scheme == "" && strings.Contains(strings.SplitN(rest, "/", 2)[0], ":") {
			return nil, errors.New("first path segment in URL cannot contain colon")
		}
		return u, nil // no authority: the caller finds the scheme or host missing
	}
	authority, path := rest[2:], ""
	if i := strings.IndexByte(authority, '/'); i >= 0 {
		authority, path = authority[:i], authority[i:]
	}
	if i := strings.LastIndexByte(authority, '@'); i >= 0 {
		u.userInfo, authority = true, authority[i+1:]
	}
	host, err := checkHost(authority)
	if err != nil {
		return nil, err
	}
	u.host = host
	p, err := unescape(path, false)
	if err != nil {
		return nil, err
	}
	if validEncodedPath(path) {
		u.path = path
	} else {
		u.path = escape(p, escapePathMode)
	}
	return u, nil
}

// hostname is the host without port and brackets.
func (u *baseURL) hostname() string {
	h := u.host
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i >= 0 {
			return h[1:i]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		return h[:i]
	}
	return h
}

// checkHost validates host[:port] of an http(s) URL as net/url does and
// returns it unescaped, as url.URL.Host.
func checkHost(host string) (string, error) {
	if open := strings.LastIndexByte(host, '['); open > 0 {
		return "", errors.New("invalid IP-literal")
	} else if open == 0 {
		end := strings.LastIndexByte(host, ']')
		if end < 0 {
			return "", errors.New("missing ']' in host")
		}
		port := host[end+1:]
		if !validOptionalPort(port) {
			return "", fmt.Errorf("invalid port %q after host", port)
		}
		name := host[1:end]
		var unescaped string
		if zone := strings.Index(name, "%25"); zone >= 0 {
			h, err := unescape(name[:zone], true)
			if err != nil {
				return "", err
			}
			z, err := unescape(name[zone:], false)
			if err != nil {
				return "", err
			}
			unescaped = h + z
		} else {
			h, err := unescape(name, true)
			if err != nil {
				return "", err
			}
			unescaped = h
		}
		if !validIPv6(unescaped) {
			return "", fmt.Errorf("invalid host: IP-literal %q is not an IPv6 address", unescaped)
		}
		return "[" + unescaped + "]" + port, nil
	} else if i := strings.IndexByte(host, ':'); i >= 0 {
		// http and https allow one colon only (net/url's strict colons).
		if port := host[i:]; !validOptionalPort(port) {
			return "", fmt.Errorf("invalid port %q after host", port)
		}
	}
	return unescape(host, true)
}

func validOptionalPort(port string) bool {
	if port == "" {
		return true
	}
	if port[0] != ':' {
		return false
	}
	for i := 1; i < len(port); i++ {
		if port[i] < '0' || port[i] > '9' {
			return false
		}
	}
	return true
}

// validIPv6 is whether netip.ParseAddr accepts s as an IPv6 address
// (zone allowed).
func validIPv6(s string) bool {
	if i := strings.IndexByte(s, '%'); i >= 0 {
		if i == len(s)-1 {
			return false
		}
		s = s[:i]
	}
	groups, ellipsis := 0, false
	if strings.HasPrefix(s, "::") {
		ellipsis, s = true, s[2:]
	}
	for s != "" {
		if !strings.Contains(s, ":") && strings.Contains(s, ".") {
			if !validIPv4(s) {
				return false
			}
			groups += 2
			break
		}
		n := 0
		for n < len(s) && n <= 4 {
			if _, ok := unhex(s[n]); !ok {
				break
			}
			n++
		}
		if n == 0 || n > 4 {
			return false
		}
		groups, s = groups+1, s[n:]
		if s == "" {
			break
		}
		if s[0] != ':' || len(s) == 1 {
			return false
		}
		s = s[1:]
		if s[0] == ':' {
			if ellipsis {
				return false
			}
			ellipsis, s = true, s[1:]
		}
	}
	if ellipsis {
		return groups < 8
	}
	return groups == 8
}

func validIPv4(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return false
	}
	for _, p := range parts {
		if p == "" || len(p) > 3 || len(p) > 1 && p[0] == '0' {
			return false
		}
		v := 0
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return false
			}
			v = v*10 + int(p[i]-'0')
		}
		if v > 255 {
			return false
		}
	}
	return true
}

// unescape decodes %XX; in a host it also refuses characters a host
// cannot hold.
func unescape(s string, host bool) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			var hi, lo byte
			ok := i+2 < len(s)
			if ok {
				var ok1, ok2 bool
				hi, ok1 = unhex(s[i+1])
				lo, ok2 = unhex(s[i+2])
				ok = ok1 && ok2
			}
			// A host may escape only non-ASCII bytes and '%' (net/url's rule).
			if !ok || host && hi < 8 && s[i:i+3] != "%25" {
				return "", fmt.Errorf("invalid URL escape %q", s[i:min(i+3, len(s))])
			}
			b.WriteByte(hi<<4 | lo)
			i += 2
			continue
		case host && c < 0x80 && !hostChar(c):
			return "", fmt.Errorf("invalid character %q in host name", string(c))
		}
		b.WriteByte(c)
	}
	return b.String(), nil
}

func hostChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!$&'()*+,;=:[]<>\"-_.~", c) >= 0
}

type escapeMode int

const (
	escapePathMode escapeMode = iota
	escapeSegmentMode
	escapeQueryMode
)

func shouldEscape(c byte, mode escapeMode) bool {
	if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
		return false
	}
	switch c {
	case '-', '_', '.', '~':
		return false
	case '$', '&', '+', ',', '/', ':', ';', '=', '?', '@':
		switch mode {
		case escapePathMode:
			return c == '?'
		case escapeSegmentMode:
			return c == '/' || c == ';' || c == ',' || c == '?'
		}
	}
	return true
}

// escape is url.PathEscape (escapeSegmentMode), url.QueryEscape
// (escapeQueryMode) or a path's escaping (escapePathMode).
func escape(s string, mode escapeMode) string {
	const upperhex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' && mode == escapeQueryMode:
			b.WriteByte('+')
		case shouldEscape(c, mode):
			b.WriteByte('%')
			b.WriteByte(upperhex[c>>4])
			b.WriteByte(upperhex[c&15])
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func validEncodedPath(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '!', '$', '&', '\'', '(', ')', '*', '+', ',', ';', '=', ':', '@', '[', ']', '%':
		default:
			if shouldEscape(s[i], escapePathMode) {
				return false
			}
		}
	}
	return true
}
