package live

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sort"

	"github.com/kalamstack/kalam-go/kalamtest/emulator/internal/engine"
)

// newConnID is a connection id as the real server makes one: a UUID v4 in
// its simple (32 hex digits) form.
func newConnID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return hex.EncodeToString(b[:])
}

// optionsJSON renders a subscribe's options for system.live ("" = null).
func optionsJSON(m clientMessage) string {
	if !m.hasOptions {
		return ""
	}
	o := map[string]int64{}
	for k, v := range map[string]*int64{"batch_size": m.options.batchSize, "last_rows": m.options.lastRows,
		"from": m.options.from, "snapshot_end_seq": m.options.snapshotEnd} {
		if v != nil {
			o[k] = *v
		}
	}
	b, _ := json.Marshal(o) // a map of int64 always marshals
	return string(b)
}

// LiveQueries lists the active subscriptions for system.live, oldest
// first. live_id is {user}-{connection}-{subscription} (sql-model §2.5).
func (s *Server) LiveQueries() []engine.LiveQuery {
	s.mu.Lock()
	var subs []*subscription
	for _, set := range s.byTable {
		for sub := range set {
			subs = append(subs, sub)
		}
	}
	s.mu.Unlock()
	out := make([]engine.LiveQuery, 0, len(subs))
	for _, sub := range subs {
		sub.mu.Lock()
		closed, changes, updated := sub.closed, sub.changes, sub.updatedMS
		sub.mu.Unlock()
		if closed {
			continue
		}
		if updated == 0 {
			updated = sub.createdMS
		}
		out = append(out, engine.LiveQuery{
			LiveID: sub.user + "-" + sub.conn.id + "-" + sub.id, ConnectionID: sub.conn.id, SubscriptionID: sub.id,
			Namespace: sub.q.namespace, Table: sub.q.table, UserID: sub.user, Query: sub.sql, Options: sub.options,
			Status: "active", CreatedAt: sub.createdMS, LastUpdate: updated, LastPingAt: sub.createdMS, Changes: changes,
		})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].CreatedAt != out[j].CreatedAt {
			return out[i].CreatedAt < out[j].CreatedAt
		}
		return out[i].LiveID < out[j].LiveID
	})
	return out
}
