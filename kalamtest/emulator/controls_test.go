package emulator

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// FailNext answers the next n matching requests with the given reply, then
// the server behaves normally again.
func TestFailNext(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")
	e.s.FailNext(2, http.StatusServiceUnavailable, `{"error":"down"}`)
	for i := 0; i < 2; i++ {
		r := e.sql(token, `{"sql":"SELECT 1"}`)
		wantStatus(t, r, http.StatusServiceUnavailable)
		wantJSON(t, r.body, `{"error":"down"}`)
	}
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK)

	e.s.FailNextPath("/v1/api/topics/", 1, http.StatusBadGateway, "bad gateway")
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK) // other paths untouched
	r := e.postJSON("/v1/api/topics/consume", `{}`)
	wantPlainText(t, r, http.StatusBadGateway, "bad gateway")
	wantShapeB(t, e.postJSON("/v1/api/topics/consume", `{}`), "MISSING_AUTHORIZATION")
}

// DelayNext holds requests, and a caller that gives up is not answered.
func TestDelayNext(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")
	e.s.DelayNext(1, time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.url+"/health", nil)
	_, err := http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded, "delayed request: %v, want the caller's deadline", err)
	// The rule is used up.
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK)

	e.s.DelayNext(1, 20*time.Millisecond)
	e.s.FailNext(1, http.StatusTeapot, "tea")
	start := time.Now()
	r := e.do(http.MethodGet, "/health", "", nil)
	wantStatus(t, r, http.StatusTeapot)
	require.True(t, time.Since(start) >= 20*time.Millisecond, "the delay rule did not hold the request")
}

// Traffic counts every request by route.
func TestTraffic(t *testing.T) {
	e := rootEnv(t)
	before := e.s.Traffic().Requests
	e.do(http.MethodGet, "/health", "", nil)
	e.do(http.MethodGet, "/health", "", nil)
	e.do(http.MethodGet, "/nowhere", "", nil)
	tr := e.s.Traffic()
	require.Equal(t, before+3, tr.Requests)
	require.EqualValues(t, 2, tr.ByRoute["GET /health"])
	require.EqualValues(t, 1, tr.ByRoute["GET /nowhere"], "traffic %+v", tr)
}

// The clock: SetNow freezes, Advance moves, both from any state.
func TestClock(t *testing.T) {
	e := rootEnv(t)
	d := time.Since(e.s.Now())
	require.True(t, d >= 0)
	require.LessOrEqual(t, d, time.Minute, "default clock off by %v", d)
	e.s.Advance(time.Hour)
	d = e.s.Now().Sub(time.Now())
	require.True(t, d >= 59*time.Minute)
	require.True(t, d <= 61*time.Minute, "advanced running clock off by %v", d)
	at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	e.s.SetNow(at)
	e.s.Advance(time.Second)
	require.True(t, e.s.Now().Equal(at.Add(time.Second)), "frozen clock %v", e.s.Now())
}

// ExecAs and AccessToken bypass HTTP but use the same users.
func TestExecAsAndAccessToken(t *testing.T) {
	e := rootEnv(t)
	res, err := e.s.ExecAs("alice", "INSERT INTO t VALUES ($1, $2, $3)", 1, "x", 2.5)
	require.NoError(t, err)
	require.Len(t, res, 1)
	require.Equal(t, "Inserted 1 row(s)", res[0].Message, "ExecAs: %v %+v", err, res)
	got := e.db.lastRequest(t)
	require.Equal(t, "alice", got.Identity.UserID)
	require.EqualValues(t, "user", got.Identity.Role)
	require.Len(t, got.Params, 3, "engine request %+v", got)
	_, err = e.s.ExecAs("nobody", "SELECT 1")
	require.Error(t, err, "ExecAs for an unknown user succeeded")
	_, err = e.s.ExecAs("alice", "SELECT $1", struct{}{})
	require.Error(t, err, "ExecAs accepted a struct parameter")
	token, err := e.s.AccessToken("svc")
	require.NoError(t, err)
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK)
	require.Equal(t, "svc", e.db.lastRequest(t).Identity.UserID, "token was not svc's")
}

// Fault rules with odd arguments neither panic nor misbehave.
func TestFaultArguments(t *testing.T) {
	e := rootEnv(t)
	e.s.FailNext(1, 0, "zero status")
	wantStatus(t, e.do(http.MethodGet, "/health", "", nil), http.StatusInternalServerError)
	e.s.DelayNext(1, 0)
	e.s.DelayNext(1, -time.Second)
	e.s.FailNext(0, http.StatusTeapot, "never")
	e.s.FailNext(-3, http.StatusTeapot, "never")
	for i := 0; i < 3; i++ {
		wantStatus(t, e.do(http.MethodGet, "/health", "", nil), http.StatusOK)
	}
}
