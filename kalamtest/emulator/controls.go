package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// Now is the emulator's clock.
func (s *Server) Now() time.Time { return s.clock.Now() }

// SetNow freezes the clock at t; Advance moves it from there.
func (s *Server) SetNow(t time.Time) { s.clock.set(t) }

// Advance moves the clock forward by d (backward when d is negative).
func (s *Server) Advance(d time.Duration) { s.clock.advance(d) }

// SetSQLRateLimit changes the per-user queries-per-second limit (0: the real
// default of 100, negative: off) and resets every bucket.
func (s *Server) SetSQLRateLimit(perSecond int) {
	s.sqlLimiter.setRate(limitOrDefault(perSecond, defaultSQLRateLimit))
}

// SetAuthRateLimit changes the per-IP login/refresh/setup limit (0: the real
// default of 20, negative: off) and resets every bucket.
func (s *Server) SetAuthRateLimit(perSecond int) {
	s.authLimiter.setRate(limitOrDefault(perSecond, defaultAuthRateLimit))
}

// SetIPRateLimit changes the per-IP request limit for non-loopback peers
// (0: the real default of 200, negative: off) and resets every bucket; bans
// already given stay.
func (s *Server) SetIPRateLimit(perSecond int) {
	s.ipGuard.limiter.setRate(limitOrDefault(perSecond, defaultIPRateLimit))
}

// Column is one schema entry of a Result.
type Column struct {
	Name string
	// DataType is the KalamDataType as on the wire: "BigInt", or
	// {"Decimal":{"precision":10,"scale":2}}.
	DataType json.RawMessage
	Index    int
	Flags    []string
}

// Result is one statement's result, with cells encoded as on the wire
// (BigInt as "42", Bytes as [1,2], ...).
type Result struct {
	Columns     []Column
	Rows        [][]json.RawMessage
	ReturnsRows bool
	RowCount    int
	Message     string
	AsUser      string
}

// SQLError is a failed ExecAs, unredacted.
type SQLError struct {
	Code       string // e.g. SQL_EXECUTION_ERROR, PERMISSION_DENIED
	HTTPStatus int    // what /v1/api/sql would answer
	Message    string
	Details    string // the failing statement, when known
}

func (e *SQLError) Error() string { return "emulator: " + e.Code + ": " + e.Message }

// ExecAs runs sql as userID with that user's role, bypassing HTTP, auth and
// rate limits. Params are Go values: nil, bool, string, integers, floats or
// json.Number. A statement failure is a *SQLError.
func (s *Server) ExecAs(userID string, sql string, params ...any) ([]Result, error) {
	u, ok := s.db.LookupUser(userID)
	if !ok || u.Deleted {
		return nil, fmt.Errorf("emulator: ExecAs: no user %q", userID)
	}
	ps, err := engineParams(params)
	if err != nil {
		return nil, err
	}
	results, eerr := s.db.Execute(engine.Request{Identity: engine.Identity{UserID: u.ID, Role: u.Role}, SQL: sql, Params: ps})
	if eerr != nil {
		return nil, &SQLError{Code: eerr.Code, HTTPStatus: eerr.HTTPStatus, Message: eerr.Message, Details: eerr.Details}
	}
	out := make([]Result, len(results))
	for i, r := range results {
		cols := make([]Column, len(r.Schema))
		for j, c := range r.Schema {
			cols[j] = Column{Name: c.Name, DataType: c.DataType, Index: c.Index, Flags: c.Flags}
		}
		out[i] = Result{Columns: cols, Rows: r.Rows, ReturnsRows: r.ReturnsRows, RowCount: r.RowCount, Message: r.Message, AsUser: r.AsUser}
	}
	return out, nil
}

// engineParams converts Go values to the JSON scalars the wire carries.
func engineParams(params []any) ([]any, error) {
	if len(params) == 0 {
		return nil, nil
	}
	out := make([]any, len(params))
	for i, p := range params {
		switch v := p.(type) {
		case nil, bool, string, json.Number:
			out[i] = v
		case int:
			out[i] = json.Number(strconv.FormatInt(int64(v), 10))
		case int8, int16, int32, int64:
			out[i] = json.Number(fmt.Sprint(v))
		case uint, uint8, uint16, uint32, uint64:
			out[i] = json.Number(fmt.Sprint(v))
		case float32:
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("emulator: ExecAs: parameter $%d: %v has no JSON form", i+1, v)
			}
			out[i] = json.Number(strconv.FormatFloat(f, 'g', -1, 32))
		case float64:
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("emulator: ExecAs: parameter $%d: %v has no JSON form", i+1, v)
			}
			out[i] = json.Number(strconv.FormatFloat(v, 'g', -1, 64))
		default:
			return nil, fmt.Errorf("emulator: ExecAs: parameter $%d: unsupported type %T (use nil, bool, string, a number or json.Number)", i+1, p)
		}
	}
	return out, nil
}

// AccessToken mints an access token for userID as login would, without the
// password check, lockout or rate limit.
func (s *Server) AccessToken(userID string) (string, error) {
	u, ok := s.db.LookupUser(userID)
	if !ok || u.Deleted {
		return "", fmt.Errorf("emulator: AccessToken: no user %q", userID)
	}
	return s.signToken(u, tokenAccess, s.clock.Now(), s.accessTTL)
}

// FailNext makes the next n requests (any path, CORS preflights excepted)
// answer status with body instead of being served. A body starting with {
// or [ is sent as application/json, anything else as text/plain.
func (s *Server) FailNext(n int, status int, body string) {
	s.FailNextPath("", n, status, body)
}

// FailNextPath is FailNext for requests whose path starts with pathPrefix.
// A status outside 100-999 is sent as 500.
func (s *Server) FailNextPath(pathPrefix string, n int, status int, body string) {
	if status < 100 || status > 999 {
		status = http.StatusInternalServerError
	}
	s.faults.push(&fault{prefix: pathPrefix, left: n, status: status, body: body})
}

// DelayNext holds the next n requests for d before serving them; a request
// whose context ends first is dropped without an answer.
func (s *Server) DelayNext(n int, d time.Duration) {
	s.DelayNextPath("", n, d)
}

// DelayNextPath is DelayNext for requests whose path starts with pathPrefix.
func (s *Server) DelayNextPath(pathPrefix string, n int, d time.Duration) {
	s.faults.push(&fault{prefix: pathPrefix, left: n, isDelay: true, delay: max(d, 0)})
}

// fault is one injected failure or delay rule.
type fault struct {
	prefix  string
	left    int
	isDelay bool
	delay   time.Duration
	status  int
	body    string
}

// faultQueue holds the rules in the order they were added.
type faultQueue struct {
	mu    sync.Mutex
	rules []*fault
}

func (q *faultQueue) push(f *fault) {
	if f.left <= 0 {
		return
	}
	q.mu.Lock()
	q.rules = append(q.rules, f)
	q.mu.Unlock()
}

// take consumes one use of the first delay rule and the first failure rule
// matching path.
func (q *faultQueue) take(path string) (delay, fail *fault) {
	q.mu.Lock()
	defer q.mu.Unlock()
	kept := q.rules[:0]
	for _, f := range q.rules {
		matches := strings.HasPrefix(path, f.prefix)
		switch {
		case matches && f.isDelay && delay == nil:
			delay = f
			f.left--
		case matches && !f.isDelay && fail == nil:
			fail = f
			f.left--
		}
		if f.left > 0 {
			kept = append(kept, f)
		}
	}
	clear(q.rules[len(kept):])
	q.rules = kept
	return delay, fail
}

// apply runs the injected faults for r; false means the response is done.
func (q *faultQueue) apply(w http.ResponseWriter, r *http.Request) bool {
	delay, fail := q.take(r.URL.Path)
	if delay != nil {
		t := time.NewTimer(delay.delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return false
		}
	}
	if fail == nil {
		return true
	}
	body := strings.TrimSpace(fail.body)
	ct := "text/plain; charset=utf-8"
	if strings.HasPrefix(body, "{") || strings.HasPrefix(body, "[") {
		ct = "application/json"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Length", strconv.Itoa(len(fail.body)))
	w.WriteHeader(fail.status)
	_, _ = w.Write([]byte(fail.body))
	return false
}

// Traffic is what the emulator has served.
type Traffic struct {
	Requests int64
	// ByRoute counts requests per "METHOD /path".
	ByRoute map[string]int64
}

type trafficCounter struct {
	mu      sync.Mutex
	total   int64
	byRoute map[string]int64
}

func (c *trafficCounter) add(route string) {
	c.mu.Lock()
	c.total++
	if c.byRoute == nil {
		c.byRoute = map[string]int64{}
	}
	c.byRoute[route]++
	c.mu.Unlock()
}

// Traffic returns a snapshot of the request counters.
func (s *Server) Traffic() Traffic {
	s.traffic.mu.Lock()
	defer s.traffic.mu.Unlock()
	t := Traffic{Requests: s.traffic.total, ByRoute: make(map[string]int64, len(s.traffic.byRoute))}
	for k, v := range s.traffic.byRoute {
		t.ByRoute[k] = v
	}
	return t
}

// NeedsSetup reports whether root still has no password, as
// GET /v1/api/auth/status's needs_setup: logins then answer 428 until
// POST /v1/api/auth/setup (or ALTER USER root SET PASSWORD) runs.
func (s *Server) NeedsSetup() bool { return !s.db.RootHasPassword() }
