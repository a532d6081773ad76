package sdk

import (
	"encoding/binary"
	"testing"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
)

// A change frame as the server writes it for a small row (JSON text).
var changeFrameJSON = []byte(`{"type":"change","subscription_id":"sub-1-1","change_type":"insert","rows":[{"id":"42","body":"hello world","score":"12.50","at":1672567200000001,"_seq":"307012399999000001","_commit_seq":"0","_deleted":false}]}`)

// The same frame in MessagePack (rmp_serde's named form).
func changeFrameMsgpack() []byte {
	var b []byte
	str := func(s string) {
		if len(s) < 32 {
			b = append(b, 0xa0|byte(len(s)))
		} else {
			b = append(b, 0xd9, byte(len(s)))
		}
		b = append(b, s...)
	}
	b = append(b, 0x84)
	str("type")
	str("change")
	str("subscription_id")
	str("sub-1-1")
	str("change_type")
	str("insert")
	str("rows")
	b = append(b, 0x91, 0x87)
	str("id")
	str("42")
	str("body")
	str("hello world")
	str("score")
	str("12.50")
	str("at")
	b = append(b, 0xd3)
	b = binary.BigEndian.AppendUint64(b, 1672567200000001)
	str("_seq")
	str("307012399999000001")
	str("_commit_seq")
	str("0")
	str("_deleted")
	b = append(b, 0xc2)
	return b
}

var changeAckSchema = []realtime.Field{
	{Name: "id", DataType: []byte(`"BigInt"`), Index: 0, Flags: []string{"pk", "nn", "uq"}},
	{Name: "body", DataType: []byte(`"Text"`), Index: 1},
	{Name: "score", DataType: []byte(`{"Decimal":{"precision":10,"scale":2}}`), Index: 2},
	{Name: "at", DataType: []byte(`"Timestamp"`), Index: 3},
}

// BenchmarkChangeEventDecode: one change frame from its bytes to the
// typed event the application reads (decode, rows, and the typed reads of
// every column), for each serialization. cpu-µs/event is the process CPU
// per event (wall µs/event suffers on a shared machine; GC included).
func BenchmarkChangeEventDecode(b *testing.B) {
	realtime.EnableMessagePack()
	for _, tc := range []struct {
		name   string
		binary bool
		frame  []byte
	}{{"json", false, changeFrameJSON}, {"msgpack", true, changeFrameMsgpack()}} {
		b.Run(tc.name, func(b *testing.B) {
			var d rowDecoder
			if err := d.setSchema(changeAckSchema); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			cpu0, haveCPU := ProcessCPU()
			for b.Loop() {
				msg, err := realtime.Decode(tc.binary, tc.frame, 0)
				if err != nil {
					b.Fatal(err)
				}
				rows, err := d.rows(msg.Rows)
				if err != nil {
					b.Fatal(err)
				}
				ev := &Insert{Rows: rows}
				r := ev.Rows[0]
				id, err1 := r.Int64("id")
				body, err2 := r.String("body")
				score, err3 := r.Decimal("score")
				at, err4 := r.Time("at")
				seq, err5 := r.Int64("_seq")
				if err1 != nil || err2 != nil || err3 != nil || err4 != nil || err5 != nil ||
					id != 42 || body != "hello world" || score.String() != "12.50" || at.UnixMicro() != 1672567200000001 || seq != 307012399999000001 {
					b.Fatalf("%d %q %v %v %d: %v %v %v %v %v", id, body, score, at, seq, err1, err2, err3, err4, err5)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "µs/event")
			if cpu1, ok := ProcessCPU(); ok && haveCPU {
				b.ReportMetric(float64(cpu1-cpu0)/float64(b.N)/1000, "cpu-µs/event")
			}
		})
	}
}
