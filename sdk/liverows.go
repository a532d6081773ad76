package sdk

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"sync"
)

// LiveRows is a materialised, always-current row set of a live query,
// keyed by the table's primary key (or KeyColumns). Each update is the
// whole set, oldest first; rows keep their position when updated.
type LiveRows struct {
	sub   *Subscription
	key   []string // from KeyColumns; else the schema's primary key
	limit int

	mu      sync.Mutex // one reader at a time
	rows    []Row
	index   map[string]int
	pending *rowSet // a resync in progress, swapped in when complete
	ready   bool
}

type rowSet struct {
	rows  []Row
	index map[string]int
}

// LiveRows subscribes to sql and maintains its rows. The first update is
// the complete initial snapshot (never an empty placeholder before it);
// then one update per change. After a reconnect or an overflow the whole
// set is fetched again and swapped in at once, so rows deleted meanwhile
// disappear too.
func (c *Client) LiveRows(ctx context.Context, sql string, opts ...SubscribeOption) (*LiveRows, error) {
	cfg, err := buildSubscribeConfig(true, opts)
	if err != nil {
		return nil, err
	}
	if cfg.rt.LiveOnly {
		return nil, errors.New("sdk: LiveRows needs the initial snapshot; LiveOnly does not apply")
	}
	cfg.rt.FullResync = true
	cfg.rt.IDPrefix = "live_rows"
	sub, err := c.subscribe(ctx, sql, cfg)
	if err != nil {
		return nil, err
	}
	return &LiveRows{sub: sub, key: cfg.keyColumns, limit: cfg.limit, index: map[string]int{}}, nil
}

// Subscription returns the underlying subscription (for its ID and
// Checkpoint; do not read its events while using LiveRows).
func (l *LiveRows) Subscription() *Subscription { return l.sub }

// Next waits for the next version of the row set. The returned slice is
// the caller's. ErrOverflow is not fatal.
func (l *LiveRows) Next(ctx context.Context) ([]Row, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		ev, err := l.sub.Next(ctx)
		if err != nil {
			return nil, err
		}
		emit, err := l.apply(ev)
		if err != nil {
			return nil, err
		}
		if emit {
			return l.snapshot(), nil
		}
	}
}

// Updates iterates over versions of the row set until ctx ends or the
// subscription ends (as Subscription.Events).
func (l *LiveRows) Updates(ctx context.Context) iter.Seq2[[]Row, error] {
	return func(yield func([]Row, error) bool) {
		for {
			rows, err := l.Next(ctx)
			if errors.Is(err, ErrSubscriptionClosed) {
				return
			}
			if !yield(rows, err) || (err != nil && !errors.Is(err, ErrOverflow)) {
				return
			}
		}
	}
}

// Close ends the live query.
func (l *LiveRows) Close() error { return l.sub.Close() }

func (l *LiveRows) snapshot() []Row {
	out := make([]Row, len(l.rows))
	copy(out, l.rows)
	return out
}

// apply folds one event into the set and reports whether to emit.
func (l *LiveRows) apply(ev Event) (bool, error) {
	switch e := ev.(type) {
	case *Ack:
		if len(l.key) == 0 && len(l.sub.pk) == 0 {
			return false, errors.New("sdk: LiveRows: the schema has no primary key; name the key with KeyColumns")
		}
		if e.Resumed {
			l.pending = &rowSet{index: map[string]int{}}
		}
		return false, nil
	case *InitialRows:
		set := &rowSet{rows: l.rows, index: l.index}
		if l.pending != nil {
			set = l.pending
		}
		for _, r := range e.Rows {
			if err := l.upsert(set, r); err != nil {
				return false, err
			}
		}
		if l.pending == nil {
			l.rows, l.index = set.rows, set.index
		}
		if !e.Ready {
			return false, nil
		}
		if l.pending != nil {
			l.rows, l.index, l.pending = l.pending.rows, l.pending.index, nil
		}
		l.ready = true
		l.trim()
		return true, nil
	case *Insert:
		return l.applyRows(e.Rows, nil)
	case *Update:
		return l.applyRows(e.Rows, nil)
	case *Delete:
		return l.applyRows(nil, e.Rows)
	}
	return false, fmt.Errorf("sdk: LiveRows: unexpected event %T", ev)
}

func (l *LiveRows) applyRows(upserts, deletes []Row) (bool, error) {
	set := &rowSet{rows: l.rows, index: l.index}
	for _, r := range upserts {
		if err := l.upsert(set, r); err != nil {
			return false, err
		}
	}
	l.rows = set.rows
	for _, r := range deletes {
		k, err := l.keyOf(r)
		if err != nil {
			return false, err
		}
		if i, ok := l.index[k]; ok {
			l.rows = append(l.rows[:i], l.rows[i+1:]...)
			l.reindex(i)
			delete(l.index, k)
		}
	}
	l.trim()
	return l.ready, nil
}

func (l *LiveRows) upsert(set *rowSet, r Row) error {
	k, err := l.keyOf(r)
	if err != nil {
		return err
	}
	if i, ok := set.index[k]; ok {
		set.rows[i] = r
		return nil
	}
	set.index[k] = len(set.rows)
	set.rows = append(set.rows, r)
	return nil
}

// trim keeps the newest limit rows.
func (l *LiveRows) trim() {
	if l.limit <= 0 || len(l.rows) <= l.limit {
		return
	}
	drop := len(l.rows) - l.limit
	for _, r := range l.rows[:drop] {
		if k, err := l.keyOf(r); err == nil {
			delete(l.index, k)
		}
	}
	l.rows = append(l.rows[:0], l.rows[drop:]...)
	l.reindex(0)
}

func (l *LiveRows) reindex(from int) {
	for i := from; i < len(l.rows); i++ {
		if k, err := l.keyOf(l.rows[i]); err == nil {
			l.index[k] = i
		}
	}
}

// keyOf joins the key columns' raw values; a row lacking one is an error
// (it could never be matched later, so it would silently duplicate).
func (l *LiveRows) keyOf(r Row) (string, error) {
	cols := l.key
	if len(cols) == 0 {
		cols = l.sub.pk
	}
	var b strings.Builder
	for i, c := range cols {
		raw, err := r.Raw(c)
		if err != nil || len(raw) == 0 {
			return "", fmt.Errorf("sdk: LiveRows: a row has no key column %q", c)
		}
		if i > 0 {
			b.WriteByte(0)
		}
		b.Write(raw)
	}
	return b.String(), nil
}
