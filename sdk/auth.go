package sdk

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/sdk/internal/redact"
)

// Credentials is what an AuthProvider hands the client: either a ready
// access token (JWT), or a user and password to exchange at
// /v1/api/auth/login.
type Credentials struct {
	Token    string
	User     string
	Password string
}

// String hides the secrets so Credentials can be logged safely.
func (c Credentials) String() string {
	switch {
	case c.Token != "":
		return "Credentials{Token: [REDACTED]}"
	case c.User != "":
		return fmt.Sprintf("Credentials{User: %q, Password: [REDACTED]}", c.User)
	}
	return "Credentials{}"
}

// GoString hides the secrets from %#v too.
func (c Credentials) GoString() string { return c.String() }

// AuthProvider returns credentials on demand (OAuth, OIDC, a secret manager).
// The client calls it whenever it needs a token: before the first
// authenticated request and again each time the server reports
// TOKEN_EXPIRED. It may be called from several goroutines, though the
// client never runs two renewals at once.
type AuthProvider func(ctx context.Context) (Credentials, error)

// WithBasicAuth makes the client log in with user and password at
// /v1/api/auth/login and use the JWT it gets. The password is never sent in
// an Authorization header (KalamDB rejects Basic auth). A password the server
// rejects is not sent again by this client (KalamDB locks the account after
// five failures): later calls fail at once with the same error, matching
// ErrInvalidCredentials or ErrAccountLocked.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) error {
		if user == "" {
			return errors.New("sdk: WithBasicAuth: user is empty")
		}
		a := c.auth
		a.modes++
		a.user, a.password, a.hasBasic = user, password, true
		a.secrets.Keep(password)
		return nil
	}
}

// WithToken makes the client send a fixed access token. When it expires the
// client cannot renew it (calls fail with ErrTokenExpired): use
// WithAuthProvider for tokens that rotate.
func WithToken(jwt string) Option {
	return func(c *Client) error {
		jwt = strings.TrimSpace(jwt)
		if jwt == "" {
			return errors.New("sdk: WithToken: token is empty")
		}
		a := c.auth
		a.modes++
		a.static, a.access, a.gen = jwt, jwt, 1
		a.secrets.Keep(jwt)
		return nil
	}
}

// WithAuthProvider makes the client ask p for credentials whenever it needs
// a token (see AuthProvider).
func WithAuthProvider(p AuthProvider) Option {
	return func(c *Client) error {
		if p == nil {
			return errors.New("sdk: WithAuthProvider: provider is nil")
		}
		c.auth.modes++
		c.auth.provider = p
		return nil
	}
}

// authState holds the tokens. Renewals are single-flight: concurrent calls
// that meet the same expired token share one refresh.
type authState struct {
	modes    int
	user     string
	password string
	hasBasic bool
	static   string
	provider AuthProvider
	// secrets are the passwords and tokens this client sends, hidden in
	// every error and log line (opaque tokens match no pattern).
	secrets redact.Set

	mu      sync.Mutex
	access  string
	refresh string
	// gen counts token changes, so a caller holding a stale token can tell
	// whether someone already renewed it.
	gen      uint64
	renewing *renewal
	// basicRefused is the login failure of a WithBasicAuth password the
	// server rejected; it is returned from then on without a new attempt.
	basicRefused error
}

type renewal struct {
	done chan struct{}
	err  error
}

func (a *authState) validate() error {
	if a.modes > 1 {
		return errors.New("sdk: choose one of WithBasicAuth, WithToken and WithAuthProvider")
	}
	return nil
}

func (a *authState) canRenew() bool { return a.hasBasic || a.provider != nil }

func (a *authState) set(access, refresh string) {
	a.secrets.Add(access)
	a.secrets.Add(refresh)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.access = access
	if refresh != "" {
		a.refresh = refresh
	}
	a.gen++
}

// accessToken returns the token to send (possibly "" when the client has no
// credentials at all) and its generation.
func (c *Client) accessToken(ctx context.Context) (string, uint64, error) {
	a := c.auth
	a.mu.Lock()
	tok, gen := a.access, a.gen
	a.mu.Unlock()
	if tok != "" || (!a.canRenew() && a.refresh == "") {
		return tok, gen, nil
	}
	if err := c.renewToken(ctx, gen); err != nil {
		return "", 0, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.access, a.gen, nil
}

// renewToken obtains a new access token unless someone already replaced
// the one of generation staleGen. Concurrent callers share one renewal; it
// runs detached from any single caller's context (bounded by the client's
// timeout and lifetime) so that one caller giving up does not fail the rest.
func (c *Client) renewToken(ctx context.Context, staleGen uint64) error {
	a := c.auth
	a.mu.Lock()
	if a.gen != staleGen && a.access != "" {
		a.mu.Unlock()
		return nil
	}
	r := a.renewing
	if r == nil {
		r = &renewal{done: make(chan struct{})}
		a.renewing = r
		go c.runRenewal(r)
	}
	a.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctxError(ctx)
	}
}

func (c *Client) runRenewal(r *renewal) {
	ctx, cancel, err := c.callContext(context.Background())
	if err == nil {
		r.err = c.obtainToken(ctx)
		cancel()
	} else {
		r.err = err
	}
	a := c.auth
	a.mu.Lock()
	a.renewing = nil
	a.mu.Unlock()
	close(r.done)
}

// obtainToken tries the refresh token first, then the provider or the
// login credentials.
func (c *Client) obtainToken(ctx context.Context) error {
	a := c.auth
	a.mu.Lock()
	refresh := a.refresh
	a.mu.Unlock()
	var refreshErr error
	if refresh != "" {
		lr, err := c.refreshWith(ctx, refresh)
		if err == nil {
			a.set(lr.AccessToken, lr.RefreshToken)
			c.log.Debug("kalamdb token refreshed")
			return nil
		}
		if ctx.Err() != nil {
			return ctxError(ctx)
		}
		refreshErr = err
		c.log.Debug("kalamdb refresh failed; falling back", "error", err)
	}
	switch {
	case a.provider != nil:
		creds, err := a.provider(ctx)
		if err != nil {
			return fmt.Errorf("sdk: auth provider: %w", err)
		}
		switch {
		case creds.Token != "":
			a.mu.Lock()
			a.refresh = "" // belongs to an earlier identity
			a.mu.Unlock()
			a.set(strings.TrimSpace(creds.Token), "")
			return nil
		case creds.User != "":
			_, err := c.login(ctx, creds.User, creds.Password)
			return err
		}
		return errors.New("sdk: auth provider returned neither a token nor a user")
	case a.hasBasic:
		a.mu.Lock()
		refused := a.basicRefused
		a.mu.Unlock()
		if refused != nil {
			return refused
		}
		_, err := c.login(ctx, a.user, a.password)
		if errors.Is(err, ErrInvalidCredentials) || errors.Is(err, ErrAccountLocked) {
			// Never sent again: KalamDB locks the account after five
			// failures, and the password of WithBasicAuth cannot change.
			a.mu.Lock()
			a.basicRefused = fmt.Errorf("%w (not sent again: the server refused this password)", err)
			a.mu.Unlock()
		}
		return err
	case a.static != "":
		return fmt.Errorf("%w: the token given with WithToken cannot be renewed; use WithAuthProvider for rotating tokens", ErrTokenExpired)
	case refreshErr != nil:
		return fmt.Errorf("sdk: refreshing the token: %w", refreshErr)
	}
	return errors.New("sdk: no credentials configured")
}

// UserInfo describes a KalamDB user as the auth endpoints return it.
type UserInfo struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	Email     string    `json:"email"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LoginResponse is the reply of Login and Refresh. Its String and LogValue
// methods hide the tokens (LogValue is not in browser builds, whose
// slog text output still goes through String).
type LoginResponse struct {
	User             UserInfo  `json:"user"`
	AdminUIAccess    bool      `json:"admin_ui_access"`
	ExpiresAt        time.Time `json:"expires_at"`
	AccessToken      string    `json:"access_token"`
	RefreshToken     string    `json:"refresh_token"`
	RefreshExpiresAt time.Time `json:"refresh_expires_at"`
}

func (l LoginResponse) String() string {
	return fmt.Sprintf("LoginResponse{User: %q, Role: %q, ExpiresAt: %s, AccessToken: [REDACTED], RefreshToken: [REDACTED]}",
		l.User.ID, l.User.Role, l.ExpiresAt.Format(time.RFC3339))
}

// GoString hides the tokens from %#v too.
func (l LoginResponse) GoString() string { return l.String() }

// Login exchanges user and password for tokens at /v1/api/auth/login. The
// client keeps the tokens and uses them for later calls (and the refresh
// token to renew them). HTTP 428 is reported as ErrSetupRequired, wrong
// credentials as ErrInvalidCredentials.
func (c *Client) Login(ctx context.Context, user, password string) (*LoginResponse, error) {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	return c.login(ctx, user, password)
}

func (c *Client) login(ctx context.Context, user, password string) (*LoginResponse, error) {
	c.auth.secrets.Keep(password) // before sending: a reply may echo it
	// {"password", "user"}: json.Marshal's bytes for the map of the two.
	body := jsonlite.AppendString([]byte(`{"password":`), password)
	body = append(jsonlite.AppendString(append(body, `,"user":`...), user), '}')
	var lr LoginResponse
	if err := c.exchange(ctx, &request{method: "POST", path: "/v1/api/auth/login", body: jsonBody(body), idempotent: true}, &lr); err != nil {
		return nil, fmt.Errorf("sdk: login as %q: %w", user, err)
	}
	if lr.AccessToken == "" {
		return nil, fmt.Errorf("sdk: login as %q: %w", user, &ResponseError{HTTPStatus: 200, Reason: "login reply has no access_token"})
	}
	c.auth.set(lr.AccessToken, lr.RefreshToken)
	return &lr, nil
}

// Refresh exchanges the refresh token the client holds (from Login or an
// earlier Refresh) for new tokens, and keeps the newest ones.
func (c *Client) Refresh(ctx context.Context) (*LoginResponse, error) {
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	c.auth.mu.Lock()
	rt := c.auth.refresh
	c.auth.mu.Unlock()
	if rt == "" {
		return nil, errors.New("sdk: Refresh: the client holds no refresh token (log in first)")
	}
	lr, err := c.refreshWith(ctx, rt)
	if err != nil {
		return nil, err
	}
	c.auth.set(lr.AccessToken, lr.RefreshToken)
	return lr, nil
}

func (c *Client) refreshWith(ctx context.Context, refreshToken string) (*LoginResponse, error) {
	var lr LoginResponse
	if err := c.exchange(ctx, &request{method: "POST", path: "/v1/api/auth/refresh", bearer: refreshToken, idempotent: true}, &lr); err != nil {
		return nil, fmt.Errorf("sdk: refresh: %w", err)
	}
	if lr.AccessToken == "" {
		return nil, fmt.Errorf("sdk: refresh: %w", &ResponseError{HTTPStatus: 200, Reason: "refresh reply has no access_token"})
	}
	return &lr, nil
}

// Logout tells the server to drop its auth cookies and forgets the tokens
// the client holds. KalamDB does not revoke JWTs; with WithBasicAuth or
// WithAuthProvider the next call obtains a new token.
func (c *Client) Logout(ctx context.Context) error {
	err := c.doJSON(ctx, &request{method: "POST", path: "/v1/api/auth/logout"}, nil)
	a := c.auth
	a.mu.Lock()
	if a.static == "" {
		a.access = ""
	}
	a.refresh = ""
	a.gen++
	a.mu.Unlock()
	if err != nil {
		return fmt.Errorf("sdk: logout: %w", err)
	}
	return nil
}

// Me describes the authenticated caller (GET /v1/api/auth/me).
type Me struct {
	User          UserInfo `json:"user"`
	AdminUIAccess bool     `json:"admin_ui_access"`
}

// Me returns the user the client is authenticated as.
func (c *Client) Me(ctx context.Context) (*Me, error) {
	var me Me
	if err := c.doJSON(ctx, &request{method: "GET", path: "/v1/api/auth/me", authed: true, idempotent: true}, &me); err != nil {
		return nil, fmt.Errorf("sdk: me: %w", err)
	}
	return &me, nil
}

// SetupStatus is the reply of GET /v1/api/auth/status.
type SetupStatus struct {
	NeedsSetup bool   `json:"needs_setup"`
	Message    string `json:"message"`
}

// SetupStatus reports whether the server still needs its first-time setup.
// The server answers only localhost callers unless allow_remote_setup is on
// (otherwise ErrPermissionDenied).
func (c *Client) SetupStatus(ctx context.Context) (*SetupStatus, error) {
	var st SetupStatus
	if err := c.doJSON(ctx, &request{method: "GET", path: "/v1/api/auth/status", idempotent: true}, &st); err != nil {
		return nil, fmt.Errorf("sdk: setup status: %w", err)
	}
	return &st, nil
}

// SetupRequest is the first-time setup: it sets the root password and
// creates a dba user.
type SetupRequest struct {
	User         string `json:"user"`
	Password     string `json:"password"`
	RootPassword string `json:"root_password"`
	Email        string `json:"email,omitempty"`
}

// SetupResponse is the reply of Setup. It carries no tokens: log in next.
type SetupResponse struct {
	User    UserInfo `json:"user"`
	Message string   `json:"message"`
}

// Setup runs the server's first-time setup. A configured server answers
// ErrAlreadyConfigured; weak passwords come back as a *ServerError with code
// "weak_password".
func (c *Client) Setup(ctx context.Context, req SetupRequest) (*SetupResponse, error) {
	c.auth.secrets.Keep(req.Password)
	c.auth.secrets.Keep(req.RootPassword)
	body, err := jsonscan.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("sdk: encoding setup: %w", err)
	}
	var out SetupResponse
	if err := c.doJSON(ctx, &request{method: "POST", path: "/v1/api/auth/setup", body: jsonBody(body)}, &out); err != nil {
		return nil, fmt.Errorf("sdk: setup: %w", err)
	}
	return &out, nil
}
