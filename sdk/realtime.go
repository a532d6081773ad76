package sdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
	"github.com/kalamstack/kalam-go/transport"
)

// realtimeState is the client's shared WebSocket, created on first use.
type realtimeState struct {
	cfg         realtime.Config
	compressOff bool
	mu          sync.Mutex
	mgr         *realtime.Manager
	closed      bool
	reg         subRegistry // open subscriptions, for Subscriptions
}

// close ends the shared WebSocket and waits for its goroutines.
func (rt *realtimeState) close() {
	rt.mu.Lock()
	m := rt.mgr
	rt.closed = true
	rt.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

func (c *Client) realtimeConfig() *realtimeState {
	if c.rt == nil {
		c.rt = &realtimeState{}
	}
	return c.rt
}

// manager returns the shared connection manager, creating it (idle) on the
// first call.
func (c *Client) manager() (*realtime.Manager, error) {
	rt := c.rt
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed || c.done.Err() != nil {
		return nil, ErrClosed
	}
	if rt.mgr == nil {
		cfg := rt.cfg
		cfg.Transport = c.tr
		cfg.URL = wsURL(c.eps.current(), rt.compressOff, cfg.Serialization == "msgpack")
		if c.cluster != nil && c.eps.many() {
			c.cluster.realtime(c, &cfg, rt.compressOff, cfg.Serialization == "msgpack")
		}
		cfg.HeaderAuth = transport.SupportsDialHeaders(c.tr)
		cfg.Token = c.wsToken
		cfg.Probe = c.probeServer
		cfg.Permanent = c.credentialsRejected
		cfg.Log = c.log
		rt.mgr = realtime.New(cfg)
	}
	return rt.mgr, nil
}

// wsURL derives the WebSocket URL from the base URL: http→ws, https→wss,
// path /v1/ws under any reverse-proxy prefix.
func wsURL(base string, compressOff, msgpack bool) string {
	u := "ws" + strings.TrimPrefix(base, "http") + "/v1/ws"
	var q []string
	if compressOff {
		q = append(q, "compress=false")
	}
	if msgpack {
		// Honoured on the header-auth path; the authenticate message carries
		// it on the other.
		q = append(q, "serialization=msgpack")
	}
	if len(q) > 0 {
		u += "?" + strings.Join(q, "&")
	}
	return u
}

// wsToken returns the token for a new WebSocket. A dynamic provider is asked
// again on every reconnect (the official client reuses its first token:
// sdk-features §4 A1); any rejected token is renewed.
func (c *Client) wsToken(ctx context.Context, reconnect, rejected bool) (string, error) {
	tok, gen, err := c.accessToken(ctx)
	if err != nil {
		return "", err
	}
	if rejected || (reconnect && c.auth.provider != nil) {
		if err := c.renewToken(ctx, gen); err != nil {
			return "", err
		}
		tok, _, err = c.accessToken(ctx)
	}
	return tok, err
}

// credentialsRejected reports a WebSocket attempt that failed because the
// server rejected what the client has to offer: a password (retrying it
// only walks into the account lockout), or a token the client cannot
// renew. Such a failure ends Subscribe and Connect at once.
func (c *Client) credentialsRejected(err error) bool {
	switch {
	case errors.Is(err, ErrInvalidCredentials), errors.Is(err, ErrAccountLocked):
		return true
	case errors.Is(err, ErrTokenExpired):
		return !c.auth.canRenew()
	}
	return false
}

// Connect opens the shared WebSocket now instead of on the first Subscribe,
// and waits until it is authenticated. Calling it again is harmless.
func (c *Client) Connect(ctx context.Context) error {
	if c.auth.modes == 0 {
		return errNoRealtimeCredentials
	}
	m, err := c.manager()
	if err != nil {
		return err
	}
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := m.Connect(ctx); err != nil {
		if ctx.Err() != nil {
			return realtimeCtxError("connecting the WebSocket", ctx, err)
		}
		return translateErr(err)
	}
	return nil
}

// ConnectionState is the state of the client's shared WebSocket.
type ConnectionState int

const (
	StateIdle         ConnectionState = ConnectionState(realtime.StateIdle)         // not connected (lazy) or given up
	StateConnecting   ConnectionState = ConnectionState(realtime.StateConnecting)   // first connection in progress
	StateConnected    ConnectionState = ConnectionState(realtime.StateConnected)    // authenticated
	StateReconnecting ConnectionState = ConnectionState(realtime.StateReconnecting) // lost; retrying
	StateClosed       ConnectionState = ConnectionState(realtime.StateClosed)       // client closed
)

func (s ConnectionState) String() string { return realtime.State(s).String() }

// ConnectionState reports the shared WebSocket's state.
func (c *Client) ConnectionState() ConnectionState {
	if c.done.Err() != nil {
		return StateClosed
	}
	c.rt.mu.Lock()
	m := c.rt.mgr
	c.rt.mu.Unlock()
	if m == nil {
		return StateIdle
	}
	return ConnectionState(m.State())
}

// ConnectionEventKind tells connection events apart.
type ConnectionEventKind int

const (
	EventConnected    = ConnectionEventKind(realtime.EventConnected)    // authenticated
	EventDisconnected = ConnectionEventKind(realtime.EventDisconnected) // an established connection ended (Err says why)
	EventReconnecting = ConnectionEventKind(realtime.EventReconnecting) // next attempt after Delay
	EventError        = ConnectionEventKind(realtime.EventError)        // non-fatal: a dropped message, giving up, ...
)

func (k ConnectionEventKind) String() string { return realtime.EventKind(k).String() }

// ConnectionEvent is one change of the shared WebSocket.
type ConnectionEvent struct {
	Kind ConnectionEventKind
	Err  error
	// CloseCode is the WebSocket close code the server sent, or -1.
	CloseCode int
	Attempt   int
	Delay     time.Duration
	// Node is the base URL of the cluster node connected to (Connected),
	// lost (Disconnected) or that failed (Reconnecting); "" unless
	// WithEndpoints named several.
	Node string
}

// WithConnectionEvents calls fn for every connection event, in order, from
// one goroutine of its own (a slow fn delays nothing but later events).
func WithConnectionEvents(fn func(ConnectionEvent)) Option {
	return func(c *Client) error {
		if fn == nil {
			return errors.New("sdk: WithConnectionEvents: nil function")
		}
		c.realtimeConfig().cfg.OnEvent = func(ev realtime.ConnEvent) {
			fn(ConnectionEvent{Kind: ConnectionEventKind(ev.Kind), Err: translateErr(ev.Err), CloseCode: int(ev.Code), Attempt: ev.Attempt, Delay: ev.Delay, Node: ev.Node})
		}
		return nil
	}
}

// WithKeepalive sets how often the WebSocket is pinged (default 5 s; the
// server drops links silent for 10-15 s) and how long a pong may take before
// the link is declared dead and replaced (default 5 s). Browsers cannot see
// pongs, so there only the ping is sent.
func WithKeepalive(interval, pongTimeout time.Duration) Option {
	return func(c *Client) error {
		if interval <= 0 || pongTimeout <= 0 {
			return fmt.Errorf("sdk: WithKeepalive: need positive durations, got %v and %v", interval, pongTimeout)
		}
		cfg := &c.realtimeConfig().cfg
		cfg.PingInterval, cfg.PongTimeout = interval, pongTimeout
		return nil
	}
}

// WithStallThreshold sets how late a pong may come before the link counts
// as stalled (default 1 s; negative turns the check off). KalamDB drops
// change messages silently while a connection's 256-message queue is full,
// as it is when the link stalls yet survives, and nothing on the wire shows
// the gap. After a stall the client emits an EventError matching
// ErrLinkStalled and resyncs each live subscription from where it was
// before the stall (see the package doc for what a resync can recover).
func WithStallThreshold(d time.Duration) Option {
	return func(c *Client) error {
		if d == 0 {
			return errors.New("sdk: WithStallThreshold: need a non-zero duration (negative turns the check off)")
		}
		c.realtimeConfig().cfg.StallThreshold = d
		return nil
	}
}

// WithReconnect sets the reconnect backoff (a random half of min·2^n, capped
// at max; defaults 500 ms and 30 s) and the number of failed attempts in a
// row after which subscriptions fail (0: never give up).
func WithReconnect(min, max time.Duration, maxAttempts int) Option {
	return func(c *Client) error {
		if min <= 0 || max < min || maxAttempts < 0 {
			return fmt.Errorf("sdk: WithReconnect: need 0 < min <= max and maxAttempts >= 0, got %v, %v, %d", min, max, maxAttempts)
		}
		cfg := &c.realtimeConfig().cfg
		cfg.ReconnectMin, cfg.ReconnectMax, cfg.MaxReconnectAttempts = min, max, maxAttempts
		return nil
	}
}

// WithoutReconnect makes a lost WebSocket fail every subscription instead
// of reconnecting.
func WithoutReconnect() Option {
	return func(c *Client) error {
		c.realtimeConfig().cfg.NoReconnect = true
		return nil
	}
}

// WithAuthTimeout bounds dialling plus authenticating one WebSocket
// (default 10 s).
func WithAuthTimeout(d time.Duration) Option {
	return func(c *Client) error {
		if d <= 0 {
			return fmt.Errorf("sdk: WithAuthTimeout: need a positive duration, got %v", d)
		}
		c.realtimeConfig().cfg.AuthTimeout = d
		return nil
	}
}

// WithMaxMessageSize bounds one WebSocket message, after decompression
// (default 64 MiB, as the official client). A snapshot batch over it is
// fetched again in smaller batches; any other message over it ends its
// subscription with ErrBadMessage.
func WithMaxMessageSize(bytes int64) Option {
	return func(c *Client) error {
		if bytes < 1024 {
			return fmt.Errorf("sdk: WithMaxMessageSize: need at least 1024 bytes, got %d", bytes)
		}
		c.realtimeConfig().cfg.MaxMessageBytes = bytes
		return nil
	}
}

// WithMessagePack asks the server for MessagePack frames instead of JSON.
func WithMessagePack() Option {
	return func(c *Client) error {
		c.realtimeConfig().cfg.Serialization = "msgpack"
		realtime.EnableMessagePack()
		return nil
	}
}

// WithoutCompression asks the server not to gzip large frames.
func WithoutCompression() Option {
	return func(c *Client) error {
		c.realtimeConfig().compressOff = true
		return nil
	}
}

// WithSubscriptionBuffer bounds the events each subscription holds for a
// slow consumer (default 1024). When it is full the subscription is paused
// on the server, ErrOverflow is delivered after the queued events, and the
// subscription then resumes from the last queued event.
func WithSubscriptionBuffer(n int) Option {
	return func(c *Client) error {
		if n < 2 {
			return fmt.Errorf("sdk: WithSubscriptionBuffer: need at least 2, got %d", n)
		}
		c.realtimeConfig().cfg.QueueSize = n
		return nil
	}
}

// WithSendRate paces the messages the client sends on the WebSocket
// (default 30/s with bursts of 10, so at most 40 in any second; KalamDB
// drops messages above 50/s per connection).
func WithSendRate(perSecond float64, burst int) Option {
	return func(c *Client) error {
		if perSecond <= 0 || burst < 1 {
			return fmt.Errorf("sdk: WithSendRate: need a positive rate and burst, got %v and %d", perSecond, burst)
		}
		cfg := &c.realtimeConfig().cfg
		cfg.SendRate, cfg.SendBurst = perSecond, burst
		return nil
	}
}

// errNoRealtimeCredentials: KalamDB has no anonymous WebSocket sessions.
var errNoRealtimeCredentials = fmt.Errorf("%w: realtime subscriptions need credentials (WithBasicAuth, WithToken or WithAuthProvider)", ErrInvalidCredentials)

// Realtime errors.
var (
	// ErrOverflow: a subscription's consumer fell behind by the buffer size
	// (WithSubscriptionBuffer). It is not fatal: keep reading; the
	// subscription resumes from the last event delivered, with rows changed
	// meanwhile arriving as InitialRows (Resumed).
	ErrOverflow = errors.New("sdk: subscription buffer overflowed (consumer too slow); resuming from the last delivered event")
	// ErrSubscriptionLimit: the server's subscription limit was reached
	// (SUBSCRIPTION_LIMIT_EXCEEDED per user, or 100 per connection).
	ErrSubscriptionLimit = errors.New("sdk: subscription limit reached")
	// ErrSubscriptionClosed: the subscription was closed.
	ErrSubscriptionClosed = errors.New("sdk: subscription closed")
	// ErrConnectionLost: the WebSocket was lost and reconnecting was off or
	// gave up.
	ErrConnectionLost = errors.New("sdk: realtime connection lost")
	// ErrBadMessage: a server message could not be decoded or exceeded the
	// size limit (WithMaxMessageSize). A subscription it belongs to ends
	// with it (a resume would only receive it again), unless it was a
	// snapshot batch: then smaller batches are fetched instead.
	ErrBadMessage = errors.New("sdk: unusable realtime message")
	// ErrLinkStalled: a pong came back late (WithStallThreshold), so the
	// server may have dropped change messages; reported by an EventError,
	// after which live subscriptions resync.
	ErrLinkStalled = errors.New("sdk: realtime link stalled; changes may have been dropped by the server")
)

// SubscriptionError is an error the server reported on the WebSocket.
type SubscriptionError struct {
	// SubscriptionID is the subscription's wire id, or the server's tag for
	// connection-level errors ("rate_limit", "protocol").
	SubscriptionID string
	// Code is KalamDB's code (INVALID_SQL, NOT_FOUND, UNAUTHORIZED,
	// SUBSCRIPTION_LIMIT_EXCEEDED, RATE_LIMIT_EXCEEDED, ...).
	Code    string
	Message string
}

func (e *SubscriptionError) Error() string {
	return fmt.Sprintf("kalamdb subscription %s: %s: %s", e.SubscriptionID, e.Code, errorText(e.Message))
}

// Is matches the sentinel errors, including the limits the server enforces.
func (e *SubscriptionError) Is(target error) bool {
	code := strings.ToUpper(e.Code)
	switch target {
	case ErrRateLimited:
		return code == "RATE_LIMIT_EXCEEDED"
	case ErrSubscriptionLimit:
		return code == "SUBSCRIPTION_LIMIT_EXCEEDED" || (code == "UNSUPPORTED" && strings.Contains(e.Message, "Maximum subscriptions"))
	case ErrPermissionDenied:
		return code == "UNAUTHORIZED"
	case ErrNotFound:
		return code == "NOT_FOUND"
	case ErrInvalidCredentials:
		return code == "AUTH_REQUIRED"
	case ErrRequestTooLarge:
		return code == "MESSAGE_TOO_LARGE"
	case ErrInvalidRequest:
		return code == "INVALID_SQL" || code == "INVALID_SUBSCRIPTION_ID" || code == "UNSUPPORTED_DATA" || code == "PROTOCOL" ||
			(code == "UNSUPPORTED" && !strings.Contains(e.Message, "Maximum subscriptions"))
	case ErrInternal:
		return code == "SUBSCRIPTION_FAILED" || code == "CONVERSION_ERROR" || code == "BATCH_FETCH_FAILED"
	}
	return false
}

// realtimeCtxError reports a realtime call that ctx ended: the context's
// cause once, then the connection's last error when there was one. The
// realtime package already joins the two; taking them apart keeps the
// cause from being said twice.
func realtimeCtxError(what string, ctx context.Context, err error) error {
	cause := ctxError(ctx)
	var last error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			if !errors.Is(e, context.Cause(ctx)) && !errors.Is(e, ctx.Err()) {
				last = e
			}
		}
	} else if err != nil && !errors.Is(err, context.Cause(ctx)) && !errors.Is(err, ctx.Err()) {
		last = err
	}
	if last == nil {
		return fmt.Errorf("sdk: %s: %w", what, cause)
	}
	return fmt.Errorf("sdk: %s: %w; last connection error: %w", what, cause, translateErr(last))
}

// translateErr maps the realtime package's errors onto the SDK's
// sentinels, keeping the original chain.
func translateErr(err error) error {
	var se *realtime.ServerError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &se):
		serr := &SubscriptionError{SubscriptionID: se.SubscriptionID, Code: se.Code, Message: se.Message}
		if err == error(se) {
			return serr
		}
		return fmt.Errorf("%s: %w", strings.TrimSuffix(err.Error(), ": "+se.Error()), serr)
	case errors.Is(err, realtime.ErrClosed):
		return ErrClosed
	case errors.Is(err, realtime.ErrOverflow):
		return ErrOverflow
	case errors.Is(err, realtime.ErrSubscriptionClosed):
		return ErrSubscriptionClosed
	}
	var tags []error
	if errors.Is(err, realtime.ErrGaveUp) {
		tags = append(tags, ErrConnectionLost)
	}
	if errors.Is(err, realtime.ErrStalled) {
		tags = append(tags, ErrLinkStalled)
	}
	if errors.Is(err, realtime.ErrPoison) || errors.Is(err, realtime.ErrUndecoded) ||
		errors.Is(err, realtime.ErrMessageTooLarge) || errors.Is(err, transport.ErrMessageTooLarge) {
		tags = append(tags, ErrBadMessage)
	}
	if errors.Is(err, realtime.ErrAuth) {
		tags = append(tags, ErrInvalidCredentials)
	}
	if len(tags) == 0 {
		return err
	}
	return &taggedError{err: err, tags: tags}
}

// taggedError adds SDK sentinels to an error without changing its text.
type taggedError struct {
	err  error
	tags []error
}

func (e *taggedError) Error() string   { return e.err.Error() }
func (e *taggedError) Unwrap() []error { return append([]error{e.err}, e.tags...) }

// rowDecoder turns the server's row objects into Rows sharing one schema
// per subscription. Columns the ack schema does not list (_seq on projected
// subscriptions, _commit_seq, ...) are added as they appear, copy-on-write,
// so rows already handed out keep theirs.
type rowDecoder struct {
	res *StatementResult
	// extra counts columns added beyond the ack's schema.
	extra int
}

// maxExtraColumns bounds the column names a subscription's rows may add
// beyond its schema: each addition copies the name index, so an endless
// flood of new names would cost quadratic time.
const maxExtraColumns = 256

// systemColumns are sent in rows but not always in the schema.
var systemColumns = []wireField{
	{Name: "_seq", DataType: json.RawMessage(`"BigInt"`)},
	{Name: "_commit_seq", DataType: json.RawMessage(`"BigInt"`)},
	{Name: "_deleted", DataType: json.RawMessage(`"Boolean"`)},
}

// schemaCache shares one immutable schema among every subscription acked
// with the same fields (thousands of subscriptions often watch one table);
// it is emptied when full, which only costs a rebuild.
var schemaCache struct {
	sync.Mutex
	m map[string]*StatementResult
}

const schemaCacheMax = 1024

func schemaKey(fields []realtime.Field) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.Name)
		b.WriteByte(0)
		b.Write(f.DataType)
		b.WriteByte(0)
		b.WriteString(strconv.Itoa(f.Index))
		for _, fl := range f.Flags {
			b.WriteByte(0)
			b.WriteString(fl)
		}
		b.WriteByte(1)
	}
	return b.String()
}

func (d *rowDecoder) setSchema(fields []realtime.Field) error {
	d.extra = 0
	key := schemaKey(fields)
	schemaCache.Lock()
	res := schemaCache.m[key]
	schemaCache.Unlock()
	if res != nil {
		d.res = res
		return nil
	}
	wf := make([]wireField, 0, len(fields)+len(systemColumns))
	seen := map[string]bool{}
	for _, f := range fields {
		wf = append(wf, wireField{Name: f.Name, DataType: f.DataType, Index: f.Index, Flags: f.Flags})
		seen[strings.ToLower(f.Name)] = true
	}
	for _, f := range systemColumns {
		if !seen[f.Name] {
			f.Index = len(wf)
			wf = append(wf, f)
		}
	}
	res, err := newStatementResult(&wireResult{Schema: wf})
	if err != nil {
		return fmt.Errorf("sdk: subscription schema: %w", err)
	}
	res.Columns = res.Columns[:len(res.Columns):len(res.Columns)] // appends copy
	schemaCache.Lock()
	if len(schemaCache.m) >= schemaCacheMax || schemaCache.m == nil {
		schemaCache.m = make(map[string]*StatementResult)
	}
	schemaCache.m[key] = res
	schemaCache.Unlock()
	d.res = res
	return nil
}

func (d *rowDecoder) rows(raw []realtime.RawRow) ([]Row, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	if d.res == nil {
		d.setSchema(nil) // changes before any ack (cannot fail: fixed types)
	}
	out := make([]Row, len(raw))
	for i, r := range raw {
		row, err := d.row(r)
		if err != nil {
			return nil, err
		}
		out[i] = row
	}
	return out, nil
}

func (d *rowDecoder) row(r realtime.RawRow) (Row, error) {
	var added []string
	for _, c := range r {
		if d.res.ColumnIndex(c.Name) < 0 && !slices.Contains(added, c.Name) {
			added = append(added, strings.Clone(c.Name)) // kept: not an alias of the frame
		}
	}
	if len(added) > 0 {
		if d.extra+len(added) > maxExtraColumns {
			return Row{}, fmt.Errorf("%w: rows name more than %d columns the subscription's schema does not list", ErrUnexpectedResponse, maxExtraColumns)
		}
		d.addColumns(added)
	}
	cells := make([]json.RawMessage, len(d.res.Columns))
	for _, c := range r {
		cells[d.res.ColumnIndex(c.Name)] = c.Value
	}
	return Row{res: d.res, cells: cells}, nil
}

// addColumns adds names (typed Unknown) to a copy of the schema.
func (d *rowDecoder) addColumns(names []string) {
	old := d.res
	cols := slices.Clip(old.Columns)
	res := &StatementResult{byName: make(map[string]int, len(old.byName)+len(names))}
	for k, v := range old.byName {
		res.byName[k] = v
	}
	for _, name := range names {
		if _, dup := res.byName[strings.ToLower(name)]; dup {
			continue // differs from a known name only in case
		}
		res.byName[strings.ToLower(name)] = len(cols)
		cols = append(cols, Column{Name: name, Index: len(cols), Type: DataType{Kind: KindUnknown, Name: "Unknown"}})
	}
	res.Columns = cols
	d.extra += len(names)
	d.res = res
}
