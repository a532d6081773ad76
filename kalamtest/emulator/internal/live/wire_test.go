//go:build !js

package live

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// §3.2: payloads from 512 bytes go out as binary gzip(JSON); smaller ones as text;
// ?compress=false keeps everything text.
func TestGzipFrames(t *testing.T) {
	e := newEnv(t, nil)
	e.exec(rootID, `CREATE TABLE app.docs (id BIGINT PRIMARY KEY, body TEXT) WITH (TYPE='SHARED', ACCESS_LEVEL='public')`)
	body := strings.Repeat("lorem ipsum ", 100)
	e.exec(rootID, fmt.Sprintf(`INSERT INTO app.docs (id, body) VALUES (1, '%s')`, body))
	for _, tc := range []struct {
		query string
		gzip  bool
	}{{"", true}, {"compress=false", false}} {
		c := e.dial(dialOpts{query: tc.query})
		c.sendText(`{"type":"authenticate","method":"jwt","token":"alice","protocol":{"serialization":"json","compression":"gzip"}}`)
		c.expect("auth_success")
		c.subscribe("d", "SELECT * FROM app.docs", map[string]any{})
		ack, err := c.readFrame(5 * time.Second)
		require.NoError(t, err)
		require.Equal(t, websocket.MessageText, ack.typ, "%q: small ack should be text: %v %v", tc.query, ack.typ, err)
		f, err := c.readFrame(5 * time.Second)
		require.NoError(t, err)
		isGzip := f.typ == websocket.MessageBinary && bytes.HasPrefix(f.data, []byte{0x1f, 0x8b})
		require.Equal(t, tc.gzip, isGzip, "%q: batch frame type %v gzip=%v, want gzip=%v", tc.query, f.typ, isGzip, tc.gzip)
		rows := rowsOf(t, decodeFrame(t, f), "rows")
		require.EqualValues(t, body, rows[0]["body"], "%q: body did not survive the frame", tc.query)
	}
}

// §3.1-§3.3: msgpack mode: data messages are binary msgpack, errors stay JSON
// text; client binary msgpack (and gzip-wrapped msgpack) is accepted;
// 64-bit integers are exact.
func TestMsgpackMode(t *testing.T) {
	e := newEnv(t, nil)
	e.sharedTable(1)
	c := e.dial(dialOpts{header: http.Header{"Authorization": {"Bearer alice"}}, query: "serialization=msgpack&compress=false"})
	c.expect("auth_success")
	sub := obj{{"type", "subscribe"}, {"subscription", obj{{"id", "m"}, {"sql", "SELECT * FROM app.todos"}, {"options", obj{{"batch_size", 10}}}}}}
	frame, err := appendMsgpack(nil, sub)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, gzipBytes(frame)))
	ack, err := c.readFrame(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageBinary, ack.typ)
	require.NotEqualValues(t, '{', ack.data[0], "ack should be binary msgpack: %v %v", ack.typ, err)
	m := decodeFrame(t, ack)
	require.EqualValues(t, "subscription_ack", m["type"])
	require.EqualValues(t, "m", m["subscription_id"], "ack %v", m)
	b := c.expect("initial_data_batch")
	end := num(t, bcOf(t, b)["snapshot_end_seq"])
	require.True(t, end > 1<<53, "snapshot_end_seq %d should exceed 2^53 exactly as an integer", end)
	// error frames stay JSON text in msgpack mode.
	nb, _ := appendMsgpack(nil, obj{{"type", "next_batch"}, {"subscription_id", "ghost"}})
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, nb))
	f, err := c.readFrame(5 * time.Second)
	require.NoError(t, err)
	require.Equal(t, websocket.MessageText, f.typ)
	require.Contains(t, string(f.data), `"code":"BATCH_FETCH_FAILED"`, "error frame in msgpack mode: %v %s %v", f.typ, f.data, err)
	require.NoError(t, c.ws.Write(ctx, websocket.MessageBinary, []byte{0xc1}))
	m = c.expect("error")
	require.EqualValues(t, "UNSUPPORTED_DATA", m["code"])
	require.EqualValues(t, "protocol", m["subscription_id"], "bad msgpack: %v", m)
}

// §3.3: binary frames in JSON mode get UNSUPPORTED_DATA and the connection stays.
func TestBinaryInJSONMode(t *testing.T) {
	e := newEnv(t, nil)
	c := e.login("alice")
	require.NoError(t, c.ws.Write(context.Background(), websocket.MessageBinary, []byte{0x80}))
	m := c.expect("error")
	require.EqualValues(t, "UNSUPPORTED_DATA", m["code"])
	require.EqualValues(t, "Binary not supported", m["message"], "%v", m)
	c.quiet("still-open")
}

func TestMsgpackRoundTrip(t *testing.T) {
	for _, v := range []any{nil, true, false, int64(0), int64(-1), int64(-33), int64(127), int64(128), int64(-129), int64(70000),
		int64(math.MaxInt64), int64(math.MinInt64), uint64(math.MaxUint64), 1.5, "", strings.Repeat("x", 40), strings.Repeat("y", 70000),
		[]byte{1, 2}, []any{int64(1), "a", []any{}}, map[string]any{"a": int64(1), "b": map[string]any{"c": nil}}} {
		b, err := mpAppendAny(nil, v)
		require.NoError(t, err, "encode %v", v)
		got, err := mpDecode(b)
		require.NoError(t, err, "decode %v", v)
		require.Equal(t, v, got, "round trip %v → %v", v, got)
	}
	for _, bad := range [][]byte{{}, {0xdc, 0xff, 0xff}, {0x81, 0x01, 0x01}, {0xd9}, {0xc1}, {0x01, 0x02}} {
		_, err := mpDecode(bad)
		require.Error(t, err, "mpDecode(% x) succeeded; want an error", bad)
	}
}

func FuzzClientMessage(f *testing.F) {
	f.Add([]byte(`{"type":"subscribe","subscription":{"id":"a","sql":"SELECT * FROM a.b","options":{"from":1}}}`))
	f.Add([]byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa4, 'p', 'i', 'n', 'g'})
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, err := decodeJSON(data); err == nil {
			_, _ = parseClientMessage(v)
		}
		_, _ = decodeBinary(data)
		if q, err := analyzeSubscription(string(data)); err == nil && q.where != "" {
			if n, ok := parseFilter(q.where, "u"); ok {
				_, _ = n.matches(rowView{row: nil}, 0)
			}
		}
	})
}

// §3.1/§5.6: cells transcode to msgpack as serde_json values do: integers stay
// exact integers, strings stay strings (escapes decoded), arrays and maps nest.
func TestMsgpackCellTranscode(t *testing.T) {
	for raw, want := range map[string]any{
		`9007199254740993`:     int64(9007199254740993),
		`18446744073709551615`: uint64(math.MaxUint64),
		`"9007199254740993"`:   "9007199254740993",
		`-5`:                   int64(-5),
		`1.5`:                  1.5,
		`"a\"b\u00e9"`:         "a\"bé",
		`null`:                 nil,
		`true`:                 true,
		`[1,"x"]`:              []any{int64(1), "x"},
		`{"k":2}`:              map[string]any{"k": int64(2)},
	} {
		b, err := appendMsgpackJSON(nil, []byte(raw))
		require.NoError(t, err, "%s", raw)
		got, err := mpDecode(b)
		require.NoError(t, err, "%s: decode", raw)
		require.Equal(t, want, got, "%s → %#v, want %#v", raw, got, want)
	}
	_, err := appendMsgpackJSON(nil, []byte(`{bad`))
	require.Error(t, err, "invalid JSON cell encoded without error")
}
