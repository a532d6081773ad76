package sdk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
)

// SubscribeOption configures Subscribe and LiveRows.
type SubscribeOption func(*subscribeConfig) error

type subscribeConfig struct {
	rt         realtime.SubOptions
	limit      int
	keyColumns []string
	liveRows   bool
}

// BatchSize sets the rows per initial snapshot batch (server default 1000).
// The SDK requests every further batch itself.
func BatchSize(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("sdk: BatchSize: need at least 1, got %d", n)
		}
		c.rt.BatchSize = n
		return nil
	}
}

// LastRows makes the initial snapshot the newest n rows (oldest first).
func LastRows(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("sdk: LastRows: need at least 1, got %d", n)
		}
		c.rt.LastRows = n
		return nil
	}
}

// FromSeq resumes strictly after the given _seq: the snapshot holds only
// rows inserted or updated after it (rows deleted meanwhile are not
// reported; that is the server's resume semantics).
func FromSeq(seq int64) SubscribeOption {
	return func(c *subscribeConfig) error {
		c.rt.From = &seq
		return nil
	}
}

// LiveOnly skips the initial snapshot: only changes after the subscription
// are delivered.
func LiveOnly() SubscribeOption {
	return func(c *subscribeConfig) error {
		c.rt.LiveOnly = true
		return nil
	}
}

// Limit keeps at most n rows in a LiveRows set (the newest by arrival).
func Limit(n int) SubscribeOption {
	return func(c *subscribeConfig) error {
		if n < 1 {
			return fmt.Errorf("sdk: Limit: need at least 1, got %d", n)
		}
		c.limit = n
		return nil
	}
}

// KeyColumns names the columns that identify a row in a LiveRows set,
// overriding the primary key from the schema.
func KeyColumns(cols ...string) SubscribeOption {
	return func(c *subscribeConfig) error {
		c.keyColumns = nil
		seen := map[string]bool{}
		for _, k := range cols {
			k = strings.TrimSpace(k)
			if k != "" && !seen[strings.ToLower(k)] {
				seen[strings.ToLower(k)] = true
				c.keyColumns = append(c.keyColumns, k)
			}
		}
		if len(c.keyColumns) == 0 {
			return errors.New("sdk: KeyColumns: no column named")
		}
		return nil
	}
}

func buildSubscribeConfig(liveRows bool, opts []SubscribeOption) (*subscribeConfig, error) {
	cfg := &subscribeConfig{liveRows: liveRows}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(cfg); err != nil {
			return nil, err
		}
	}
	if !liveRows && (cfg.limit > 0 || cfg.keyColumns != nil) {
		return nil, errors.New("sdk: Limit and KeyColumns apply to LiveRows, not Subscribe")
	}
	if cfg.rt.LiveOnly && (cfg.rt.LastRows > 0 || cfg.rt.From != nil) {
		return nil, errors.New("sdk: LiveOnly cannot be combined with LastRows or FromSeq")
	}
	return cfg, nil
}

// maxSubscribeSQL leaves room for the subscribe envelope within 64 KiB.
const maxSubscribeSQL = 63 << 10

// Event is one subscription event: *Ack, *InitialRows, *Insert, *Update or
// *Delete.
type Event interface{ isEvent() }

// Ack confirms the subscription and carries the schema. After a reconnect
// (or an overflow) a new Ack with Resumed set starts the resync.
type Ack struct {
	Columns []Column
	Resumed bool
}

// InitialRows is one batch of the initial snapshot. Ready marks the last
// batch; changes follow it. Resumed batches hold the rows inserted or
// updated while the client was not listening (upsert them by key).
type InitialRows struct {
	Rows     []Row
	Ready    bool
	Resumed  bool
	BatchNum int
}

// Insert carries inserted rows.
type Insert struct{ Rows []Row }

// Update carries the new rows and the old values. A new row holds every
// non-null column (an absent column became NULL); Old holds the key, the
// previous _seq and the previous values of the Changed columns only.
type Update struct {
	Rows    []Row
	Old     []Row
	Changed []string
}

// Delete carries the deleted rows (with _deleted true; on STREAM tables
// only a row_id).
type Delete struct{ Rows []Row }

func (*Ack) isEvent()         {}
func (*InitialRows) isEvent() {}
func (*Insert) isEvent()      {}
func (*Update) isEvent()      {}
func (*Delete) isEvent()      {}

// Subscription is a live query on the client's shared WebSocket. Read it
// with Events or Next from one goroutine; Close it when done.
type Subscription struct {
	sub     *realtime.Sub
	reg     *subRegistry // for Client.Subscriptions
	created int64        // Unix ns when Subscribe was called
	// lastEvent is the Unix ns when Next last returned an event (0 before
	// the first): atomic, so Next takes no lock for it.
	lastEvent atomic.Int64
	name      string
	decoder   rowDecoder
	pk        []string // primary-key columns from the latest ack

	mu      sync.Mutex
	ended   error
	columns []Column
	seen    int64 // highest _seq returned by Next
	hasSeen bool
}

// Subscribe starts a live query and waits for the server's acknowledgement.
// A server rejection (bad SQL, missing table, no permission, a limit) fails
// the call with a *SubscriptionError. If ctx ends first nothing is left
// behind on the client or the server.
func (c *Client) Subscribe(ctx context.Context, sql string, opts ...SubscribeOption) (*Subscription, error) {
	cfg, err := buildSubscribeConfig(false, opts)
	if err != nil {
		return nil, err
	}
	return c.subscribe(ctx, sql, cfg)
}

func (c *Client) subscribe(ctx context.Context, sql string, cfg *subscribeConfig) (*Subscription, error) {
	if strings.TrimSpace(sql) == "" {
		return nil, errors.New("sdk: Subscribe: SQL is empty")
	}
	if len(sql) > maxSubscribeSQL {
		// The server's WebSocket codec ends the connection on a frame over
		// 64 KiB, and resubscribing after the reconnect would do it again.
		return nil, fmt.Errorf("sdk: Subscribe: the SQL is %d bytes; KalamDB drops WebSocket messages over 64 KiB (limit here %d)", len(sql), maxSubscribeSQL)
	}
	if c.auth.modes == 0 {
		return nil, errNoRealtimeCredentials
	}
	m, err := c.manager()
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := c.callContext(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	created := time.Now()
	rs, err := m.Subscribe(ctx, sql, cfg.rt)
	if err != nil {
		if ctx.Err() != nil {
			return nil, realtimeCtxError("subscribing", ctx, err)
		}
		return nil, fmt.Errorf("sdk: subscribing: %w", translateErr(err))
	}
	sub := &Subscription{sub: rs, name: rs.ID(), reg: &c.rt.reg, created: created.UnixNano()}
	if f := cfg.rt.From; f != nil {
		sub.seen, sub.hasSeen = *f, true
	}
	c.rt.reg.add(sub)
	return sub, nil
}

// ID returns the subscription's id on the wire when it was created.
func (s *Subscription) ID() string { return s.name }

// Checkpoint returns the highest _seq among the rows Next has returned
// (or the FromSeq given); a later Subscribe with FromSeq(checkpoint)
// continues exactly after what the application has seen.
func (s *Subscription) Checkpoint() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen, s.hasSeen
}

// Columns returns the schema from the latest Ack read.
func (s *Subscription) Columns() []Column {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.columns
}

// Next returns the next event. ErrOverflow is not fatal: keep calling Next.
// Any other error ends the subscription (ErrSubscriptionClosed after Close).
func (s *Subscription) Next(ctx context.Context) (Event, error) {
	s.mu.Lock()
	ended := s.ended
	s.mu.Unlock()
	if ended != nil {
		return nil, ended
	}
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	for {
		d, err := s.sub.Next(ctx)
		if err != nil {
			return nil, err
		}
		if d.Err != nil {
			err := translateErr(d.Err)
			if d.Terminal {
				s.mu.Lock()
				s.ended = err
				s.mu.Unlock()
			}
			return nil, err
		}
		if ev, err := s.convert(d); ev != nil || err != nil {
			s.advance(d.Msg)
			s.lastEvent.Store(time.Now().UnixNano())
			return ev, err
		}
	}
}

func (s *Subscription) convert(d realtime.Delivery) (Event, error) {
	msg := d.Msg
	switch msg.Type {
	case realtime.TypeAck:
		if err := s.decoder.setSchema(msg.Schema); err != nil {
			return nil, err
		}
		cols := s.decoder.res.Columns[:len(msg.Schema)]
		s.pk = s.pk[:0]
		for _, col := range cols {
			if col.PrimaryKey {
				s.pk = append(s.pk, col.Name)
			}
		}
		s.mu.Lock()
		s.columns = cols
		s.mu.Unlock()
		return &Ack{Columns: cols, Resumed: d.Resumed}, nil
	case realtime.TypeInitialBatch:
		rows, err := s.decoder.rows(msg.Rows)
		if err != nil {
			return nil, err
		}
		ev := &InitialRows{Rows: rows, Resumed: d.Resumed, Ready: msg.BatchControl.Ready()}
		if msg.BatchControl != nil {
			ev.BatchNum = int(msg.BatchControl.BatchNum)
		}
		return ev, nil
	case realtime.TypeChange:
		switch msg.ChangeType {
		case "insert":
			rows, err := s.decoder.rows(msg.Rows)
			if err != nil {
				return nil, err
			}
			return &Insert{Rows: rows}, nil
		case "update":
			rows, err := s.decoder.rows(msg.Rows)
			if err != nil {
				return nil, err
			}
			old, err := s.decoder.rows(msg.OldValues)
			if err != nil {
				return nil, err
			}
			ev := &Update{Rows: rows, Old: old}
			for _, old := range msg.OldValues {
				for _, c := range old {
					if k := c.Name; k != "_seq" && !containsFold(s.pk, k) && !containsFold(ev.Changed, k) {
						ev.Changed = append(ev.Changed, k)
					}
				}
			}
			return ev, nil
		case "delete":
			rows, err := s.decoder.rows(msg.OldValues)
			if err != nil {
				return nil, err
			}
			return &Delete{Rows: rows}, nil
		}
	}
	return nil, fmt.Errorf("sdk: unexpected %q message for subscription %s", msg.Type, s.name)
}

// advance moves the checkpoint past the rows of msg.
func (s *Subscription) advance(msg *realtime.ServerMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rows := range [][]realtime.RawRow{msg.Rows, msg.OldValues} {
		for _, r := range rows {
			if seq, ok := r.Seq(); ok && (!s.hasSeen || seq > s.seen) {
				s.seen, s.hasSeen = seq, true
			}
		}
	}
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// Events iterates over the subscription's events until ctx ends, the
// subscription is closed or fails. Errors are yielded with a nil Event;
// after ErrOverflow the iteration continues, after any other error it
// stops. Cancelling ctx yields one last error, context.Cause(ctx)
// (context.Canceled unless a cause was given), and leaves the subscription
// open for another loop; closing the subscription ends the iteration
// without an error.
func (s *Subscription) Events(ctx context.Context) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		for {
			ev, err := s.Next(ctx)
			if errors.Is(err, ErrSubscriptionClosed) {
				return
			}
			if !yield(ev, err) || (err != nil && !errors.Is(err, ErrOverflow)) {
				return
			}
		}
	}
}

// Close ends the subscription on the server and in the client; Next and
// Events then end. It is idempotent and safe to call concurrently.
func (s *Subscription) Close() error {
	s.reg.remove(s)
	return s.sub.Close()
}
