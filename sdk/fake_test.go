package sdk_test

import (
	"encoding/json"
	"fmt"
	"github.com/stretchr/testify/require"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/kalamstack/kalam-go/transport/mock"
)

// fakeServer is a scripted KalamDB for unit tests: login and refresh mint
// numbered tokens; /v1/api/sql is answered by the sql func.
type fakeServer struct {
	t *testing.T

	mu         sync.Mutex
	validToken string // the access token /sql accepts ("" = any)
	tokenSeq   int
	logins     atomic.Int32
	refreshes  atomic.Int32
	sqlCalls   atomic.Int32
	authHdrs   []string
	requests   []capturedRequest
	setupReq   bool // login answers 428

	// sql answers a /v1/api/sql call that passed the token check.
	sql func(w http.ResponseWriter, r *http.Request, body []byte)
	// other serves any other path; nil means 404 with an empty body.
	other http.HandlerFunc
}

type capturedRequest struct {
	Method, Path, ContentType, Auth string
	Body                            []byte
}

func newFake(t *testing.T) *fakeServer {
	return &fakeServer{t: t, sql: func(w http.ResponseWriter, r *http.Request, body []byte) {
		writeJSON(w, 200, `{"status":"success","results":[{"schema":[{"name":"ok","data_type":"BigInt","index":0}],"rows":[["1"]],"row_count":1,"as_user":"root"}],"took":0.5,"error":null}`)
	}}
}

func writeJSON(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, body)
}

func (f *fakeServer) mintLocked() (string, string) {
	f.tokenSeq++
	access := fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.access-%d.sig", f.tokenSeq)
	refresh := fmt.Sprintf("eyJhbGciOiJIUzI1NiJ9.refresh-%d.sig", f.tokenSeq)
	f.validToken = access
	return access, refresh
}

func loginReply(access, refresh string) string {
	return fmt.Sprintf(`{"user":{"id":"root","role":"system","email":null,"created_at":"2025-01-01T10:00:00.123+00:00","updated_at":"2025-01-01T10:00:00+00:00"},"admin_ui_access":true,"expires_at":"2025-01-02T10:00:00.123456789+00:00","access_token":%q,"refresh_token":%q,"refresh_expires_at":"2025-01-08T10:00:00+00:00"}`, access, refresh)
}

func (f *fakeServer) expire() {
	f.mu.Lock()
	f.validToken = "expired-everything"
	f.mu.Unlock()
}

func (f *fakeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.t.Errorf("fake: reading body: %v", err)
	}
	f.mu.Lock()
	f.requests = append(f.requests, capturedRequest{r.Method, r.URL.Path, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
	f.mu.Unlock()
	if strings.HasPrefix(strings.ToLower(r.Header.Get("Authorization")), "basic") {
		f.t.Errorf("fake: client sent Basic auth to %s", r.URL.Path)
	}
	switch r.URL.Path {
	case "/v1/api/auth/login":
		f.logins.Add(1)
		var lr struct{ User, Password string }
		if err := json.Unmarshal(body, &lr); err != nil {
			writeJSON(w, 400, `{"error":"bad_request","message":"bad json"}`)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.setupReq {
			writeJSON(w, 428, `{"error":"setup_required","message":"Server requires initial setup. Root password is not configured."}`)
			return
		}
		if lr.User != "root" || lr.Password != "s3cret-pw" {
			writeJSON(w, 401, `{"error":"unauthorized","message":"Invalid credentials"}`)
			return
		}
		a, rt := f.mintLocked()
		writeJSON(w, 200, loginReply(a, rt))
	case "/v1/api/auth/refresh":
		f.refreshes.Add(1)
		f.mu.Lock()
		defer f.mu.Unlock()
		if !strings.Contains(r.Header.Get("Authorization"), ".refresh-") {
			writeJSON(w, 401, `{"error":"unauthorized","message":"Refresh endpoint requires a refresh token"}`)
			return
		}
		a, rt := f.mintLocked()
		writeJSON(w, 200, loginReply(a, rt))
	case "/v1/api/sql":
		f.sqlCalls.Add(1)
		auth := r.Header.Get("Authorization")
		f.mu.Lock()
		f.authHdrs = append(f.authHdrs, auth)
		valid := f.validToken
		f.mu.Unlock()
		if auth == "" {
			writeJSON(w, 401, `{"status":"error","error":{"code":"MISSING_AUTHORIZATION","message":"Authentication required"},"results":[],"took":0.1}`)
			return
		}
		if valid != "" && auth != "Bearer "+valid {
			writeJSON(w, 401, `{"status":"error","error":{"code":"TOKEN_EXPIRED","message":"Invalid credentials"},"results":[],"took":0.4}`)
			return
		}
		f.sql(w, r, body)
	default:
		if f.other != nil {
			f.other(w, r)
			return
		}
		w.WriteHeader(404)
	}
}

func (f *fakeServer) captured() []capturedRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]capturedRequest(nil), f.requests...)
}

func (f *fakeServer) lastSQL(t *testing.T) capturedRequest {
	t.Helper()
	reqs := f.captured()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == "/v1/api/sql" {
			return reqs[i]
		}
	}
	t.Fatal("no /v1/api/sql request was made")
	return capturedRequest{}
}

// newClient returns a client over the mock transport serving h.
func newClient(t *testing.T, h http.Handler, opts ...sdk.Option) (*sdk.Client, *mock.Transport) {
	t.Helper()
	tr := mock.New(h)
	all := append([]sdk.Option{sdk.WithTransport(tr), sdk.WithRetryBackoff(time.Millisecond, 4*time.Millisecond)}, opts...)
	c, err := sdk.New("http://kalam.test:8080", all...)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c, tr
}

func basic() sdk.Option { return sdk.WithBasicAuth("root", "s3cret-pw") }
