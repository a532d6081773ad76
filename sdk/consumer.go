package sdk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
)

// Consumer defaults (the official client's, kalamdb/sdk-features.md §2.4).
const (
	DefaultMaxPollRecords     = 100
	DefaultPollTimeout        = 30 * time.Second
	DefaultAutoCommitInterval = 5 * time.Second
	DefaultRequestTimeout     = 30 * time.Second
)

// Idle and retry pacing. An idle Poll waits between requests because the
// server answers at once even when there is nothing to read (it ignores
// timeout_seconds), so asking again immediately would spin.
const (
	idleWaitFirst  = 50 * time.Millisecond
	idleWaitMax    = time.Second
	retryWaitFirst = 500 * time.Millisecond
	retryWaitMax   = 10 * time.Second
)

// OffsetReset says where a consumer group with no committed offset starts
// reading. The zero value is Latest, the official default. Once the group
// has committed, the server resumes after the committed offset whatever this
// says.
type OffsetReset struct {
	kind   offsetResetKind
	offset uint64
}

type offsetResetKind uint8

const (
	resetLatest offsetResetKind = iota
	resetEarliest
	resetOffset
)

var (
	// Latest starts after the newest message: only new changes are read.
	Latest = OffsetReset{}
	// Earliest starts at the first retained message.
	Earliest = OffsetReset{kind: resetEarliest}
)

// AtOffset starts at the given offset.
func AtOffset(n uint64) OffsetReset { return OffsetReset{kind: resetOffset, offset: n} }

func (r OffsetReset) String() string {
	switch r.kind {
	case resetEarliest:
		return "Earliest"
	case resetOffset:
		return fmt.Sprintf("Offset(%d)", r.offset)
	}
	return "Latest"
}

// wire is the start position as consume expects it.
func (r OffsetReset) wire() any {
	switch r.kind {
	case resetEarliest:
		return "Earliest"
	case resetOffset:
		return startOffset{r.offset}
	}
	return "Latest"
}

type startOffset struct {
	Offset uint64 `json:"Offset"`
}

// ConsumerConfig configures a topic consumer. Group and Topic are required;
// zero values elsewhere mean the default.
type ConsumerConfig struct {
	// Group is the consumer group: groups each see every message, and
	// consumers in one group share its committed offset.
	Group string
	// Topic is the namespace-qualified topic name, e.g. "orders.events".
	Topic string
	// Partition to read (default 0).
	Partition uint32
	// AutoOffsetReset applies while the group has no committed offset
	// (default Latest).
	AutoOffsetReset OffsetReset
	// MaxPollRecords caps the records one Poll returns (default 100).
	MaxPollRecords int
	// PollTimeout is how long Poll waits for records before returning an
	// empty batch (default 30 s).
	PollTimeout time.Duration
	// ManualCommit turns auto commit off: only Commit and CommitAsync
	// commit. With auto commit on (the default) processed records are
	// committed every AutoCommitInterval and on Close.
	ManualCommit bool
	// AutoCommitInterval is the auto-commit period (default 5 s).
	AutoCommitInterval time.Duration
	// RequestTimeout bounds each consume or ack request (default 30 s) and
	// the retries of one commit.
	RequestTimeout time.Duration
	// OnCommit, if set, is called after every automatic commit (on the
	// interval and on Close) that sent an ack or failed, with its result or
	// error; automatic commit errors are also logged at warning level. Keep it short: it runs on the
	// committing goroutine.
	OnCommit func(CommitResult, error)
}

func (cfg *ConsumerConfig) normalize() error {
	if err := checkName("Group", cfg.Group); err != nil {
		return err
	}
	if err := checkName("Topic", cfg.Topic); err != nil {
		return err
	}
	switch {
	case cfg.MaxPollRecords < 0:
		return fmt.Errorf("sdk: ConsumerConfig.MaxPollRecords is %d; it must be positive (0 means %d)", cfg.MaxPollRecords, DefaultMaxPollRecords)
	case cfg.PollTimeout < 0:
		return fmt.Errorf("sdk: ConsumerConfig.PollTimeout is %v; it must not be negative (0 means %v)", cfg.PollTimeout, DefaultPollTimeout)
	case cfg.AutoCommitInterval < 0:
		return fmt.Errorf("sdk: ConsumerConfig.AutoCommitInterval is %v; it must not be negative (0 means %v)", cfg.AutoCommitInterval, DefaultAutoCommitInterval)
	case cfg.ManualCommit && cfg.AutoCommitInterval > 0:
		return fmt.Errorf("sdk: ConsumerConfig.AutoCommitInterval is %v but ManualCommit turns auto commit off", cfg.AutoCommitInterval)
	case cfg.ManualCommit && cfg.OnCommit != nil:
		return errors.New("sdk: ConsumerConfig.OnCommit reports automatic commits, but ManualCommit turns them off")
	case cfg.RequestTimeout < 0:
		return fmt.Errorf("sdk: ConsumerConfig.RequestTimeout is %v; it must not be negative (0 means %v)", cfg.RequestTimeout, DefaultRequestTimeout)
	case cfg.AutoOffsetReset.kind > resetOffset:
		return errors.New("sdk: ConsumerConfig.AutoOffsetReset is not Latest, Earliest or AtOffset(n)")
	}
	if cfg.MaxPollRecords == 0 {
		cfg.MaxPollRecords = DefaultMaxPollRecords
	}
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = DefaultPollTimeout
	}
	if cfg.AutoCommitInterval == 0 && !cfg.ManualCommit {
		cfg.AutoCommitInterval = DefaultAutoCommitInterval
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	return nil
}

func checkName(field, v string) error {
	if v == "" {
		return fmt.Errorf("sdk: ConsumerConfig.%s is required", field)
	}
	if strings.TrimSpace(v) != v {
		return fmt.Errorf("sdk: ConsumerConfig.%s %q has leading or trailing space", field, v)
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return fmt.Errorf("sdk: ConsumerConfig.%s %q contains a control character", field, v)
	}
	return nil
}

// Consumer reads one partition of a topic as a member of a consumer group,
// over POST /v1/api/topics/consume and /ack. Its methods are safe for
// concurrent use; Polls run one at a time. Close it when done.
//
// # Delivery: at least once, across members and restarts
//
// A commit acknowledges every offset up to the one committed, for the whole
// group. So a consumer never commits past an offset it has not itself
// delivered and seen processed (MarkProcessed, or a handler of Run that
// returned nil), or that the group had committed already: the committed
// offset only ever covers processed records. Every record is therefore
// processed at least once by some member, whichever members crash, restart
// or lose replies; a record may be processed more than once (by a member
// that crashed before committing it and by the one it is redelivered to).
//
// The server hands each record of a group out once: it keeps an in-memory
// claim cursor per group and partition, and records delivered but not
// committed go to no other consumer until its visibility timeout (60 s by
// default) expires; it then redelivers them, to whichever member asks next.
// A consumer that receives records above ones it never received (claimed
// by a member that is busy or crashed, or sent in a consume reply that was
// lost) has a gap: it keeps delivering newer records but holds its commits
// before the gap until the server redelivers it (after the timeout) or the
// group's committed offset passes it (the member holding it committed).
// CommitResult.Held and Offsets report such a wait; a warning is logged.
// A consumer starts where the group's committed offset says; a group with
// no commit starts at AutoOffsetReset, resolved by each member when it
// starts, so with Latest a member that starts after another crashed without
// ever committing begins after the newest record and does not read the
// crashed member's records: commit early, or use Earliest, when that
// matters. After a server restart the claims are forgotten and the group
// resumes after its committed offset.
//
// Several live members of a group may share a partition: they receive
// disjoint batches and each commits only past what the group processed,
// but a member's commits can wait up to the visibility timeout for
// another's. One member per group and partition commits most promptly.
type Consumer struct {
	client *Client
	cfg    ConsumerConfig
	// First idle and retry waits (idleWaitFirst, retryWaitFirst); tests
	// shorten them.
	idleFirst, retryFirst time.Duration

	polling  chan struct{} // holds a token while a Poll or Seek runs: one at a time
	commitMu sync.Mutex    // acks are sent one at a time, in increasing order
	// handling is held by Run while a handler runs and its record is
	// marked, so that Close commits a record whose handler just finished.
	handling sync.Mutex

	mu      sync.Mutex
	closed  bool
	started bool // the start was resolved; base and position are set
	// base is where commits continue: every offset below it is committed
	// by the group (by this consumer or another member) or was skipped by
	// Seek. position is one past the highest offset delivered or skipped.
	base, position uint64
	pending        []uint64 // delivered and not committed, ascending, all >= base
	processed      map[uint64]struct{}
	skips          []offRange // skipped by a forward Seek, ascending, disjoint
	// held are delivered records that Run handed back (the one whose
	// handler failed and the rest of its batch): Poll returns them first.
	held         []Record
	committed    uint64 // the last offset this consumer acknowledged
	hasCommitted bool
	highest      uint64 // the highest offset marked processed
	hasHighest   bool
	warnedGap    uint64 // 1 + the gap start last logged, 0 for none
	autoTimer    *time.Timer

	// life ends waits and requests when Close starts; background commits
	// are tracked by bg so that Close can wait for them.
	life    context.Context
	endLife context.CancelFunc
	bg      sync.WaitGroup
}

// Consumer returns a consumer for cfg. Invalid settings are rejected with
// an error naming the field; nothing is sent until the first Poll.
func (c *Client) Consumer(cfg ConsumerConfig) (*Consumer, error) {
	if err := cfg.normalize(); err != nil {
		return nil, err
	}
	if c.done.Err() != nil {
		return nil, ErrClosed
	}
	life, end := context.WithCancel(context.Background())
	return &Consumer{client: c, cfg: cfg, idleFirst: idleWaitFirst, retryFirst: retryWaitFirst,
		polling: make(chan struct{}, 1), processed: map[uint64]struct{}{}, life: life, endLife: end}, nil
}

// Config returns the consumer's settings with defaults filled in.
func (k *Consumer) Config() ConsumerConfig { return k.cfg }

// CommitResult is the outcome of a commit.
type CommitResult struct {
	Topic     string
	Group     string
	Partition uint32
	// Offset is the group's committed offset: every record up to and
	// including it is processed. Meaningful when HasOffset is true.
	Offset    uint64
	HasOffset bool
	// Sent is false when nothing new was processed since the last commit,
	// so no ack was sent.
	Sent bool
	// HeldAt, when Held, is the first offset this consumer has not
	// received while it holds processed records above it: commits stop
	// before it until the server redelivers it or the group's committed
	// offset passes it (see Consumer).
	HeldAt uint64
	Held   bool
}

// Poll returns the next records, waiting up to PollTimeout for some to
// arrive; an empty batch and a nil error mean none did. Transient failures
// (connection errors, HTTP 5xx) are retried until the poll timeout; other
// errors (ErrPermissionDenied, ErrNotFound for an unknown topic, ...) are
// returned at once. After Close it returns ErrClosed.
//
// Records delivered once by this consumer are not returned again, even when
// the server redelivers them, except those Run handed back after a failed
// handler or a cancelled context, which Poll returns first. A record that
// fills a gap (see Consumer) may come after higher offsets.
func (k *Consumer) Poll(ctx context.Context) ([]Record, error) {
	if ctx == nil {
		return nil, errors.New("sdk: Consumer.Poll: nil context")
	}
	ctx, stop := k.bind(ctx)
	defer stop()
	if err := k.lockPoll(ctx); err != nil {
		return nil, err
	}
	defer k.unlockPoll()
	if err := k.alive(ctx); err != nil {
		return nil, err
	}
	if recs := k.takeHeld(); len(recs) > 0 {
		return recs, nil
	}
	deadline := time.Now().Add(k.cfg.PollTimeout)
	if err := k.ensureStarted(ctx, deadline); err != nil {
		return nil, err
	}
	idle := k.idleFirst
	// Replies of only records this consumer already has are retried at
	// once while their offsets climb (the server is working through a
	// redelivered range), a bounded number of times; otherwise they count
	// as an empty poll, so a server that repeats itself is not hammered.
	var dupTop uint64
	dupRun := 0
	for {
		if err := k.alive(ctx); err != nil {
			return nil, err
		}
		recs, top, dups, err := k.fetch(ctx, deadline)
		if err != nil {
			return nil, err
		}
		if len(recs) > 0 {
			return recs, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return []Record{}, nil
		}
		if dups && (dupRun == 0 || top > dupTop) && dupRun < maxDupRun {
			dupTop = top
			dupRun++
			continue
		}
		if err := k.sleep(ctx, min(jitterHalf(idle), left)); err != nil {
			return nil, err
		}
		idle = min(idle*2, idleWaitMax)
	}
}

// lockPoll waits for the Poll or Seek in progress, if any, unless ctx ends
// first.
func (k *Consumer) lockPoll(ctx context.Context) error {
	select {
	case k.polling <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctxError(ctx)
	}
}

func (k *Consumer) unlockPoll() { <-k.polling }

// maxDupRun bounds the consume requests one Poll makes at once in a row
// for replies holding only records it already delivered.
const maxDupRun = 8

// takeHeld returns up to MaxPollRecords of the records Run handed back,
// skipping any marked processed or committed since.
func (k *Consumer) takeHeld() []Record {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []Record
	n := 0
	for ; n < len(k.held) && len(out) < k.cfg.MaxPollRecords; n++ {
		r := k.held[n]
		if _, done := k.processed[r.Offset]; done || r.Offset < k.base || !k.isPending(r.Offset) {
			continue
		}
		out = append(out, r)
	}
	k.held = append(k.held[:0], k.held[n:]...)
	if len(k.held) == 0 {
		k.held = nil
	}
	return out
}

// bind ties ctx to the consumer's lifetime.
func (k *Consumer) bind(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	stop := context.AfterFunc(k.life, func() { cancel(ErrClosed) })
	return ctx, func() { stop(); cancel(context.Canceled) }
}

func (k *Consumer) alive(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctxError(ctx)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return ErrClosed
	}
	return nil
}

func (k *Consumer) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctxError(ctx)
	case <-t.C:
		return nil
	}
}

// jitterHalf returns a random duration in [d/2, d]: spread out, never zero.
func jitterHalf(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// retryWait is the official client's backoff, first·2^attempt times a
// random factor in [0.8, 1.2), but never above retryWaitMax.
func retryWait(first time.Duration, attempt int) time.Duration {
	d := first << min(attempt, 10)
	if d <= 0 || d > retryWaitMax {
		d = retryWaitMax
	}
	return min(time.Duration(float64(d)*(0.8+0.4*rand.Float64())), retryWaitMax)
}

// transient reports whether a consume or ack failure may pass by itself.
func transient(err error) bool {
	if errors.Is(err, ErrClosed) {
		return false
	}
	var se *ServerError
	if errors.As(err, &se) {
		return se.HTTPStatus >= 500 || IsRetryable(err)
	}
	var re *ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatus >= 500
	}
	return IsRetryable(err)
}

// retry runs op until it succeeds, fails for good, or the next wait would
// end after budget.
func (k *Consumer) retry(ctx context.Context, what string, budget time.Time, op func() error) error {
	for attempt := 0; ; attempt++ {
		err := op()
		if err == nil || !transient(err) || ctx.Err() != nil {
			return err
		}
		wait := retryWait(k.retryFirst, attempt)
		if time.Now().Add(wait).After(budget) {
			return fmt.Errorf("sdk: consumer %s failed %d time(s), giving up at the time limit: %w", what, attempt+1, err)
		}
		k.client.log.Warn("kalamdb consumer request failed; retrying", "op", what, "topic", k.cfg.Topic, "attempt", attempt+1, "error", err)
		if werr := k.sleep(ctx, wait); werr != nil {
			return fmt.Errorf("%w (while waiting to retry the %s after: %w)", werr, what, err)
		}
	}
}

// ensureStarted resolves where this consumer starts, once: a consume of
// zero records answers with the group's start (its committed offset + 1,
// or AutoOffsetReset resolved) without claiming anything. Commits begin
// there, so records other members hold below the first one this consumer
// receives are waited for, not committed over.
func (k *Consumer) ensureStarted(ctx context.Context, deadline time.Time) error {
	k.mu.Lock()
	started := k.started
	k.mu.Unlock()
	if started {
		return nil
	}
	start, err := k.probe(ctx, "consume", k.cfg.AutoOffsetReset.wire(), deadline)
	if err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started {
		k.base, k.position, k.started = start, start, true
	}
	return nil
}

// fetch makes one consume exchange (with transient retries until deadline)
// and returns the records new to this consumer. When it returns none, dups
// reports that the reply held records this consumer already has, and top
// is the highest of them.
func (k *Consumer) fetch(ctx context.Context, deadline time.Time) (recs []Record, top uint64, dups bool, err error) {
	var resp *consumeResponse
	err = k.retry(ctx, "consume", deadline, func() error {
		var e error
		resp, e = k.consumeOnce(ctx, startOffset{k.readFrom()}, uint64(k.cfg.MaxPollRecords))
		return e
	})
	if err != nil {
		return nil, 0, false, err
	}
	if resp == nil { // an empty 200 body: an empty batch
		return nil, 0, false, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		// Undelivered records stay claimed and return after the server's
		// visibility timeout.
		return nil, 0, false, ErrClosed
	}
	for i := range resp.records {
		r := &resp.records[i]
		if r.Offset < k.base || k.skipped(r.Offset) || k.isPending(r.Offset) {
			top = max(top, r.Offset)
			continue
		}
		recs = append(recs, *r)
		k.insertPending(r.Offset)
		k.position = max(k.position, r.Offset+1)
	}
	if gap := k.walk(false); gap < k.position && k.warnedGap != gap+1 {
		k.warnedGap = gap + 1
		k.client.log.Warn("kalamdb consumer: records were not delivered to this consumer (claimed by another member of the group, or in a lost reply); commits wait before them until the server redelivers them after its visibility timeout or the group's committed offset passes them",
			"topic", k.cfg.Topic, "group", k.cfg.Group, "partition", k.cfg.Partition, "waiting_at", gap)
	}
	return recs, top, len(recs) == 0 && len(resp.records) > 0, nil
}

// readFrom is the offset a consume asks for: the first one this consumer
// lacks. While a gap is open the server answers from its claim cursor
// (new records) until the gap's claim expires and the cursor rewinds.
func (k *Consumer) readFrom() uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.walk(false)
}

// offRange is the offsets [from, to).
type offRange struct{ from, to uint64 }

// walk returns the first offset at or above base that this consumer has
// not delivered or skipped, or, with processed, not also seen processed:
// commits may cover everything below it.
func (k *Consumer) walk(processed bool) uint64 {
	next := k.base
	i, j := 0, 0
	for {
		switch {
		case j < len(k.skips) && k.skips[j].from <= next:
			next = max(next, k.skips[j].to)
			j++
		case i < len(k.pending) && k.pending[i] < next:
			i++
		case i < len(k.pending) && k.pending[i] == next:
			if processed {
				if _, ok := k.processed[next]; !ok {
					return next
				}
			}
			next++
			i++
		default:
			return next
		}
	}
}

func (k *Consumer) skipped(off uint64) bool {
	for _, s := range k.skips {
		if off >= s.from && off < s.to {
			return true
		}
	}
	return false
}

// search returns where off is or would be in pending.
func (k *Consumer) search(off uint64) int {
	lo, hi := 0, len(k.pending)
	for lo < hi {
		m := (lo + hi) / 2
		if k.pending[m] < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo
}

func (k *Consumer) isPending(off uint64) bool {
	i := k.search(off)
	return i < len(k.pending) && k.pending[i] == off
}

func (k *Consumer) insertPending(off uint64) {
	if n := len(k.pending); n == 0 || k.pending[n-1] < off {
		k.pending = append(k.pending, off)
		return
	}
	k.pending = slices.Insert(k.pending, k.search(off), off)
}

// advanceBase moves base to off, forgetting what lies below it.
func (k *Consumer) advanceBase(off uint64) {
	if off <= k.base {
		return
	}
	k.base = off
	n := k.search(off)
	for _, o := range k.pending[:n] {
		delete(k.processed, o)
	}
	k.pending = append(k.pending[:0], k.pending[n:]...)
	kept := k.skips[:0]
	for _, s := range k.skips {
		if s.to > off {
			kept = append(kept, offRange{max(s.from, off), s.to})
		}
	}
	k.skips = kept
	k.position = max(k.position, off)
}

// MarkProcessed records that rec is done, making it eligible for the next
// commit. rec must come from this consumer's Poll; marking a record twice,
// or one already committed, does nothing.
func (k *Consumer) MarkProcessed(rec Record) error {
	return k.markProcessed(rec, false)
}

// markProcessed is MarkProcessed; duringClose lets Run mark the record
// whose handler finished while Close was waiting for it.
func (k *Consumer) markProcessed(rec Record, duringClose bool) error {
	if rec.Topic != k.cfg.Topic || rec.Partition != k.cfg.Partition {
		return fmt.Errorf("sdk: MarkProcessed: record %s[%d]@%d is not from this consumer (%s[%d])", rec.Topic, rec.Partition, rec.Offset, k.cfg.Topic, k.cfg.Partition)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed && !duringClose {
		return ErrClosed
	}
	if k.started && rec.Offset < k.base {
		return nil // committed
	}
	if !k.isPending(rec.Offset) {
		return fmt.Errorf("sdk: MarkProcessed: offset %d of %s was not delivered by this consumer's Poll", rec.Offset, k.cfg.Topic)
	}
	k.processed[rec.Offset] = struct{}{}
	if !k.hasHighest || rec.Offset > k.highest {
		k.highest, k.hasHighest = rec.Offset, true
	}
	if !k.closed && !k.cfg.ManualCommit && k.autoTimer == nil {
		k.autoTimer = time.AfterFunc(k.cfg.AutoCommitInterval, k.autoCommit)
	}
	return nil
}

// commitTarget is the highest offset with every offset from base up to it
// delivered to this consumer and processed (or skipped by Seek).
func (k *Consumer) commitTarget() (uint64, bool) {
	if !k.started {
		return 0, false
	}
	next := k.walk(true)
	if next == k.base {
		return 0, false
	}
	return next - 1, true
}

// gapBlocks reports the first offset this consumer lacks when it holds
// processed records beyond it that a commit cannot cover.
func (k *Consumer) gapBlocks() (uint64, bool) {
	if !k.started || len(k.processed) == 0 {
		return 0, false
	}
	gap := k.walk(false)
	return gap, gap < k.position && k.hasHighest && k.highest > gap
}

// autoCommit runs on the auto-commit timer, armed by MarkProcessed while
// there is something to commit, so an idle consumer holds no timer.
func (k *Consumer) autoCommit() {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.bg.Add(1)
	k.mu.Unlock()
	defer k.bg.Done()
	ctx, stop := k.bind(context.Background())
	res, err := k.commit(ctx)
	stop()
	k.mu.Lock()
	k.autoTimer = nil
	closed := k.closed
	// Retry a failed commit on the next tick, but not once the client or
	// the consumer is closed.
	if !closed && !errors.Is(err, ErrClosed) && (err != nil || k.hasUncommittedProcessed()) {
		k.autoTimer = time.AfterFunc(k.cfg.AutoCommitInterval, k.autoCommit)
	}
	k.mu.Unlock()
	if closed && errors.Is(err, ErrClosed) {
		return // Close commits instead
	}
	k.reportAuto(res, err)
}

// hasUncommittedProcessed reports processed records a later commit may
// cover: now, or once a gap before them resolves.
func (k *Consumer) hasUncommittedProcessed() bool {
	_, ok := k.commitTarget()
	_, held := k.gapBlocks()
	return ok || held
}

// reportAuto tells OnCommit and the log about an automatic commit that
// sent something or failed.
func (k *Consumer) reportAuto(res CommitResult, err error) {
	if err == nil && !res.Sent {
		return
	}
	if err != nil {
		k.client.log.Warn("kalamdb consumer auto commit failed", "topic", k.cfg.Topic, "group", k.cfg.Group, "error", err)
	}
	if k.cfg.OnCommit != nil {
		k.cfg.OnCommit(res, err)
	}
}

// Commit synchronously commits every processed record (see Consumer) and
// returns the group's committed offset. Transient failures are retried
// within RequestTimeout.
func (k *Consumer) Commit(ctx context.Context) (CommitResult, error) {
	if ctx == nil {
		return CommitResult{}, errors.New("sdk: Consumer.Commit: nil context")
	}
	if err := k.alive(ctx); err != nil {
		return CommitResult{}, err
	}
	ctx, stop := k.bind(ctx)
	defer stop()
	return k.commit(ctx)
}

// CommitAsync commits like Commit on another goroutine and calls done (if
// not nil) with the outcome. Close waits for it.
func (k *Consumer) CommitAsync(ctx context.Context, done func(CommitResult, error)) {
	report := func(r CommitResult, err error) {
		if done != nil {
			done(r, err)
		}
	}
	if ctx == nil {
		report(CommitResult{}, errors.New("sdk: Consumer.CommitAsync: nil context"))
		return
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		report(CommitResult{}, ErrClosed)
		return
	}
	k.bg.Add(1)
	k.mu.Unlock()
	go func() {
		defer k.bg.Done()
		ctx, stop := k.bind(ctx)
		defer stop()
		report(k.commit(ctx))
	}()
}

// commit acks the commit target, if it moved. When a gap holds it back,
// it first asks the server for the group's committed offset: another
// member may have committed the gap.
func (k *Consumer) commit(ctx context.Context) (CommitResult, error) {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	k.mu.Lock()
	_, blocked := k.gapBlocks()
	k.mu.Unlock()
	if blocked {
		c, ok, err := k.committedOffset(ctx)
		if err != nil {
			return k.result(false), fmt.Errorf("sdk: reading the committed offset of group %q on %s: %w", k.cfg.Group, k.cfg.Topic, err)
		}
		if ok {
			k.mu.Lock()
			k.advanceBase(c + 1)
			k.mu.Unlock()
		}
	}
	k.mu.Lock()
	upto, ok := k.commitTarget()
	res := k.result(false)
	k.mu.Unlock()
	if !ok {
		return res, nil
	}
	budget := time.Now().Add(k.cfg.RequestTimeout)
	var acked uint64
	err := k.retry(ctx, "ack", budget, func() error {
		var e error
		acked, e = k.ackOnce(ctx, upto)
		return e
	})
	if err != nil {
		return res, fmt.Errorf("sdk: committing %s offset %d for group %q: %w", k.cfg.Topic, upto, k.cfg.Group, err)
	}
	if acked != upto {
		return res, fmt.Errorf("sdk: committing %s offset %d for group %q: %w", k.cfg.Topic, upto, k.cfg.Group,
			&ResponseError{HTTPStatus: 200, Reason: fmt.Sprintf("server acknowledged offset %d instead of %d", acked, upto)})
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.committed, k.hasCommitted = upto, true
	k.advanceBase(upto + 1)
	return k.result(true), nil
}

// result describes the consumer's commit state; k.mu is held.
func (k *Consumer) result(sent bool) CommitResult {
	res := CommitResult{Topic: k.cfg.Topic, Group: k.cfg.Group, Partition: k.cfg.Partition,
		Offset: k.committed, HasOffset: k.hasCommitted, Sent: sent}
	res.HeldAt, res.Held = k.gapBlocks()
	return res
}

// rewind makes off the next offset to deliver, forgetting delivered records
// from off on: commits wait at off until the server redelivers them (after
// its visibility timeout, http-api §8.1 step 3).
func (k *Consumer) rewind(off uint64) {
	if !k.started || off >= k.position {
		return
	}
	k.position = off
	n := k.search(off)
	for _, o := range k.pending[n:] {
		delete(k.processed, o)
	}
	k.pending = k.pending[:n]
	kept := k.skips[:0]
	for _, s := range k.skips {
		if s.from < off {
			kept = append(kept, offRange{s.from, min(s.to, off)})
		}
	}
	k.skips = kept
	held := k.held[:0]
	for _, r := range k.held {
		if r.Offset < off {
			held = append(held, r)
		}
	}
	k.held = held
	k.warnedGap = 0
}

// Position returns the offset after the highest one this consumer has
// delivered or skipped to: where reading continues. ok is false until the
// first Poll (or Seek) has resolved the start. Records that fill a gap
// below it may still arrive (see Consumer).
func (k *Consumer) Position() (offset uint64, ok bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.position, k.started
}

// Committed asks the server for the group's committed offset on this
// consumer's partition: every record up to and including it was processed
// by some member. ok is false when the group has committed nothing.
func (k *Consumer) Committed(ctx context.Context) (offset uint64, ok bool, err error) {
	if ctx == nil {
		return 0, false, errors.New("sdk: Consumer.Committed: nil context")
	}
	if err := k.alive(ctx); err != nil {
		return 0, false, err
	}
	ctx, stop := k.bind(ctx)
	defer stop()
	return k.committedOffset(ctx)
}

// committedOffset reads the group's committed offset with a consume of zero
// records from Earliest: the server answers with its start, the committed
// offset + 1, or 0 when the group has none; nothing is claimed.
func (k *Consumer) committedOffset(ctx context.Context) (uint64, bool, error) {
	next, err := k.probe(ctx, "committed-offset read", "Earliest", time.Now().Add(k.cfg.RequestTimeout))
	if err != nil || next == 0 {
		return 0, false, err
	}
	return next - 1, true, nil
}

// probe makes a consume of zero records from start and returns the
// server's next_offset.
func (k *Consumer) probe(ctx context.Context, what string, start any, budget time.Time) (uint64, error) {
	var resp *consumeResponse
	err := k.retry(ctx, what, budget, func() error {
		var e error
		resp, e = k.consumeOnce(ctx, start, 0)
		return e
	})
	if err != nil {
		return 0, err
	}
	// A server that sent records here would have claimed them, and its
	// next_offset would not be the group's start: fail loudly rather than
	// start past records nobody processed.
	switch {
	case resp == nil || !resp.hasNext:
		return 0, fmt.Errorf("sdk: consumer %s: %w", what, &ResponseError{HTTPStatus: 200, Reason: "a consume of 0 records answered without next_offset"})
	case len(resp.records) > 0:
		return 0, fmt.Errorf("sdk: consumer %s: %w", what, &ResponseError{HTTPStatus: 200, Reason: fmt.Sprintf("a consume of 0 records answered with %d records", len(resp.records))})
	}
	return resp.nextOffset, nil
}

// ConsumerOffsets is a snapshot of a consumer's positions.
type ConsumerOffsets struct {
	// Position is where reading continues (see Consumer.Position);
	// meaningful when Started.
	Position uint64
	Started  bool
	// Committed is the last offset this consumer committed; meaningful
	// when HasCommitted. Consumer.Committed asks the server for the
	// group's.
	Committed    uint64
	HasCommitted bool
	// HighestProcessed is the highest offset marked processed; meaningful
	// when HasProcessed.
	HighestProcessed uint64
	HasProcessed     bool
	// HeldAt, when Held, is the first offset this consumer has not
	// received while it holds processed records above it: commits wait
	// there until the server redelivers it or the group's committed offset
	// passes it.
	HeldAt uint64
	Held   bool
}

// Offsets returns the consumer's positions as it knows them, without a
// request.
func (k *Consumer) Offsets() ConsumerOffsets {
	k.mu.Lock()
	defer k.mu.Unlock()
	o := ConsumerOffsets{Position: k.position, Started: k.started, Committed: k.committed, HasCommitted: k.hasCommitted,
		HighestProcessed: k.highest, HasProcessed: k.hasHighest}
	o.HeldAt, o.Held = k.gapBlocks()
	return o
}

// ErrSeekBeforeStart is returned by Seek for an offset below where the
// group's delivery starts (its committed offset + 1, or where
// AutoOffsetReset put a group with no commit): the server does not deliver
// those records to the group again.
var ErrSeekBeforeStart = errors.New("sdk: offset is before the consumer group's start")

// Seek moves where this consumer reads next. It waits for a Poll in
// progress; before the first Poll it resolves the start as Poll would (a
// request).
//
// Forward (offset above Position): the records in between are skipped by
// the application's choice and count as processed, so the next commit
// covers them (as Kafka's seek). Nothing else is released: records
// delivered and not processed, and gaps awaiting redelivery, still hold
// commits. Once the group has committed, the server ignores where a
// consume asks to start and resends the skipped records until a commit
// covers them (they are dropped), so commit soon after a long forward Seek.
//
// Backward (offset below Position): the records from offset on that this
// consumer delivered are forgotten, processed or not, and delivered again
// when the server redelivers them, which it does only after its visibility
// timeout (60 s by default); commits wait at offset until then. The server
// never redelivers what the group committed, so an offset below the
// group's start fails with ErrSeekBeforeStart.
func (k *Consumer) Seek(ctx context.Context, offset uint64) error {
	if ctx == nil {
		return errors.New("sdk: Consumer.Seek: nil context")
	}
	ctx, stop := k.bind(ctx)
	defer stop()
	if err := k.lockPoll(ctx); err != nil {
		return err
	}
	defer k.unlockPoll()
	if err := k.alive(ctx); err != nil {
		return err
	}
	if err := k.ensureStarted(ctx, time.Now().Add(k.cfg.RequestTimeout)); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	switch {
	case offset < k.base:
		return fmt.Errorf("sdk: Consumer.Seek(%d) on %s for group %q: the group starts at offset %d: %w", offset, k.cfg.Topic, k.cfg.Group, k.base, ErrSeekBeforeStart)
	case offset < k.position:
		k.rewind(offset)
	case offset > k.position:
		k.skips = append(k.skips, offRange{k.position, offset})
		k.position = offset
	}
	return nil
}

// Close stops the consumer: a Poll in progress returns ErrClosed, pending
// background commits finish, and with auto commit on the processed records
// are committed (the error, if any, is returned). Unprocessed records stay
// with the server for redelivery. Other methods then return ErrClosed; a
// second Close does nothing.
func (k *Consumer) Close(ctx context.Context) error {
	if ctx == nil {
		return errors.New("sdk: Consumer.Close: nil context")
	}
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	if k.autoTimer != nil && k.autoTimer.Stop() {
		k.autoTimer = nil
	}
	k.mu.Unlock()

	// A handler that Run is running may finish and mark its record: wait
	// for it (unless ctx ends first), so the final commit includes it.
	// Do not call Close from inside a handler: cancel Run's ctx instead.
	handled := make(chan struct{})
	go func() { k.handling.Lock(); k.handling.Unlock(); close(handled) }()
	select {
	case <-handled:
	case <-ctx.Done():
	}

	// Let background commits finish (they hold processed work), unless ctx
	// ends first.
	drained := make(chan struct{})
	go func() { k.bg.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-ctx.Done():
		k.endLife()
		<-drained
	}
	k.endLife()
	k.polling <- struct{}{} // wait for a Poll in progress to notice
	k.unlockPoll()
	if k.cfg.ManualCommit {
		return nil
	}
	res, err := k.commit(ctx)
	k.reportAuto(res, err)
	if err != nil {
		return fmt.Errorf("sdk: Consumer.Close: final commit: %w", err)
	}
	return nil
}

// RunHandler processes one record. Returning an error stops Run.
type RunHandler func(ctx context.Context, rec Record) error

// HandlerError is returned by Run when the handler fails: the record at
// Offset and those after it are not committed; the consumer's next Poll or
// Run returns them first.
type HandlerError struct {
	Topic  string
	Offset uint64
	Err    error
}

func (e *HandlerError) Error() string {
	return fmt.Sprintf("sdk: consumer handler failed on %s offset %d: %v", e.Topic, e.Offset, e.Err)
}

func (e *HandlerError) Unwrap() error { return e.Err }

// Run polls and hands each record to handle in order, marking it processed
// when handle returns nil (at-least-once delivery). With ManualCommit, Run
// commits after each batch; otherwise auto commit does.
//
// When handle fails, Run commits the records processed before it and
// returns a *HandlerError. The failed record and the rest of its batch stay
// with this consumer, uncommitted: the next Poll or Run returns them first.
// Likewise when ctx ends mid-batch: Run commits what was processed and
// returns nil, and the unhandled records come first next time. If the
// consumer is closed instead, the server redelivers them to the group after
// its visibility timeout. Any other error (a failed poll or commit) is
// returned after committing what was processed.
func (k *Consumer) Run(ctx context.Context, handle RunHandler) error {
	if ctx == nil {
		return errors.New("sdk: Consumer.Run: nil context")
	}
	if handle == nil {
		return errors.New("sdk: Consumer.Run: nil handler")
	}
	for {
		recs, err := k.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, ErrClosed) {
				return k.finalCommit(ctx)
			}
			return errors.Join(err, k.finalCommit(ctx))
		}
		for i, rec := range recs {
			if ctx.Err() != nil {
				k.handBack(recs[i:])
				return k.finalCommit(ctx)
			}
			closing, herr, err := k.handleOne(ctx, handle, rec)
			if closing {
				return nil // Close commits what was processed
			}
			if herr != nil {
				k.handBack(recs[i:])
				herr = &HandlerError{Topic: rec.Topic, Offset: rec.Offset, Err: herr}
				if cerr := k.finalCommit(ctx); cerr != nil {
					return errors.Join(herr, cerr)
				}
				return herr
			}
			if err != nil {
				k.handBack(recs[i:])
				return err
			}
		}
		if k.cfg.ManualCommit && len(recs) > 0 {
			if _, err := k.Commit(ctx); err != nil {
				if ctx.Err() != nil || errors.Is(err, ErrClosed) {
					return k.finalCommit(ctx)
				}
				return err
			}
		}
	}
}

// handBack keeps records Run did not finish for the next Poll, ahead of
// any held already (they were delivered before those).
func (k *Consumer) handBack(recs []Record) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.held = append(slices.Clone(recs), k.held...)
}

// handleOne runs handle on rec and marks it processed, under k.handling so
// that a concurrent Close waits for it. closing reports that Close had
// started before the handler could run (the record stays unprocessed).
func (k *Consumer) handleOne(ctx context.Context, handle RunHandler, rec Record) (closing bool, herr, err error) {
	k.handling.Lock()
	defer k.handling.Unlock()
	k.mu.Lock()
	closing = k.closed
	k.mu.Unlock()
	if closing {
		return true, nil, nil
	}
	if herr = handle(ctx, rec); herr != nil {
		return false, herr, nil
	}
	return false, nil, k.markProcessed(rec, true)
}

// finalCommit commits what was processed even though ctx may have ended,
// within RequestTimeout. After Close, Close has committed already.
func (k *Consumer) finalCommit(ctx context.Context) error {
	k.mu.Lock()
	closed := k.closed
	k.mu.Unlock()
	if closed {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), k.cfg.RequestTimeout)
	defer cancel()
	ctx, stop := k.bind(ctx)
	defer stop()
	_, err := k.commit(ctx)
	if errors.Is(err, ErrClosed) {
		return nil
	}
	return err
}
