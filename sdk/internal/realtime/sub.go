package realtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/redact"
)

// SubOptions are what the application asked for.
type SubOptions struct {
	BatchSize int    // 0: server default (1000)
	LastRows  int    // 0: whole snapshot
	From      *int64 // resume strictly after this seq
	LiveOnly  bool   // no initial data
	// FullResync makes every resync (reconnect, overflow) fetch the whole
	// snapshot again instead of the rows changed since the checkpoint; a
	// materialised view uses it to learn about rows deleted meanwhile.
	FullResync bool
	// IDPrefix names the subscription on the wire ("sub" by default).
	IDPrefix string
}

// Delivery is one item for the application, in order.
type Delivery struct {
	// Msg is an ack, an initial batch or a change (nil with Err).
	Msg *ServerMessage
	// Resumed marks the ack and batches of a resync after a reconnect or an
	// overflow: rows changed while the client was not listening arrive as
	// initial rows; with FullResync the batches hold the whole set again.
	Resumed bool
	// Err is a problem for the application; Terminal says the subscription
	// is over.
	Err      error
	Terminal bool
}

// ErrOverflow is delivered when the application fell QueueSize events
// behind: the subscription was paused on the server and resumed from the
// last event queued, so nothing is lost except that deletions made
// meanwhile are reported only by a full resync (see SubOptions.FullResync).
var ErrOverflow = errors.New("realtime: the subscription's event queue overflowed (the consumer fell behind); resynchronising from the last queued event")

// ErrSubscriptionClosed ends Next once the subscription was closed.
var ErrSubscriptionClosed = errors.New("realtime: subscription closed")

type phase uint8

const (
	phaseNew       phase = iota // not sent on this connection
	phaseAwaitAck               // subscribe sent
	phaseLoading                // acked, snapshot pages pending
	phaseLive                   // snapshot done
	phaseOverflown              // paused on the server until the consumer catches up
	phaseDone                   // closed or failed
)

// Sub is one subscription's client-side state. Thousands may be idle at
// once, so the small fields are packed together and the state only a
// snapshot load, a resume or a stall probe needs lives in a side struct
// allocated while it is in use (the struct stays within a 176-byte size
// class).
type Sub struct {
	m    *Manager
	id   uint64
	sql  string
	opts SubOptions // opts.BatchSize shrinks after a too large batch

	mu       sync.Mutex
	phase    phase
	liveOnly bool // the current generation has no snapshot
	// hasCheckpoint, resumed and acked describe the checkpoint and the
	// first acknowledgement.
	hasCheckpoint bool
	resumed       bool
	acked         bool
	gen           int32
	limitRetries  int32
	wireID        string
	lc            *liveConn // the connection the current generation was sent on
	x             *subExtra // nil while none of its state is in use

	checkpoint int64      // highest _seq queued for the application
	ackWait    chan error // receives the first ack (nil) or rejection; nil once taken

	queue  []Delivery
	notify chan struct{}
	final  *Delivery // terminal delivery after the queue drains
}

// subExtra is the rarely used part of a Sub: every field's zero value
// means "not in use", and Sub.trimExtra drops it when all are.
type subExtra struct {
	sentFrom     *int64 // the from of the current generation (replay filter)
	pageAsked    int64  // last_seq_id of the last next_batch sent
	pageDeferred *BatchControl
	held         []Delivery // changes received while loading

	// A stall probe (Manager.probe): the checkpoint when the ping went out
	// and the _seq values queued since; probeSeen is nil when no probe runs.
	probeSeq  int64
	probeSeen map[int64]bool
	// skip holds _seq values already queued above the checkpoint a stall
	// resync restarted from; it ends when that resync's snapshot does.
	skip map[int64]bool

	// With several nodes (nodemove.go): the rows delivered lately, and
	// after a move to another node those a resume may repeat, until the
	// new node's checkpoint passes moveUntil.
	delivered *deliveredRows
	moveSkip  map[uint64]bool
	moveUntil int64
}

// extra returns the side state, allocating it on first use.
func (s *Sub) extra() *subExtra {
	if s.x == nil {
		s.x = &subExtra{}
	}
	return s.x
}

// trimExtra lets the side state go once nothing in it is in use.
func (s *Sub) trimExtra() {
	x := s.x
	if x != nil && x.sentFrom == nil && x.pageAsked == 0 && x.pageDeferred == nil && x.held == nil &&
		x.probeSeen == nil && x.skip == nil && x.delivered == nil && x.moveSkip == nil {
		s.x = nil
	}
}

// The accessors below read the side state without allocating it.

func (s *Sub) sentFrom() *int64 {
	if s.x == nil {
		return nil
	}
	return s.x.sentFrom
}

func (s *Sub) held() []Delivery {
	if s.x == nil {
		return nil
	}
	return s.x.held
}

func (s *Sub) skipping() bool { return s.x != nil && len(s.x.skip) > 0 }

// Subscribe registers a subscription and waits for the server's
// acknowledgement. A server rejection fails the call; if ctx ends first,
// the subscription is closed (and unsubscribed) before returning.
func (m *Manager) Subscribe(ctx context.Context, sql string, opts SubOptions) (*Sub, error) {
	if opts.IDPrefix == "" {
		opts.IDPrefix = "sub"
	}
	s := &Sub{m: m, id: m.nextID.Add(1), sql: sql, opts: opts,
		ackWait: make(chan error, 1), notify: make(chan struct{}, 1)}
	if opts.From != nil {
		s.checkpoint, s.hasCheckpoint = *opts.From, true
	}
	if err := m.register(s); err != nil {
		return nil, err
	}
	select {
	case err := <-s.ackWait:
		if err != nil {
			s.Close()
			return nil, err
		}
		// Acknowledged: nothing sends on ackWait again (acked is set), so
		// an idle subscription need not keep the channel.
		s.mu.Lock()
		s.ackWait = nil
		s.mu.Unlock()
		return s, nil
	case <-ctx.Done():
		s.Close()
		m.mu.Lock()
		last := m.lastErr
		m.mu.Unlock()
		if last != nil {
			return nil, fmt.Errorf("%w (connection: %w)", context.Cause(ctx), last)
		}
		return nil, context.Cause(ctx)
	}
}

// ID is the subscription's current wire id ("" before it is sent).
func (s *Sub) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wireID
}

// Checkpoint returns the highest _seq queued for the application.
func (s *Sub) Checkpoint() (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.checkpoint, s.hasCheckpoint
}

// resubscribe sends a subscribe for a new generation. Called with m.mu
// held. onlyUnanswered limits it to a subscribe still awaiting its ack;
// moved says lc is on another node than the last connection.
func (s *Sub) resubscribe(lc *liveConn, onlyUnanswered, moved bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseDone || s.phase == phaseOverflown {
		return
	}
	if onlyUnanswered && s.phase != phaseAwaitAck {
		return
	}
	if moved && s.m.cfg.Moves != nil {
		s.m.cfg.Moves.rewind(s)
	}
	s.sendSubscribeLocked(lc)
}

func (s *Sub) sendSubscribeLocked(lc *liveConn) {
	old := s.wireID
	if old != "" && lc != nil && s.phase != phaseNew {
		lc.unsubscribe(old)
	}
	s.gen++
	s.wireID = s.opts.IDPrefix + "-" + strconv.FormatUint(s.id, 10) + "-" + strconv.Itoa(int(s.gen))
	s.m.setWire(s, old, s.wireID)
	s.resumed = s.acked
	var opts *SubscribeOptions
	var sentFrom *int64
	s.liveOnly = false
	switch {
	case s.opts.LiveOnly && !s.hasCheckpoint:
		s.liveOnly = true
	default:
		opts = &SubscribeOptions{}
		if s.opts.BatchSize > 0 {
			b := s.opts.BatchSize
			opts.BatchSize = &b
		}
		from := s.hasCheckpoint && !(s.opts.FullResync && s.resumed)
		if s.opts.FullResync && s.resumed && s.opts.From != nil {
			from, s.checkpoint = true, *s.opts.From
		}
		if from {
			f := s.checkpoint
			opts.From, sentFrom = &f, &f
		} else if s.opts.LastRows > 0 {
			opts.LastRows = &s.opts.LastRows
		}
	}
	if s.x != nil || sentFrom != nil {
		x := s.extra()
		x.sentFrom, x.pageAsked, x.pageDeferred, x.held = sentFrom, 0, nil, nil
		s.trimExtra()
	}
	s.phase = phaseAwaitAck
	s.lc = lc
	if lc != nil {
		lc.send(EncodeSubscribe(s.wireID, s.sql, opts), false)
	}
}

// maxLimitRetries bounds resubscribes refused for the subscription limit.
const maxLimitRetries = 5

// retryLater resubscribes after d if lc is still the connection and the
// subscription still waits for its ack.
func (s *Sub) retryLater(lc *liveConn, d time.Duration) {
	time.AfterFunc(d, func() {
		s.m.mu.Lock()
		defer s.m.mu.Unlock()
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.m.conn != lc || s.lc != lc || s.phase != phaseAwaitAck || lc.ctx.Err() != nil {
			return
		}
		s.phase = phaseNew // the refused subscribe left nothing to unsubscribe
		s.sendSubscribeLocked(lc)
	})
}

// repeatUnanswered re-issues a request the server may have dropped.
func (s *Sub) repeatUnanswered(lc *liveConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.phase {
	case phaseAwaitAck:
		// Not unsubscribed first: if the original was dropped there is
		// nothing to end, and if it was not, its late ack is stale.
		s.phase = phaseNew
		s.sendSubscribeLocked(lc)
	case phaseLoading:
		if x := s.x; x != nil && x.pageAsked > 0 && x.pageDeferred == nil {
			lc.send(EncodeNextBatch(s.wireID, x.pageAsked), false)
		}
	}
}

// disconnected forgets the wire id (the server dropped it with the
// connection); the next connection resubscribes from the checkpoint.
func (s *Sub) disconnected() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lc = nil
	if s.phase != phaseDone && s.phase != phaseOverflown {
		s.phase = phaseNew
	}
}

// handle applies one server message for this subscription.
func (s *Sub) handle(lc *liveConn, msg *ServerMessage) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseDone || s.phase == phaseOverflown || msg.SubscriptionID != s.wireID {
		return
	}
	switch msg.Type {
	case TypeAck:
		s.limitRetries = 0
		if s.liveOnly {
			s.phase = phaseLive
		} else {
			s.phase = phaseLoading
		}
		s.pushLocked(lc, Delivery{Msg: msg, Resumed: s.resumed})
		if !s.acked {
			s.acked = true
			s.ackWait <- nil
		}
	case TypeInitialBatch:
		if s.phase != phaseLoading {
			return // a repeated reply to a next_batch sent twice
		}
		had := len(msg.Rows)
		msg.Rows = s.dropSeen(msg.Rows)
		if mv := s.m.cfg.Moves; mv != nil {
			msg.Rows = mv.drop(s, msg.Rows, false)
		}
		bc := msg.BatchControl
		if had > 0 && len(msg.Rows) == 0 && !bc.Ready() {
			s.askPageLocked(lc, bc) // a repeated page: nothing new to deliver
			return
		}
		if !s.pushLocked(lc, Delivery{Msg: msg, Resumed: s.resumed}) {
			return
		}
		if bc.Ready() {
			s.phase = phaseLive
			held := s.held()
			if x := s.x; x != nil {
				// Later rows are newer than anything skipped, and no
				// more pages are asked for.
				x.skip, x.held, x.pageAsked, x.pageDeferred = nil, nil, 0, nil
				s.trimExtra()
			}
			for _, d := range held {
				if !s.pushLocked(lc, d) {
					return
				}
			}
			return
		}
		if len(s.queue) >= s.m.cfg.QueueSize/2 {
			s.extra().pageDeferred = bc // asked for when the consumer catches up
			return
		}
		s.askPageLocked(lc, bc)
	case TypeChange:
		if msg.SubscriptionID == "" || (msg.ChangeType != "insert" && msg.ChangeType != "update" && msg.ChangeType != "delete") {
			s.failLocked(fmt.Errorf("realtime: change with unknown change_type %q", msg.ChangeType))
			return
		}
		msg.Rows, msg.OldValues = s.dropBefore(msg.Rows), s.dropBefore(msg.OldValues)
		if len(msg.Rows) == 0 && len(msg.OldValues) == 0 {
			return
		}
		if mv := s.m.cfg.Moves; mv != nil && len(msg.Rows) > 0 {
			if msg.Rows = mv.drop(s, msg.Rows, msg.ChangeType == "delete"); len(msg.Rows) == 0 {
				return // delivered from the old node already
			}
		}
		d := Delivery{Msg: msg}
		if s.phase == phaseLoading {
			if len(s.held()) >= s.m.cfg.QueueSize {
				s.overflowLocked(lc)
				return
			}
			x := s.extra()
			x.held = append(x.held, d)
			return
		}
		s.pushLocked(lc, d)
	case TypeError:
		err := &ServerError{SubscriptionID: msg.SubscriptionID, Code: msg.Code, Message: redact.String(msg.Message)}
		if !s.acked {
			s.phase = phaseDone
			s.ackWait <- err
			return
		}
		if msg.Code == "BATCH_FETCH_FAILED" && s.phase == phaseLoading {
			s.sendSubscribeLocked(lc) // resume the snapshot from the checkpoint
			return
		}
		if msg.Code == "SUBSCRIPTION_LIMIT_EXCEEDED" && s.limitRetries < maxLimitRetries {
			// A resubscribe after a reconnect can meet the server still
			// counting the lost connection's subscriptions (it notices a
			// dead link only after its heartbeat timeout): retry a while.
			s.limitRetries++
			s.retryLater(lc, time.Duration(s.limitRetries)*time.Second)
			return
		}
		s.failLocked(err)
	default:
		s.m.cfg.Log.Debug("kalamdb websocket message of an unknown type ignored", "type", msg.Type, "subscription", msg.SubscriptionID)
	}
}

func (s *Sub) askPageLocked(lc *liveConn, bc *BatchControl) {
	if bc.LastSeqID == nil {
		s.failLocked(errors.New("realtime: the server announced more snapshot rows but sent no last_seq_id to page from"))
		return
	}
	next := int64(*bc.LastSeqID)
	x := s.extra()
	if next <= x.pageAsked {
		return // already asked (a repeated reply)
	}
	x.pageAsked = next
	lc.send(EncodeNextBatch(s.wireID, next), false)
}

// dropSeen removes snapshot rows at or below the checkpoint: snapshot pages
// are ordered by _seq, so such a row was already queued (a repeated page).
func (s *Sub) dropSeen(rows []RawRow) []RawRow {
	if !s.hasCheckpoint || (s.opts.FullResync && s.resumed && s.sentFrom() == nil) {
		return rows
	}
	return s.dropSkipped(filterRows(rows, s.checkpoint))
}

// dropSkipped removes rows a stall resync delivers again.
func (s *Sub) dropSkipped(rows []RawRow) []RawRow {
	if !s.skipping() {
		return rows
	}
	skip := s.x.skip
	keep := make([]RawRow, 0, len(rows))
	for _, r := range rows {
		if seq, ok := r.Seq(); ok && skip[seq] {
			continue
		}
		keep = append(keep, r)
	}
	return keep
}

// dropBefore is the replay filter for live changes: rows at or below the
// from of this generation were covered before the resume.
func (s *Sub) dropBefore(rows []RawRow) []RawRow {
	from := s.sentFrom()
	if from == nil {
		return rows
	}
	return s.dropSkipped(filterRows(rows, *from))
}

func filterRows(rows []RawRow, upto int64) []RawRow {
	keep := rows[:0:0]
	for i, r := range rows {
		if seq, ok := r.Seq(); ok && seq <= upto {
			if keep == nil {
				keep = append(make([]RawRow, 0, len(rows)), rows[:i]...)
			}
			continue
		}
		if keep != nil {
			keep = append(keep, r)
		}
	}
	if keep == nil {
		return rows
	}
	return keep
}

// pushLocked queues d for the application and advances the checkpoint; on
// a full queue it pauses the subscription instead (overflow).
func (s *Sub) pushLocked(lc *liveConn, d Delivery) bool {
	if len(s.queue) >= s.m.cfg.QueueSize {
		s.overflowLocked(lc)
		return false
	}
	before := s.checkpoint
	var probeSeen map[int64]bool
	if s.x != nil {
		probeSeen = s.x.probeSeen
	}
	if d.Msg != nil {
		for _, rows := range [][]RawRow{d.Msg.Rows, d.Msg.OldValues} {
			for _, r := range rows {
				seq, ok := r.Seq()
				if ok && probeSeen != nil {
					probeSeen[seq] = true
				}
				if ok && (!s.hasCheckpoint || seq > s.checkpoint) {
					s.checkpoint, s.hasCheckpoint = seq, true
				}
			}
		}
		if bc := d.Msg.BatchControl; d.Msg.Type == TypeInitialBatch && bc != nil && bc.LastSeqID != nil {
			if seq := int64(*bc.LastSeqID); !s.hasCheckpoint || seq > s.checkpoint {
				s.checkpoint, s.hasCheckpoint = seq, true
			}
		}
	}
	if s.checkpoint != before {
		s.m.progress.Add(1)
	}
	if mv := s.m.cfg.Moves; mv != nil && d.Msg != nil {
		mv.remember(s, d.Msg)
	}
	s.queue = append(s.queue, d)
	s.wakeLocked()
	return true
}

// beginProbe notes the checkpoint of a live subscription as a ping goes
// out. Called with m.mu held.
func (s *Sub) beginProbe() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseLive && s.hasCheckpoint && !s.skipping() {
		x := s.extra()
		x.probeSeq, x.probeSeen = s.checkpoint, map[int64]bool{}
	} else if s.x != nil {
		s.x.probeSeen = nil
		s.trimExtra()
	}
}

// endProbe ends the probe of beginProbe; after a stall it resyncs from the
// probe's checkpoint on lc and reports true. Called with m.mu held.
func (s *Sub) endProbe(lc *liveConn, stalled bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	x := s.x
	if x == nil || x.probeSeen == nil {
		return false
	}
	from, seen := x.probeSeq, x.probeSeen
	x.probeSeen = nil
	if !stalled || s.phase != phaseLive || s.lc != lc {
		s.trimExtra()
		return false
	}
	if !s.opts.FullResync {
		// Rows queued since the ping have higher _seq than from and are
		// skipped when the resync sends them again.
		s.checkpoint = from
		if len(seen) > 0 {
			x.skip = seen
		}
	}
	s.sendSubscribeLocked(lc)
	return true
}

// serverBatchSize is the server's default rows per snapshot batch.
const serverBatchSize = 1000

// shrinkLocked divides the snapshot batch size by 4 when the snapshot is
// still loading (a batch may be what exceeded the size limit); false when
// there is nothing left to shrink.
func (s *Sub) shrinkLocked() bool {
	if (s.phase != phaseAwaitAck && s.phase != phaseLoading) || s.liveOnly {
		return false
	}
	b := s.opts.BatchSize
	if b <= 0 {
		b = serverBatchSize
	}
	if b <= 1 {
		return false
	}
	s.opts.BatchSize = max(1, b/4)
	s.m.progress.Add(1)
	s.m.events.emit(ConnEvent{Kind: EventError, Code: -1, Err: fmt.Errorf("realtime: a snapshot batch of subscription %s exceeded the size limit; asking for %d rows per batch", s.wireID, s.opts.BatchSize)})
	return true
}

func (s *Sub) shrink() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shrinkLocked()
}

// poison deals with a frame for this subscription that did not decode:
// a too large snapshot batch is fetched again in smaller batches from the
// checkpoint; anything else ends the subscription, since a resume would
// only receive the same frame. Called with m.mu held.
func (s *Sub) poison(lc *liveConn, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase == phaseDone || s.phase == phaseOverflown {
		return
	}
	if errors.Is(err, ErrMessageTooLarge) && s.shrinkLocked() {
		s.sendSubscribeLocked(lc)
		return
	}
	lc.unsubscribe(s.wireID)
	s.failLocked(fmt.Errorf("%w: %w", ErrPoison, err))
}

func (s *Sub) overflowLocked(lc *liveConn) {
	s.phase = phaseOverflown
	if s.x != nil {
		s.x.held = nil
		s.trimExtra()
	}
	if lc != nil {
		lc.unsubscribe(s.wireID)
	}
	s.m.setWire(s, s.wireID, "")
	s.queue = append(s.queue, Delivery{Err: ErrOverflow})
	s.wakeLocked()
}

func (s *Sub) wakeLocked() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

func (s *Sub) failLocked(err error) {
	if s.phase == phaseDone {
		return
	}
	s.phase = phaseDone
	s.m.setWire(s, s.wireID, "")
	s.final = &Delivery{Err: err, Terminal: true}
	s.wakeLocked()
}

// fail ends the subscription with err (delivered after the queued events).
func (s *Sub) fail(err error) {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.acked {
		select {
		case s.ackWait <- err:
		default:
		}
	}
	s.failLocked(err)
	delete(s.m.subs, s.id)
}

// Next returns the next delivery, waiting until there is one or ctx ends.
func (s *Sub) Next(ctx context.Context) (Delivery, error) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			d := s.queue[0]
			s.queue[0] = Delivery{}
			s.queue = s.queue[1:]
			if len(s.queue) == 0 {
				s.queue = nil // let the backing array go while idle
			}
			resync := d.Err == ErrOverflow
			s.afterPullLocked()
			s.mu.Unlock()
			if resync {
				s.resync()
			}
			return d, nil
		}
		if s.final != nil {
			d := *s.final
			s.mu.Unlock()
			return d, nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return Delivery{}, context.Cause(ctx)
		case <-s.notify:
		}
	}
}

// afterPullLocked asks for a deferred snapshot page once the consumer has
// caught up to half the queue.
func (s *Sub) afterPullLocked() {
	x := s.x
	if x == nil || x.pageDeferred == nil || len(s.queue) >= s.m.cfg.QueueSize/2 || s.phase != phaseLoading {
		return
	}
	bc := x.pageDeferred
	x.pageDeferred = nil
	if s.lc != nil {
		s.askPageLocked(s.lc, bc)
	}
}

// resync resumes an overflowed subscription after its consumer caught up.
func (s *Sub) resync() {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.phase != phaseOverflown {
		return
	}
	s.phase = phaseNew // its unsubscribe went out at the overflow
	s.sendSubscribeLocked(s.m.conn)
	if s.m.conn == nil {
		s.phase = phaseNew // sent on the next connection
	}
}

// Close ends the subscription: it is unsubscribed on the server (when
// connected) and Next returns ErrSubscriptionClosed. Idempotent.
func (s *Sub) Close() error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m.subs, s.id)
	if s.final != nil && s.final.Err == ErrSubscriptionClosed {
		return nil
	}
	if s.phase != phaseDone && s.phase != phaseNew && s.phase != phaseOverflown && s.lc != nil {
		s.lc.unsubscribe(s.wireID)
	}
	s.m.setWire(s, s.wireID, "")
	s.phase = phaseDone
	s.queue, s.x = nil, nil
	s.final = &Delivery{Err: ErrSubscriptionClosed, Terminal: true}
	s.wakeLocked()
	return nil
}
