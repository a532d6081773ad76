package sdk

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kalamstack/kalam-go/sdk/internal/jsonscan"
	"github.com/kalamstack/kalam-go/transport"
)

// Op is the change that produced a topic record, as the server spells it.
// A value other than the three constants is passed through unchanged.
type Op string

const (
	OpInsert Op = "Insert"
	OpUpdate Op = "Update"
	OpDelete Op = "Delete" // the payload is the deleted row with _deleted true
)

// TableName names a table: namespace and table.
type TableName struct {
	Namespace string
	Name      string
}

func (t TableName) String() string {
	if t.Namespace == "" {
		return t.Name
	}
	return t.Namespace + "." + t.Name
}

// Record is one topic message.
type Record struct {
	Topic     string
	Partition uint32
	Offset    uint64
	// Key is the message key as the server sends it: KalamDB 0.4 keys a
	// message with the whole source row as JSON text (every column with
	// _seq, _commit_seq and _deleted, fields in no fixed order), not the
	// primary key; nil when the server sends none.
	Key *string
	// Timestamp is when the message was published (millisecond precision).
	Timestamp time.Time
	// User is the producing user's id; empty when the server did not say.
	User string
	Op   Op
	// Payload is the message body exactly as sent (base64-decoded): a JSON
	// object of the row's cells.
	Payload []byte
	// Table is the source table, from the payload's "_table" field; zero
	// when the payload has none (payload mode 'key').
	Table TableName

	row    Row
	rowErr error
}

// Row returns the payload as a row: one column per payload field in the
// server's order, "_table" excluded. The payload carries no schema, so
// values are read by the accessor asked (Row.Int64 reads BigInt strings
// exactly; Row.Value gives strings, bools, json.Number, maps and slices).
// The error says why the payload is not a JSON object.
func (r *Record) Row() (Row, error) { return r.row, r.rowErr }

type consumeRequest struct {
	TopicID        string `json:"topic_id"`
	GroupID        string `json:"group_id"`
	Start          any    `json:"start"`
	Limit          uint64 `json:"limit"`
	PartitionID    uint32 `json:"partition_id"`
	TimeoutSeconds uint64 `json:"timeout_seconds"`
}

type wireConsumeResponse struct {
	Messages   []wireTopicMessage `json:"messages"`
	NextOffset *uint64            `json:"next_offset"`
	HasMore    bool               `json:"has_more"`
}

type wireTopicMessage struct {
	TopicID     string  `json:"topic_id"`
	PartitionID uint32  `json:"partition_id"`
	Offset      *uint64 `json:"offset"`
	Payload     []byte  `json:"payload"` // standard base64 on the wire
	Key         *string `json:"key"`
	TimestampMS int64   `json:"timestamp_ms"`
	User        string  `json:"user"`
	Op          string  `json:"op"`
}

// consumeResponse is a decoded consume reply.
type consumeResponse struct {
	records    []Record
	nextOffset uint64
	hasNext    bool
}

// consumeOnce makes one consume request for up to limit records from
// start. A nil response with a nil error is an empty 200 body, which the
// official client also reads as an empty batch.
func (k *Consumer) consumeOnce(ctx context.Context, start any, limit uint64) (*consumeResponse, error) {
	b, err := jsonscan.Marshal(consumeRequest{
		TopicID: k.cfg.Topic, GroupID: k.cfg.Group, Start: start,
		Limit: limit, PartitionID: k.cfg.Partition,
		TimeoutSeconds: uint64((k.cfg.PollTimeout + time.Second - 1) / time.Second),
	})
	if err != nil {
		return nil, fmt.Errorf("sdk: encoding consume request: %w", err)
	}
	status, ctype, body, err := k.post(ctx, "/v1/api/topics/consume", b)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	return k.decodeConsume(status, ctype, body)
}

func (k *Consumer) decodeConsume(status int, ctype string, body []byte) (*consumeResponse, error) {
	var w wireConsumeResponse
	if err := jsonscan.Unmarshal(body, &w); err != nil {
		reason := describeJSONError(err)
		var b64 base64.CorruptInputError
		if errors.As(err, &b64) {
			reason = fmt.Sprintf("a payload is not standard base64 (bad byte at %d)", int64(b64))
		}
		return nil, unexpected(status, ctype, "consume reply: "+reason, body, err)
	}
	out := &consumeResponse{records: make([]Record, len(w.Messages))}
	var shape *StatementResult
	for i := range w.Messages {
		m := &w.Messages[i]
		if m.Offset == nil {
			return nil, unexpected(status, ctype, fmt.Sprintf("consume reply: message %d has no offset", i), body, nil)
		}
		if m.PartitionID != k.cfg.Partition || (m.TopicID != "" && m.TopicID != k.cfg.Topic) {
			return nil, unexpected(status, ctype, fmt.Sprintf("consume reply: message %d is from %s[%d], not the requested %s[%d]", i, m.TopicID, m.PartitionID, k.cfg.Topic, k.cfg.Partition), body, nil)
		}
		if i > 0 && *m.Offset <= out.records[i-1].Offset {
			return nil, unexpected(status, ctype, fmt.Sprintf("consume reply: offset %d follows offset %d", *m.Offset, out.records[i-1].Offset), body, nil)
		}
		rec := Record{
			Topic: k.cfg.Topic, Partition: m.PartitionID, Offset: *m.Offset, Key: m.Key,
			Timestamp: time.UnixMilli(m.TimestampMS).UTC(), User: m.User, Op: Op(m.Op), Payload: m.Payload,
		}
		rec.row, rec.Table, rec.rowErr = payloadRow(m.Payload, shape)
		if rec.rowErr == nil {
			shape = rec.row.res
		} else {
			rec.rowErr = fmt.Errorf("sdk: %s offset %d: payload: %w", k.cfg.Topic, rec.Offset, rec.rowErr)
		}
		out.records[i] = rec
	}
	switch {
	case w.NextOffset != nil:
		out.nextOffset, out.hasNext = *w.NextOffset, true
	case len(out.records) > 0:
		out.nextOffset, out.hasNext = out.records[len(out.records)-1].Offset+1, true
	}
	return out, nil
}

// ackOnce makes one ack request (upto is inclusive) and returns the
// acknowledged offset.
func (k *Consumer) ackOnce(ctx context.Context, upto uint64) (uint64, error) {
	b, err := jsonscan.Marshal(struct {
		TopicID     string `json:"topic_id"`
		GroupID     string `json:"group_id"`
		PartitionID uint32 `json:"partition_id"`
		UptoOffset  uint64 `json:"upto_offset"`
	}{k.cfg.Topic, k.cfg.Group, k.cfg.Partition, upto})
	if err != nil {
		return 0, fmt.Errorf("sdk: encoding ack request: %w", err)
	}
	status, ctype, body, err := k.post(ctx, "/v1/api/topics/ack", b)
	if err != nil {
		return 0, err
	}
	var w struct {
		Success            bool    `json:"success"`
		AcknowledgedOffset *uint64 `json:"acknowledged_offset"`
	}
	if err := jsonscan.Unmarshal(body, &w); err != nil {
		return 0, unexpected(status, ctype, "ack reply: "+describeJSONError(err), body, err)
	}
	if !w.Success || w.AcknowledgedOffset == nil {
		return 0, unexpected(status, ctype, "ack reply: not a success with acknowledged_offset", body, nil)
	}
	return *w.AcknowledgedOffset, nil
}

// post sends one authenticated JSON POST bounded by RequestTimeout and
// returns the 2xx reply. Retries are the caller's: the pipeline only renews
// an expired token and waits out rate limits.
func (k *Consumer) post(ctx context.Context, path string, b []byte) (int, string, []byte, error) {
	ctx, cancel := context.WithTimeoutCause(ctx, k.cfg.RequestTimeout, errCallTimeout)
	defer cancel()
	ctx, stop, err := k.client.callContext(ctx)
	if err != nil {
		return 0, "", nil, err
	}
	defer stop()
	resp, err := k.client.send(ctx, &request{method: "POST", path: path, body: jsonBody(b), authed: true})
	if err != nil {
		return 0, "", nil, err
	}
	body, err := k.client.readBody(ctx, resp)
	if err != nil {
		return 0, "", nil, err
	}
	return resp.StatusCode, transport.HeaderValue(resp.Header, "Content-Type"), body, nil
}

// payloadRow reads a payload (a JSON object of cells) as a Row in field
// order, taking "_table" ("namespace:table") out as the source table. The
// cells alias p. When the fields are those of prev, prev's columns are
// shared (a topic's payloads mostly have one shape).
func payloadRow(p []byte, prev *StatementResult) (Row, TableName, error) {
	var tbl TableName
	if !json.Valid(p) {
		return Row{}, tbl, fmt.Errorf("not valid JSON: %s", snippet(p))
	}
	// p is valid JSON, so the scanning below only has to find boundaries.
	i := jsonscan.SkipSpace(p, 0)
	if p[i] != '{' {
		return Row{}, tbl, fmt.Errorf("not a JSON object: %s", snippet(p))
	}
	var names []string
	var cells []json.RawMessage
	if prev != nil {
		names = make([]string, 0, len(prev.Columns))
		cells = make([]json.RawMessage, 0, len(prev.Columns))
	}
	for i = jsonscan.SkipSpace(p, i+1); p[i] != '}'; {
		kend := jsonscan.StringEnd(p, i)
		name, err := unquote(p[i:kend])
		if err != nil {
			return Row{}, tbl, fmt.Errorf("field name %s: %w", snippet(p[i:kend]), err)
		}
		i = jsonscan.SkipSpace(p, jsonscan.SkipSpace(p, kend)+1) // past ':'
		vend := jsonscan.ValueEnd(p, i)
		raw := json.RawMessage(p[i:vend:vend])
		if name == "_table" {
			s, err := unquote(raw)
			if err != nil {
				return Row{}, tbl, fmt.Errorf("_table is %s, not a string", snippet(raw))
			}
			if ns, t, ok := strings.Cut(s, ":"); ok {
				tbl = TableName{Namespace: ns, Name: t}
			} else {
				tbl = TableName{Name: s}
			}
		} else {
			names = append(names, name)
			cells = append(cells, raw)
		}
		if i = jsonscan.SkipSpace(p, vend); p[i] == ',' {
			i = jsonscan.SkipSpace(p, i+1)
		}
	}
	res := prev
	if !sameColumns(prev, names) {
		res = &StatementResult{Columns: make([]Column, len(names)), byName: make(map[string]int, len(names)), RowCount: 1}
		for j, name := range names {
			res.Columns[j] = Column{Name: name, Index: j, Type: DataType{Kind: KindUnknown, Name: "Unknown"}}
			if _, dup := res.byName[strings.ToLower(name)]; !dup {
				res.byName[strings.ToLower(name)] = j
			}
		}
	}
	return Row{res: res, cells: cells}, tbl, nil
}

func sameColumns(s *StatementResult, names []string) bool {
	if s == nil || len(s.Columns) != len(names) {
		return false
	}
	for i, c := range s.Columns {
		if c.Name != names[i] {
			return false
		}
	}
	return true
}
