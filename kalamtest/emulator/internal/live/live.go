// Package live is the emulator's realtime endpoint, GET /v1/ws: KalamDB's
// live-query WebSocket protocol (shared/kalamdb/ws-protocol.md) served from
// the engine's SELECT results and change feed.
package live

import (
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// ErrTokenExpired is what Authenticate returns for an expired token. Over
// WebSocket it is answered like any invalid token (§2.4), so it only
// matters for logs.
var ErrTokenExpired = errors.New("token expired")

// Limits are the server's WebSocket limits (§8.2). A zero field takes the
// real server's default; a negative one turns the limit off.
type Limits struct {
	AuthTimeout                   time.Duration // 3 s: authenticate message deadline (message path)
	ClientTimeout                 time.Duration // 10 s: idle cut-off without any inbound frame
	MaxSubscriptionsPerConnection int           // 100 (UNSUPPORTED)
	MaxSubscriptionsPerUser       int           // 10 across the user's connections (SUBSCRIPTION_LIMIT_EXCEEDED)
	MaxMessagesPerSecond          int           // 50 text messages per connection (RATE_LIMIT_EXCEEDED)
	MaxMessageSize                int           // 1 MiB per text frame (MESSAGE_TOO_LARGE)
	MaxConnections                int           // 25 000 (HTTP 503)
	MaxAuthRequestsPerIPPerSecond int           // 20 message-path authenticate messages per client IP
	NotificationQueue             int           // 256 queued change messages per connection; overflow drops
	MaxBufferedChanges            int           // 1024 changes held per subscription while its snapshot loads
	DefaultBatchSize              int           // 1000 rows per initial batch (MAX_ROWS_PER_BATCH)
}

const (
	defaultAuthTimeout   = 3 * time.Second
	defaultClientTimeout = 10 * time.Second
	// replyQueue bounds queued replies (acks, batches, errors): the reader
	// waits for room, so a client that does not read stalls only itself.
	replyQueue = 64
	// maxInboundBytes caps any inbound message, so a binary frame cannot
	// exhaust memory (text frames are capped by MaxMessageSize first).
	maxInboundBytes = 16 << 20
	// engineRowCap is the largest LIMIT the engine honours by default; the
	// snapshot pages through bigger batches in chunks of this size.
	engineRowCap = 1000
)

func (l Limits) withDefaults() Limits {
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	num := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&l.AuthTimeout, defaultAuthTimeout)
	dur(&l.ClientTimeout, defaultClientTimeout)
	num(&l.MaxSubscriptionsPerConnection, 100)
	num(&l.MaxSubscriptionsPerUser, 10)
	num(&l.MaxMessagesPerSecond, 50)
	num(&l.MaxMessageSize, 1<<20)
	num(&l.MaxConnections, 25000)
	num(&l.MaxAuthRequestsPerIPPerSecond, 20)
	num(&l.NotificationQueue, 256)
	num(&l.MaxBufferedChanges, 1024)
	num(&l.DefaultBatchSize, 1000)
	return l
}

// Options configure a Server.
type Options struct {
	Engine *engine.Engine
	// Authenticate validates an access JWT; ErrTokenExpired for an expired
	// one, another error for an invalid one.
	Authenticate   func(token string) (engine.Identity, error)
	AllowedOrigins []string         // empty or "*" = all
	Now            func() time.Time // the emulator's clock; nil = time.Now
	Logger         *slog.Logger     // nil = silent
	Limits         Limits
}

// Stats is a snapshot of the server's state, for tests and leak checks.
type Stats struct {
	Connections   int
	Subscriptions int
	// DroppedNotifications counts change messages dropped because a
	// connection's queue was full (the real server drops them too, §6.4).
	DroppedNotifications int64
	// EvictedBuffered counts changes evicted from a loading subscription's
	// buffer when it overflowed (§6.3).
	EvictedBuffered int64
}

// Server serves GET /v1/ws.
type Server struct {
	opts   Options
	limits Limits
	log    *slog.Logger

	mu       sync.Mutex
	closed   bool
	conns    map[*conn]struct{}
	perUser  map[string]int
	byTable  map[string]map[*subscription]struct{}
	nSubs    int
	dropped  int64
	evicted  int64
	authHits map[string]*authWindow // per client IP, message-path auth
	wallNow  func() time.Time       // rate windows run on real time, not the emulator clock
	handlers sync.WaitGroup

	cancelFeed func()
}

// New starts a server and subscribes it to the engine's change feed.
func New(opts Options) *Server {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		opts:     opts,
		limits:   opts.Limits.withDefaults(),
		log:      log,
		conns:    map[*conn]struct{}{},
		perUser:  map[string]int{},
		byTable:  map[string]map[*subscription]struct{}{},
		authHits: map[string]*authWindow{},
		wallNow:  wallClock,
	}
	if opts.Engine != nil {
		s.cancelFeed = opts.Engine.OnChange(s.dispatch)
	}
	return s
}

// Stats reports open connections and subscriptions.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Connections: len(s.conns), Subscriptions: s.nSubs, DroppedNotifications: s.dropped, EvictedBuffered: s.evicted}
}

// CutAll drops every live connection abruptly, with no close frame.
func (s *Server) CutAll() {
	for _, c := range s.connList() {
		c.cut()
	}
}

// Close closes every connection with 1001 "Server shutting down", stops
// following the engine and waits for every connection goroutine to end.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.handlers.Wait()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.cancelFeed != nil {
		s.cancelFeed()
	}
	var wg sync.WaitGroup
	for _, c := range s.connList() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.closeNow(websocket.StatusGoingAway, "Server shutting down")
		}()
	}
	wg.Wait()
	s.handlers.Wait()
	return nil
}

func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

// ServeHTTP upgrades GET /v1/ws after the origin and header-auth checks of §1.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
		http.Error(w, "Origin not allowed", http.StatusForbidden)
		return
	}
	c := &conn{srv: s, id: newConnID(), subs: map[string]*subscription{}, compress: !queryFlag(r.URL.RawQuery, "compress", "false"), clientIP: clientIP(r)}
	c.serialization, c.compression = "json", "gzip"
	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "Bearer ") {
		id, err := s.authenticate(strings.TrimPrefix(auth, "Bearer "))
		if err != nil {
			s.log.Info("ws upgrade rejected", "reason", err.Error())
			// actix's HttpResponse::Unauthorized().body(..): no
			// Content-Type, no newline (unlike http.Error).
			w.Header()["Content-Type"] = nil
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, "Invalid token")
			return
		}
		c.identity, c.authed, c.headerAuth = id, true, true
		if queryFlag(r.URL.RawQuery, "serialization", "msgpack") {
			c.serialization = "msgpack"
		}
		if queryFlag(r.URL.RawQuery, "compression", "none") {
			c.compression = "none" // echoed, but without effect (§3.4)
		}
	}
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		http.Error(w, "Server is shutting down", http.StatusServiceUnavailable)
		return
	case s.limits.MaxConnections > 0 && len(s.conns) >= s.limits.MaxConnections:
		s.mu.Unlock()
		http.Error(w, "Server shutting down", http.StatusServiceUnavailable)
		return
	}
	s.handlers.Add(1)
	s.mu.Unlock()
	defer s.handlers.Done()

	ws, err := accept(w, r, c.touch)
	if err != nil {
		s.log.Info("ws upgrade failed", "err", err)
		return
	}
	c.ws = ws
	c.serve(r.Context())
}

func (s *Server) authenticate(token string) (engine.Identity, error) {
	if s.opts.Authenticate == nil {
		return engine.Identity{}, errors.New("no Authenticate function configured")
	}
	id, err := s.opts.Authenticate(token)
	if err == nil && id.UserID == "" {
		err = errors.New("Authenticate returned an empty user id")
	}
	return id, err
}

func (s *Server) originAllowed(origin string) bool {
	if len(s.opts.AllowedOrigins) == 0 {
		return true
	}
	for _, o := range s.opts.AllowedOrigins {
		if o == "*" || o == origin {
			return true
		}
	}
	return false
}

// queryFlag matches a literal key=value pair, case-insensitively, with no
// URL decoding, as [WS]/protocol.rs does.
func queryFlag(rawQuery, key, value string) bool {
	for _, pair := range strings.Split(rawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if strings.EqualFold(k, key) && strings.EqualFold(v, value) {
			return true
		}
	}
	return false
}

// wallClock is real time; a variable so a test can pin a rate window.
var wallClock = time.Now

// authWindow counts authentication attempts in one second.
type authWindow struct {
	start time.Time
	n     int
}

// allowAuth applies max_auth_requests_per_ip_per_sec to the message path (§2.4).
func (s *Server) allowAuth(ip string) bool {
	limit := s.limits.MaxAuthRequestsPerIPPerSecond
	if limit <= 0 {
		return true
	}
	now := s.wallNow()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.authHits) > 4096 {
		for k, w := range s.authHits {
			if now.Sub(w.start) >= time.Second {
				delete(s.authHits, k)
			}
		}
	}
	w := s.authHits[ip]
	if w == nil || now.Sub(w.start) >= time.Second {
		w = &authWindow{start: now}
		s.authHits[ip] = w
	}
	w.n++
	return w.n <= limit
}

// clientIP is the peer address without the port (no proxy headers: the
// emulator has no trusted proxy ranges).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
