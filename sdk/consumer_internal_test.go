package sdk

import (
	"encoding/base64"
	"fmt"
	"github.com/stretchr/testify/require"
	"strings"
	"testing"
)

func TestPayloadRow(t *testing.T) {
	row, tbl, err := payloadRow([]byte(` { "id" : "18446744073709551615", "Name":"a\"b", "name":"dup", "nested":{"k":[1,"}"]},"_table":"ns:t","n":null } `), nil)
	require.NoError(t, err)
	if tbl != (TableName{Namespace: "ns", Name: "t"}) {
		t.Fatalf("table %+v", tbl)
	}
	if row.Len() != 5 {
		t.Fatalf("%d cells, want 5 (_table removed)", row.Len())
	}
	if u, err := row.Uint64("id"); err != nil || u != 18446744073709551615 {
		t.Fatalf("id = %d, %v", u, err)
	}
	if s, err := row.String("name"); err != nil || s != `a"b` {
		t.Fatalf("name = %q, %v: the first of two case-insensitive duplicates wins", s, err)
	}
	if raw, err := row.Raw("nested"); err != nil || string(raw) != `{"k":[1,"}"]}` {
		t.Fatalf("nested = %s, %v", raw, err)
	}
	if null, err := row.IsNull("n"); err != nil || !null {
		t.Fatalf("n null = %v, %v", null, err)
	}

	// The same field order shares the columns; another order does not.
	again, _, err := payloadRow([]byte(`{"id":"1","Name":"x","name":"y","nested":{},"n":1}`), row.res)
	if err != nil || again.res != row.res {
		t.Fatalf("same shape: shared=%v err=%v", again.res == row.res, err)
	}
	other, _, err := payloadRow([]byte(`{"n":1,"id":"1"}`), row.res)
	if err != nil || other.res == row.res || other.res.Columns[0].Name != "n" {
		t.Fatalf("other shape: %+v, %v", other.res, err)
	}

	for _, bad := range []string{``, `[]`, `"x"`, `{"a":1`, `{"a":1}{}`, `{"_table":1}`, "\x00"} {
		if _, _, err := payloadRow([]byte(bad), nil); err == nil {
			t.Errorf("payload %q: no error", bad)
		}
	}
	if _, tbl, err := payloadRow([]byte(`{"_table":"plain"}`), nil); err != nil || tbl != (TableName{Name: "plain"}) {
		t.Errorf("_table without a namespace: %+v, %v", tbl, err)
	}
}

// FuzzConsumeReply: no consume reply makes the decoder or a record's row
// panic.
func FuzzConsumeReply(f *testing.F) {
	p := base64.StdEncoding.EncodeToString([]byte(`{"id":"1","_table":"a:b"}`))
	f.Add([]byte(fmt.Sprintf(`{"messages":[{"topic_id":"t.x","partition_id":0,"offset":0,"payload":%q,"key":null,"timestamp_ms":1,"op":"Insert"}],"next_offset":1,"has_more":false}`, p)))
	f.Add([]byte(`{"messages":[],"next_offset":0,"has_more":true}`))
	f.Add([]byte(`{"messages":[{"offset":1,"payload":"e30="},{"offset":1}]}`))
	f.Add([]byte(`{"messages":[{"offset":18446744073709551615,"payload":"eyJhIjpbMSx7fV19"}]}`))
	k := &Consumer{cfg: ConsumerConfig{Topic: "t.x", Group: "g"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := k.decodeConsume(200, "application/json", body)
		if err != nil {
			return
		}
		for i := range res.records {
			row, err := res.records[i].Row()
			if err != nil {
				continue
			}
			if _, err := row.Map(); err != nil {
				continue
			}
		}
	})
}

// BenchmarkDecodeConsume decodes a consume reply of 100 messages (the
// client's share of a poll, without the network and the server).
func BenchmarkDecodeConsume(b *testing.B) {
	var msgs []string
	for o := 0; o < 100; o++ {
		p := base64.StdEncoding.EncodeToString(fmt.Appendf(nil, `{"id":"%d","item":"item-%d","total":"%d","_seq":"245700000000%d","_commit_seq":"17","_deleted":false,"_table":"shop:orders"}`, o, o, o*1000000007, o))
		msgs = append(msgs, fmt.Sprintf(`{"topic_id":"shop.orders","partition_id":0,"offset":%d,"payload":%q,"key":"%d","timestamp_ms":1700000000123,"op":"Insert"}`, o, p, o))
	}
	body := []byte(fmt.Sprintf(`{"messages":[%s],"next_offset":100,"has_more":true}`, strings.Join(msgs, ",")))
	k := &Consumer{cfg: ConsumerConfig{Topic: "shop.orders", Group: "g"}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := k.decodeConsume(200, "application/json", body)
		if err != nil || len(res.records) != 100 {
			b.Fatalf("%d records, %v", len(res.records), err)
		}
	}
	b.ReportMetric(float64(100*b.N)/b.Elapsed().Seconds(), "records/s")
}
