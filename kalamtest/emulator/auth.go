package emulator

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// Cookie names set by login and refresh (http-api.md §4.1).
const (
	authCookie    = "kalamdb_auth"
	refreshCookie = "kalamdb_refresh"
)

// authenticateBearer is the real AuthSessionExtractor used by sql, topics,
// files and exports: Bearer access tokens only, failures in shape B
// (http-api.md §3.1, §3.4). It writes the error and returns false on failure.
func (s *Server) authenticateBearer(w http.ResponseWriter, r *http.Request, start time.Time) (engine.Identity, bool) {
	fail := func(code, message string) (engine.Identity, bool) {
		writeAuthExtractorError(w, http.StatusUnauthorized, code, message, since(start))
		return engine.Identity{}, false
	}
	values, present := r.Header["Authorization"]
	if !present || len(values) == 0 {
		return fail("MISSING_AUTHORIZATION", "Authentication required")
	}
	header := values[0]
	if strings.HasPrefix(strings.ToLower(strings.TrimLeft(header, " \t")), "basic ") {
		return fail("INVALID_CREDENTIALS", "Invalid credentials")
	}
	// The scheme is matched case-sensitively and without requiring a space,
	// as authenticate_header does.
	rest, ok := strings.CutPrefix(header, "Bearer")
	token := strings.TrimSpace(rest)
	if !ok || token == "" {
		return fail("INVALID_CREDENTIALS", "Invalid credentials")
	}
	u, err := s.userForAccessToken(token)
	if errors.Is(err, errTokenExpired) {
		return fail("TOKEN_EXPIRED", "Invalid credentials")
	}
	if err != nil {
		return fail("INVALID_CREDENTIALS", "Invalid credentials")
	}
	return engine.Identity{UserID: u.ID, Role: u.Role}, true
}

// errTokenRejected covers the bearer checks after decoding: wrong token
// type, unknown or deleted user, role changed since issue.
var errTokenRejected = errors.New("token rejected")

// userForAccessToken validates an access token as authenticate_bearer does.
func (s *Server) userForAccessToken(token string) (engine.User, error) {
	c, err := s.verifyToken(token)
	if err != nil {
		return engine.User{}, err
	}
	if c.TokenType == nil || *c.TokenType != tokenAccess {
		return engine.User{}, errTokenRejected
	}
	u, ok := s.db.LookupUser(c.Sub)
	if !ok || u.Deleted {
		return engine.User{}, errTokenRejected
	}
	if c.Role != nil && *c.Role != string(u.Role) {
		return engine.User{}, errTokenRejected
	}
	return u, nil
}

// authErrorMessage maps a token failure to the message that
// map_auth_error_to_response gives it on the /auth endpoints: malformed
// tokens carry the decoder's text, everything else is "Invalid credentials".
func authErrorMessage(err error) string {
	if errors.Is(err, errTokenMalformed) {
		return strings.TrimPrefix(err.Error(), errTokenMalformed.Error()+": ")
	}
	if errors.Is(err, errTokenNoSubject) {
		return "Token is missing required claims"
	}
	return "Invalid credentials"
}

// userInfo is UserInfo, in the real field order.
type userInfo struct {
	ID        string  `json:"id"`
	Role      string  `json:"role"`
	Email     *string `json:"email"`
	CreatedAt string  `json:"created_at"`
	UpdatedAt string  `json:"updated_at"`
}

func newUserInfo(u engine.User) userInfo {
	return userInfo{
		ID: u.ID, Role: string(u.Role), Email: u.Email,
		// Stored as milliseconds by the real server.
		CreatedAt: rfc3339(u.CreatedAt.Truncate(time.Millisecond)),
		UpdatedAt: rfc3339(u.UpdatedAt.Truncate(time.Millisecond)),
	}
}

// loginResponse is LoginResponse (login and refresh).
type loginResponse struct {
	User             userInfo `json:"user"`
	AdminUIAccess    bool     `json:"admin_ui_access"`
	ExpiresAt        string   `json:"expires_at"`
	AccessToken      string   `json:"access_token"`
	RefreshToken     string   `json:"refresh_token"`
	RefreshExpiresAt string   `json:"refresh_expires_at"`
}

// rfc3339 formats as chrono's to_rfc3339: "+00:00" and 0, 3, 6 or 9
// fraction digits.
func rfc3339(t time.Time) string {
	t = t.UTC()
	frac := ""
	switch ns := t.Nanosecond(); {
	case ns == 0:
	case ns%1_000_000 == 0:
		frac = fmt.Sprintf(".%03d", ns/1_000_000)
	case ns%1_000 == 0:
		frac = fmt.Sprintf(".%06d", ns/1_000)
	default:
		frac = fmt.Sprintf(".%09d", ns)
	}
	return t.Format("2006-01-02T15:04:05") + frac + "+00:00"
}

// issueTokens answers a successful login or refresh: both tokens, both
// cookies, the LoginResponse body.
func (s *Server) issueTokens(w http.ResponseWriter, u engine.User) {
	now := s.clock.Now()
	access, err := s.signToken(u, tokenAccess, now, s.accessTTL)
	if err != nil {
		writeAuthError(w, http.StatusInternalServerError, "internal_error", "Failed to generate token")
		return
	}
	refresh, err := s.signToken(u, tokenRefresh, now, s.refreshTTL)
	if err != nil {
		writeAuthError(w, http.StatusInternalServerError, "internal_error", "Failed to generate token")
		return
	}
	setTokenCookie(w, authCookie, access, now.Add(s.accessTTL))
	setTokenCookie(w, refreshCookie, refresh, now.Add(s.refreshTTL))
	writeJSON(w, http.StatusOK, loginResponse{
		User:             newUserInfo(u),
		AdminUIAccess:    u.Role.IsAdmin(),
		ExpiresAt:        rfc3339(now.Add(s.accessTTL)),
		AccessToken:      access,
		RefreshToken:     refresh,
		RefreshExpiresAt: rfc3339(now.Add(s.refreshTTL)),
	})
}

// setTokenCookie adds the real cookie: HttpOnly, SameSite=Strict, Path=/,
// Expires at the token's expiry, in the order actix's cookie crate writes
// them (kalamdb-api/src/http/auth/login.rs builds it), which differs from
// http.SetCookie's. Secure only applies over https, which the emulator does
// not serve. Values are JWTs or empty, so they need no quoting.
func setTokenCookie(w http.ResponseWriter, name, value string, expires time.Time) {
	w.Header().Add("Set-Cookie", name+"="+value+"; HttpOnly; SameSite=Strict; Path=/; Expires="+
		expires.UTC().Format(http.TimeFormat))
}

// credentials are LoginRequest / ServerSetupRequest fields after decoding.
type credentials struct {
	user, password, rootPassword string
	email                        *string
}

// decodeCredentials parses a deny_unknown_fields body with `user`,
// `password`, and for setup `root_password` and `email`. Only setup takes
// `username` for `user` (kalamdb-api/src/http/auth/models/setup_request.rs
// has the serde alias, login_request.rs does not).
// Errors read as actix's "Json deserialize error: ...".
func decodeCredentials(body []byte, setup bool) (credentials, error) {
	var c credentials
	expected := "struct LoginRequest"
	allowed := "`user` or `password`"
	if setup {
		expected = "struct ServerSetupRequest"
		allowed = "one of `user`, `username`, `password`, `root_password`, `email`"
	}
	fields, err := decodeObject(body, expected)
	if err != nil {
		return c, err
	}
	seen := map[string]bool{}
	for _, f := range fields {
		name := f.key
		if setup && name == "username" {
			name = "user"
		}
		known := name == "user" || name == "password" || (setup && (name == "root_password" || name == "email"))
		if !known {
			return c, serdeError(body, f.keyEnd, fmt.Sprintf("unknown field `%s`, expected %s", f.key, allowed))
		}
		if seen[name] {
			return c, serdeError(body, f.keyEnd, fmt.Sprintf("duplicate field `%s`", name))
		}
		seen[name] = true
		if name == "email" {
			if isJSONNull(f.raw) {
				continue
			}
			e, err := stringField(body, f)
			if err != nil {
				return c, err
			}
			c.email = &e
			continue
		}
		v, err := stringField(body, f)
		if err != nil {
			return c, err
		}
		switch name {
		case "user":
			if len(v) > loginUserMaxBytes {
				return c, serdeError(body, int64(len(body)), fmt.Sprintf("user exceeds maximum length of %d characters", loginUserMaxBytes))
			}
			c.user = v
		case "password", "root_password":
			if len(v) > loginPasswordMaxBytes {
				return c, serdeError(body, int64(len(body)), fmt.Sprintf("password exceeds maximum length of %d characters", loginPasswordMaxBytes))
			}
			if name == "password" {
				c.password = v
			} else {
				c.rootPassword = v
			}
		}
	}
	required := []string{"user", "password"}
	if setup {
		required = append(required, "root_password")
	}
	for _, name := range required {
		if !seen[name] {
			return c, serdeError(body, int64(len(body)), fmt.Sprintf("missing field `%s`", name))
		}
	}
	return c, nil
}

// readCredentials runs the web::Json<...> extractor; on failure it writes
// actix's plain-text error and returns false.
func readCredentials(w http.ResponseWriter, r *http.Request, setup bool) (credentials, bool) {
	body, jerr := readJSONBody(r)
	if jerr != nil {
		writeActixError(w, jerr.status, jerr.text)
		return credentials{}, false
	}
	c, err := decodeCredentials(body, setup)
	if err != nil {
		writeActixError(w, http.StatusBadRequest, "Json deserialize error: "+err.Error())
		return credentials{}, false
	}
	return c, true
}

// handleLogin is POST /v1/api/auth/login (http-api.md §4.1).
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r, false)
	if !ok {
		return
	}
	ip := clientIP(r)
	if !s.authLimiter.allow(ip) {
		writeAuthError(w, http.StatusTooManyRequests, "rate_limited", "Too many authentication attempts. Please retry shortly.")
		return
	}
	u, status, code, msg := s.checkLogin(c.user, c.password, isLocalhost(ip))
	if status != http.StatusOK {
		writeAuthError(w, status, code, msg)
		return
	}
	s.issueTokens(w, u)
}

// checkLogin is authenticate_user_password (services/unified/password.rs):
// lockout, the root-without-password cases, the localhost rules for system
// users, failure counting.
func (s *Server) checkLogin(name, password string, localhost bool) (engine.User, int, string, string) {
	invalid := func() (engine.User, int, string, string) {
		return engine.User{}, http.StatusUnauthorized, "unauthorized", "Invalid credentials"
	}
	if strings.TrimSpace(name) == "" || !validUserID(name) {
		return invalid()
	}
	u, ok := s.db.LookupUser(name)
	if !ok || u.Deleted {
		return invalid()
	}
	now := s.clock.Now()
	if remaining, locked := s.lockout.locked(u.ID, now); locked {
		minutes := (int64(remaining/time.Second) + 59) / 60
		return engine.User{}, http.StatusUnauthorized, "account_locked", fmt.Sprintf("%d minute(s)", minutes)
	}
	if u.ID == "root" && !u.HasPassword && password == "" {
		return engine.User{}, http.StatusPreconditionRequired, "setup_required",
			"Server requires initial setup. Root password is not configured."
	}
	success := false
	switch {
	case u.Role == engine.RoleSystem && !localhost && !u.HasPassword:
		return engine.User{}, http.StatusForbidden, "forbidden",
			"System users with empty passwords cannot authenticate remotely. Set a password with: ALTER USER root SET PASSWORD '...'"
	case u.Role != engine.RoleSystem && !u.HasPassword:
		// No failure is recorded for a user that has no password at all.
		return invalid()
	default:
		if password != "" && u.HasPassword {
			_, success = s.db.CheckPassword(u.ID, password)
		}
	}
	if !success {
		s.lockout.fail(u.ID, now)
		return invalid()
	}
	s.lockout.succeed(u.ID)
	return u, http.StatusOK, "", ""
}

// validUserID is UserId::try_new: not empty, no "..", "/", "\" or NUL.
func validUserID(id string) bool {
	return id != "" && !strings.Contains(id, "..") && !strings.ContainsAny(id, "/\\\x00")
}

// handleRefresh is POST /v1/api/auth/refresh (http-api.md §4.2).
func (s *Server) handleRefresh(w http.ResponseWriter, r *http.Request) {
	if !s.authLimiter.allow(clientIP(r)) {
		writeAuthError(w, http.StatusTooManyRequests, "rate_limited", "Too many authentication attempts. Please retry shortly.")
		return
	}
	token, msg := refreshOrBearerToken(r)
	if msg != "" {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", msg)
		return
	}
	c, err := s.verifyToken(token)
	if err != nil {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", authErrorMessage(err))
		return
	}
	if c.TokenType == nil || *c.TokenType != tokenRefresh {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", "Refresh endpoint requires a refresh token")
		return
	}
	u, ok := s.db.LookupUser(c.Sub)
	if !ok || u.Deleted {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", "User no longer valid")
		return
	}
	if c.Role != nil && *c.Role != string(u.Role) {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", "Token role does not match user role")
		return
	}
	s.issueTokens(w, u)
}

// refreshOrBearerToken is extract_refresh_or_bearer_token: the refresh
// cookie first, then an Authorization header with a Bearer scheme
// (case-insensitive). It returns the token or the error message.
func refreshOrBearerToken(r *http.Request) (string, string) {
	if c, err := r.Cookie(refreshCookie); err == nil {
		return c.Value, ""
	}
	if token, msg, present := bearerFromHeader(r); present {
		return token, msg
	}
	return "", "No refresh token found"
}

// bearerFromHeader splits the Authorization header on its first space and
// matches the scheme case-insensitively, as the /auth handlers do.
func bearerFromHeader(r *http.Request) (token, msg string, present bool) {
	values, ok := r.Header["Authorization"]
	if !ok || len(values) == 0 {
		return "", "", false
	}
	scheme, rest, _ := strings.Cut(values[0], " ")
	if !strings.EqualFold(strings.TrimSpace(scheme), "Bearer") {
		return "", "Authorization header must use Bearer token", true
	}
	token = strings.TrimSpace(rest)
	if token == "" {
		return "", "Bearer token missing", true
	}
	return token, "", true
}

// handleLogout is POST /v1/api/auth/logout (http-api.md §4.3): it only
// expires the cookies; tokens stay valid.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	for _, name := range []string{authCookie, refreshCookie} {
		setTokenCookie(w, name, "", time.Unix(0, 0))
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Logged out successfully"})
}

// handleMe is GET /v1/api/auth/me (http-api.md §4.4).
func (s *Server) handleMe(w http.ResponseWriter, r *http.Request) {
	token, msg, present := bearerFromHeader(r)
	if !present {
		if c, err := r.Cookie(authCookie); err == nil {
			token = c.Value
		} else {
			msg = "No auth token found"
		}
	}
	if msg != "" {
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", msg)
		return
	}
	u, err := s.userForAccessToken(token)
	if err != nil {
		msg := authErrorMessage(err)
		// Bearer auth reads the header through the OIDC helper first
		// (kalamdb-auth/src/oidc/utils.rs extract_algorithm_unverified), so
		// a bad header carries OidcError's prefix here, unlike on refresh.
		if strings.HasPrefix(msg, "Invalid JWT header: ") {
			msg = "JWT validation failed: " + msg
		}
		writeAuthError(w, http.StatusUnauthorized, "unauthorized", msg)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		User          userInfo `json:"user"`
		AdminUIAccess bool     `json:"admin_ui_access"`
	}{newUserInfo(u), u.Role.IsAdmin()})
}

// handleSetupStatus is GET /v1/api/auth/status (http-api.md §4.5).
func (s *Server) handleSetupStatus(w http.ResponseWriter, r *http.Request) {
	if !s.opts.AllowRemoteSetup && !isLocalhost(clientIP(r)) {
		writeAuthError(w, http.StatusForbidden, "forbidden", "Setup status can only be checked from localhost")
		return
	}
	needsSetup := !s.db.RootHasPassword()
	msg := "Server is configured and ready."
	if needsSetup {
		msg = "Server requires initial setup. Call POST /v1/api/auth/setup with user, password, root_password, and optional email."
	}
	writeJSON(w, http.StatusOK, map[string]any{"needs_setup": needsSetup, "message": msg})
}

// handleSetup is POST /v1/api/auth/setup (http-api.md §4.6), checks in the
// real order.
func (s *Server) handleSetup(w http.ResponseWriter, r *http.Request) {
	c, ok := readCredentials(w, r, true)
	if !ok {
		return
	}
	ip := clientIP(r)
	if !s.authLimiter.allow(ip) {
		writeAuthError(w, http.StatusTooManyRequests, "rate_limited", "Too many setup attempts. Please retry shortly.")
		return
	}
	if !s.opts.AllowRemoteSetup && !isLocalhost(ip) {
		writeAuthError(w, http.StatusForbidden, "forbidden", "Server setup can only be performed from localhost")
		return
	}
	if s.db.RootHasPassword() {
		writeAuthError(w, http.StatusConflict, "already_configured", "Server has already been configured. Root password is set.")
		return
	}
	if msg := passwordPolicyError(c.password); msg != "" {
		writeAuthError(w, http.StatusBadRequest, "weak_password", "DBA user password: Weak password: "+msg)
		return
	}
	if msg := passwordPolicyError(c.rootPassword); msg != "" {
		writeAuthError(w, http.StatusBadRequest, "weak_password", "Root password: Weak password: "+msg)
		return
	}
	if !validUserID(c.user) {
		writeAuthError(w, http.StatusBadRequest, "invalid_user", "Invalid user value")
		return
	}
	if c.user == "root" {
		writeAuthError(w, http.StatusBadRequest, "invalid_user", "Cannot create a DBA user with user 'root'. Choose a different user.")
		return
	}
	if _, exists := s.db.LookupUser(c.user); exists {
		writeAuthError(w, http.StatusConflict, "user_exists", fmt.Sprintf("User '%s' already exists", c.user))
		return
	}
	u, err := s.db.SetupServer(c.user, c.password, c.rootPassword, c.email)
	if err != nil {
		s.logger.Error("setup failed", "error", err)
		writeAuthError(w, http.StatusInternalServerError, "internal_error", "Failed to create DBA user")
		return
	}
	writeJSON(w, http.StatusOK, struct {
		User    userInfo `json:"user"`
		Message string   `json:"message"`
	}{newUserInfo(u), fmt.Sprintf("Server setup complete. Root password configured and DBA user '%s' created. Please login to continue.", u.ID)})
}

// commonPasswords is the server's built-in list (security/password.rs).
var commonPasswords = map[string]bool{
	"password": true, "123456": true, "12345678": true, "qwerty": true, "abc123": true,
	"monkey": true, "1234567": true, "letmein": true, "trustno1": true, "dragon": true,
	"baseball": true, "iloveyou": true, "master": true, "sunshine": true, "ashley": true,
	"bailey": true, "passw0rd": true, "shadow": true, "123123": true, "654321": true,
	"superman": true, "qazwsx": true, "michael": true, "football": true,
}

// passwordPolicyError is validate_password with the default policy; "" when
// the password passes.
func passwordPolicyError(pw string) string {
	switch {
	case len(pw) < 8:
		return "Password must be at least 8 characters (weak)"
	case len(pw) > 72:
		return "Password must be at most 72 characters (bcrypt limit, weak)"
	case commonPasswords[pw]:
		return "Password is too common"
	}
	return ""
}

// loginTracker is the server's lockout: 5 failures lock the account for
// 15 minutes; a success resets the count. The count is not reset when a
// lock expires, so the next failure locks again at once, as real.
type loginTracker struct {
	mu    sync.Mutex
	users map[string]*loginFailures
}

type loginFailures struct {
	count       int
	lockedUntil time.Time
}

func newLoginTracker() *loginTracker { return &loginTracker{users: map[string]*loginFailures{}} }

func (t *loginTracker) locked(user string, now time.Time) (time.Duration, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.users[user]
	if f == nil || !f.lockedUntil.After(now) {
		return 0, false
	}
	return f.lockedUntil.Sub(now), true
}

func (t *loginTracker) fail(user string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.users[user]
	if f == nil {
		f = &loginFailures{}
		t.users[user] = f
	}
	f.count++
	if f.count >= maxFailedLogins {
		f.lockedUntil = now.Add(lockoutDuration)
	}
}

func (t *loginTracker) succeed(user string) {
	t.mu.Lock()
	delete(t.users, user)
	t.mu.Unlock()
}

// clientIP is extract_client_ip_secure (http-api.md §1.1): the TCP peer,
// unless the peer is loopback and X-Forwarded-For (first entry) or
// X-Real-IP names a non-localhost address.
func clientIP(r *http.Request) string {
	peer, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		peer = r.RemoteAddr
	}
	if ip := net.ParseIP(peer); ip == nil || !ip.IsLoopback() {
		return peer
	}
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if ip := proxyHeaderIP(strings.TrimSpace(first)); ip != "" {
			return ip
		}
	}
	if ip := proxyHeaderIP(strings.TrimSpace(r.Header.Get("X-Real-IP"))); ip != "" {
		return ip
	}
	return peer
}

// proxyHeaderIP accepts a proxy header's address unless it is empty,
// unparseable, or a localhost value (which the real server ignores).
func proxyHeaderIP(v string) string {
	if v == "" || v == "::1" || strings.HasPrefix(v, "127.") || strings.EqualFold(v, "localhost") {
		return ""
	}
	ip := net.ParseIP(v)
	if ip == nil {
		return ""
	}
	return ip.String()
}

// isLocalhost is ConnectionInfo::is_localhost: only 127.0.0.1, ::1 and
// localhost count; other 127.x addresses do not.
func isLocalhost(ip string) bool {
	return ip == "127.0.0.1" || ip == "::1" || ip == "localhost"
}
