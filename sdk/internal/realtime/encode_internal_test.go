package realtime

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// The client messages are written by hand; they must be json.Marshal's
// bytes for the message structs they replaced.

type subscribeMsgWire struct {
	Type         string `json:"type"`
	Subscription struct {
		ID      string            `json:"id"`
		SQL     string            `json:"sql"`
		Options *SubscribeOptions `json:"options"`
	} `json:"subscription"`
}

func marshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func checkClientMessages(t *testing.T, id, sql, token string, n int, seq int64) {
	one, big := 1, n
	from := seq
	for _, opts := range []*SubscribeOptions{nil, {}, {BatchSize: &big}, {LastRows: &one}, {From: &from},
		{SnapshotEndSeq: &from}, {BatchSize: &one, LastRows: &big, From: &from, SnapshotEndSeq: &seq}} {
		var m subscribeMsgWire
		m.Type = "subscribe"
		m.Subscription.ID, m.Subscription.SQL, m.Subscription.Options = id, sql, opts
		require.Equal(t, marshal(t, &m), string(EncodeSubscribe(id, sql, opts)))
	}
	require.Equal(t, marshal(t, struct {
		Type      string `json:"type"`
		ID        string `json:"subscription_id"`
		LastSeqID int64  `json:"last_seq_id"`
	}{"next_batch", id, seq}), string(EncodeNextBatch(id, seq)))
	require.Equal(t, marshal(t, struct {
		Type string `json:"type"`
		ID   string `json:"subscription_id"`
	}{"unsubscribe", id}), string(EncodeUnsubscribe(id)))
	for _, ser := range []string{"json", "msgpack", sql} {
		require.Equal(t, marshal(t, struct {
			Type     string   `json:"type"`
			Method   string   `json:"method"`
			Token    string   `json:"token"`
			Protocol Protocol `json:"protocol"`
		}{"authenticate", "jwt", token, Protocol{Serialization: ser, Compression: "gzip"}}), string(EncodeAuthenticate(token, ser)))
	}
}

func TestClientMessagesAreJSONMarshalBytes(t *testing.T) {
	checkClientMessages(t, "sub-1", "SELECT * FROM app.items WHERE name = 'a<b>&\"c\"' -- \u2028 é", "eyJ.x.y", 500, 1<<40)
	checkClientMessages(t, "", "", "", 0, -1)
	checkClientMessages(t, "\xff\x00", "\t\n", "\\", -7, 0)
}

func FuzzClientMessagesAreJSONMarshalBytes(f *testing.F) {
	f.Add("sub-1", "SELECT 1", "tok", 10, int64(5))
	f.Fuzz(func(t *testing.T, id, sql, token string, n int, seq int64) {
		checkClientMessages(t, id, sql, token, n, seq)
	})
}
