package emulator

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/require"
)

// fakeDB is a scripted backend: the wire tests pin the HTTP layer's
// encoding of known engine answers, independent of the SQL engine.
type fakeDB struct {
	mu        sync.Mutex
	users     map[string]*fakeUser
	requests  []engine.Request
	exec      func(engine.Request) ([]engine.Result, *engine.Error)
	readFile  func(engine.Identity, string, string, string, string) ([]byte, string, *engine.Error)
	consume   func(engine.Identity, engine.ConsumeRequest) (engine.ConsumeResult, *engine.Error)
	acks      []ackRequest
	ackErr    *engine.Error
	closed    bool
	setupErr  error
	createdAt time.Time
}

type fakeUser struct {
	engine.User
	password string
}

func newFakeDB(rootPassword string) *fakeDB {
	db := &fakeDB{users: map[string]*fakeUser{}, createdAt: time.Date(2026, 1, 2, 3, 4, 5, 123_000_000, time.UTC)}
	db.addUser("root", engine.RoleSystem, rootPassword)
	email := "root@localhost"
	db.users["root"].Email = &email
	return db
}

func (db *fakeDB) addUser(id string, role engine.Role, password string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.users[id] = &fakeUser{User: engine.User{
		ID: id, Role: role, CreatedAt: db.createdAt, UpdatedAt: db.createdAt, HasPassword: password != "",
	}, password: password}
}

func (db *fakeDB) setRole(id string, role engine.Role) {
	db.mu.Lock()
	db.users[id].Role = role
	db.mu.Unlock()
}

func (db *fakeDB) deleteUser(id string) {
	db.mu.Lock()
	db.users[id].Deleted = true
	db.mu.Unlock()
}

func (db *fakeDB) Close() error {
	db.mu.Lock()
	db.closed = true
	db.mu.Unlock()
	return nil
}

func (db *fakeDB) Execute(req engine.Request) ([]engine.Result, *engine.Error) {
	db.mu.Lock()
	db.requests = append(db.requests, req)
	exec := db.exec
	db.mu.Unlock()
	if exec == nil {
		return []engine.Result{{RowCount: 1, Message: "Inserted 1 row(s)", AsUser: req.Identity.UserID}}, nil
	}
	return exec(req)
}

func (db *fakeDB) lastRequest(t *testing.T) engine.Request {
	t.Helper()
	db.mu.Lock()
	defer db.mu.Unlock()
	require.NotEmpty(t, db.requests, "the engine received no request")
	return db.requests[len(db.requests)-1]
}

func (db *fakeDB) CheckPassword(name, password string) (engine.User, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[name]
	if !ok || u.Deleted || u.password == "" || u.password != password {
		return engine.User{}, false
	}
	return u.User, true
}

func (db *fakeDB) LookupUser(id string) (engine.User, bool) {
	db.mu.Lock()
	defer db.mu.Unlock()
	u, ok := db.users[id]
	if !ok {
		return engine.User{}, false
	}
	return u.User, true
}

func (db *fakeDB) SetupServer(user, password, rootPassword string, email *string) (engine.User, error) {
	if db.setupErr != nil {
		return engine.User{}, db.setupErr
	}
	db.mu.Lock()
	db.users["root"].password = rootPassword
	db.users["root"].HasPassword = true
	db.mu.Unlock()
	db.addUser(user, engine.RoleDBA, password)
	db.mu.Lock()
	db.users[user].Email = email
	db.mu.Unlock()
	u, _ := db.LookupUser(user)
	return u, nil
}

func (db *fakeDB) RootHasPassword() bool {
	u, _ := db.LookupUser("root")
	return u.HasPassword
}

func (db *fakeDB) ReadFile(id engine.Identity, ns, table, sub, name string) ([]byte, string, *engine.Error) {
	if db.readFile == nil {
		return nil, "", &engine.Error{Code: "FILE_NOT_FOUND", HTTPStatus: 404, Message: "File not found"}
	}
	return db.readFile(id, ns, table, sub, name)
}

func (db *fakeDB) Consume(id engine.Identity, req engine.ConsumeRequest) (engine.ConsumeResult, *engine.Error) {
	if db.consume == nil {
		return engine.ConsumeResult{}, &engine.Error{Code: "NOT_FOUND", HTTPStatus: 404, Message: "Topic '" + req.TopicID + "' does not exist"}
	}
	return db.consume(id, req)
}

func (db *fakeDB) Ack(id engine.Identity, topic, group string, partition uint32, upto uint64) *engine.Error {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.acks = append(db.acks, ackRequest{topic, group, partition, upto})
	return db.ackErr
}

// testEnv is an emulator over a fakeDB, served on loopback.
type testEnv struct {
	t   *testing.T
	s   *Server
	db  *fakeDB
	url string
}

const testRootPassword = "RootPass123!"

func newTestEnv(t *testing.T, opts Options) *testEnv {
	t.Helper()
	db := newFakeDB(opts.RootPassword)
	s := newServer(opts, newClock(opts.Now), db)
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	return &testEnv{t: t, s: s, db: db, url: hs.URL}
}

// rootEnv is a server whose root has testRootPassword, plus users alice
// (user), svc (service) and admin (dba).
func rootEnv(t *testing.T) *testEnv {
	e := newTestEnv(t, Options{RootPassword: testRootPassword})
	e.db.addUser("alice", engine.RoleUser, "AlicePass123!")
	e.db.addUser("svc", engine.RoleService, "SvcPass123!")
	e.db.addUser("admin", engine.RoleDBA, "AdminPass123!")
	return e
}

// response is a finished exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	return decodeJSONMap(t, r.body)
}

func decodeJSONMap(t *testing.T, body []byte) map[string]any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	err := dec.Decode(&m)
	require.NoError(t, err, "body is not a JSON object: %v\n%s", err, body)
	return m
}

// do sends one request; headers alternate name, value.
func (e *testEnv) do(method, path, contentType string, body []byte, headers ...string) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, bytes.NewReader(body))
	require.NoError(e.t, err)
	if body == nil {
		req.Body = nil
		req.ContentLength = 0
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	return e.send(req)
}

func (e *testEnv) send(req *http.Request) response {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(e.t, err, "%s %s", req.Method, req.URL.Path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(e.t, err, "%s %s: read body", req.Method, req.URL.Path)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// postJSON posts body as application/json.
func (e *testEnv) postJSON(path, body string, headers ...string) response {
	e.t.Helper()
	return e.do(http.MethodPost, path, "application/json", []byte(body), headers...)
}

// login returns the LoginResponse of a successful login.
func (e *testEnv) login(user, password string) map[string]any {
	e.t.Helper()
	r := e.postJSON("/v1/api/auth/login", `{"user":`+quote(user)+`,"password":`+quote(password)+`}`)
	require.Equal(e.t, http.StatusOK, r.status, "login %s: status %d: %s", user, r.status, r.body)
	return r.json(e.t)
}

func (e *testEnv) token(user, password string) string {
	e.t.Helper()
	return e.login(user, password)["access_token"].(string)
}

// sql posts a JSON SQL request with a Bearer token.
func (e *testEnv) sql(token, body string) response {
	e.t.Helper()
	return e.postJSON("/v1/api/sql", body, "Authorization", "Bearer "+token)
}

// serveRemote serves r as if it came from peer (no TCP involved).
func (e *testEnv) serveRemote(r *http.Request, peer string) response {
	e.t.Helper()
	r.RemoteAddr = peer
	rec := httptest.NewRecorder()
	e.s.ServeHTTP(rec, r)
	return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// wantJSON compares a body with the expected JSON text, ignoring key order
// and whitespace.
func wantJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	err := json.Unmarshal(got, &g)
	require.NoError(t, err, "body is not JSON: %v\n%s", err, got)
	require.NoError(t, json.Unmarshal([]byte(want), &w), "bad expectation %q", want)
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	require.True(t, bytes.Equal(gb, wb), "body\n got: %s\nwant: %s", got, want)
}

// wantStatus fails unless r has the status.
func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	require.Equal(t, status, r.status, "status %d, want %d; body: %s", r.status, status, r.body)
}

// wantShapeB checks the auth-extractor error (http-api.md §1.3 B, §3.4):
// exactly status, error{code,message}, results [], took (a number).
func wantShapeB(t *testing.T, r response, code string) {
	t.Helper()
	wantStatus(t, r, http.StatusUnauthorized)
	m := r.json(t)
	wantKeys(t, m, "error", "results", "status", "took")
	require.EqualValues(t, "error", m["status"], "status field %v", m["status"])
	_, ok := m["took"].(json.Number)
	require.True(t, ok, "took is %T, want a number", m["took"])
	res, ok := m["results"].([]any)
	require.True(t, ok)
	require.Empty(t, res, "results %v, want []", m["results"])
	errObj := m["error"].(map[string]any)
	wantKeys(t, errObj, "code", "message")
	want := "Invalid credentials"
	if code == "MISSING_AUTHORIZATION" {
		want = "Authentication required"
	}
	require.EqualValues(t, code, errObj["code"])
	require.EqualValues(t, want, errObj["message"], "error %v, want code %s message %q", errObj, code, want)
}

// wantShapeA checks a SqlResponse error (http-api.md §1.3 A).
func wantShapeA(t *testing.T, r response, status int, code, message string) map[string]any {
	t.Helper()
	wantStatus(t, r, status)
	ct := r.header.Get("Content-Type")
	require.Equal(t, "application/json", ct, "Content-Type %q", ct)
	m := r.json(t)
	wantKeys(t, m, "error", "results", "status", "took")
	require.EqualValues(t, "error", m["status"], "status field %v", m["status"])
	res, ok := m["results"].([]any)
	require.True(t, ok)
	require.Empty(t, res, "results %v, want []", m["results"])
	errObj := m["error"].(map[string]any)
	require.EqualValues(t, code, errObj["code"])
	require.EqualValues(t, message, errObj["message"], "error %v, want code %s message %q", errObj, code, message)
	return errObj
}

func wantKeys(t *testing.T, m map[string]any, keys ...string) {
	t.Helper()
	require.Len(t, m, len(keys), "keys of %v, want exactly %v", m, keys)
	for _, k := range keys {
		_, ok := m[k]
		require.True(t, ok, "key %q missing from %v", k, m)
	}
}

// wantPlainText checks an actix framework error: plain text, not JSON.
func wantPlainText(t *testing.T, r response, status int, prefix string) {
	t.Helper()
	wantStatus(t, r, status)
	ct := r.header.Get("Content-Type")
	require.True(t, strings.HasPrefix(ct, "text/plain"), "Content-Type %q, want text/plain", ct)
	require.True(t, strings.HasPrefix(string(r.body), prefix), "body %q, want prefix %q", r.body, prefix)
}
