package sdk

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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
// Delivery is at least once: the committed offset is the highest offset up
// to which every record this consumer delivered was marked processed, so a
// record is never committed unprocessed, and a consumer that stops without
// committing leaves its records to the next member of the group.
//
// The server keeps an in-memory claim cursor per group: records delivered
// but not committed go to no other consumer of the group until the server's
// visibility timeout (60 s by default) expires, after which they are
// redelivered. Commits are group-wide and cover every offset up to the one
// committed, so run one consumer per group and partition at a time: a
// second live consumer's commit would also cover records the first one is
// still processing.
type Consumer struct {
	client *Client
	cfg    ConsumerConfig
	// First idle and retry waits (idleWaitFirst, retryWaitFirst); tests
	// shorten them.
	idleFirst, retryFirst time.Duration

	pollMu   sync.Mutex // one Poll at a time
	commitMu sync.Mutex // acks are sent one at a time, in increasing order
	// handling is held by Run while a handler runs and its record is
	// marked, so that Close commits a record whose handler just finished.
	handling sync.Mutex

	mu           sync.Mutex
	closed       bool
	started      bool     // a consume has answered; position is set
	position     uint64   // the next offset to ask for
	pending      []uint64 // delivered and not committed, ascending
	processed    map[uint64]struct{}
	committed    uint64
	hasCommitted bool
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
		processed: map[uint64]struct{}{}, life: life, endLife: end}, nil
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
	// so no request was made.
	Sent bool
}

// Poll returns the next records, waiting up to PollTimeout for some to
// arrive; an empty batch and a nil error mean none did. Transient failures
// (connection errors, HTTP 5xx) are retried until the poll timeout; other
// errors (ErrPermissionDenied, ErrNotFound for an unknown topic, ...) are
// returned at once. After Close it returns ErrClosed.
//
// Records delivered once by this consumer are not returned again, even when
// the server redelivers them; see Consumer.
func (k *Consumer) Poll(ctx context.Context) ([]Record, error) {
	if ctx == nil {
		return nil, errors.New("sdk: Consumer.Poll: nil context")
	}
	k.pollMu.Lock()
	defer k.pollMu.Unlock()
	ctx, stop := k.bind(ctx)
	defer stop()
	deadline := time.Now().Add(k.cfg.PollTimeout)
	idle := k.idleFirst
	for {
		if err := k.alive(ctx); err != nil {
			return nil, err
		}
		recs, progressed, err := k.fetch(ctx, deadline)
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
		if progressed {
			// Only redeliveries of records this consumer already has: the
			// server moved on, so ask again at once.
			continue
		}
		if err := k.sleep(ctx, min(jitterHalf(idle), left)); err != nil {
			return nil, err
		}
		idle = min(idle*2, idleWaitMax)
	}
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

// fetch makes one consume exchange (with transient retries until deadline)
// and returns the records new to this consumer; progressed reports that the
// server returned records this consumer had already delivered.
func (k *Consumer) fetch(ctx context.Context, deadline time.Time) (recs []Record, progressed bool, err error) {
	var resp *consumeResponse
	err = k.retry(ctx, "consume", deadline, func() error {
		var e error
		resp, e = k.consumeOnce(ctx)
		return e
	})
	if err != nil {
		return nil, false, err
	}
	if resp == nil { // an empty 200 body: an empty batch
		return nil, false, nil
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		// Undelivered records stay claimed and return after the server's
		// visibility timeout.
		return nil, false, ErrClosed
	}
	for i := range resp.records {
		r := &resp.records[i]
		if k.started && r.Offset < k.position {
			continue
		}
		if k.started && len(recs) == 0 && r.Offset > k.position {
			// Acks are group-wide and "up to", so a commit past this gap
			// also covers records this consumer never saw.
			k.client.log.Warn("kalamdb consumer: the server skipped offsets; they are claimed by another consumer of the group (run one per group and partition), committed by it, or were in a lost reply, and return after the server's visibility timeout if uncommitted",
				"topic", k.cfg.Topic, "group", k.cfg.Group, "partition", k.cfg.Partition, "from", k.position, "to", r.Offset-1)
		}
		recs = append(recs, *r)
		k.pending = append(k.pending, r.Offset)
		k.position = r.Offset + 1
	}
	if resp.hasNext && (!k.started || resp.nextOffset > k.position) {
		k.position = resp.nextOffset
	}
	k.started = true
	return recs, len(recs) == 0 && len(resp.records) > 0, nil
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
	if k.hasCommitted && rec.Offset <= k.committed {
		return nil
	}
	if !k.isPending(rec.Offset) {
		return fmt.Errorf("sdk: MarkProcessed: offset %d of %s was not delivered by this consumer's Poll", rec.Offset, k.cfg.Topic)
	}
	k.processed[rec.Offset] = struct{}{}
	if !k.closed && !k.cfg.ManualCommit && k.autoTimer == nil {
		k.autoTimer = time.AfterFunc(k.cfg.AutoCommitInterval, k.autoCommit)
	}
	return nil
}

func (k *Consumer) isPending(off uint64) bool {
	lo, hi := 0, len(k.pending)
	for lo < hi {
		m := (lo + hi) / 2
		if k.pending[m] < off {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(k.pending) && k.pending[lo] == off
}

// commitTarget is the highest pending offset with every delivered record up
// to it processed.
func (k *Consumer) commitTarget() (uint64, bool) {
	var upto uint64
	found := false
	for _, off := range k.pending {
		if _, ok := k.processed[off]; !ok {
			break
		}
		upto, found = off, true
	}
	return upto, found
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

func (k *Consumer) hasUncommittedProcessed() bool {
	_, ok := k.commitTarget()
	return ok
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

// commit acks the commit target, if it moved.
func (k *Consumer) commit(ctx context.Context) (CommitResult, error) {
	k.commitMu.Lock()
	defer k.commitMu.Unlock()
	k.mu.Lock()
	res := CommitResult{Topic: k.cfg.Topic, Group: k.cfg.Group, Partition: k.cfg.Partition, Offset: k.committed, HasOffset: k.hasCommitted}
	upto, ok := k.commitTarget()
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
	n := 0
	for n < len(k.pending) && k.pending[n] <= upto {
		delete(k.processed, k.pending[n])
		n++
	}
	k.pending = append(k.pending[:0], k.pending[n:]...)
	return CommitResult{Topic: k.cfg.Topic, Group: k.cfg.Group, Partition: k.cfg.Partition, Offset: upto, HasOffset: true, Sent: true}, nil
}

// rewind makes off the next offset to deliver, forgetting delivered records
// from off on, so that a redelivery of them is accepted. The server resends
// them only after its visibility timeout (http-api §8.1 step 3).
func (k *Consumer) rewind(off uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.started || off >= k.position {
		return
	}
	k.position = off
	n := len(k.pending)
	for n > 0 && k.pending[n-1] >= off {
		n--
		delete(k.processed, k.pending[n])
	}
	k.pending = k.pending[:n]
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
	k.pollMu.Lock() // wait for a Poll in progress to notice
	k.pollMu.Unlock()
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
// Offset and those after it are not committed.
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
// returns a *HandlerError: the failed record and the rest of its batch are
// not committed, and the server redelivers them (to this consumer or another
// of the group) after its visibility timeout. When ctx ends or the consumer
// is closed, Run commits what was processed and returns nil. Any other
// error (a failed poll or commit) is returned after committing what was
// processed.
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
		for _, rec := range recs {
			if ctx.Err() != nil {
				k.rewind(rec.Offset)
				return k.finalCommit(ctx)
			}
			closing, herr, err := k.handleOne(ctx, handle, rec)
			if closing {
				return nil // Close commits what was processed
			}
			if herr != nil {
				k.rewind(rec.Offset)
				herr = &HandlerError{Topic: rec.Topic, Offset: rec.Offset, Err: herr}
				if cerr := k.finalCommit(ctx); cerr != nil {
					return errors.Join(herr, cerr)
				}
				return herr
			}
			if err != nil {
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
