package realtime

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gz(t testing.TB, p []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(p)
	w.Close()
	return b.Bytes()
}

func TestDecodeChangeKeepsSeqExact(t *testing.T) {
	m, err := Decode(false, []byte(`{"type":"change","subscription_id":"s","change_type":"update",
		"rows":[{"id":"7","_seq":"307012400000000002"}],"old_values":[{"id":"7","_seq":"307012399999000001","status":"open"}]}`), 0)
	require.NoError(t, err)
	if seq, ok := m.Rows[0].Seq(); !ok || seq != 307012400000000002 {
		t.Fatalf("row seq %d %v", seq, ok)
	}
	if seq, _ := m.OldValues[0].Seq(); seq != 307012399999000001 {
		t.Fatalf("old seq %d", seq)
	}
	if string(get(m.OldValues[0], "status")) != `"open"` {
		t.Fatalf("old status %s", get(m.OldValues[0], "status"))
	}
}

func TestDecodeBatchControlIntegersAboveTwoTo53(t *testing.T) {
	m, err := Decode(false, []byte(`{"type":"initial_data_batch","subscription_id":"s","rows":[],
		"batch_control":{"batch_num":1,"has_more":true,"status":"loading_batch","last_seq_id":9007199254740993,"snapshot_end_seq":null}}`), 0)
	require.NoError(t, err)
	require.EqualValues(t, 9007199254740993, *m.BatchControl.LastSeqID)
	require.Nil(t, m.BatchControl.SnapshotEndSeq)
	require.False(t, m.BatchControl.Ready(), "batch control %+v", m.BatchControl)
}

func TestDecodeGzipAndMsgpack(t *testing.T) {
	js := []byte(`{"type":"error","subscription_id":"protocol","code":"UNSUPPORTED_DATA","message":"` + strings.Repeat("x", 600) + `"}`)
	// msgpack mode sends error frames as gzip(JSON): the decoder sniffs '{'.
	m, err := Decode(true, gz(t, js), 0)
	require.NoError(t, err)
	require.Equal(t, "UNSUPPORTED_DATA", m.Code, "gzip json: %v %+v", err, m)
	mp := []byte{0x83, 0xa4, 't', 'y', 'p', 'e', 0xa6, 'c', 'h', 'a', 'n', 'g', 'e',
		0xaf, 's', 'u', 'b', 's', 'c', 'r', 'i', 'p', 't', 'i', 'o', 'n', '_', 'i', 'd', 0xa1, 's',
		0xa4, 'r', 'o', 'w', 's', 0x91, 0x82, 0xa4, '_', 's', 'e', 'q', 0xd3, 0x04, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0xa1, 'b', 0xc4, 0x02, 0x01, 0xff}
	m, err = Decode(true, gz(t, mp), 0)
	require.NoError(t, err)
	if seq, ok := m.Rows[0].Seq(); !ok || seq != 0x0442000000000001 {
		t.Fatalf("msgpack int64 seq %d %v", seq, ok)
	}
	if string(get(m.Rows[0], "b")) != "[1,255]" {
		t.Fatalf("bin as byte array: %s", get(m.Rows[0], "b"))
	}
}

// Official SDK defect B5: inflation had no size limit and a failed inflate
// fell back silently to the raw bytes.
func TestDefectB5GzipIsBoundedAndFailuresAreErrors(t *testing.T) {
	big := gz(t, []byte(`{"type":"change","pad":"`+strings.Repeat("a", 5000)+`"}`))
	_, err := Decode(true, big, 1000)
	require.ErrorIs(t, err, ErrMessageTooLarge, "oversized inflate: %v", err)
	broken := append([]byte{0x1f, 0x8b}, bytes.Repeat([]byte{0}, 20)...)
	_, err = Decode(true, broken, 0)
	require.Error(t, err)
	require.Contains(t, err.Error(), "gzip", "corrupt gzip must be an error naming gzip, got %v", err)
}

func TestDecodeRejectsMalformedFrames(t *testing.T) {
	for name, in := range map[string][]byte{
		"not json":   []byte(`hello`),
		"no type":    []byte(`{"subscription_id":"s"}`),
		"bad seq":    []byte(`{"type":"initial_data_batch","batch_control":{"last_seq_id":1.5}}`),
		"truncated":  []byte(`{"type":"change","rows":[`),
		"empty":      nil,
		"bad msgpck": {0x82, 0xa1},
	} {
		_, err := Decode(name == "bad msgpck", in, 0)
		assert.Error(t, err, "%s: decoded without error", name)
	}
}

func TestMsgpackTranscoding(t *testing.T) {
	cases := []struct {
		in   []byte
		want string
	}{
		{[]byte{0xc0}, `null`},
		{[]byte{0xc3}, `true`},
		{[]byte{0x7f}, `127`},
		{[]byte{0xff}, `-1`},
		{[]byte{0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, `18446744073709551615`},
		{[]byte{0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0}, `-9223372036854775808`},
		{[]byte{0xcb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0}, `1.5`},
		{[]byte{0xa2, '"', '\n'}, `"\"\n"`},
		{[]byte{0x92, 0x01, 0x80}, `[1,{}]`},
	}
	for _, c := range cases {
		got, err := MsgpackToJSON(c.in)
		assert.False(t, err != nil || string(got) != c.want, "% x: got %s, %v; want %s", c.in, got, err, c.want)
		assert.True(t, json.Valid(got), "% x: invalid JSON %s", c.in, got)
	}
	for name, in := range map[string][]byte{
		"nan":       {0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0},
		"int key":   {0x81, 0x01, 0x01},
		"ext":       {0xd4, 0x01, 0x01},
		"trailing":  {0xc0, 0xc0},
		"truncated": {0xdd, 0, 0, 0, 5, 0x01},
		"bad utf8":  {0xa1, 0xff},
		"deep":      bytes.Repeat([]byte{0x91}, 100),
	} {
		_, err := MsgpackToJSON(in)
		assert.Error(t, err, "%s: transcoded without error", name)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(false, []byte(`{"type":"change","subscription_id":"s","change_type":"insert","rows":[{"_seq":"1"}]}`))
	f.Add(true, []byte{0x81, 0xa4, 't', 'y', 'p', 'e', 0xa5, 'e', 'r', 'r', 'o', 'r'})
	f.Add(true, gz(f, []byte(`{"type":"subscription_ack","schema":[{"name":"id","data_type":{"Decimal":{"precision":1,"scale":0}}}]}`)))
	f.Fuzz(func(t *testing.T, binary bool, p []byte) {
		m, err := Decode(binary, p, 1<<20)
		require.False(t, err == nil && m.Type == "", "decoded a message without a type")
		for _, r := range m.safeRows() {
			r.Seq()
		}
	})
}

func (m *ServerMessage) safeRows() []RawRow {
	if m == nil {
		return nil
	}
	return append(append([]RawRow(nil), m.Rows...), m.OldValues...)
}

// Official SDK defect C4: reconnect delays had no jitter. Here they vary
// within [window/2, window].
func TestDefectC4BackoffHasJitterWithinBounds(t *testing.T) {
	lo, hi := 100*time.Millisecond, 2*time.Second
	distinct := map[time.Duration]bool{}
	for n := 1; n <= 40; n++ {
		d := backoff(n, lo, hi)
		window := min(lo<<min(n-1, 30), hi)
		require.GreaterOrEqual(t, d, window/2)
		require.LessOrEqual(t, d, window, "attempt %d: delay %v outside [%v, %v]", n, d, window/2, window)
		distinct[d] = true
	}
	require.GreaterOrEqual(t, len(distinct), 20, "only %d distinct delays in 40 attempts: no jitter", len(distinct))
	d := backoff(1000, lo, hi)
	require.LessOrEqual(t, d, hi, "attempt 1000 overflowed: %v", d)
}

func TestPacerBoundsEverySecond(t *testing.T) {
	b := newBucket(30, 10)
	var waited time.Duration
	for range 40 {
		waited += b.take()
	}
	// 10 immediately, then 30 more at 30/s: about a second of waiting in all.
	require.True(t, waited >= 900*time.Millisecond, "40 messages cleared after %v of waits; the pacer lets more than burst+rate through in a second", waited)
}

// Official Rust SDK defect R5: rows without _seq lost their dedup; here
// they are kept, never dropped, and the filter drops only rows at or below
// the mark.
func TestDefectR5ReplayFilterKeepsRowsWithoutSeq(t *testing.T) {
	rows := []RawRow{{{Name: "_seq", Value: json.RawMessage(`"5"`)}}, {{Name: "row_id", Value: json.RawMessage(`"u:1"`)}}, {{Name: "_seq", Value: json.RawMessage(`"7"`)}}}
	got := filterRows(rows, 5)
	if len(got) != 2 || get(got[0], "row_id") == nil {
		t.Fatalf("filtered %v", got)
	}
	if len(filterRows(rows, 1)) != 3 {
		t.Fatal("rows above the mark were dropped")
	}
}

func TestEncodeClientMessages(t *testing.T) {
	bs, from := 50, int64(307012345678901248)
	got := string(EncodeSubscribe("s-1-1", "SELECT * FROM a.b", &SubscribeOptions{BatchSize: &bs, From: &from}))
	require.Equal(t, `{"type":"subscribe","subscription":{"id":"s-1-1","sql":"SELECT * FROM a.b","options":{"batch_size":50,"from":307012345678901248}}}`, got)
	got = string(EncodeSubscribe("s", "q", nil))
	require.Contains(t, got, `"options":null`, "live-only must send options null: %s", got)
	got = string(EncodeNextBatch("s", 9007199254740993))
	require.Equal(t, `{"type":"next_batch","subscription_id":"s","last_seq_id":9007199254740993}`, got)
	got = string(EncodeAuthenticate("tok", "msgpack"))
	require.Equal(t, `{"type":"authenticate","method":"jwt","token":"tok","protocol":{"serialization":"msgpack","compression":"gzip"}}`, got)
}

func get(r RawRow, name string) json.RawMessage {
	v, _ := r.Get(name)
	return v
}

// Without a client that asked for MessagePack, a binary frame that is not
// JSON is refused with an error that says so (the decoder is not linked).
func TestDecodeMessagePackNotAskedFor(t *testing.T) {
	old := msgpackDecoder.Load()
	msgpackDecoder.Store(nil)
	defer msgpackDecoder.Store(old)
	_, err := Decode(true, []byte{0x81, 0xa4, 't', 'y', 'p', 'e'}, 0)
	require.ErrorContains(t, err, "no client asked for MessagePack")
	m, err := Decode(true, []byte(`{"type":"ping"}`), 0)
	require.NoError(t, err)
	require.Equal(t, "ping", m.Type)
}
