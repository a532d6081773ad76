package kalamsql

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"
)

// Config is a parsed DSN.
type Config struct {
	// URL is the server's base URL without credentials or query,
	// e.g. "http://127.0.0.1:8080".
	URL string
	// User and Password log in at /v1/api/auth/login (never sent as HTTP
	// Basic); Token is a ready JWT instead. At most one of the two is set.
	User, Password string
	Token          string
	// Namespace resolves unqualified table names (namespace_id).
	Namespace string
	// Timeout bounds each call when the context has no earlier deadline
	// (0: the SDK's default, 30 s).
	Timeout time.Duration
	// Endpoints are more nodes of the same cluster (sdk.WithEndpoints),
	// from the comma-separated endpoints parameter.
	Endpoints []string
}

// dsnParams are the query parameters a DSN may carry.
var dsnParams = map[string]bool{"namespace": true, "timeout": true, "token": true, "endpoints": true}

// ParseDSN parses "http[s]://user:password@host:port[/prefix]/?namespace=app&timeout=5s"
// or, with a bearer token, "http://host:port/?token=JWT". A cluster's other
// nodes go in endpoints: "http://user:pw@node1:8080/?endpoints=http://node2:8080,http://node3:8080".
// Every error names the part of the DSN that is wrong and never repeats a
// secret.
func ParseDSN(dsn string) (*Config, error) {
	if dsn == "" {
		return nil, fmt.Errorf("kalamsql: empty DSN (want http://user:password@host:port/?namespace=ns)")
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// url errors quote the input, which may hold a password.
		return nil, fmt.Errorf("kalamsql: DSN is not a URL (want http://user:password@host:port/?namespace=ns)")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("kalamsql: DSN scheme %q: want http or https", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("kalamsql: DSN has no host (want http://user:password@host:port/)")
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("kalamsql: DSN has a #fragment; remove it")
	}
	cfg := &Config{}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("kalamsql: DSN query string is malformed")
	}
	var unknown []string
	for k, vs := range q {
		if !dsnParams[k] {
			unknown = append(unknown, k)
			continue
		}
		if len(vs) != 1 {
			return nil, fmt.Errorf("kalamsql: DSN parameter %q given %d times", k, len(vs))
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("kalamsql: unknown DSN parameter(s) %s (known: endpoints, namespace, timeout, token)", strings.Join(unknown, ", "))
	}
	cfg.Namespace = q.Get("namespace")
	if _, ok := q["namespace"]; ok && cfg.Namespace == "" {
		return nil, fmt.Errorf("kalamsql: DSN parameter namespace is empty")
	}
	if t, ok := q["timeout"]; ok {
		d, err := time.ParseDuration(t[0])
		if err != nil || d < 0 {
			return nil, fmt.Errorf("kalamsql: DSN parameter timeout=%q is not a non-negative duration such as 5s", t[0])
		}
		cfg.Timeout = d
	}
	if v, ok := q["endpoints"]; ok {
		for i, e := range strings.Split(v[0], ",") {
			if e = strings.TrimSpace(e); e == "" {
				return nil, fmt.Errorf("kalamsql: DSN parameter endpoints: entry %d is empty", i+1)
			}
			cfg.Endpoints = append(cfg.Endpoints, e)
		}
	}
	if _, ok := q["token"]; ok {
		cfg.Token = q.Get("token")
		if cfg.Token == "" {
			return nil, fmt.Errorf("kalamsql: DSN parameter token is empty")
		}
	}
	if u.User != nil {
		cfg.User = u.User.Username()
		cfg.Password, _ = u.User.Password()
		if cfg.User == "" {
			return nil, fmt.Errorf("kalamsql: DSN has a password but no user name")
		}
		if cfg.Token != "" {
			return nil, fmt.Errorf("kalamsql: DSN has both user credentials and a token; use one")
		}
	}
	if cfg.User == "" && cfg.Token == "" {
		return nil, fmt.Errorf("kalamsql: DSN has no credentials (want user:password@ or ?token=JWT)")
	}
	u.User, u.RawQuery, u.ForceQuery = nil, "", false
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	cfg.URL = u.String()
	return cfg, nil
}
