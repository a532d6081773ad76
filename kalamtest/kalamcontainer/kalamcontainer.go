//go:build !js && !wasip1

package kalamcontainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

const (
	// DefaultImage is the official KalamDB image at the server version this
	// SDK targets (tags are the release version, as in KalamDB's release
	// workflow).
	DefaultImage = "jamals86/kalamdb:0.4.2-rc.3"
	// DefaultRootPassword is root's password unless WithRootPassword sets
	// another; the same as kalamtest.DefaultRootPassword.
	DefaultRootPassword = "kalamtest-root-Pw1!"
	// DefaultJWTSecret signs tokens unless WithJWTSecret sets another. The
	// server refuses to bind 0.0.0.0 with a secret under 32 characters.
	DefaultJWTSecret = "kalamtest-jwt-secret-for-tests-only-0123456789"
	// DefaultStartTimeout bounds Run from image check to first login.
	DefaultStartTimeout = 60 * time.Second
	// Port is the server's port inside the container.
	Port = "8080/tcp"
	// RootUser is the account Run logs in with.
	RootUser = "root"
	// ConfigPath is where the official image's command reads server.toml.
	ConfigPath = "/config/server.toml"
	// minJWTSecret is the shortest secret the server accepts off localhost.
	minJWTSecret = 32
)

// The ways a start fails, matched with errors.Is on Run's error.
var (
	ErrNoEngine      = errors.New("no Docker engine answers")
	ErrImageNotFound = errors.New("image not present locally and not pullable")
	ErrExited        = errors.New("container exited during start")
	ErrNotReady      = errors.New("server never answered a login")
	ErrLoginRejected = errors.New("server rejected root's login")
)

// Container is a running KalamDB whose root can log in.
type Container struct {
	*testcontainers.DockerContainer
	// URL is the base URL from the host, http://127.0.0.1:<port>.
	URL string
	// RootUser and RootPassword log in as root (role system).
	RootUser, RootPassword string
}

// StartError is Run's error once a container exists: what went wrong, and
// the container's last log lines, so a failed start explains itself.
type StartError struct {
	Image       string
	ContainerID string
	Logs        string
	Err         error
}

func (e *StartError) Error() string {
	id := e.ContainerID
	if len(id) > 12 {
		id = id[:12]
	}
	msg := fmt.Sprintf("kalamcontainer: %s (container %s): %v", e.Image, id, e.Err)
	if e.Logs != "" {
		msg += "\n--- container logs ---\n" + e.Logs + "--- end of container logs ---"
	}
	return msg
}

func (e *StartError) Unwrap() error { return e.Err }

// Option sets what Run itself does rather than the container request.
type Option func(*settings)

// Customize makes an Option a testcontainers.ContainerCustomizer, so it can
// sit among testcontainers' own options; Run applies it separately.
func (o Option) Customize(*testcontainers.GenericContainerRequest) error { return nil }

type settings struct {
	startTimeout time.Duration
}

// WithStartTimeout bounds the whole start, image check to first login
// (default DefaultStartTimeout). A debug build of the real server needs
// more than the emulator's second or two.
func WithStartTimeout(d time.Duration) Option {
	return func(s *settings) { s.startTimeout = d }
}

// WithRootPassword sets root's password at the server's first boot
// (KALAMDB_ROOT_PASSWORD) and the password Run and the caller log in with.
func WithRootPassword(password string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		if password == "" {
			return errors.New("WithRootPassword: empty password (root could not log in, so readiness could not be checked)")
		}
		return testcontainers.WithEnv(map[string]string{"KALAMDB_ROOT_PASSWORD": password})(req)
	}
}

// WithJWTSecret sets the HS256 secret tokens are signed with
// (KALAMDB_JWT_SECRET); the server needs 32 characters or more.
func WithJWTSecret(secret string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		if len(secret) < minJWTSecret {
			return fmt.Errorf("WithJWTSecret: %d characters; the server refuses a secret under %d off localhost", len(secret), minJWTSecret)
		}
		return testcontainers.WithEnv(map[string]string{"KALAMDB_JWT_SECRET": secret})(req)
	}
}

// WithCORS sets the origins browsers may call from
// (KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS); "*" allows any (the default).
func WithCORS(origins ...string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		if len(origins) == 0 {
			return errors.New("WithCORS: no origins")
		}
		for _, o := range origins {
			if o == "" || strings.Contains(o, ",") {
				return fmt.Errorf("WithCORS: origin %q is empty or holds a comma", o)
			}
		}
		return testcontainers.WithEnv(map[string]string{"KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS": strings.Join(origins, ",")})(req)
	}
}

// WithConfigFile copies a server.toml from the host to ConfigPath, where
// the official image's command reads it (rate limits, file limits, and the
// settings no environment variable reaches). Environment variables still
// override it. The emulator image reads no config file.
func WithConfigFile(path string) testcontainers.CustomizeRequestOption {
	return func(req *testcontainers.GenericContainerRequest) error {
		if fi, err := os.Stat(path); err != nil {
			return fmt.Errorf("WithConfigFile: %w", err)
		} else if !fi.Mode().IsRegular() {
			return fmt.Errorf("WithConfigFile: %s is not a regular file", path)
		}
		return testcontainers.WithFiles(testcontainers.ContainerFile{
			HostFilePath: path, ContainerFilePath: ConfigPath, FileMode: 0o644,
		})(req)
	}
}

// readSettings collects the module's own options from opts.
func readSettings(opts []testcontainers.ContainerCustomizer) (settings, error) {
	st := settings{startTimeout: DefaultStartTimeout}
	for _, o := range opts {
		if o, ok := o.(Option); ok {
			o(&st)
		}
	}
	if st.startTimeout <= 0 {
		return st, fmt.Errorf("kalamcontainer: start timeout %v is not positive", st.startTimeout)
	}
	return st, nil
}

// testEnv is the configuration every container starts with: listen on all
// interfaces (the port is published to the host), test secrets, any CORS
// origin, and an auth rate limit a suite's logins from one IP stay under.
func testEnv() map[string]string {
	return map[string]string{
		"KALAMDB_SERVER_HOST":                             "0.0.0.0",
		"KALAMDB_ROOT_PASSWORD":                           DefaultRootPassword,
		"KALAMDB_JWT_SECRET":                              DefaultJWTSecret,
		"KALAMDB_SECURITY_CORS_ALLOWED_ORIGINS":           "*",
		"KALAMDB_RATE_LIMIT_AUTH_REQUESTS_PER_IP_PER_SEC": "1000",
	}
}

// Run starts a container of img and returns once root can log in from the
// host. An image present locally is used as it is; a missing one is pulled
// once. On error Run has already removed any container it made and returns
// a nil Container; the error says which step failed (errors.Is with ErrNoEngine,
// ErrImageNotFound, ErrExited, ErrNotReady, ErrLoginRejected) and, once a
// container existed, carries its logs (*StartError). Stop it with
// testcontainers.CleanupContainer(t, ctr) or ctr.Terminate.
func Run(ctx context.Context, img string, opts ...testcontainers.ContainerCustomizer) (*Container, error) {
	ryukOffUnlessChosen()
	st, err := readSettings(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, st.startTimeout)
	defer cancel()

	req := testcontainers.GenericContainerRequest{
		ContainerRequest: testcontainers.ContainerRequest{
			Image:        img,
			ExposedPorts: []string{Port},
			Env:          testEnv(),
		},
		Started: true,
	}
	for _, o := range opts {
		if err := o.Customize(&req); err != nil {
			return nil, fmt.Errorf("kalamcontainer: %w", err)
		}
	}
	if req.Image == "" && !req.ShouldBuildImage() {
		return nil, errors.New("kalamcontainer: no image named (and no Dockerfile to build one)")
	}
	password := req.Env["KALAMDB_ROOT_PASSWORD"]
	if password == "" {
		return nil, errors.New("kalamcontainer: KALAMDB_ROOT_PASSWORD is empty (root could not log in, so readiness could not be checked)")
	}

	cli, err := NewDockerClient(ctx)
	if err != nil {
		return nil, fmt.Errorf("kalamcontainer: %w", err)
	}
	defer cli.Close()
	if !req.ShouldBuildImage() { // testcontainers.WithDockerfile builds its own
		if err := ensureImage(ctx, cli, req.Image); err != nil {
			return nil, fmt.Errorf("kalamcontainer: %w", err)
		}
	}

	gc, err := testcontainers.GenericContainer(ctx, req)
	dc, _ := gc.(*testcontainers.DockerContainer)
	if err != nil {
		return nil, fail(dc, req.Image, fmt.Errorf("create and start: %w", err))
	}
	baseURL, err := waitReady(ctx, cli, dc, password, st.startTimeout)
	if err != nil {
		return nil, fail(dc, req.Image, err)
	}
	return &Container{DockerContainer: dc, URL: baseURL, RootUser: RootUser, RootPassword: password}, nil
}

// NewDockerClient connects to the Docker engine testcontainers-go would
// use; an error wraps ErrNoEngine and says how to get one.
func NewDockerClient(ctx context.Context) (*testcontainers.DockerClient, error) {
	ryukOffUnlessChosen()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w: install and start one (Debian, as root: apt-get install docker.io && dockerd &) or point DOCKER_HOST at one (testcontainers: %v)", ErrNoEngine, err)
	}
	return cli, nil
}

var ryukOnce sync.Once

// ryukOffUnlessChosen turns testcontainers' Ryuk off unless
// TESTCONTAINERS_RYUK_DISABLED is set: Ryuk's image would have to be pulled
// (no registry in CI), and callers remove their containers themselves.
// testcontainers reads the variable once, so this runs before its first use.
func ryukOffUnlessChosen() {
	ryukOnce.Do(func() {
		if _, set := os.LookupEnv("TESTCONTAINERS_RYUK_DISABLED"); !set {
			_ = os.Setenv("TESTCONTAINERS_RYUK_DISABLED", "true")
		}
	})
}

// ensureImage pulls img only when it is not present locally: built images
// are used as they are, and a missing one fails at once, not after retries.
func ensureImage(ctx context.Context, cli *testcontainers.DockerClient, img string) error {
	_, err := cli.ImageInspect(ctx, img)
	if err == nil {
		return nil
	}
	if !errdefs.IsNotFound(err) {
		return fmt.Errorf("inspect image %s: %w", img, err)
	}
	pull, err := cli.ImagePull(ctx, img, client.ImagePullOptions{})
	if err == nil {
		err = pull.Wait(ctx)
	}
	if err != nil {
		return fmt.Errorf("%w: %s (pull: %v); build it (see Dockerfile.test) or pull it where a registry is reachable", ErrImageNotFound, img, err)
	}
	return nil
}

// waitReady polls a root login from the host until it succeeds, the
// container exits, the server rejects the password, or ctx ends.
func waitReady(ctx context.Context, cli *testcontainers.DockerClient, c *testcontainers.DockerContainer, password string, timeout time.Duration) (string, error) {
	host, err := hostFor(ctx, cli, c)
	if err != nil {
		return "", err
	}
	// A generous per-attempt timeout: a login hashes the password (bcrypt),
	// which a debug build on a loaded machine takes seconds for, and an
	// attempt given up on keeps the server busy while the next one queues.
	hc := &http.Client{Timeout: 20 * time.Second}
	defer hc.CloseIdleConnections()
	body := fmt.Sprintf(`{"user":%q,"password":%q}`, RootUser, password)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	rejected := 0
	for {
		state, err := c.State(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			return "", fmt.Errorf("inspect container: %w", err)
		case err == nil && !state.Running:
			return "", fmt.Errorf("%w: status %s, exit code %d%s", ErrExited, state.Status, state.ExitCode, stateDetail(state.OOMKilled, state.Error))
		case err == nil:
			baseURL, status, err := tryLogin(ctx, hc, c, host, body)
			switch {
			case err != nil:
				lastErr = err
			case status == http.StatusOK:
				return baseURL, nil
			case status == http.StatusUnauthorized:
				// A fresh server may answer before root's password is set,
				// so a refusal counts only when it repeats.
				if rejected++; rejected >= 3 {
					return "", fmt.Errorf("%w: %d %s three times; the password Run logs in with (WithRootPassword or KALAMDB_ROOT_PASSWORD) is not the server's", ErrLoginRejected, status, http.StatusText(status))
				}
			case status == http.StatusPreconditionRequired:
				return "", fmt.Errorf("%w: 428, root has no password (setup required); the server did not take KALAMDB_ROOT_PASSWORD", ErrLoginRejected)
			default:
				lastErr = fmt.Errorf("login answered %d %s", status, http.StatusText(status))
			}
		}
		select {
		case <-ctx.Done():
			if lastErr == nil {
				lastErr = ctx.Err()
			}
			return "", fmt.Errorf("%w on port %s within %v: last attempt: %v", ErrNotReady, Port, timeout, lastErr)
		case <-tick.C:
		}
	}
}

func stateDetail(oom bool, msg string) string {
	var s string
	if oom {
		s += ", killed for lack of memory"
	}
	if msg != "" {
		s += ", " + msg
	}
	return s
}

// tryLogin posts root's login to the published port.
func tryLogin(ctx context.Context, hc *http.Client, c *testcontainers.DockerContainer, host, body string) (string, int, error) {
	port, err := c.MappedPort(ctx, Port)
	if err != nil {
		return "", 0, fmt.Errorf("published port: %w", err)
	}
	baseURL := "http://" + net.JoinHostPort(host, port.Port())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/api/auth/login", strings.NewReader(body))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return baseURL, resp.StatusCode, nil
}

// hostFor is where published ports answer. testcontainers-go guesses the
// default gateway whenever it runs inside any container (/.dockerenv); when
// the engine runs in this very host (same hostname), loopback is right.
func hostFor(ctx context.Context, cli *testcontainers.DockerClient, c *testcontainers.DockerContainer) (string, error) {
	if _, set := os.LookupEnv("TESTCONTAINERS_HOST_OVERRIDE"); !set {
		if u, err := url.Parse(cli.DaemonHost()); err == nil && u.Scheme == "unix" {
			info, err := cli.Info(ctx, client.InfoOptions{})
			if hn, herr := os.Hostname(); err == nil && herr == nil && info.Info.Name == hn {
				return "127.0.0.1", nil
			}
		}
	}
	host, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("docker host: %w", err)
	}
	return host, nil
}

// maxLogBytes keeps a failed start's error readable: the end of the log.
const maxLogBytes = 16 << 10

// fail collects c's logs, removes c and wraps err in a StartError.
func fail(c *testcontainers.DockerContainer, img string, err error) error {
	if c == nil {
		return fmt.Errorf("kalamcontainer: %s: %w", img, err)
	}
	se := &StartError{Image: img, ContainerID: c.GetContainerID(), Err: err}
	// ctx may have run out: logs and removal get their own bounded time.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if rc, lerr := c.Logs(ctx); lerr == nil {
		b, _ := io.ReadAll(rc)
		rc.Close()
		if len(b) > maxLogBytes {
			b = b[len(b)-maxLogBytes:]
			if i := bytes.IndexByte(b, '\n'); i >= 0 {
				b = b[i+1:]
			}
		}
		se.Logs = string(b)
	} else {
		se.Logs = fmt.Sprintf("(logs unavailable: %v)\n", lerr)
	}
	// Killed, not stopped: a failed start has nothing to shut down cleanly,
	// and KalamDB's graceful shutdown can outlast the time given here.
	if terr := testcontainers.TerminateContainer(c, testcontainers.StopContext(ctx), testcontainers.StopTimeout(0)); terr != nil {
		se.Err = errors.Join(err, fmt.Errorf("remove container: %w", terr))
	}
	return se
}
