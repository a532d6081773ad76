package emulator

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
	"github.com/stretchr/testify/require"
)

var rfc3339Chrono = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6}|\.\d{9})?\+00:00$`)

// http-api.md §4.1 (LoginResponse, cookies) and §3.3 (JWT header and claims).
func TestLoginResponseShape(t *testing.T) {
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e := newTestEnv(t, Options{RootPassword: testRootPassword, Now: func() time.Time { return now }})
	r := e.postJSON("/v1/api/auth/login", `{"user":"root","password":"`+testRootPassword+`"}`)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	wantKeys(t, m, "user", "admin_ui_access", "expires_at", "access_token", "refresh_token", "refresh_expires_at")
	user := m["user"].(map[string]any)
	wantKeys(t, user, "id", "role", "email", "created_at", "updated_at")
	require.EqualValues(t, "root", user["id"])
	require.EqualValues(t, "system", user["role"])
	require.EqualValues(t, "root@localhost", user["email"], "user %v", user)
	require.EqualValues(t, "2026-01-02T03:04:05.123+00:00", user["created_at"], "created_at %v", user["created_at"])
	require.EqualValues(t, true, m["admin_ui_access"], "admin_ui_access %v for system", m["admin_ui_access"])
	require.EqualValues(t, "2026-03-05T05:06:07+00:00", m["expires_at"])
	require.EqualValues(t, "2026-03-11T05:06:07+00:00", m["refresh_expires_at"], "expiries %v %v", m["expires_at"], m["refresh_expires_at"])
	for _, k := range []string{"created_at", "updated_at"} {
		require.True(t, rfc3339Chrono.MatchString(user[k].(string)), "%s %q is not chrono RFC 3339", k, user[k])
	}

	access := m["access_token"].(string)
	parts := strings.Split(access, ".")
	require.Len(t, parts, 3, "access token %q is not a JWT", access)
	hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
	require.Equal(t, `{"typ":"JWT","alg":"HS256"}`, string(hdr), "JWT header %s", hdr)
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	wantJSON(t, payload, `{"sub":"root","iss":"kalamdb","exp":1772687167,"iat":1772600767,"email":"root@localhost","role":"system","token_type":"access"}`)
	require.True(t, strings.HasPrefix(string(payload), `{"sub":"root","iss":"kalamdb","exp":`), "claims not in the server's order: %s", payload)
	refreshPayload, _ := base64.RawURLEncoding.DecodeString(strings.Split(m["refresh_token"].(string), ".")[1])
	wantJSON(t, refreshPayload, `{"sub":"root","iss":"kalamdb","exp":1773205567,"iat":1772600767,"email":"root@localhost","role":"system","token_type":"refresh"}`)

	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		cookies[c.Name] = c
	}
	for name, value := range map[string]string{"kalamdb_auth": access, "kalamdb_refresh": m["refresh_token"].(string)} {
		c := cookies[name]
		require.NotNil(t, c)
		require.Equal(t, value, c.Value)
		require.Equal(t, "/", c.Path)
		require.True(t, c.HttpOnly)
		require.Equal(t, http.SameSiteStrictMode, c.SameSite)
		require.False(t, c.Secure, "cookie %s = %+v", name, c)
	}
	got := cookies["kalamdb_auth"].Expires
	require.True(t, got.Equal(now.Add(24*time.Hour)), "auth cookie expires %v", got)

	// Login has no `username` alias (only setup has): the real server
	// rejects it as an unknown field, at the end of the key.
	e.db.addUser("alice", engine.RoleUser, "AlicePass123!")
	r = e.postJSON("/v1/api/auth/login", `{"username":"alice","password":"AlicePass123!"}`)
	wantStatus(t, r, http.StatusBadRequest)
	require.Equal(t, "Json deserialize error: unknown field `username`, expected `user` or `password` at line 1 column 11", string(r.body))

	// A user-role login: no admin UI, email null.
	r = e.postJSON("/v1/api/auth/login", `{"user":"alice","password":"AlicePass123!"}`)
	wantStatus(t, r, http.StatusOK)
	m = r.json(t)
	require.EqualValues(t, false, m["admin_ui_access"])
	require.EqualValues(t, "user", m["user"].(map[string]any)["role"])
	require.Nil(t, m["user"].(map[string]any)["email"], "alice login %v", m)
	_, present := m["user"].(map[string]any)["email"]
	require.True(t, present, "email must be present as null")
}

// http-api.md §4.1 errors: shape C for credentials, actix plain text for
// bodies the extractor rejects; each followed by a login that works.
func TestLoginRejections(t *testing.T) {
	e := rootEnv(t)
	cases := []struct {
		name, contentType, body string
		status                  int
		plain                   string // prefix of a text/plain body; "" means shape C
		code, message           string
	}{
		{"wrong password", "application/json", `{"user":"alice","password":"nope"}`, 401, "", "unauthorized", "Invalid credentials"},
		{"unknown user", "application/json", `{"user":"mallory","password":"x"}`, 401, "", "unauthorized", "Invalid credentials"},
		{"empty user", "application/json", `{"user":"","password":"x"}`, 401, "", "unauthorized", "Invalid credentials"},
		{"traversal user", "application/json", `{"user":"../root","password":"x"}`, 401, "", "unauthorized", "Invalid credentials"},
		{"unknown field", "application/json", `{"user":"alice","password":"AlicePass123!","remember":true}`, 400, "Json deserialize error: unknown field `remember`", "", ""},
		{"field names are case-sensitive", "application/json", `{"User":"alice","password":"AlicePass123!"}`, 400, "Json deserialize error: unknown field `User`", "", ""},
		{"missing password", "application/json", `{"user":"alice"}`, 400, "Json deserialize error: missing field `password`", "", ""},
		{"malformed JSON", "application/json", `{"user":"alice",`, 400, "Json deserialize error: ", "", ""},
		{"not an object", "application/json", `["alice"]`, 400, "Json deserialize error: invalid type: sequence", "", ""},
		{"user over 128 bytes", "application/json", `{"user":"` + strings.Repeat("a", 129) + `","password":"x"}`, 400, "Json deserialize error: user exceeds maximum length of 128 characters", "", ""},
		{"password over 256 bytes", "application/json", `{"user":"alice","password":"` + strings.Repeat("p", 257) + `"}`, 400, "Json deserialize error: password exceeds maximum length of 256 characters", "", ""},
		{"wrong content type", "text/plain", `{"user":"alice","password":"AlicePass123!"}`, 400, "Content type error", "", ""},
		{"no content type", "", `{"user":"alice","password":"AlicePass123!"}`, 400, "Content type error", "", ""},
		{"number as user", "application/json", `{"user":5,"password":"x"}`, 400, "Json deserialize error: invalid type: integer `5`, expected a string", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/api/auth/login", tc.contentType, []byte(tc.body))
			if tc.plain != "" {
				wantPlainText(t, r, tc.status, tc.plain)
			} else {
				wantStatus(t, r, tc.status)
				wantJSON(t, r.body, `{"error":"`+tc.code+`","message":"`+tc.message+`"}`)
			}
			e.login("alice", "AlicePass123!")
		})
	}
	// An over-2-MiB body is actix's 413, still plain text.
	big := `{"user":"alice","password":"` + strings.Repeat("x", 2<<20) + `"}`
	wantPlainText(t, e.postJSON("/v1/api/auth/login", big), 413, "JSON payload (")
	e.login("alice", "AlicePass123!")
}

// http-api.md §4.1 and §4.7: root without a password.
func TestLoginRootWithoutPassword(t *testing.T) {
	e := newTestEnv(t, Options{})
	r := e.postJSON("/v1/api/auth/login", `{"user":"root","password":""}`)
	wantStatus(t, r, http.StatusPreconditionRequired)
	wantJSON(t, r.body, `{"error":"setup_required","message":"Server requires initial setup. Root password is not configured."}`)

	r = e.postJSON("/v1/api/auth/login", `{"user":"root","password":"guess"}`)
	wantStatus(t, r, http.StatusUnauthorized)
	wantJSON(t, r.body, `{"error":"unauthorized","message":"Invalid credentials"}`)

	req := httptest.NewRequest(http.MethodPost, "/v1/api/auth/login", strings.NewReader(`{"user":"root","password":"guess"}`))
	req.Header.Set("Content-Type", "application/json")
	r = e.serveRemote(req, "203.0.113.7:4000")
	wantStatus(t, r, http.StatusForbidden)
	wantJSON(t, r.body, `{"error":"forbidden","message":"System users with empty passwords cannot authenticate remotely. Set a password with: ALTER USER root SET PASSWORD '...'"}`)
}

// http-api.md §4.1: five failures lock the account for 15 minutes.
func TestLoginLockout(t *testing.T) {
	start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	e := rootEnv(t)
	e.s.SetNow(start)
	for i := 0; i < maxFailedLogins; i++ {
		r := e.postJSON("/v1/api/auth/login", `{"user":"alice","password":"wrong"}`)
		wantStatus(t, r, http.StatusUnauthorized)
		wantJSON(t, r.body, `{"error":"unauthorized","message":"Invalid credentials"}`)
	}
	r := e.postJSON("/v1/api/auth/login", `{"user":"alice","password":"AlicePass123!"}`)
	wantStatus(t, r, http.StatusUnauthorized)
	wantJSON(t, r.body, `{"error":"account_locked","message":"15 minute(s)"}`)

	e.s.Advance(14*time.Minute + 30*time.Second)
	r = e.postJSON("/v1/api/auth/login", `{"user":"alice","password":"AlicePass123!"}`)
	wantJSON(t, r.body, `{"error":"account_locked","message":"1 minute(s)"}`)

	// Other users are not affected.
	e.login("svc", "SvcPass123!")

	e.s.Advance(31 * time.Second)
	e.login("alice", "AlicePass123!")
	// The success reset the count: one failure does not lock again.
	e.postJSON("/v1/api/auth/login", `{"user":"alice","password":"wrong"}`)
	e.login("alice", "AlicePass123!")
}

// http-api.md §4.1 and §5: the auth limit is per client IP and answers
// 429 rate_limited; a negative option turns it off.
func TestAuthRateLimit(t *testing.T) {
	e := newTestEnv(t, Options{RootPassword: testRootPassword, AuthRateLimit: 2})
	frozen := time.Now()
	e.s.authLimiter.now = func() time.Time { return frozen }
	e.login("root", testRootPassword)
	e.login("root", testRootPassword)
	r := e.postJSON("/v1/api/auth/login", `{"user":"root","password":"`+testRootPassword+`"}`)
	wantStatus(t, r, http.StatusTooManyRequests)
	wantJSON(t, r.body, `{"error":"rate_limited","message":"Too many authentication attempts. Please retry shortly."}`)
	r = e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil)
	wantStatus(t, r, http.StatusTooManyRequests)

	// Another IP has its own bucket.
	req := httptest.NewRequest(http.MethodPost, "/v1/api/auth/login", strings.NewReader(`{"user":"root","password":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	wantStatus(t, e.serveRemote(req, "198.51.100.1:1"), http.StatusUnauthorized)

	frozen = frozen.Add(time.Second)
	e.login("root", testRootPassword)

	e.s.SetAuthRateLimit(-1)
	for i := 0; i < 50; i++ {
		e.login("root", testRootPassword)
	}
}

// http-api.md §4.2: refresh mints fresh tokens from a refresh token; the
// old one stays valid; access tokens are refused.
func TestRefresh(t *testing.T) {
	e := rootEnv(t)
	login := e.login("alice", "AlicePass123!")
	refresh := login["refresh_token"].(string)
	e.s.Advance(2 * time.Second)

	r := e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+refresh)
	wantStatus(t, r, http.StatusOK)
	m := r.json(t)
	wantKeys(t, m, "user", "admin_ui_access", "expires_at", "access_token", "refresh_token", "refresh_expires_at")
	require.NotEqual(t, login["access_token"], m["access_token"], "refresh returned the same tokens two seconds later")
	require.NotEqualValues(t, refresh, m["refresh_token"], "refresh returned the same tokens two seconds later")
	require.Len(t, (&http.Response{Header: r.header}).Cookies(), 2, "refresh set cookies %v", r.header["Set-Cookie"])
	wantStatus(t, e.sql(m["access_token"].(string), `{"sql":"SELECT 1"}`), http.StatusOK)

	// Not revoked: the first refresh token still works.
	wantStatus(t, e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+refresh), http.StatusOK)

	// The kalamdb_refresh cookie is read before the header.
	r = e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Cookie", "kalamdb_refresh="+refresh, "Authorization", "Bearer garbage")
	wantStatus(t, r, http.StatusOK)

	cases := []struct {
		name    string
		headers []string
		message string
	}{
		{"no token", nil, "No refresh token found"},
		{"basic", []string{"Authorization", "Basic YWxpY2U6eA=="}, "Authorization header must use Bearer token"},
		{"empty bearer", []string{"Authorization", "Bearer "}, "Bearer token missing"},
		{"access token", []string{"Authorization", "Bearer " + login["access_token"].(string)}, "Refresh endpoint requires a refresh token"},
		{"forged", []string{"Authorization", "Bearer " + forge(refresh)}, "Invalid credentials"},
		{"garbage", []string{"Authorization", "Bearer garbage"}, "Invalid JWT header: InvalidToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, tc.headers...)
			wantStatus(t, r, http.StatusUnauthorized)
			wantJSON(t, r.body, `{"error":"unauthorized","message":"`+tc.message+`"}`)
		})
	}

	e.db.setRole("alice", engine.RoleService)
	r = e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+refresh)
	wantJSON(t, r.body, `{"error":"unauthorized","message":"Token role does not match user role"}`)
	e.db.deleteUser("alice")
	r = e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+refresh)
	wantJSON(t, r.body, `{"error":"unauthorized","message":"User no longer valid"}`)

	refresh = e.login("svc", "SvcPass123!")["refresh_token"].(string)
	e.s.Advance(7*24*time.Hour + 61*time.Second)
	r = e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+refresh)
	wantJSON(t, r.body, `{"error":"unauthorized","message":"Invalid credentials"}`)
}

// forge re-signs a token's header and claims with another secret.
func forge(token string) string {
	parts := strings.Split(token, ".")
	other := &Server{jwtSecret: []byte("not-the-secret")}
	return parts[0] + "." + parts[1] + "." + other.hs256(parts[0]+"."+parts[1])
}

// http-api.md §4.3.
func TestLogout(t *testing.T) {
	e := rootEnv(t)
	token := e.token("alice", "AlicePass123!")
	r := e.do(http.MethodPost, "/v1/api/auth/logout", "", nil)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"message":"Logged out successfully"}`)
	cookies := (&http.Response{Header: r.header}).Cookies()
	require.Len(t, cookies, 2, "logout cookies %v", r.header["Set-Cookie"])
	for _, c := range cookies {
		require.Equal(t, "", c.Value)
		require.True(t, c.Expires.Equal(time.Unix(0, 0)), "cookie %+v not expired", c)
	}
	// Tokens are not revoked.
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK)
	// GET is a wrong method on a .route() resource: 405.
	wantStatus(t, e.do(http.MethodGet, "/v1/api/auth/logout", "", nil), http.StatusMethodNotAllowed)
}

// http-api.md §4.4.
func TestMe(t *testing.T) {
	e := rootEnv(t)
	token := e.token("admin", "AdminPass123!")
	r := e.do(http.MethodGet, "/v1/api/auth/me", "", nil, "Authorization", "bearer "+token)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"user":{"id":"admin","role":"dba","email":null,"created_at":"2026-01-02T03:04:05.123+00:00","updated_at":"2026-01-02T03:04:05.123+00:00"},"admin_ui_access":true}`)
	wantStatus(t, e.do(http.MethodGet, "/v1/api/auth/me", "", nil, "Cookie", "kalamdb_auth="+token), http.StatusOK)

	for _, tc := range []struct {
		headers []string
		message string
	}{
		{nil, "No auth token found"},
		{[]string{"Authorization", "Basic eDp5"}, "Authorization header must use Bearer token"},
		{[]string{"Authorization", "Bearer " + forge(token)}, "Invalid credentials"},
	} {
		r := e.do(http.MethodGet, "/v1/api/auth/me", "", nil, tc.headers...)
		wantStatus(t, r, http.StatusUnauthorized)
		wantJSON(t, r.body, `{"error":"unauthorized","message":"`+tc.message+`"}`)
	}
	e.s.Advance(24*time.Hour + 61*time.Second)
	r = e.do(http.MethodGet, "/v1/api/auth/me", "", nil, "Authorization", "Bearer "+token)
	wantJSON(t, r.body, `{"error":"unauthorized","message":"Invalid credentials"}`)
}

// http-api.md §4.5 and §4.6, checks in the real order.
func TestSetup(t *testing.T) {
	e := newTestEnv(t, Options{})
	r := e.do(http.MethodGet, "/v1/api/auth/status", "", nil)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"needs_setup":true,"message":"Server requires initial setup. Call POST /v1/api/auth/setup with user, password, root_password, and optional email."}`)

	cases := []struct {
		body, code, message string
		status              int
	}{
		{`{"user":"admin","password":"short","root_password":"RootPass123"}`, "weak_password", "DBA user password: Weak password: Password must be at least 8 characters (weak)", 400},
		{`{"user":"admin","password":"AdminPass123","root_password":"password"}`, "weak_password", "Root password: Weak password: Password is too common", 400},
		{`{"user":"admin","password":"AdminPass123","root_password":"` + strings.Repeat("r", 73) + `"}`, "weak_password", "Root password: Weak password: Password must be at most 72 characters (bcrypt limit, weak)", 400},
		{`{"user":"a/b","password":"AdminPass123","root_password":"RootPass123"}`, "invalid_user", "Invalid user value", 400},
		{`{"user":"root","password":"AdminPass123","root_password":"RootPass123"}`, "invalid_user", "Cannot create a DBA user with user 'root'. Choose a different user.", 400},
	}
	for _, tc := range cases {
		r := e.postJSON("/v1/api/auth/setup", tc.body)
		wantStatus(t, r, tc.status)
		wantJSON(t, r.body, `{"error":"`+tc.code+`","message":`+quote(tc.message)+`}`)
	}
	wantPlainText(t, e.postJSON("/v1/api/auth/setup", `{"user":"admin","password":"AdminPass123","root_password":"RootPass123","role":"system"}`),
		400, "Json deserialize error: unknown field `role`")
	wantPlainText(t, e.postJSON("/v1/api/auth/setup", `{"user":"admin","password":"AdminPass123"}`),
		400, "Json deserialize error: missing field `root_password`")

	r = e.postJSON("/v1/api/auth/setup", `{"username":"admin","password":"AdminPass123","root_password":"RootPass123","email":"admin@example.com"}`)
	wantStatus(t, r, http.StatusOK)
	wantJSON(t, r.body, `{"user":{"id":"admin","role":"dba","email":"admin@example.com","created_at":"2026-01-02T03:04:05.123+00:00","updated_at":"2026-01-02T03:04:05.123+00:00"},"message":"Server setup complete. Root password configured and DBA user 'admin' created. Please login to continue."}`)

	r = e.do(http.MethodGet, "/v1/api/auth/status", "", nil)
	wantJSON(t, r.body, `{"needs_setup":false,"message":"Server is configured and ready."}`)
	r = e.postJSON("/v1/api/auth/setup", `{"user":"other","password":"AdminPass123","root_password":"RootPass123"}`)
	wantStatus(t, r, http.StatusConflict)
	wantJSON(t, r.body, `{"error":"already_configured","message":"Server has already been configured. Root password is set."}`)
	e.login("admin", "AdminPass123")
	e.login("root", "RootPass123")
}

// http-api.md §4.5, §4.6: setup and status are localhost-only unless
// AllowRemoteSetup.
func TestSetupRemote(t *testing.T) {
	e := newTestEnv(t, Options{})
	status := httptest.NewRequest(http.MethodGet, "/v1/api/auth/status", nil)
	r := e.serveRemote(status, "192.0.2.1:999")
	wantStatus(t, r, http.StatusForbidden)
	wantJSON(t, r.body, `{"error":"forbidden","message":"Setup status can only be checked from localhost"}`)
	setup := httptest.NewRequest(http.MethodPost, "/v1/api/auth/setup", strings.NewReader(`{"user":"admin","password":"AdminPass123","root_password":"RootPass123"}`))
	setup.Header.Set("Content-Type", "application/json")
	r = e.serveRemote(setup, "192.0.2.1:999")
	wantStatus(t, r, http.StatusForbidden)
	wantJSON(t, r.body, `{"error":"forbidden","message":"Server setup can only be performed from localhost"}`)

	open := newTestEnv(t, Options{AllowRemoteSetup: true})
	wantStatus(t, open.serveRemote(httptest.NewRequest(http.MethodGet, "/v1/api/auth/status", nil), "192.0.2.1:999"), http.StatusOK)
}

// http-api.md §3.1 and §3.4: the Bearer-only extractor on sql, topics and
// files; every rejection is shape B, and a valid token works afterwards.
func TestBearerRejections(t *testing.T) {
	e := rootEnv(t)
	login := e.login("alice", "AlicePass123!")
	access, refresh := login["access_token"].(string), login["refresh_token"].(string)
	otherIssuer := func() string {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","iss":"evil","exp":4102444800,"iat":1,"email":null,"role":"user","token_type":"access"}`))
		return jwtHeader + "." + payload + "." + e.s.hs256(jwtHeader+"."+payload)
	}()
	noType := func() string {
		payload := base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"alice","iss":"kalamdb","exp":4102444800,"iat":1,"email":null,"role":"user"}`))
		return jwtHeader + "." + payload + "." + e.s.hs256(jwtHeader+"."+payload)
	}()
	cases := []struct {
		name    string
		headers []string
		code    string
	}{
		{"no header", nil, "MISSING_AUTHORIZATION"},
		{"basic", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:AlicePass123!"))}, "INVALID_CREDENTIALS"},
		{"basic lower case", []string{"Authorization", "basic eDp5"}, "INVALID_CREDENTIALS"},
		{"lower-case bearer", []string{"Authorization", "bearer " + access}, "INVALID_CREDENTIALS"},
		{"empty bearer", []string{"Authorization", "Bearer   "}, "INVALID_CREDENTIALS"},
		{"other scheme", []string{"Authorization", "Token " + access}, "INVALID_CREDENTIALS"},
		{"garbage", []string{"Authorization", "Bearer not.a.jwt"}, "INVALID_CREDENTIALS"},
		{"forged signature", []string{"Authorization", "Bearer " + forge(access)}, "INVALID_CREDENTIALS"},
		{"refresh token", []string{"Authorization", "Bearer " + refresh}, "INVALID_CREDENTIALS"},
		{"other issuer", []string{"Authorization", "Bearer " + otherIssuer}, "INVALID_CREDENTIALS"},
		{"no token_type", []string{"Authorization", "Bearer " + noType}, "INVALID_CREDENTIALS"},
		{"cookie only", []string{"Cookie", "kalamdb_auth=" + access}, "MISSING_AUTHORIZATION"},
	}
	paths := []struct{ method, path, body string }{
		{http.MethodPost, "/v1/api/sql", `{"sql":"SELECT 1"}`},
		{http.MethodPost, "/v1/api/topics/consume", `{"topic_id":"t","group_id":"g"}`},
		{http.MethodPost, "/v1/api/topics/ack", `{"topic_id":"t","group_id":"g","upto_offset":1}`},
		{http.MethodGet, "/v1/files/app/docs/f0001/1-a.txt", ""},
	}
	for _, p := range paths {
		for _, tc := range cases {
			t.Run(p.path+"/"+tc.name, func(t *testing.T) {
				r := e.do(p.method, p.path, "application/json", []byte(p.body), tc.headers...)
				wantShapeB(t, r, tc.code)
			})
		}
	}
	wantStatus(t, e.sql(access, `{"sql":"SELECT 1"}`), http.StatusOK)
	// "Bearer" is matched without a space, as the real prefix check does.
	wantStatus(t, e.postJSON("/v1/api/sql", `{"sql":"SELECT 1"}`, "Authorization", "Bearer"+access), http.StatusOK)

	// Role changed or user dropped since the token was issued.
	svc := e.token("svc", "SvcPass123!")
	e.db.setRole("svc", engine.RoleDBA)
	wantShapeB(t, e.sql(svc, `{"sql":"SELECT 1"}`), "INVALID_CREDENTIALS")
	e.db.deleteUser("alice")
	wantShapeB(t, e.sql(access, `{"sql":"SELECT 1"}`), "INVALID_CREDENTIALS")
}

// http-api.md §3.4: an expired token is TOKEN_EXPIRED; jsonwebtoken's 60 s
// leeway applies; a short TokenTTL shortens it.
func TestTokenExpiry(t *testing.T) {
	e := newTestEnv(t, Options{RootPassword: testRootPassword, TokenTTL: time.Minute})
	e.s.SetNow(time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	m := e.login("root", testRootPassword)
	require.EqualValues(t, "2026-06-01T00:01:00+00:00", m["expires_at"])
	require.EqualValues(t, "2026-06-01T00:07:00+00:00", m["refresh_expires_at"], "expiries %v %v", m["expires_at"], m["refresh_expires_at"])
	token := m["access_token"].(string)
	e.s.Advance(2 * time.Minute) // past exp, inside the leeway
	wantStatus(t, e.sql(token, `{"sql":"SELECT 1"}`), http.StatusOK)
	e.s.Advance(time.Second)
	wantShapeB(t, e.sql(token, `{"sql":"SELECT 1"}`), "TOKEN_EXPIRED")
	// The refresh token (7 × TTL) still mints a working access token.
	r := e.do(http.MethodPost, "/v1/api/auth/refresh", "", nil, "Authorization", "Bearer "+m["refresh_token"].(string))
	wantStatus(t, r, http.StatusOK)
	var fresh struct {
		AccessToken string `json:"access_token"`
	}
	require.NoError(t, json.Unmarshal(r.body, &fresh))
	wantStatus(t, e.sql(fresh.AccessToken, `{"sql":"SELECT 1"}`), http.StatusOK)

	// A token issued more than the leeway in the future is refused.
	e.s.Advance(-10 * time.Minute)
	wantShapeB(t, e.sql(fresh.AccessToken, `{"sql":"SELECT 1"}`), "INVALID_CREDENTIALS")
}
