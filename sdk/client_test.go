package sdk_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

func TestNewValidatesBaseURL(t *testing.T) {
	cases := []struct{ url, want string }{
		{"", "required"},
		{"localhost:8080", "scheme"},
		{"ftp://host", "scheme must be http or https"},
		{"http://", "host is missing"},
		{"http://host:8080?x=1", "query"},
		{"http://host:8080/#frag", "fragment"},
		{"http://host:8080/v1/api/sql", "looks like an API endpoint"},
		{"http://root:hunter2@host:8080", "user info"},
	}
	for _, tc := range cases {
		_, err := sdk.New(tc.url)
		require.Error(t, err, tc.url)
		require.Contains(t, err.Error(), tc.want, tc.url)
		require.NotContains(t, err.Error(), "hunter2", "password leaked into the error")
	}
	c, err := sdk.New("http://host:8080/proxy/kalam/")
	require.NoError(t, err)
	require.Equal(t, "http://host:8080/proxy/kalam", c.BaseURL())
	require.NoError(t, c.Close())

	_, err = sdk.New("http://h", sdk.WithToken("a"), basic())
	require.ErrorContains(t, err, "choose one")
}

func TestQueryLogsInAndSendsBearerJSON(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	res, err := c.Query(context.Background(), "SELECT * FROM messages WHERE conversation_id = $1 AND archived = $2",
		sdk.Args("conv_42", false), sdk.Namespace("chat"))
	require.NoError(t, err)
	require.Equal(t, 1, res.RowCount)

	reqs := f.captured()
	require.Len(t, reqs, 2)
	require.Equal(t, "/v1/api/auth/login", reqs[0].Path)
	require.JSONEq(t, `{"user":"root","password":"s3cret-pw"}`, string(reqs[0].Body))
	require.Empty(t, reqs[0].Auth, "login must not carry an Authorization header")
	sqlReq := reqs[1]
	require.Equal(t, "application/json", sqlReq.ContentType)
	require.Equal(t, "Bearer eyJhbGciOiJIUzI1NiJ9.access-1.sig", sqlReq.Auth)
	require.JSONEq(t, `{"sql":"SELECT * FROM messages WHERE conversation_id = $1 AND archived = $2","params":["conv_42",false],"namespace_id":"chat"}`, string(sqlReq.Body))

	// A second query reuses the token: no second login.
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	require.EqualValues(t, 1, f.logins.Load())
	require.NotContains(t, string(f.lastSQL(t).Body), "params", "absent params must be omitted")
}

func TestErrorBodyShapes(t *testing.T) {
	cases := []struct {
		name, body string
		status     int
		want       sdk.ServerError
		is         error
	}{
		{"A sql error", `{"status":"error","results":[],"took":1.23,"error":{"code":"INVALID_SQL","message":"bad","details":"SELEC"}}`, 400,
			sdk.ServerError{Code: "INVALID_SQL", HTTPStatus: 400, Message: "bad", Details: "SELEC"}, nil},
		{"A permission", `{"status":"error","results":[],"took":1,"error":{"code":"PERMISSION_DENIED","message":"no"}}`, 403,
			sdk.ServerError{Code: "PERMISSION_DENIED", HTTPStatus: 403, Message: "no"}, sdk.ErrPermissionDenied},
		{"B extractor", `{"status":"error","error":{"code":"INVALID_CREDENTIALS","message":"Invalid credentials"},"results":[],"took":0.4}`, 401,
			sdk.ServerError{Code: "INVALID_CREDENTIALS", HTTPStatus: 401, Message: "Invalid credentials"}, sdk.ErrInvalidCredentials},
		{"C auth", `{"error":"unauthorized","message":"Invalid credentials"}`, 401,
			sdk.ServerError{Code: "unauthorized", HTTPStatus: 401, Message: "Invalid credentials"}, sdk.ErrInvalidCredentials},
		{"D topic", `{"error":"Topic 'x' does not exist","code":"NOT_FOUND"}`, 404,
			sdk.ServerError{Code: "NOT_FOUND", HTTPStatus: 404, Message: "Topic 'x' does not exist"}, sdk.ErrNotFound},
		{"E ad hoc", `{"error":"Access denied. Health endpoint is localhost-only."}`, 403,
			sdk.ServerError{HTTPStatus: 403, Message: "Access denied. Health endpoint is localhost-only."}, sdk.ErrPermissionDenied},
		{"200 with status error", `{"status":"error","results":[],"took":1,"error":{"code":"SQL_EXECUTION_ERROR","message":"Statement 1 failed: boom"}}`, 200,
			sdk.ServerError{Code: "SQL_EXECUTION_ERROR", HTTPStatus: 200, Message: "Statement 1 failed: boom"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, tc.status, tc.body) }
			c, _ := newClient(t, f, basic())
			_, err := c.Query(context.Background(), "INSERT INTO t VALUES (1)")
			var se *sdk.ServerError
			require.ErrorAs(t, err, &se)
			require.Equal(t, tc.want, *se)
			if tc.is != nil {
				require.ErrorIs(t, err, tc.is)
			}
			require.NotErrorIs(t, err, sdk.ErrTokenExpired)
		})
	}
}

func TestNotKalamDBResponses(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		contentType string
		body        string
		reason      string
	}{
		{"html 502 from a proxy", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", "not valid JSON"},
		{"empty 500", 500, "", "", "empty body"},
		{"truncated json", 200, "application/json", `{"status":"success","results":[{"schema":[],"rows":[["1"]`, "truncated"},
		{"200 empty", 200, "application/json", "", "empty body"},
		{"200 text", 200, "text/plain", "hello world", "not valid JSON"},
		{"200 json without results", 200, "application/json", `{"status":"success"}`, "no results"},
		{"200 foreign json", 200, "application/json", `{"ok":true}`, `status ""`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
				if tc.contentType != "" {
					w.Header().Set("Content-Type", tc.contentType)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}
			c, _ := newClient(t, f, basic())
			_, err := c.Query(context.Background(), "SELECT 1")
			require.ErrorIs(t, err, sdk.ErrUnexpectedResponse)
			var re *sdk.ResponseError
			require.ErrorAs(t, err, &re)
			require.Equal(t, tc.status, re.HTTPStatus)
			require.Contains(t, err.Error(), tc.reason)
			if len(tc.body) > 0 {
				require.Contains(t, re.Snippet, tc.body[:5], "error should carry the body start")
				require.Contains(t, err.Error(), "body starts")
			}
			require.NotContains(t, err.Error(), "access-1", "token leaked into the error")
		})
	}
}

func TestResponseBodyLimit(t *testing.T) {
	f := newFake(t)
	big := `{"status":"success","results":[{"schema":[{"name":"s","data_type":"Text","index":0}],"rows":[["` + strings.Repeat("x", 4096) + `"]],"row_count":1,"as_user":"u"}],"took":1}`
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) { writeJSON(w, 200, big) }
	c, _ := newClient(t, f, basic(), sdk.WithMaxResponseBytes(1024))
	_, err := c.Query(context.Background(), "SELECT s FROM t")
	require.ErrorIs(t, err, sdk.ErrResponseTooLarge)
	require.Contains(t, err.Error(), "1024")

	c2, _ := newClient(t, f, basic(), sdk.WithMaxResponseBytes(int64(len(big))))
	res, err := c2.Query(context.Background(), "SELECT s FROM t")
	require.NoError(t, err, "a body exactly at the limit must pass")
	s, err := res.Rows()[0].String("s")
	require.NoError(t, err)
	require.Len(t, s, 4096)
}

func TestTokenExpiredRefreshesAndRetriesOnce(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	_, err := c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	f.expire()
	// The fake now rejects access-1; the refresh mints access-2 which it accepts.
	_, err = c.Query(context.Background(), "INSERT INTO t VALUES (1)")
	require.NoError(t, err)
	require.EqualValues(t, 1, f.refreshes.Load(), "refresh token should be used")
	require.EqualValues(t, 1, f.logins.Load(), "no re-login when refresh works")
	reqs := f.captured()
	var refreshAuth string
	for _, r := range reqs {
		if r.Path == "/v1/api/auth/refresh" {
			refreshAuth = r.Auth
		}
	}
	require.Equal(t, "Bearer eyJhbGciOiJIUzI1NiJ9.refresh-1.sig", refreshAuth)
	require.Equal(t, "Bearer eyJhbGciOiJIUzI1NiJ9.access-2.sig", f.lastSQL(t).Auth)
}

func TestTokenExpiredFallsBackToLoginWhenRefreshFails(t *testing.T) {
	f := newFake(t)
	var refreshed bool
	f.other = nil
	c, _ := newClient(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/api/auth/refresh" {
			refreshed = true
			writeJSON(w, 401, `{"error":"unauthorized","message":"Invalid credentials"}`)
			return
		}
		f.ServeHTTP(w, r)
	}), basic())
	_, err := c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	f.expire()
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	require.True(t, refreshed)
	require.EqualValues(t, 2, f.logins.Load())
}

func TestTokenExpiredTwiceIsReturned(t *testing.T) {
	f := newFake(t)
	f.sql = func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 401, `{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"took":0.4}`)
	}
	c, _ := newClient(t, f, basic())
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrTokenExpired)
	require.EqualValues(t, 2, f.sqlCalls.Load(), "exactly one retry after re-auth")
}

func TestStaticTokenIsNotRetriedWhenExpired(t *testing.T) {
	f := newFake(t)
	f.validToken = "the-only-good-token"
	c, _ := newClient(t, f, sdk.WithToken("stale-token"))
	_, err := c.Query(context.Background(), "SELECT 1")
	require.ErrorIs(t, err, sdk.ErrTokenExpired)
	require.Contains(t, err.Error(), "WithAuthProvider")
	require.EqualValues(t, 1, f.sqlCalls.Load(), "a static token must not be resent after TOKEN_EXPIRED")
	require.NotContains(t, err.Error(), "stale-token")
}

func TestAuthProviderAskedAgainAfterExpiry(t *testing.T) {
	f := newFake(t)
	var calls int
	var mu sync.Mutex
	provider := func(ctx context.Context) (sdk.Credentials, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		tok := "provider-token-" + string(rune('0'+calls))
		f.mu.Lock()
		f.validToken = tok
		f.mu.Unlock()
		return sdk.Credentials{Token: tok}, nil
	}
	c, _ := newClient(t, f, sdk.WithAuthProvider(provider))
	_, err := c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	f.expire()
	_, err = c.Query(context.Background(), "SELECT 1")
	require.NoError(t, err)
	require.Equal(t, 2, calls)
	require.Equal(t, "Bearer provider-token-2", f.lastSQL(t).Auth)
	require.Zero(t, f.logins.Load())
}

func TestConcurrentExpiredTokensShareOneRefresh(t *testing.T) {
	const n = 32
	f := newFake(t)
	// Every request still carrying access-1 waits until all n have arrived,
	// so they all meet TOKEN_EXPIRED before any renewal can finish.
	var arrived sync.WaitGroup
	arrived.Add(n)
	allArrived := make(chan struct{})
	go func() { arrived.Wait(); close(allArrived) }()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/api/sql" && strings.HasSuffix(r.Header.Get("Authorization"), "access-1.sig") {
			arrived.Done()
			select {
			case <-allArrived:
			case <-time.After(10 * time.Second):
				t.Errorf("only some of the %d requests arrived with the old token", n)
			}
		}
		f.ServeHTTP(w, r)
	})
	c, _ := newClient(t, h, basic())
	_, err := c.Login(context.Background(), "root", "s3cret-pw")
	require.NoError(t, err)
	f.expire()
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		go func() {
			_, err := c.Query(context.Background(), "SELECT 1")
			errs <- err
		}()
	}
	for i := 0; i < n; i++ {
		require.NoError(t, <-errs)
	}
	require.EqualValues(t, 1, f.refreshes.Load(), "concurrent TOKEN_EXPIRED must trigger exactly one refresh")
	require.EqualValues(t, 1, f.logins.Load())
	require.EqualValues(t, 2*n, f.sqlCalls.Load())
}
