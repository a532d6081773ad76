package sdk

import (
	"fmt"
	"strings"
	"testing"
)

// cannedResult1000x10 is a streamed SELECT reply: 1000 rows of 10 columns
// mixing the common types (BigInt as strings, timestamps as µs, text,
// doubles, booleans, decimals, NULLs).
func cannedResult1000x10() []byte {
	var b strings.Builder
	b.WriteString(`{"status":"success","results":[{"schema":[`)
	cols := []string{`"BigInt"`, `"Text"`, `"Int"`, `"Double"`, `"Boolean"`, `"Timestamp"`, `{"Decimal":{"precision":10,"scale":2}}`, `"Text"`, `"BigInt"`, `"Uuid"`}
	for i, dt := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"name":"c%d","data_type":%s,"index":%d}`, i, dt, i)
	}
	b.WriteString(`],"rows":[`)
	for r := 0; r < 1000; r++ {
		if r > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["%d","message number %d with \"quotes\"",%d,%d.5,%t,%d,"%d.25",null,"9007199254740993","550e8400-e29b-41d4-a716-4466554400%02d"]`,
			int64(r)*1000003, r, r, r, r%2 == 0, 1672567200000000+int64(r), r, r%100)
	}
	b.WriteString(`],"row_count":1000,"as_user":"root"}],"took":1.5,"error":null}`)
	return []byte(b.String())
}

func BenchmarkDecode1000x10(b *testing.B) {
	body := cannedResult1000x10()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := decodeResult(200, "application/json", body)
		if err != nil || len(res.Rows()) != 1000 {
			b.Fatalf("decode: %v", err)
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkDecodeAndRead1000x10 also reads every cell through the typed
// accessors, as an application would.
func BenchmarkDecodeAndRead1000x10(b *testing.B) {
	body := cannedResult1000x10()
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := decodeResult(200, "application/json", body)
		if err != nil {
			b.Fatal(err)
		}
		for _, row := range res.Rows() {
			var (
				id, big int64
				text    string
				n       int
				f       float64
				flag    bool
				ts      = new(any)
				dec     Decimal
				note    *string
				uuid    UUID
			)
			if err := row.Scan(&id, &text, &n, &f, &flag, ts, &dec, &note, &big, &uuid); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "rows/s")
}

func TestCannedResultDecodes(t *testing.T) {
	res, err := decodeResult(200, "application/json", cannedResult1000x10())
	if err != nil {
		t.Fatal(err)
	}
	if res.RowCount != 1000 || len(res.Rows()) != 1000 || len(res.Columns) != 10 {
		t.Fatalf("got %d rows (%d decoded), %d columns", res.RowCount, len(res.Rows()), len(res.Columns))
	}
	s, err := res.Rows()[999].String("c1")
	if err != nil || s != `message number 999 with "quotes"` {
		t.Fatalf("c1 = %q, %v", s, err)
	}
}
