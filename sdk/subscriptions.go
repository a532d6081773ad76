package sdk

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
)

// SubscriptionState is where a subscription stands.
type SubscriptionState int

const (
	// SubscriptionSubscribing: the subscribe was sent (again, after a
	// reconnect) and awaits the server's acknowledgement.
	SubscriptionSubscribing SubscriptionState = iota
	// SubscriptionLoading: acknowledged; snapshot batches are still coming.
	SubscriptionLoading
	// SubscriptionLive: the snapshot is complete and changes flow.
	SubscriptionLive
	// SubscriptionResyncing: the application fell behind (ErrOverflow);
	// the subscription resumes from the last event it returned.
	SubscriptionResyncing
	// SubscriptionClosed: it failed; Close removes it from the list.
	SubscriptionClosed
)

func (s SubscriptionState) String() string {
	switch s {
	case SubscriptionSubscribing:
		return "subscribing"
	case SubscriptionLoading:
		return "loading"
	case SubscriptionLive:
		return "live"
	case SubscriptionResyncing:
		return "resyncing"
	case SubscriptionClosed:
		return "closed"
	}
	return fmt.Sprintf("SubscriptionState(%d)", int(s))
}

// SubscriptionInfo describes one of the client's subscriptions, as the
// official SDKs' subscriptions() / getSubscriptions() do.
type SubscriptionInfo struct {
	// ID is the subscription's id on the wire now (it changes when the
	// subscription is re-sent after a reconnect).
	ID string
	// Query is the SQL given to Subscribe or LiveRows.
	Query string
	// LastSeq is the highest _seq among the rows returned to the
	// application (or the FromSeq given), the point a resume continues
	// from; HasLastSeq is false before any.
	LastSeq    int64
	HasLastSeq bool
	// CreatedAt is when Subscribe was called; LastEventAt when Next last
	// returned an event (zero before the first).
	CreatedAt   time.Time
	LastEventAt time.Time
	State       SubscriptionState
}

// Subscriptions lists the client's subscriptions (Subscribe and LiveRows)
// that have not been closed, oldest first. What the server itself knows
// about live queries, across all clients, is the system.live table: see
// LiveQueries.
func (c *Client) Subscriptions() []SubscriptionInfo {
	subs := c.rt.reg.list()
	out := make([]SubscriptionInfo, 0, len(subs))
	for _, s := range subs {
		out = append(out, s.info())
	}
	return out
}

// subRegistry holds a client's open subscriptions for Subscriptions.
type subRegistry struct {
	mu   sync.Mutex
	subs []*Subscription
}

func (r *subRegistry) add(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = append(r.subs, s)
}

func (r *subRegistry) remove(s *Subscription) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.subs = slices.DeleteFunc(r.subs, func(x *Subscription) bool { return x == s })
}

func (r *subRegistry) list() []*Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.subs)
}

func (s *Subscription) info() SubscriptionInfo {
	seq, ok := s.Checkpoint()
	var last time.Time
	if ns := s.lastEvent.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	return SubscriptionInfo{
		ID: s.sub.ID(), Query: s.sub.SQL(), LastSeq: seq, HasLastSeq: ok,
		CreatedAt: time.Unix(0, s.created), LastEventAt: last,
		State: stateOf(s.sub.State()),
	}
}

func stateOf(st realtime.SubState) SubscriptionState {
	switch st {
	case realtime.SubLoading:
		return SubscriptionLoading
	case realtime.SubLive:
		return SubscriptionLive
	case realtime.SubResyncing:
		return SubscriptionResyncing
	case realtime.SubClosed:
		return SubscriptionClosed
	}
	return SubscriptionSubscribing
}

// LiveQuery is one row of the server's system.live table: a live query
// registered on the server, by any client.
type LiveQuery struct {
	LiveID         string // {user}-{connection}-{subscription}
	ConnectionID   string
	SubscriptionID string
	Namespace      string
	Table          string
	UserID         string
	Query          string
	Status         string // active, paused, completed, error
	CreatedAt      time.Time
	LastUpdate     time.Time
	Changes        int64 // change notifications pushed
}

// LiveQueriesSQL is the query LiveQueries runs; KalamDB offers live
// queries as system.live (there is no system.live_queries). Only dba and
// system roles may read system tables.
const LiveQueriesSQL = "SELECT live_id, connection_id, subscription_id, namespace_id, table_name, user_id, query, status, created_at, last_update, changes FROM system.live"

// LiveQueries reads what the server reports about its live queries
// (system.live: every client's, on this node), oldest first. It needs a dba
// or system account; others get ErrPermissionDenied.
func (c *Client) LiveQueries(ctx context.Context) ([]LiveQuery, error) {
	res, err := c.Query(ctx, LiveQueriesSQL+" ORDER BY created_at, live_id")
	if err != nil {
		return nil, err
	}
	out := make([]LiveQuery, 0, len(res.Rows()))
	for _, r := range res.Rows() {
		var q LiveQuery
		for _, f := range []struct {
			col string
			dst *string
		}{{"live_id", &q.LiveID}, {"connection_id", &q.ConnectionID}, {"subscription_id", &q.SubscriptionID},
			{"namespace_id", &q.Namespace}, {"table_name", &q.Table}, {"user_id", &q.UserID},
			{"query", &q.Query}, {"status", &q.Status}} {
			if *f.dst, err = r.String(f.col); err != nil {
				return nil, fmt.Errorf("sdk: LiveQueries: %w", err)
			}
		}
		if q.Changes, err = r.Int64("changes"); err != nil {
			return nil, fmt.Errorf("sdk: LiveQueries: %w", err)
		}
		if q.CreatedAt, err = liveTime(r, "created_at"); err != nil {
			return nil, err
		}
		if q.LastUpdate, err = liveTime(r, "last_update"); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

// liveTime reads a system-table timestamp: system tables keep epoch
// milliseconds under a Timestamp type (sql-model §2.5), so a value that
// reads as a date before 1971 in µs is taken as ms.
func liveTime(r Row, col string) (time.Time, error) {
	raw, err := r.Raw(col)
	if err != nil {
		return time.Time{}, fmt.Errorf("sdk: LiveQueries: %w", err)
	}
	text := strings.Trim(string(raw), `"`)
	if text == "null" {
		return time.Time{}, nil
	}
	v, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("sdk: LiveQueries: column %q: %s is not an integer timestamp", col, raw)
	}
	if v < 365*24*3600*1_000_000 {
		return time.UnixMilli(v).UTC(), nil
	}
	return time.UnixMicro(v).UTC(), nil
}
