package sdk_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

const rateLimited = `{"status":"error","results":[],"took":0.1,"error":{"code":"RATE_LIMIT_EXCEEDED","message":"Too many queries per second. Please slow down."}}`

func TestRateLimitedStatementIsRetried(t *testing.T) {
	f := newFake(t)
	var calls atomic.Int32
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		if calls.Add(1) <= 2 {
			writeJSON(w, 429, rateLimited)
			return
		}
		writeJSON(w, 200, `{"status":"success","results":[{"row_count":1,"message":"Inserted 1 row(s)","as_user":"root"}],"took":1}`)
	}
	c, _ := newClient(t, f, basic())
	res, err := c.Query(context.Background(), "INSERT INTO t VALUES (1)")
	require.NoError(t, err, "a write rejected with 429 was never run, so it may be resent")
	require.Equal(t, "Inserted 1 row(s)", res.Message)
	require.EqualValues(t, 3, calls.Load())
}

func TestRateLimitRetriesAreBounded(t *testing.T) {
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 429, rateLimited) }
	c, _ := newClient(t, f, basic(), sdk.WithMaxRetries(2))
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrRateLimited)
	require.True(t, sdk.IsRetryable(err))
	require.EqualValues(t, 3, f.sqlCalls.Load(), "1 attempt + 2 retries")

	banned := newFake(t)
	banned.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Retry-After", "300")
		writeJSON(w, 429, `{"error":"IP_BANNED","message":"banned","retry_after_seconds":300}`)
	}
	c2, _ := newClient(t, banned, basic())
	_, err = c2.Query(context.Background(), "SELECT 1")
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 300*time.Second, se.RetryAfter)
	require.False(t, sdk.IsRetryable(err), "an IP ban is not worth retrying")
	require.EqualValues(t, 1, banned.sqlCalls.Load(), "IP_BANNED must not be retried")
}

func TestConnectionErrorsRetryReadOnlyOnly(t *testing.T) {
	f := newFake(t)
	c, tr := newClient(t, f, basic())
	_, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)

	tr.FailNext(2)
	res, err := c.Query(context.Background(), "-- comment first\n/* block */ SELECT 1")
	require.NoError(t, err, "read-only SQL should survive two refused connections")
	require.Equal(t, 1, res.RowCount)

	before := f.sqlCalls.Load()
	tr.FailNext(1)
	_, err = c.Query(context.Background(), "INSERT INTO t VALUES (1)")
	var te *sdk.TransportError
	require.ErrorAs(t, err, &te)
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
	require.True(t, sdk.IsRetryable(err))
	require.EqualValues(t, before, f.sqlCalls.Load(), "a write must not be resent after a transport error")

	tr.FailNext(5)
	_, err = c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "retries are bounded by WithMaxRetries (3): 4 attempts")
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err, "the fifth fault is taken by the next call, whose retry succeeds")
}

func TestContextCancelledDuringBackoff(t *testing.T) {
	f := newFake(t)
	hit := make(chan struct{}, 10)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 429, rateLimited)
		hit <- struct{}{}
	}
	c, _ := newClient(t, f, basic(), sdk.WithRetryBackoff(time.Hour, time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Query(ctx, "SELECT 1")
		done <- err
	}()
	<-hit
	cancel()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(10 * time.Second):
		t.Fatal("Query did not return after its context was cancelled during backoff")
	}
	require.EqualValues(t, 1, f.sqlCalls.Load())
}

func TestClientTimeoutAndCallerDeadline(t *testing.T) {
	f := newFake(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { <-block }
	c, _ := newClient(t, f, basic(), sdk.WithTimeout(50*time.Millisecond), sdk.WithMaxRetries(0))
	_, err := c.Query(context.Background(), "INSERT INTO t VALUES (1)")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Contains(t, err.Error(), "request timeout")
	require.True(t, sdk.IsRetryable(err))

	// An earlier deadline of the caller wins and is reported as the caller's.
	long, _ := newClient(t, f, basic(), sdk.WithTimeout(time.Hour), sdk.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = long.Query(ctx, "INSERT INTO t VALUES (1)")
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.NotContains(t, err.Error(), "request timeout")
}

func TestSetupRequired(t *testing.T) {
	f := newFake(t)
	f.setupReq = true
	c, _ := newClient(t, f, sdk.WithBasicAuth("root", ""))
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrSetupRequired)
	_, err = c.Login(context.Background(), "root", "")
	require.ErrorIs(t, err, sdk.ErrSetupRequired)
	var se *sdk.ServerError
	require.ErrorAs(t, err, &se)
	require.Equal(t, 428, se.HTTPStatus)
	require.Equal(t, "setup_required", se.Code)
}

func TestWrongPasswordIsInvalidCredentials(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, sdk.WithBasicAuth("root", "nope-wrong"))
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrInvalidCredentials)
	require.NotContains(t, err.Error(), "nope-wrong")
	require.EqualValues(t, 0, f.sqlCalls.Load())
}

func TestSecretsNeverLogged(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f := newFake(t)
	c, _ := newClient(t, f, basic(), sdk.WithLogger(logger))
	lr, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)
	logger.Info("login", "response", lr)
	f.expire()
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	out := buf.String()
	require.Contains(t, out, "/v1/api/sql", "debug logs should show requests")
	for _, secret := range []string{"s3cret-pw", "access-1", "refresh-1", "access-2", "eyJ"} {
		require.NotContains(t, out, secret)
	}
	require.NotContains(t, lr.String(), "eyJ")
	require.NotContains(t, sdk.Credentials{Token: "eyJsecret", Password: "pw"}.String(), "eyJsecret")
}

func TestClosedClient(t *testing.T) {
	f := newFake(t)
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	entered := make(chan struct{})
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		close(entered)
		<-block
	}
	c, _ := newClient(t, f, basic())
	done := make(chan error, 1)
	go func() {
		_, err := c.Query(context.Background(), "INSERT INTO t VALUES (1)")
		done <- err
	}()
	<-entered
	require.NoError(t, c.Close())
	select {
	case err := <-done:
		require.ErrorIs(t, err, sdk.ErrClosed)
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the call in flight")
	}
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrClosed)
	require.False(t, sdk.IsRetryable(err))
	require.NoError(t, c.Close(), "Close twice is harmless")
}

func TestIsRetryable(t *testing.T) {
	require.False(t, sdk.IsRetryable(nil))
	require.False(t, sdk.IsRetryable(errors.New("x")))
	require.True(t, sdk.IsRetryable(&sdk.ServerError{HTTPStatus: 503}))
	require.False(t, sdk.IsRetryable(&sdk.ServerError{HTTPStatus: 400, Code: "INVALID_SQL"}))
	require.True(t, sdk.IsRetryable(&sdk.ResponseError{HTTPStatus: 502}))
	require.False(t, sdk.IsRetryable(&sdk.ResponseError{HTTPStatus: 200}))
	require.True(t, strings.Contains((&sdk.ServerError{HTTPStatus: 401, Message: "tok eyJabc.def.ghi"}).Error(), "[REDACTED]"))
}

// recordLogger is a Logger that is not a *slog.Logger.
type recordLogger struct{ msgs []string }

func (r *recordLogger) Debug(msg string, _ ...any) { r.msgs = append(r.msgs, "debug: "+msg) }
func (r *recordLogger) Warn(msg string, _ ...any)  { r.msgs = append(r.msgs, "warn: "+msg) }

func TestWithLoggerTakesAnyLoggerAndRejectsNil(t *testing.T) {
	_, err := sdk.New("http://localhost:8080", sdk.WithLogger(nil))
	require.ErrorContains(t, err, "logger is nil")
	_, err = sdk.New("http://localhost:8080", sdk.WithLogger((*slog.Logger)(nil)))
	require.ErrorContains(t, err, "logger is nil", "a typed nil would panic on first use")

	var rec recordLogger
	f := newFake(t)
	c, _ := newClient(t, f, basic(), sdk.WithLogger(&rec))
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	require.Contains(t, rec.msgs, "debug: kalamdb request")
}
