// Package realtime is the SDK's WebSocket side: the wire codec of KalamDB's
// live-query protocol, one shared connection per client with pacing,
// keepalive and reconnection, and per-subscription state that resumes from
// the last sequence id delivered without losing or repeating rows.
package realtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonlite"
	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/sdk/internal/redact"
)

// RawRow is one row as the server sent it: its columns in wire order, each
// value JSON text. MessagePack rows are transcoded to the same form. A
// slice, not a map: a row is read once, in order, and a map per row cost
// more than the rest of decoding a change.
type RawRow []RawCell

// RawCell is one column of a RawRow.
type RawCell struct {
	Name  string
	Value json.RawMessage
}

// Get returns the value of the named column (the last one, if the server
// repeated a name, as a JSON object decoder would).
func (r RawRow) Get(name string) (json.RawMessage, bool) {
	for i := len(r) - 1; i >= 0; i-- {
		if r[i].Name == name {
			return r[i].Value, true
		}
	}
	return nil, false
}

// UnmarshalJSONLite is UnmarshalJSON for jsonlite (browser builds), which
// calls no method named UnmarshalJSON (see jsonlite.Unmarshaler).
func (r *RawRow) UnmarshalJSONLite(b []byte) error { return r.UnmarshalJSON(b) }

// UnmarshalJSON reads a JSON object into cells, in order. Its callers
// (the JSON decoders) hand it one valid value.
func (r *RawRow) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*r = nil
		return nil
	}
	i := jsonscan.SkipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return fmt.Errorf("realtime: a row is not a JSON object (starts %q)", truncate(b))
	}
	if !json.Valid(b) {
		return jsonscan.Unmarshal(b, new(json.RawMessage)) // the syntax error
	}
	row := RawRow{}
	i = jsonscan.SkipSpace(b, i+1)
	for b[i] != '}' {
		kend := jsonscan.StringEnd(b, i)
		var name string
		if _, err := jsonscan.String(b, i, &name); err != nil {
			if err := jsonscan.Unmarshal(b[i:kend], &name); err != nil { // escapes
				return err
			}
		}
		i = jsonscan.SkipSpace(b, kend)
		i = jsonscan.SkipSpace(b, i+1) // past ':'
		var v json.RawMessage
		i = jsonscan.Raw(b, i, &v)
		row = append(row, RawCell{Name: name, Value: v})
		if i = jsonscan.SkipSpace(b, i); b[i] == ',' {
			i = jsonscan.SkipSpace(b, i+1)
		}
	}
	*r = row
	return nil
}

// Seq returns the row's _seq, accepting the decimal-string form KalamDB uses
// inside rows and a plain integer; ok is false when the row has none.
func (r RawRow) Seq() (int64, bool) {
	v, ok := r.Get("_seq")
	if !ok {
		return 0, false
	}
	n, err := parseSeq(v)
	return n, err == nil
}

// SeqID is a KalamDB sequence id: a JSON integer in batch control, a decimal
// string inside rows. Both are accepted; never decoded through float64.
type SeqID int64

// UnmarshalJSONLite is UnmarshalJSON for jsonlite (browser builds), which
// calls no method named UnmarshalJSON (see jsonlite.Unmarshaler).
func (s *SeqID) UnmarshalJSONLite(b []byte) error { return s.UnmarshalJSON(b) }

func (s *SeqID) UnmarshalJSON(b []byte) error {
	n, err := parseSeq(b)
	if err != nil {
		return err
	}
	*s = SeqID(n)
	return nil
}

func parseSeq(b []byte) (int64, error) {
	if len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' {
		b = b[1 : len(b)-1]
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("sequence id %q is not a 64-bit integer", truncate(b))
	}
	return n, nil
}

// BatchControl is the paging state of an initial snapshot.
type BatchControl struct {
	BatchNum       uint32 `json:"batch_num"`
	HasMore        bool   `json:"has_more"`
	Status         string `json:"status"`
	LastSeqID      *SeqID `json:"last_seq_id"`
	SnapshotEndSeq *SeqID `json:"snapshot_end_seq"`
}

// Ready reports whether this is the snapshot's last batch.
func (b *BatchControl) Ready() bool { return b == nil || !b.HasMore }

// Field is one column of a subscription_ack schema.
type Field struct {
	Name     string          `json:"name"`
	DataType json.RawMessage `json:"data_type"`
	Index    int             `json:"index"`
	Flags    []string        `json:"flags"`
}

// Protocol is the negotiated serialization and compression.
type Protocol struct {
	Serialization string `json:"serialization"`
	Compression   string `json:"compression"`
}

// ServerMessage is any message the server sends (ws-protocol §5).
type ServerMessage struct {
	Type           string        `json:"type"`
	SubscriptionID string        `json:"subscription_id"`
	ChangeType     string        `json:"change_type"`
	Rows           []RawRow      `json:"rows"`
	OldValues      []RawRow      `json:"old_values"`
	BatchControl   *BatchControl `json:"batch_control"`
	Schema         []Field       `json:"schema"`
	Code           string        `json:"code"`
	Message        string        `json:"message"`
	User           string        `json:"user"`
	Role           string        `json:"role"`
	Protocol       *Protocol     `json:"protocol"`
}

// Server message types.
const (
	TypeAuthSuccess  = "auth_success"
	TypeAuthError    = "auth_error"
	TypeAck          = "subscription_ack"
	TypeInitialBatch = "initial_data_batch"
	TypeChange       = "change"
	TypeError        = "error"
)

// DefaultMaxMessageBytes bounds a decompressed frame, as the official client
// does (64 MiB).
const DefaultMaxMessageBytes = 64 << 20

// ErrMessageTooLarge is returned when a frame inflates beyond the limit.
var ErrMessageTooLarge = errors.New("realtime: server message exceeds the size limit")

var gzipMagic = []byte{0x1f, 0x8b}

// msgpackDecoder is MsgpackToJSON once some client asked for MessagePack:
// referenced only from EnableMessagePack, the decoder stays out of browser
// bundles that never use it.
var msgpackDecoder atomic.Pointer[func([]byte) ([]byte, error)]

// EnableMessagePack lets Decode read MessagePack frames (for every client:
// it only makes the decoder available).
func EnableMessagePack() {
	f := MsgpackToJSON
	msgpackDecoder.Store(&f)
}

// Decode parses one server frame: text is JSON; binary is gunzipped when it
// starts with the gzip magic (bounded by limit bytes), then parsed as JSON
// if it starts with '{' and as MessagePack otherwise (the server sends its
// auth and error frames as JSON even in MessagePack mode).
func Decode(binary bool, p []byte, limit int64) (*ServerMessage, error) {
	owned := false // rows alias p: a caller's buffer is copied first
	if binary && bytes.HasPrefix(p, gzipMagic) {
		owned = true
		var err error
		if p, err = gunzip(p, limit); err != nil {
			return nil, err
		}
	}
	if binary && len(p) > 0 && p[0] != '{' {
		dec := msgpackDecoder.Load()
		if dec == nil {
			return nil, fmt.Errorf("realtime: a binary frame of %d bytes is not JSON, and no client asked for MessagePack (WithMessagePack)", len(p))
		}
		j, err := (*dec)(p)
		if err != nil {
			return nil, fmt.Errorf("realtime: decoding a MessagePack frame of %d bytes: %w", len(p), err)
		}
		p, owned = j, true
	}
	if !owned {
		p = bytes.Clone(p)
	}
	var m ServerMessage
	if err := decodeMessage(p, &m); err != nil {
		return nil, fmt.Errorf("realtime: decoding a server message (%d bytes, starts %q): %w", len(p), truncate(p), err)
	}
	if m.Type == "" {
		return nil, fmt.Errorf("realtime: server message has no type (starts %q)", truncate(p))
	}
	return &m, nil
}

func truncate(b []byte) string {
	const max, scan = 80, 16 << 10
	if len(b) > scan {
		b = b[:scan]
	}
	s := redact.String(string(b)) // before the cut: half a secret would not match
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}

// Client messages (ws-protocol §4). They are always sent as JSON text,
// which the server accepts in either serialization mode.

// SubscribeOptions are the options object of a subscribe message.
type SubscribeOptions struct {
	BatchSize      *int   `json:"batch_size,omitempty"`
	LastRows       *int   `json:"last_rows,omitempty"`
	From           *int64 `json:"from,omitempty"`
	SnapshotEndSeq *int64 `json:"snapshot_end_seq,omitempty"`
}

// The client messages are written by hand, byte for byte as json.Marshal
// would write them (encode_internal_test.go checks), so that browser
// builds need no general JSON encoder.

// EncodeSubscribe builds a subscribe message; nil options mean live-only
// (the server sends no initial data at all).
func EncodeSubscribe(id, sql string, opts *SubscribeOptions) []byte {
	b := append(make([]byte, 0, 64+len(sql)), `{"type":"subscribe","subscription":{"id":`...)
	b = jsonlite.AppendString(b, id)
	b = jsonlite.AppendString(append(b, `,"sql":`...), sql)
	b = append(b, `,"options":`...)
	if opts == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		if opts.BatchSize != nil {
			b = appendOptInt(b, `"batch_size":`, int64(*opts.BatchSize))
		}
		if opts.LastRows != nil {
			b = appendOptInt(b, `"last_rows":`, int64(*opts.LastRows))
		}
		if opts.From != nil {
			b = appendOptInt(b, `"from":`, *opts.From)
		}
		if opts.SnapshotEndSeq != nil {
			b = appendOptInt(b, `"snapshot_end_seq":`, *opts.SnapshotEndSeq)
		}
		b = append(b, '}')
	}
	return append(b, "}}"...)
}

// appendOptInt appends an option's key and n, after a comma unless it is
// the object's first member.
func appendOptInt(b []byte, key string, n int64) []byte {
	if b[len(b)-1] != '{' {
		b = append(b, ',')
	}
	return strconv.AppendInt(append(b, key...), n, 10)
}

// EncodeNextBatch asks for the page after lastSeq.
func EncodeNextBatch(id string, lastSeq int64) []byte {
	b := jsonlite.AppendString([]byte(`{"type":"next_batch","subscription_id":`), id)
	b = strconv.AppendInt(append(b, `,"last_seq_id":`...), lastSeq, 10)
	return append(b, '}')
}

// EncodeUnsubscribe ends a subscription on the server.
func EncodeUnsubscribe(id string) []byte {
	return append(jsonlite.AppendString([]byte(`{"type":"unsubscribe","subscription_id":`), id), '}')
}

// PingMessage is the application keepalive.
var PingMessage = []byte(`{"type":"ping"}`)

// EncodeAuthenticate is the message-path authentication; the token never
// appears anywhere else.
func EncodeAuthenticate(token, serialization string) []byte {
	b := jsonlite.AppendString([]byte(`{"type":"authenticate","method":"jwt","token":`), token)
	b = jsonlite.AppendString(append(b, `,"protocol":{"serialization":`...), serialization)
	return append(b, `,"compression":"gzip"}}`...)
}
