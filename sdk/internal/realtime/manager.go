package realtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/redact"
	"github.com/kalamstack/kalam-go/transport"
)

// Config configures a Manager. Zero durations and sizes take the defaults.
type Config struct {
	Transport transport.Transport
	// URL is the WebSocket URL (ws:// or wss://, path /v1/ws, query included).
	URL string
	// Nodes, when set, picks the server of each new connection instead of
	// URL: several nodes of one cluster.
	Nodes NodePicker
	// Moves keeps subscriptions whole when the connection moves to
	// another of the Nodes (NewMover); nil with one node.
	Moves Mover
	// Token returns the JWT for a new connection; reconnect says an earlier
	// connection existed, rejected that the last token was refused.
	Token func(ctx context.Context, reconnect, rejected bool) (string, error)
	// HeaderAuth sends the token in the upgrade's Authorization header;
	// otherwise it goes in an authenticate message (browsers).
	HeaderAuth bool
	// Serialization is "json" (default) or "msgpack".
	Serialization string

	PingInterval time.Duration // default 5 s (the server cuts idle links after 10-15 s)
	PongTimeout  time.Duration // default 5 s
	// StallThreshold: a pong later than this means the link stalled, and
	// KalamDB may have dropped changes meanwhile (its per-connection queue
	// of 256 drops silently); live subscriptions then resync from where
	// they were when the ping went out. Default 1 s; negative turns it off.
	StallThreshold time.Duration
	AuthTimeout    time.Duration // dial plus authentication, default 10 s
	ReconnectMin   time.Duration // default 500 ms
	ReconnectMax   time.Duration // default 30 s
	// MaxReconnectAttempts: 0 retries forever; n > 0 gives up after n
	// failed attempts in a row, failing every subscription.
	MaxReconnectAttempts int
	// NoReconnect turns automatic reconnection off.
	NoReconnect bool
	// Probe asks the server something over HTTP; a connection that cannot
	// ping (browsers) calls it when the link has been quiet (quiet.go).
	Probe func(ctx context.Context) error
	// Permanent reports a failed attempt that no retry can cure, such as
	// credentials the server rejected: the manager then stops at once and
	// fails every subscription, instead of retrying into the server's
	// account lockout. A token refused twice in a row (once more after a
	// renewal) is always permanent.
	Permanent func(error) bool

	// SendRate and SendBurst pace outgoing messages: at most burst+rate in
	// any second, 40 by default against the server's 50.
	SendRate  float64 // messages per second, default 30
	SendBurst int     // default 10

	// QueueSize bounds each subscription's undelivered events (default 1024).
	QueueSize int
	// MaxMessageBytes bounds a frame after gunzip (default 64 MiB).
	MaxMessageBytes int64

	// OnEvent observes connection events; it is called from one dedicated
	// goroutine, in order, so a slow observer delays nothing else.
	OnEvent func(ConnEvent)
	Log     Logger
}

func (c *Config) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&c.PingInterval, 5*time.Second)
	set(&c.PongTimeout, 5*time.Second)
	if c.StallThreshold == 0 {
		c.StallThreshold = time.Second
	}
	set(&c.AuthTimeout, 10*time.Second)
	set(&c.ReconnectMin, 500*time.Millisecond)
	set(&c.ReconnectMax, 30*time.Second)
	if c.ReconnectMax < c.ReconnectMin {
		c.ReconnectMax = c.ReconnectMin
	}
	if c.SendRate <= 0 {
		c.SendRate = 30
	}
	if c.SendBurst <= 0 {
		c.SendBurst = 10
	}
	if c.QueueSize <= 0 {
		c.QueueSize = 1024
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.Serialization == "" {
		c.Serialization = "json"
	}
	if c.Log == nil {
		c.Log = discard{}
	}
}

// NodePicker chooses among a cluster's nodes.
type NodePicker interface {
	// Current returns the node to dial: its name (reported in events) and
	// its WebSocket URL.
	Current() (name, url string)
	// Failed is told a node whose dial failed or whose link was lost, so
	// that Current moves on to another.
	Failed(name string)
	// Count is how many nodes there are.
	Count() int
}

// Logger receives the debug logs (sdk.Logger, typically a *slog.Logger).
type Logger interface {
	Debug(msg string, args ...any)
}

type discard struct{}

func (discard) Debug(string, ...any) {}

// State is the shared connection's state.
type State int

const (
	StateIdle         State = iota // not connected yet (lazy) or given up
	StateConnecting                // first connection in progress
	StateConnected                 // authenticated
	StateReconnecting              // lost; retrying with backoff
	StateClosed                    // the client was closed
)

func (s State) String() string {
	switch s {
	case StateIdle:
		return "idle"
	case StateConnecting:
		return "connecting"
	case StateConnected:
		return "connected"
	case StateReconnecting:
		return "reconnecting"
	case StateClosed:
		return "closed"
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

// EventKind tells connection events apart.
type EventKind int

const (
	EventConnected    EventKind = iota + 1 // a connection was authenticated
	EventDisconnected                      // an established connection ended
	EventReconnecting                      // an attempt failed or a link was lost; the next attempt waits Delay
	EventError                             // a non-fatal problem (a dropped message, an undecodable frame)
)

func (k EventKind) String() string {
	switch k {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventReconnecting:
		return "reconnecting"
	case EventError:
		return "error"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// ConnEvent is one connection event.
type ConnEvent struct {
	Kind EventKind
	// Err is the reason (Disconnected, Reconnecting, Error).
	Err error
	// Code is the close code the server sent, or -1.
	Code transport.StatusCode
	// Attempt counts failed attempts in a row (Reconnecting).
	Attempt int
	// Delay is the wait before the next attempt (Reconnecting).
	Delay time.Duration
	// Node names the node connected to (Connected), lost (Disconnected) or
	// that failed (Reconnecting); "" without Config.Nodes.
	Node string
}

// Errors.
var (
	ErrClosed    = errors.New("realtime: closed")
	ErrDeadLink  = errors.New("realtime: no pong from the server in time (dead link)")
	ErrGaveUp    = errors.New("realtime: gave up reconnecting")
	ErrAuth      = errors.New("realtime: WebSocket authentication failed")
	ErrUndecoded = errors.New("realtime: a server frame could not be decoded; reconnecting to resync")
	ErrRejected  = errors.New("realtime: the server rejected the credentials; not retrying")
	ErrStalled   = errors.New("realtime: the link stalled; the server may have dropped changes meanwhile")
)

// ServerError is an error message from the server.
type ServerError struct {
	SubscriptionID string // as sent: the subscription's wire id, or "rate_limit", "protocol", ...
	Code           string
	Message        string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("kalamdb websocket error %s: %s", e.Code, e.Message)
}

// Manager owns the shared WebSocket and every subscription on it.
type Manager struct {
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events *dispatcher
	nextID atomic.Uint64
	// progress counts checkpoint advances and batch shrinks: whether a
	// connection achieved anything before it ended.
	progress atomic.Uint64

	mu      sync.Mutex
	state   State
	running bool
	lastErr error
	subs    map[uint64]*Sub
	wire    map[string]*Sub // current wire id -> subscription
	conn    *liveConn
	changed chan struct{} // closed and replaced on every state change
	// lastNode is the node of the latest connection (with Config.Nodes).
	lastNode string
}

// New returns an idle manager; nothing is dialled until Connect or Subscribe.
func New(cfg Config) *Manager {
	cfg.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg: cfg, ctx: ctx, cancel: cancel,
		subs: map[uint64]*Sub{}, wire: map[string]*Sub{},
		changed: make(chan struct{}),
	}
	m.events = newDispatcher(cfg.OnEvent, &m.wg)
	return m
}

// State returns the connection state.
func (m *Manager) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

// Connect starts the connection if needed and waits until it is
// authenticated, or ctx ends, or the manager gives up.
func (m *Manager) Connect(ctx context.Context) error {
	for first := true; ; first = false {
		m.mu.Lock()
		if m.state == StateClosed {
			m.mu.Unlock()
			return ErrClosed
		}
		if first {
			m.startLocked()
		}
		if m.state == StateConnected {
			m.mu.Unlock()
			return nil
		}
		if !m.running && m.lastErr != nil {
			err := m.lastErr
			m.mu.Unlock()
			return err
		}
		changed := m.changed
		m.mu.Unlock()
		select {
		case <-ctx.Done():
			m.mu.Lock()
			err := m.lastErr
			m.mu.Unlock()
			if err != nil {
				return fmt.Errorf("%w (last connection error: %w)", context.Cause(ctx), err)
			}
			return context.Cause(ctx)
		case <-changed:
		}
	}
}

func (m *Manager) startLocked() {
	if m.running || m.state == StateClosed {
		return
	}
	m.running = true
	m.lastErr = nil
	m.setStateLocked(StateConnecting)
	m.wg.Add(1)
	go m.run()
}

func (m *Manager) setStateLocked(s State) {
	if m.state == StateClosed {
		return
	}
	m.state = s
	close(m.changed)
	m.changed = make(chan struct{})
}

// Close ends every subscription and the connection, and waits for every
// goroutine of the manager to finish. It is idempotent.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.state == StateClosed {
		m.mu.Unlock()
		return nil
	}
	subs := make([]*Sub, 0, len(m.subs))
	for _, s := range m.subs {
		subs = append(subs, s)
	}
	m.mu.Unlock()
	for _, s := range subs {
		s.Close()
	}
	m.mu.Lock()
	m.state = StateClosed
	close(m.changed)
	m.changed = make(chan struct{})
	lc := m.conn
	m.mu.Unlock()
	if lc != nil {
		lc.flush(time.Second) // let the unsubscribes out
	}
	m.cancel()
	m.events.close()
	m.wg.Wait()
	return nil
}

// run is the connection loop: dial, serve until the link ends, back off,
// repeat.
func (m *Manager) run() {
	defer m.wg.Done()
	attempt, hadConn, rejected, hopeless := 0, false, false, false
	// poisonRuns counts connections in a row that ended on a frame the
	// client could not read with no progress in between: such a connection
	// is no success (the next one resumes to the same frame), so it does
	// not reset the attempt count.
	poisonRuns := 0
	// untried counts nodes not yet tried since the last good connection:
	// moving to one of them needs no backoff, a node that just failed is
	// no reason to keep a healthy one waiting.
	untried := m.nodeCount() - 1
	for {
		node, url := m.pickNode()
		lc, err := m.dial(url, hadConn, rejected)
		if m.ctx.Err() != nil {
			return
		}
		// Server text (a close reason, an error message) may echo a
		// secret; what reaches events, logs and callers is redacted.
		err = redact.Error(err)
		if err == nil {
			if poisonRuns == 0 {
				attempt = 0
			}
			rejected, hadConn = false, true
			untried = m.nodeCount() - 1
			before := m.progress.Load()
			lc.node = node
			reason := redact.Error(m.serve(lc))
			if m.ctx.Err() != nil {
				return
			}
			m.events.emit(ConnEvent{Kind: EventDisconnected, Err: reason, Code: transport.CloseStatus(reason), Node: node})
			err = reason
			if isPoison(reason) && m.progress.Load() == before {
				poisonRuns++
			} else {
				poisonRuns = 0
			}
			if poisonRuns >= maxPoisonRuns {
				m.stop(fmt.Errorf("%w: %d connections in a row ended on it: %w", ErrPoison, poisonRuns, reason))
				return
			}
		} else {
			again := rejected
			rejected = errors.Is(err, ErrAuth)
			hopeless = m.retryCannotFix(err, hadConn)
			if (rejected && again) || (m.cfg.Permanent != nil && m.cfg.Permanent(err)) {
				m.stop(fmt.Errorf("%w: %w", ErrRejected, err))
				return
			}
			if rejected {
				continue // renew the token now: waiting would not change the answer
			}
		}
		attempt++
		if m.cfg.Nodes != nil && !errors.Is(err, ErrAuth) && !isPoison(err) {
			// The node failed us, not the credentials or the data.
			m.cfg.Nodes.Failed(node)
		}
		m.mu.Lock()
		m.lastErr = err
		if m.cfg.NoReconnect || hopeless || (m.cfg.MaxReconnectAttempts > 0 && attempt > m.cfg.MaxReconnectAttempts) {
			m.mu.Unlock()
			m.stop(fmt.Errorf("%w after %d attempt(s): %w", ErrGaveUp, attempt, err))
			return
		}
		if hadConn {
			m.setStateLocked(StateReconnecting)
		}
		m.mu.Unlock()
		delay := backoff(attempt, m.cfg.ReconnectMin, m.cfg.ReconnectMax)
		if untried > 0 && m.cfg.Nodes != nil {
			untried--
			delay = 0
		}
		m.events.emit(ConnEvent{Kind: EventReconnecting, Err: err, Code: transport.CloseStatus(err), Attempt: attempt, Delay: delay, Node: node})
		m.cfg.Log.Debug("kalamdb websocket reconnecting", "attempt", attempt, "delay", delay, "error", err)
		t := time.NewTimer(delay)
		select {
		case <-m.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// stop ends the connection loop with err: every subscription fails with
// it, and Connect returns it until a later call starts the loop again.
func (m *Manager) stop(err error) {
	m.mu.Lock()
	m.lastErr = err
	m.running = false
	m.setStateLocked(StateIdle)
	subs := m.subList()
	m.mu.Unlock()
	for _, s := range subs {
		s.fail(err)
	}
	m.events.emit(ConnEvent{Kind: EventError, Err: err, Code: -1})
}

func (m *Manager) subList() []*Sub {
	out := make([]*Sub, 0, len(m.subs))
	for _, s := range m.subs {
		out = append(out, s)
	}
	return out
}

// pickNode returns the node and URL of the next connection.
func (m *Manager) pickNode() (name, url string) {
	if m.cfg.Nodes == nil {
		return "", m.cfg.URL
	}
	return m.cfg.Nodes.Current()
}

func (m *Manager) nodeCount() int {
	if m.cfg.Nodes == nil {
		return 1
	}
	return m.cfg.Nodes.Count()
}

// dial opens and authenticates one connection to url.
func (m *Manager) dial(url string, reconnect, rejected bool) (*liveConn, error) {
	ctx, cancel := context.WithTimeout(m.ctx, m.cfg.AuthTimeout)
	defer cancel()
	tok, err := m.cfg.Token(ctx, reconnect, rejected)
	if err != nil {
		if rejected {
			return nil, fmt.Errorf("%w: the server refused the token and renewing it failed: %w", ErrAuth, err)
		}
		return nil, fmt.Errorf("realtime: obtaining a token for the WebSocket: %w", err)
	}
	if tok == "" {
		return nil, fmt.Errorf("%w: WebSocket subscriptions need credentials (a token, basic auth or an auth provider)", ErrAuth)
	}
	opts := &transport.DialOptions{ReadLimit: m.cfg.MaxMessageBytes}
	if m.cfg.HeaderAuth {
		opts.Header = map[string][]string{"Authorization": {"Bearer " + tok}}
	}
	conn, err := m.cfg.Transport.Dial(ctx, url, opts)
	if err != nil {
		var he *transport.HandshakeError
		if errors.As(err, &he) && he.StatusCode == 401 {
			return nil, fmt.Errorf("%w: the server refused the token (HTTP 401)", ErrAuth)
		}
		return nil, fmt.Errorf("realtime: dialling the WebSocket: %w", err)
	}
	proto, err := m.authenticate(ctx, conn, tok)
	if err != nil {
		if a, ok := conn.(aborter); ok && ctx.Err() != nil {
			a.CloseNow() // a server that did not answer in time will not answer a close either
		} else {
			m.closeAside(conn, transport.StatusNormalClosure, "")
		}
		return nil, err
	}
	return newLiveConn(conn, proto, m.cfg), nil
}

func (m *Manager) authenticate(ctx context.Context, conn transport.Conn, tok string) (string, error) {
	if !m.cfg.HeaderAuth {
		if err := conn.Write(ctx, transport.MessageText, EncodeAuthenticate(tok, m.cfg.Serialization)); err != nil {
			return "", fmt.Errorf("realtime: sending authenticate: %w", err)
		}
	}
	for {
		typ, p, err := conn.Read(ctx)
		if err != nil {
			if ctx.Err() != nil && m.ctx.Err() == nil {
				return "", fmt.Errorf("realtime: no auth_success within %v: %w", m.cfg.AuthTimeout, ctx.Err())
			}
			return "", fmt.Errorf("realtime: waiting for auth_success: %w", err)
		}
		msg, err := Decode(typ == transport.MessageBinary, p, m.cfg.MaxMessageBytes)
		if err != nil {
			return "", fmt.Errorf("realtime: waiting for auth_success: %w", err)
		}
		switch msg.Type {
		case TypeAuthSuccess:
			proto := "json"
			if msg.Protocol != nil && msg.Protocol.Serialization != "" {
				proto = msg.Protocol.Serialization
			}
			return proto, nil
		case TypeAuthError:
			if transientAuthError(redact.String(msg.Message)) {
				return "", fmt.Errorf("realtime: the server refused to authenticate now: %s", redact.String(msg.Message))
			}
			return "", fmt.Errorf("%w: %s", ErrAuth, redact.String(msg.Message))
		default:
			return "", fmt.Errorf("realtime: expected auth_success, the server sent %q", msg.Type)
		}
	}
}

// transientAuthError tells an auth_error that says nothing about the token
// (the per-IP auth rate limit, the auth timeout: ws-protocol §2.4) from a
// rejection, so that only a rejection counts as one.
func transientAuthError(text string) bool {
	t := strings.ToLower(text)
	return strings.Contains(t, "too many") || strings.Contains(t, "timeout")
}

// aborter is implemented by the native and mock transports' connections:
// a close without the handshake.
type aborter interface {
	CloseNow() error
}

// closeGrace is how long Close of the manager lets a close handshake run
// before dropping the connection.
const closeGrace = 250 * time.Millisecond

// closeAside closes conn with a close handshake without waiting for it:
// over a link that does not answer, the handshake takes seconds
// (coder/websocket waits 5 s). Close of the manager cuts a pending one
// short after closeGrace, so it never waits long for a silent server.
func (m *Manager) closeAside(conn transport.Conn, code transport.StatusCode, reason string) {
	done := make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer close(done)
		conn.Close(code, reason)
	}()
	a, ok := conn.(aborter)
	if !ok {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-done:
			return
		case <-m.ctx.Done():
		}
		t := time.NewTimer(closeGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
			a.CloseNow()
		}
	}()
}

// pinger is implemented by the native and mock transports' connections:
// a WebSocket Ping whose Pong proves the link is alive.
type pinger interface {
	Ping(ctx context.Context) error
}

// serve runs one authenticated connection until it ends and returns why.
func (m *Manager) serve(lc *liveConn) error {
	ctx, cancel := context.WithCancelCause(m.ctx)
	lc.ctx, lc.cancel = ctx, cancel
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); m.readLoop(lc) }()
	go func() { defer wg.Done(); lc.writeLoop() }()
	go func() { defer wg.Done(); m.keepalive(lc) }()

	m.mu.Lock()
	m.conn = lc
	// A resume on another node cannot trust the checkpoint (nodemove.go).
	moved := m.cfg.Moves != nil && m.lastNode != "" && lc.node != m.lastNode
	m.lastNode = lc.node
	for _, s := range m.subs {
		s.resubscribe(lc, false, moved)
	}
	m.setStateLocked(StateConnected)
	m.mu.Unlock()
	m.events.emit(ConnEvent{Kind: EventConnected, Code: -1, Node: lc.node})

	<-ctx.Done()
	reason := context.Cause(ctx)
	if errors.Is(reason, ErrDeadLink) {
		// A close handshake over a dead link waits for a reply that will
		// not come (coder/websocket: 5 s), which would hold back the
		// reconnect; close it aside. The loops below end on ctx alone.
		m.closeAside(lc.conn, transport.StatusGoingAway, "no pong")
	} else {
		m.closeAside(lc.conn, transport.StatusNormalClosure, "")
	}
	wg.Wait()
	lc.aux.Wait()

	m.mu.Lock()
	m.conn = nil
	clear(m.wire)
	tooLarge := errors.Is(reason, transport.ErrMessageTooLarge)
	for _, s := range m.subs {
		// A frame over the read limit cannot be pinned on one
		// subscription: every snapshot still loading asks for smaller
		// batches on the next connection.
		if tooLarge {
			s.shrink()
		}
		s.disconnected()
	}
	m.mu.Unlock()
	if errors.Is(reason, context.Canceled) && m.ctx.Err() != nil {
		return ErrClosed
	}
	return reason
}

func (m *Manager) readLoop(lc *liveConn) {
	for {
		typ, p, err := lc.conn.Read(lc.ctx)
		if err != nil {
			lc.cancel(fmt.Errorf("realtime: connection lost: %w", err))
			return
		}
		msg, err := Decode(typ == transport.MessageBinary, p, m.cfg.MaxMessageBytes)
		if err != nil {
			if m.poisoned(lc, typ == transport.MessageBinary, p, err) {
				continue
			}
			// The frame may have carried a change; reconnecting resumes
			// every subscription from its checkpoint, so nothing is lost.
			lc.cancel(fmt.Errorf("%w: %w", ErrUndecoded, err))
			return
		}
		m.route(lc, msg)
	}
}

// poisoned handles a frame that did not decode but names its
// subscription: that subscription alone fetches smaller batches (a snapshot
// batch over the size limit) or fails; the connection goes on. It reports
// false when the frame names no known subscription.
func (m *Manager) poisoned(lc *liveConn, binary bool, p []byte, err error) bool {
	id := subscriptionIDOf(binary, p)
	if id == "" {
		return false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.wire[id]
	if s == nil {
		m.cfg.Log.Debug("kalamdb websocket undecodable message for a subscription no longer wanted skipped", "subscription", id, "error", err)
		return true
	}
	s.poison(lc, err)
	return true
}

func (m *Manager) keepalive(lc *liveConn) {
	t := time.NewTicker(m.cfg.PingInterval)
	defer t.Stop()
	p, native := lc.conn.(pinger)
	for {
		select {
		case <-lc.ctx.Done():
			return
		case <-t.C:
		}
		if !native {
			// Browsers cannot send Ping frames; the server also counts an
			// application ping as a heartbeat (it never answers it).
			lc.send(PingMessage, true)
			if m.probeQuietLink(lc) {
				return
			}
			continue
		}
		ctx, cancel := context.WithTimeout(lc.ctx, m.cfg.PongTimeout)
		m.probe(true, lc, 0)
		start := time.Now()
		err := p.Ping(ctx)
		took := time.Since(start)
		timedOut := ctx.Err() != nil && lc.ctx.Err() == nil
		cancel()
		switch {
		case timedOut:
			lc.cancel(fmt.Errorf("%w within %v", ErrDeadLink, m.cfg.PongTimeout))
			return
		case err != nil && lc.ctx.Err() == nil:
			lc.cancel(fmt.Errorf("realtime: ping: %w", err))
			return
		case err == nil:
			m.probe(false, lc, took)
		}
	}
}

// probe brackets one ping. KalamDB drops change messages silently when a
// connection's queue is full (kalamdb-live/src/notification.rs: try_send,
// TrySendError::Full is only logged), which happens when the link stalls
// while the link itself survives; no gap in _seq shows it (_seq values are
// not contiguous). The pong is written behind the stalled frames, so a late
// pong is the one sign a client gets: when the ping went out, each live
// subscription notes its checkpoint and from then on the _seq values it
// queues; if the pong comes back later than StallThreshold, it resyncs
// from that checkpoint, skipping the rows it already queued since.
func (m *Manager) probe(begin bool, lc *liveConn, took time.Duration) {
	if m.cfg.StallThreshold < 0 {
		return
	}
	stalled := !begin && took >= m.cfg.StallThreshold
	m.mu.Lock()
	n := 0
	for _, s := range m.subs {
		if begin {
			s.beginProbe()
		} else if s.endProbe(lc, stalled) {
			n++
		}
	}
	m.mu.Unlock()
	if stalled {
		m.events.emit(ConnEvent{Kind: EventError, Code: -1, Err: fmt.Errorf("%w (no pong for %v; KalamDB drops changes silently once 256 wait for a connection); resynchronising %d subscription(s) from before the stall", ErrStalled, took.Round(time.Millisecond), n)})
	}
}

// route hands a server message to its subscription.
func (m *Manager) route(lc *liveConn, msg *ServerMessage) {
	if msg.Type == TypeError {
		switch msg.SubscriptionID {
		case "rate_limit":
			m.rateLimited(lc, msg)
			return
		case "protocol", "subscribe", "invalid_subscription":
			m.events.emit(ConnEvent{Kind: EventError, Code: -1, Err: &ServerError{SubscriptionID: msg.SubscriptionID, Code: msg.Code, Message: redact.String(msg.Message)}})
			return
		}
	}
	// m.mu is held while the message is applied: the subscription may
	// change its wire id (resync, overflow), and m.wire is guarded by m.mu.
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.wire[msg.SubscriptionID]
	if s == nil {
		// A subscription this client no longer wants (closed, replaced,
		// or a lost unsubscribe): tell the server once more.
		m.cfg.Log.Debug("kalamdb websocket message for a subscription no longer wanted", "type", msg.Type, "subscription", msg.SubscriptionID, "code", msg.Code)
		if msg.Type != TypeError && !lc.unsubscribeStale(msg.SubscriptionID) {
			m.cfg.Log.Debug("kalamdb websocket: too many unknown subscription ids; not unsubscribing", "subscription", msg.SubscriptionID)
		}
		return
	}
	s.handle(lc, msg)
}

// rateLimited reacts to the server dropping a message: it sends slower
// and, once the queue has drained and the server's one-second window has
// passed, repeats every request still unanswered. A repeated subscribe gets
// a new wire id, so a late reply to the original is recognised as stale
// (and unsubscribed) rather than delivered twice.
func (m *Manager) rateLimited(lc *liveConn, msg *ServerMessage) {
	rate := lc.pacer.slowDown()
	err := &ServerError{SubscriptionID: msg.SubscriptionID, Code: msg.Code, Message: redact.String(msg.Message)}
	m.events.emit(ConnEvent{Kind: EventError, Code: -1, Err: fmt.Errorf("the server dropped a message; now sending at most %.0f messages/s and repeating unanswered requests: %w", rate, err)})
	lc.mu.Lock()
	pending := lc.repeatPending
	lc.repeatPending = true
	lc.mu.Unlock()
	if pending {
		return
	}
	lc.aux.Add(1)
	go func() {
		defer lc.aux.Done()
		lc.waitIdle()
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-lc.ctx.Done():
			return
		case <-t.C:
		}
		m.mu.Lock()
		defer m.mu.Unlock()
		lc.mu.Lock()
		lc.repeatPending = false
		lc.mu.Unlock()
		for _, s := range m.subs {
			s.repeatUnanswered(lc)
		}
	}()
}

// register adds a subscription and subscribes it now if connected (else on
// connect).
func (m *Manager) register(s *Sub) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == StateClosed {
		return ErrClosed
	}
	m.subs[s.id] = s
	m.startLocked()
	if m.conn != nil {
		s.resubscribe(m.conn, false, false)
	}
	return nil
}

// setWire moves s from wire id old to id; m.mu must be held.
func (m *Manager) setWire(s *Sub, old, id string) {
	if old != "" && m.wire[old] == s {
		delete(m.wire, old)
	}
	if id != "" {
		m.wire[id] = s
	}
}

// dispatcher delivers connection events to the observer in order from one
// goroutine, with an unbounded queue (events are rare).
type dispatcher struct {
	fn     func(ConnEvent)
	mu     sync.Mutex
	queue  []ConnEvent
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

func newDispatcher(fn func(ConnEvent), wg *sync.WaitGroup) *dispatcher {
	d := &dispatcher{fn: fn, wake: make(chan struct{}, 1), done: make(chan struct{})}
	if fn == nil {
		close(d.done)
		return d
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(d.done)
		for {
			d.mu.Lock()
			q, closed := d.queue, d.closed
			d.queue = nil
			d.mu.Unlock()
			for _, ev := range q {
				d.fn(ev)
			}
			if closed && len(q) == 0 {
				return
			}
			if len(q) == 0 {
				<-d.wake
			}
		}
	}()
	return d
}

func (d *dispatcher) emit(ev ConnEvent) {
	if d.fn == nil {
		return
	}
	d.mu.Lock()
	if !d.closed {
		d.queue = append(d.queue, ev)
	}
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *dispatcher) close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}
