//go:build !js && !wasip1

package kalamtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// BinaryServer is a real kalamdb-server process started by StartBinary.
type BinaryServer struct {
	Server
	// Dir holds server.toml, the data directory and server.log.
	Dir string

	bin, confPath string
	env           []string
	sharedStorage string
	log           *syncBuffer

	mu    sync.Mutex
	proc  *serverProc // the latest process; replaced by a restart
	token string      // root's access token from the latest ready check
}

// serverProc is one run of the server process.
type serverProc struct {
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error // set before exited is closed
}

// BinaryConfig configures StartBinary.
type BinaryConfig struct {
	// Bin is the path of a kalamdb-server binary.
	Bin string
	// Dir is where the config, data and log go; a new temporary directory
	// when empty (removed by Stop).
	Dir string
	// RootPassword defaults to DefaultRootPassword.
	RootPassword string
	// NeedsSetup leaves root without a password, so the server starts in
	// setup-required mode (ready once /v1/api/auth/status answers).
	NeedsSetup bool
	// ExtraTOML is appended to the generated server.toml (later keys of a
	// table override nothing in TOML: name only tables the default omits).
	ExtraTOML string
	// Env adds KALAMDB_* variables (they override server.toml).
	Env []string
	// StartTimeout bounds the wait for the first successful login (60 s).
	StartTimeout time.Duration
	// Port is the HTTP port; a free loopback port when 0 (a cluster names
	// its nodes' ports up front, since each lists the others).
	Port int
	// SharedStorage, when set, is where the server keeps cold storage and
	// FILE uploads (its data/storage becomes a link to it): the nodes of a
	// cluster share one, as KalamDB's docker-compose cluster mounts one
	// volume at every node's /data/storage. A node stores an upload only in
	// its own storage otherwise, and the others answer 404 for it.
	SharedStorage string
}

// startBinaryForTest starts a fresh server for one test and stops it at the
// end; emulator options do not apply to a real server.
func startBinaryForTest(t testing.TB, bin string, opts ...ServerOption) *Server {
	t.Helper()
	var sc serverConfig
	for _, o := range opts {
		o(&sc)
	}
	srv, err := StartBinary(context.Background(), BinaryConfig{Bin: bin, Dir: t.TempDir(), NeedsSetup: sc.needsSetup})
	if err != nil {
		t.Fatalf("kalamtest: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Errorf("kalamtest: %v", err)
		}
	})
	return &srv.Server
}

// TestJWTSecret is the JWT secret of servers StartBinary configures (the
// real server wants 32 characters or more).
const TestJWTSecret = "kalamtest-jwt-secret-0123456789abcdef"

// testServerTOML is the test configuration: loopback only, rate limits
// lifted for suites, quick bcrypt, any origin for browser tests. Every
// other key keeps the server's default, as a user's install would.
const testServerTOML = `[server]
host = "127.0.0.1"
port = %d

[storage]
data_path = %q

[limits]

[performance]

[logging]
level = "warn"
logs_path = %q
log_to_console = true

[rate_limit]
max_queries_per_sec = 100000
max_auth_requests_per_ip_per_sec = 10000
max_requests_per_ip_per_sec = 100000
max_connections_per_ip = 10000
max_subscriptions_per_user = 1000
enable_connection_protection = false

[security.cors]
allowed_origins = ["*"]
allow_credentials = false

[authentication]
bcrypt_cost = 4
jwt_secret = %q
`

// StartBinary runs a kalamdb-server binary on a free loopback port with a
// fresh data directory and a test configuration, and returns once root
// can log in. Stop it with Stop.
func StartBinary(ctx context.Context, cfg BinaryConfig) (*BinaryServer, error) {
	if cfg.Bin == "" {
		return nil, errors.New("start kalamdb-server: no binary named")
	}
	if _, err := os.Stat(cfg.Bin); err != nil {
		return nil, fmt.Errorf("start kalamdb-server: %w", err)
	}
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "kalamtest-server-")
		if err != nil {
			return nil, fmt.Errorf("start kalamdb-server: %w", err)
		}
		dir = d
	}
	if cfg.RootPassword == "" {
		cfg.RootPassword = DefaultRootPassword
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 60 * time.Second
	}
	port := cfg.Port
	if port == 0 {
		p, err := freeLoopbackPort()
		if err != nil {
			return nil, fmt.Errorf("start kalamdb-server: %w", err)
		}
		port = p
	}
	toml := fmt.Sprintf(testServerTOML, port, filepath.Join(dir, "data"), filepath.Join(dir, "logs"), TestJWTSecret) + cfg.ExtraTOML
	confPath := filepath.Join(dir, "server.toml")
	if err := os.WriteFile(confPath, []byte(toml), 0o600); err != nil {
		return nil, fmt.Errorf("start kalamdb-server: %w", err)
	}
	s := &BinaryServer{Dir: dir, bin: cfg.Bin, confPath: confPath, sharedStorage: cfg.SharedStorage, log: &syncBuffer{}}
	s.URL = "http://127.0.0.1:" + strconv.Itoa(port)
	s.RootUser, s.RootPassword, s.Target = "root", cfg.RootPassword, TargetBinary
	s.env = append(os.Environ(), "NO_COLOR=1")
	if cfg.NeedsSetup {
		s.RootPassword = ""
	} else {
		s.env = append(s.env, "KALAMDB_ROOT_PASSWORD="+cfg.RootPassword)
	}
	s.env = append(s.env, cfg.Env...)
	if err := s.spawn(); err != nil {
		return nil, fmt.Errorf("start kalamdb-server %s: %w", cfg.Bin, err)
	}
	if err := s.waitReady(ctx, cfg.StartTimeout); err != nil {
		s.kill()
		return nil, fmt.Errorf("start kalamdb-server: %w\n--- server output (last 4 KiB) ---\n%s", err, s.LogTail(4096))
	}
	return s, nil
}

// spawn starts the server process on its config; the output is appended to
// server.log (kept across restarts) and to the in-memory tail.
func (s *BinaryServer) spawn() error {
	if err := s.linkSharedStorage(); err != nil {
		return err
	}
	logFile, err := os.OpenFile(filepath.Join(s.Dir, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, s.confPath)
	cmd.Dir = s.Dir
	cmd.Env = s.env
	out := io.MultiWriter(logFile, s.log)
	cmd.Stdout, cmd.Stderr = out, out
	// The server must not outlive a test binary that dies without cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	p := &serverProc{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// linkSharedStorage makes data/storage a link to the shared storage (again
// after the data directory was wiped).
func (s *BinaryServer) linkSharedStorage() error {
	if s.sharedStorage == "" {
		return nil
	}
	link := filepath.Join(s.Dir, "data", "storage")
	if _, err := os.Lstat(link); err == nil {
		return nil
	}
	if err := os.MkdirAll(s.sharedStorage, 0o700); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(link), 0o700); err != nil {
		return err
	}
	return os.Symlink(s.sharedStorage, link)
}

func (s *BinaryServer) current() *serverProc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// running reports whether the latest process is still alive.
func (s *BinaryServer) running() bool {
	p := s.current()
	if p == nil {
		return false
	}
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// waitReady polls a root login: the server's health endpoints answer only
// localhost, and a login proves auth, storage and the router are up.
func (s *BinaryServer) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	body := fmt.Sprintf(`{"user":%q,"password":%q}`, s.RootUser, s.RootPassword)
	method, path := http.MethodPost, "/v1/api/auth/login"
	if s.RootPassword == "" {
		method, path, body = http.MethodGet, "/v1/api/auth/status", ""
	}
	// No per-request timeout: root's password hash has bcrypt cost 12
	// whatever bcrypt_cost says, which a debug build on a loaded machine
	// takes seconds to check, and a request given up on goes on burning
	// the server's CPU, so retries on a short timeout pile up and never
	// finish. The context bounds the wait.
	client := &http.Client{}
	defer client.CloseIdleConnections()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	p := s.current()
	var last string
	for {
		req, _ := http.NewRequestWithContext(ctx, method, s.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := client.Do(req)
		if err == nil {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				var login struct {
					AccessToken string `json:"access_token"`
				}
				if json.Unmarshal(b, &login) == nil {
					s.mu.Lock()
					s.token = login.AccessToken
					s.mu.Unlock()
				}
				return nil
			}
			last = fmt.Sprintf("%s answered %d: %s", path, resp.StatusCode, b)
		} else {
			last = err.Error()
		}
		select {
		case <-p.exited:
			return fmt.Errorf("the server exited before it was ready (%v)", p.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("not ready within %s (last: %s)", timeout, last)
		case <-tick.C:
		}
	}
}

// Stop asks the server to shut down (SIGINT, as Ctrl-C), waits for it, and
// kills it if it has not exited within 20 s. Stopping a stopped server does
// nothing.
func (s *BinaryServer) Stop() error {
	p := s.current()
	if p == nil {
		return nil
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	// A frozen (SIGSTOP) server handles SIGINT only once it runs again.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		s.kill()
		return fmt.Errorf("kalamdb-server did not stop within 20 s of SIGINT; killed\n%s", s.LogTail(2048))
	}
	return nil
}

// Kill stops the server at once (SIGKILL), as a crash would.
func (s *BinaryServer) Kill() { s.kill() }

func (s *BinaryServer) kill() {
	p := s.current()
	if p == nil {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.exited
}

// signal sends sig to the running server's process group.
func (s *BinaryServer) signal(sig syscall.Signal) error {
	p := s.current()
	if p == nil || !s.running() {
		return errors.New("kalamdb-server is not running")
	}
	return syscall.Kill(-p.cmd.Process.Pid, sig)
}

// Restart starts a stopped server again on its directory, config and
// port, and returns once root can log in. When wipeData is set the data
// directory is removed first, so the server starts empty.
func (s *BinaryServer) Restart(ctx context.Context, wipeData bool, timeout time.Duration) error {
	if s.running() {
		return errors.New("restart kalamdb-server: it is still running; stop it first")
	}
	if wipeData {
		for _, d := range []string{"data", "logs"} {
			if err := os.RemoveAll(filepath.Join(s.Dir, d)); err != nil {
				return fmt.Errorf("restart kalamdb-server: %w", err)
			}
		}
	}
	if err := s.spawn(); err != nil {
		return fmt.Errorf("restart kalamdb-server: %w", err)
	}
	if err := s.waitReady(ctx, timeout); err != nil {
		s.kill()
		return fmt.Errorf("restart kalamdb-server: %w\n--- server output (last 4 KiB) ---\n%s", err, s.LogTail(4096))
	}
	return nil
}

// LogTail returns the last n bytes the server printed.
func (s *BinaryServer) LogTail(n int) string { return s.log.tail(n) }

func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// syncBuffer keeps the last 64 KiB of the server's output for error messages.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if over := b.buf.Len() - 64<<10; over > 0 {
		b.buf.Next(over)
	}
	return len(p), nil
}

func (b *syncBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.Bytes()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return string(s)
}
