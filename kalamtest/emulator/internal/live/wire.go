package live

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// obj is an outgoing message or row: keys in wire order. Values are nil,
// bool, int, int64, string, json.RawMessage (a cell or schema type, already
// JSON), obj, []obj, []json.RawMessage.
type obj []kv

type kv struct {
	k string
	v any
}

// compressThreshold is COMPRESSION_THRESHOLD of [WS]/compression.rs (§3.2).
const compressThreshold = 512

// appendJSON encodes v as compact JSON.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case string:
		return appendJSONString(b, x), nil
	case json.RawMessage:
		if len(x) == 0 {
			return append(b, "null"...), nil
		}
		return append(b, x...), nil
	case obj:
		b = append(b, '{')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, e.k)
			b = append(b, ':')
			var err error
			if b, err = appendJSON(b, e.v); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []obj:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	case []json.RawMessage:
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b, _ = appendJSON(b, e)
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("json: cannot encode %T", v)
}

const hexDigits = "0123456789abcdef"

func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			b = append(b, c)
			i++
			continue
		}
		if c < utf8.RuneSelf {
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// appendMsgpack encodes v as MessagePack maps with string keys.
func appendMsgpack(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return mpAppendNil(b), nil
	case bool:
		return mpAppendBool(b, x), nil
	case int:
		return mpAppendInt(b, int64(x)), nil
	case int64:
		return mpAppendInt(b, x), nil
	case string:
		return mpAppendString(b, x), nil
	case json.RawMessage:
		return appendMsgpackJSON(b, x)
	case obj:
		b = mpAppendMapHeader(b, len(x))
		for _, e := range x {
			b = mpAppendString(b, e.k)
			var err error
			if b, err = appendMsgpack(b, e.v); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []obj:
		b = mpAppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = appendMsgpack(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	case []json.RawMessage:
		b = mpAppendArrayHeader(b, len(x))
		for _, e := range x {
			var err error
			if b, err = appendMsgpackJSON(b, e); err != nil {
				return nil, err
			}
		}
		return b, nil
	}
	return nil, fmt.Errorf("msgpack: cannot encode %T", v)
}

// appendMsgpackJSON transcodes one JSON value (a cell) to MessagePack, the
// way rmp_serde writes a serde_json::Value: integers stay integers.
func appendMsgpackJSON(b []byte, raw json.RawMessage) ([]byte, error) {
	s := string(raw)
	switch {
	case len(raw) == 0, s == "null":
		return mpAppendNil(b), nil
	case s == "true":
		return mpAppendBool(b, true), nil
	case s == "false":
		return mpAppendBool(b, false), nil
	case len(raw) >= 2 && raw[0] == '"' && raw[len(raw)-1] == '"' && bytes.IndexByte(raw[1:len(raw)-1], '\\') < 0:
		return mpAppendString(b, s[1:len(s)-1]), nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return mpAppendInt(b, i), nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("cell %.40q is not JSON: %w", raw, err)
	}
	return mpAppendAny(b, normalizeNumbers(v))
}

// normalizeNumbers turns json.Number into int64, uint64 or float64.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(string(x), 10, 64); err == nil {
			return u
		}
		f, _ := strconv.ParseFloat(string(x), 64)
		return f
	case []any:
		for i := range x {
			x[i] = normalizeNumbers(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = normalizeNumbers(x[k])
		}
	}
	return v
}

// frame is one encoded server frame.
type frame struct {
	binary bool
	data   []byte
}

// encodeFrame applies §3.2: msgpack for data messages when negotiated (the
// caller passes asJSON for auth and error frames), then gzip from 512 bytes
// when compression is on and the result is strictly smaller.
func encodeFrame(msg obj, msgpack, compress bool) (frame, error) {
	var f frame
	var err error
	if msgpack {
		f.data, err = appendMsgpack(nil, msg)
		f.binary = true
	} else {
		f.data, err = appendJSON(nil, msg)
	}
	if err != nil {
		return frame{}, err
	}
	if compress && len(f.data) >= compressThreshold {
		if z := gzipBytes(f.data); len(z) < len(f.data) {
			return frame{binary: true, data: z}, nil
		}
	}
	return f, nil
}

func gzipBytes(p []byte) []byte {
	var buf bytes.Buffer
	buf.Grow(len(p) / 2)
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed) // the level is valid
	_, _ = zw.Write(p)                                 // a bytes.Buffer never fails
	_ = zw.Close()
	return buf.Bytes()
}

// clientMessage is one decoded client → server message (§4).
type clientMessage struct {
	typ string
	// authenticate
	token         string
	serialization string
	compression   string
	// subscribe
	subID      string
	sql        string
	hasOptions bool
	options    subscribeOptions
	// next_batch
	lastSeq *int64
}

type subscribeOptions struct {
	batchSize   *int64
	lastRows    *int64
	from        *int64
	snapshotEnd *int64
}

// parseClientMessage interprets a decoded JSON or msgpack value with the
// field rules of [WSM] ClientMessage (serde, internally tagged by "type").
// Errors read like serde's, since they end up in a close reason or an
// UNSUPPORTED_DATA message.
func parseClientMessage(v any) (clientMessage, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return clientMessage{}, fmt.Errorf("invalid type: %s, expected internally tagged enum ClientMessage", kindOf(v))
	}
	var cm clientMessage
	t, err := fieldString(m, "type", true)
	if err != nil {
		return cm, err
	}
	cm.typ = t
	switch t {
	case "authenticate":
		method, err := fieldString(m, "method", true)
		if err != nil {
			return cm, err
		}
		if method != "jwt" {
			return cm, fmt.Errorf("unknown variant `%s`, expected `jwt`", method)
		}
		if cm.token, err = fieldString(m, "token", true); err != nil {
			return cm, err
		}
		p, ok := m["protocol"]
		if !ok {
			return cm, fmt.Errorf("missing field `protocol`")
		}
		pm, ok := p.(map[string]any)
		if !ok {
			return cm, fmt.Errorf("invalid type: %s, expected struct ProtocolOptions", kindOf(p))
		}
		if cm.serialization, err = fieldEnum(pm, "serialization", "json", "msgpack"); err != nil {
			return cm, err
		}
		if cm.compression, err = fieldEnum(pm, "compression", "none", "gzip"); err != nil {
			return cm, err
		}
	case "subscribe":
		s, ok := m["subscription"]
		if !ok {
			return cm, fmt.Errorf("missing field `subscription`")
		}
		sm, ok := s.(map[string]any)
		if !ok {
			return cm, fmt.Errorf("invalid type: %s, expected struct SubscriptionRequest", kindOf(s))
		}
		if cm.subID, err = fieldString(sm, "id", true); err != nil {
			return cm, err
		}
		if cm.sql, err = fieldString(sm, "sql", true); err != nil {
			return cm, err
		}
		if o, ok := sm["options"]; ok && o != nil {
			om, ok := o.(map[string]any)
			if !ok {
				return cm, fmt.Errorf("invalid type: %s, expected struct SubscriptionOptions", kindOf(o))
			}
			cm.hasOptions = true
			if cm.options.batchSize, err = fieldInt(om, "batch_size", 0, math.MaxInt64); err != nil {
				return cm, err
			}
			if cm.options.lastRows, err = fieldInt(om, "last_rows", 0, math.MaxUint32); err != nil {
				return cm, err
			}
			if cm.options.from, err = fieldSeqID(om, "from"); err != nil {
				return cm, err
			}
			if cm.options.from == nil {
				if cm.options.from, err = fieldSeqID(om, "from_seq_id"); err != nil {
					return cm, err
				}
			}
			if cm.options.snapshotEnd, err = fieldSeqID(om, "snapshot_end_seq"); err != nil {
				return cm, err
			}
		}
	case "next_batch":
		if cm.subID, err = fieldString(m, "subscription_id", true); err != nil {
			return cm, err
		}
		if cm.lastSeq, err = fieldInt(m, "last_seq_id", math.MinInt64, math.MaxInt64); err != nil {
			return cm, err
		}
	case "unsubscribe":
		if cm.subID, err = fieldString(m, "subscription_id", true); err != nil {
			return cm, err
		}
	case "ping":
	default:
		return cm, fmt.Errorf("unknown variant `%s`, expected one of `authenticate`, `subscribe`, `next_batch`, `unsubscribe`, `ping`", t)
	}
	return cm, nil
}

// fieldSeqID reads an optional SeqId option. The real server buffers the
// subscribe message (an internally tagged enum) before SeqId deserializes
// it as an i64, so a wrong type reads "expected i64" with no field name
// and no position (kalamdb-commons/src/websocket.rs SubscriptionOptions).
func fieldSeqID(m map[string]any, key string) (*int64, error) {
	n, err := fieldInt(m, key, math.MinInt64, math.MaxInt64)
	if err != nil {
		switch v := m[key].(type) {
		case json.Number, int64, uint64:
		default:
			return nil, fmt.Errorf("invalid type: %s, expected i64", kindOf(v))
		}
	}
	return n, err
}

func kindOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return fmt.Sprintf("boolean `%v`", x)
	case string:
		return fmt.Sprintf("string %q", x)
	case json.Number, int64, uint64, float64:
		return fmt.Sprintf("number `%v`", x)
	case []any:
		return "sequence"
	case map[string]any:
		return "map"
	case []byte:
		return "byte array"
	}
	return fmt.Sprintf("%T", v)
}

func fieldString(m map[string]any, key string, required bool) (string, error) {
	v, ok := m[key]
	if !ok {
		if required {
			return "", fmt.Errorf("missing field `%s`", key)
		}
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("invalid type: %s, expected a string for field `%s`", kindOf(v), key)
	}
	return s, nil
}

func fieldEnum(m map[string]any, key string, allowed ...string) (string, error) {
	s, err := fieldString(m, key, true)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown variant `%s` for field `%s`, expected `%s` or `%s`", s, key, allowed[0], allowed[1])
}

// fieldInt reads an optional integer (null = absent). Like serde, it takes
// integers only, never decimal strings or fractions.
func fieldInt(m map[string]any, key string, lo, hi int64) (*int64, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	var n int64
	switch x := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("invalid value: %s, expected an integer for field `%s`", kindOf(v), key)
		}
		n = i
	case int64:
		n = x
	case uint64:
		return nil, fmt.Errorf("invalid value: %s, expected an i64 for field `%s`", kindOf(v), key)
	default:
		return nil, fmt.Errorf("invalid type: %s, expected an integer for field `%s`", kindOf(v), key)
	}
	if n < lo || n > hi {
		return nil, fmt.Errorf("invalid value: integer `%d`, out of range for field `%s`", n, key)
	}
	return &n, nil
}
