package sdk

import (
	"encoding/base64"
	"fmt"
	"testing"
)

func TestPayloadRow(t *testing.T) {
	row, tbl, err := payloadRow([]byte(` { "id" : "18446744073709551615", "Name":"a\"b", "name":"dup", "nested":{"k":[1,"}"]},"_table":"ns:t","n":null } `), nil)
	if err != nil {
		t.Fatal(err)
	}
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
