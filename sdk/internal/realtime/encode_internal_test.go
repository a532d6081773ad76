package realtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
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

// decoderRawRow is RawRow's decoding before it was written without
// json.Decoder (which browser builds do not link): the reference.
func decoderRawRow(b []byte) (RawRow, error) {
	if string(b) == "null" {
		return nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("realtime: a row is not a JSON object (starts %q)", truncate(b))
	}
	row := RawRow{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		row = append(row, RawCell{Name: t.(string), Value: v})
	}
	return row, nil
}

var serverMessages = []string{
	`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"id":"1","_seq":"12","v":{"a":[1,2]}}]}`,
	`{"type":"change","rows":[ { "a" : 1 , "a" : 2, "\u0062" : "x", "é":null } ],"old_values":[null,{}]}`,
	`{"type":"initial_data_batch","rows":[],"batch_control":{"batch_num":1,"has_more":true,"status":"loading","last_seq_id":42}}`,
	`{"type":"subscription_ack","subscription_id":"s","total_rows":3,"batch_control":{"batch_num":0,"has_more":false,"status":"ready"},"schema":[{"name":"id","data_type":"BigInt","index":0}]}`,
	`{"type":"auth_success","user":"u","role":"dba","protocol":{"serialization":"json","compression":"gzip"}}`,
	`{"type":"error","code":"X","message":"m"}`,
	`{"TYPE":"change","rows":[1]}`, `{"type":"change","rows":[["a"]]}`, `{"type":"change","rows":{"a":1}}`,
	`{"type":"change","rows":[{"a":1}`, `[1]`, `null`, ``,
}

func FuzzRowsDecodeAsBefore(f *testing.F) {
	for _, s := range serverMessages {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		// RawRow against its json.Decoder reference, on every valid value.
		if json.Valid(p) {
			want, werr := decoderRawRow(p)
			var got RawRow
			gerr := got.UnmarshalJSON(p)
			if werr != nil {
				require.Error(t, gerr, "%q", p)
			} else {
				require.NoError(t, gerr, "%q", p)
				require.Equal(t, want, got, "%q", p)
			}
		}
		// Whole messages: jsonlite as browser builds use it, against
		// encoding/json.
		var want, got ServerMessage
		werr := json.Unmarshal(p, &want)
		gerr := jsonlite.Unmarshal(p, &got)
		if werr != nil {
			require.Error(t, gerr, "%q", p)
			require.Equal(t, werr.Error(), gerr.Error(), "%q", p)
			return
		}
		require.NoError(t, gerr, "%q", p)
		require.Equal(t, want, got, "%q", p)
	})
}
