package engine

// LiveQuery is one row of system.live, the server's view of its active
// live subscriptions (kalamdb-system providers/live/models/live_query.rs).
// Times are epoch milliseconds, as in the other system tables.
type LiveQuery struct {
	LiveID, ConnectionID, SubscriptionID string
	Namespace, Table, UserID, Query      string
	Options                              string // JSON, "" for null
	Status                               string // active, paused, completed, error
	CreatedAt, LastUpdate, LastPingAt    int64
	Changes                              int64
}

// liveSource returns the WebSocket server's subscriptions; nil before
// SetLiveQueries.
type liveSource = func() []LiveQuery

// SetLiveQueries makes fn the source of system.live (the WebSocket server
// owns the subscriptions, the engine only shows them).
func (e *Engine) SetLiveQueries(fn func() []LiveQuery) { e.live.Store(&fn) }

func init() {
	sysTables["live"] = &sysTable{name: "live", cols: []column{
		{Name: "live_id", Type: tText, PK: true, NotNull: true}, sysCol("connection_id", tText), sysCol("subscription_id", tText),
		sysCol("namespace_id", tText), sysCol("table_name", tText), sysCol("user_id", tText), sysCol("query", tText),
		sysCol("options", tJSON), sysCol("status", tText), sysCol("created_at", tTimestamp), sysCol("last_update", tTimestamp),
		sysCol("changes", tBigInt), sysCol("node_id", tBigInt), sysCol("last_ping_at", tTimestamp),
	}, rows: func(e *Engine) ([][]any, error) {
		fn := e.live.Load()
		if fn == nil {
			return nil, nil
		}
		var out [][]any
		for _, q := range (*fn)() {
			var opts any
			if q.Options != "" {
				opts = q.Options
			}
			out = append(out, []any{q.LiveID, q.ConnectionID, q.SubscriptionID, q.Namespace, q.Table, q.UserID, q.Query,
				opts, q.Status, q.CreatedAt, q.LastUpdate, q.Changes, int64(1), q.LastPingAt})
		}
		return out, nil
	}}
}
