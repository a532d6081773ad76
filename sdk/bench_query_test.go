//go:build !js

package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
)

// select1000x12 is a SELECT reply of 1000 rows × 12 columns mixing the
// common types as KalamDB writes them (BigInt as strings, timestamps as
// µs, decimals as strings, NULLs).
func select1000x12() []byte {
	var b strings.Builder
	b.WriteString(`{"status":"success","results":[{"schema":[`)
	cols := []string{`"BigInt"`, `"Text"`, `"Int"`, `"Double"`, `"Boolean"`, `"Timestamp"`,
		`{"Decimal":{"precision":10,"scale":2}}`, `"Text"`, `"BigInt"`, `"Uuid"`, `"SmallInt"`, `"Text"`}
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
		fmt.Fprintf(&b, `["%d","message number %d",%d,%d.5,%t,%d,"%d.25",null,"9007199254740993","550e8400-e29b-41d4-a716-4466554400%02d",%d,"tag-%d"]`,
			int64(r)*1000003, r, r, r, r%2 == 0, 1672567200000000+int64(r), r, r%100, r%300, r%7)
	}
	b.WriteString(`],"row_count":1000,"as_user":"root"}],"took":1.5}`)
	return []byte(b.String())
}

// row1000x12 is the struct CollectRows fills.
type row1000x12 struct {
	ID    int64       `kalam:"c0"`
	Text  string      `kalam:"c1"`
	N     int         `kalam:"c2"`
	F     float64     `kalam:"c3"`
	Flag  bool        `kalam:"c4"`
	At    time.Time   `kalam:"c5"`
	Dec   sdk.Decimal `kalam:"c6"`
	Note  *string     `kalam:"c7"`
	Big   int64       `kalam:"c8"`
	UUID  sdk.UUID    `kalam:"c9"`
	Small int16       `kalam:"c10"`
	Tag   string      `kalam:"c11"`
}

// BenchmarkSelect1000x12 measures one 1000-row SELECT, HTTP included,
// against a server that replays a canned reply (so the server's cost is
// the same small constant for every variant). "bare" is what a Go
// programmer writes with net/http and encoding/json, reading cells by
// position; every other variant reports its ratio to it (x-bare for time,
// B-x-bare for bytes allocated) from the same run.
func BenchmarkSelect1000x12(b *testing.B) {
	body := select1000x12()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/api/sql" {
			http.NotFound(w, r)
			return
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	const sql = "SELECT * FROM app.t LIMIT 1000"
	var bareNs, bareBytes float64
	report := func(b *testing.B) {
		nsOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		b.ReportMetric(nsOp/1000, "ns/row")
		if bareNs > 0 {
			b.ReportMetric(nsOp/bareNs, "x-bare")
		}
	}
	reportBytes := func(b *testing.B, total uint64) {
		if bareBytes > 0 {
			b.ReportMetric(float64(total)/float64(b.N)/bareBytes, "B-x-bare")
		}
	}

	b.Run("bare", func(b *testing.B) {
		hc := &http.Client{}
		reqBody, _ := json.Marshal(map[string]string{"sql": sql})
		b.ReportAllocs()
		start := allocatedBytes()
		for b.Loop() {
			req, _ := http.NewRequest("POST", srv.URL+"/v1/api/sql", bytes.NewReader(reqBody))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer t")
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Status  string `json:"status"`
				Results []struct {
					Rows [][]any `json:"rows"`
				} `json:"results"`
			}
			dec := json.NewDecoder(resp.Body)
			dec.UseNumber()
			err = dec.Decode(&out)
			resp.Body.Close()
			if err != nil || out.Status != "success" {
				b.Fatal(err)
			}
			var sink int64
			for _, row := range out.Results[0].Rows {
				id, _ := row[0].(string)
				n, _ := row[2].(json.Number).Int64()
				f, _ := row[3].(json.Number).Float64()
				ts, _ := row[5].(json.Number).Int64()
				at := time.UnixMicro(ts)
				sink += int64(len(id)) + n + int64(f) + at.Unix() + int64(len(row[1].(string)))
			}
			if sink == 0 {
				b.Fatal("nothing read")
			}
		}
		bareNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		bareBytes = float64(allocatedBytes()-start) / float64(b.N)
		report(b)
	})

	newClient := func(b *testing.B) *sdk.Client {
		c, err := sdk.New(srv.URL, sdk.WithToken("t"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		return c
	}

	b.Run("sdk-query", func(b *testing.B) {
		c := newClient(b)
		b.ReportAllocs()
		start := allocatedBytes()
		for b.Loop() {
			res, err := c.Query(ctx, sql)
			if err != nil || len(res.Rows()) != 1000 {
				b.Fatal(err)
			}
		}
		report(b)
		reportBytes(b, allocatedBytes()-start)
	})

	b.Run("sdk-byname", func(b *testing.B) {
		c := newClient(b)
		b.ReportAllocs()
		start := allocatedBytes()
		for b.Loop() {
			res, err := c.Query(ctx, sql)
			if err != nil {
				b.Fatal(err)
			}
			var sink int64
			for _, row := range res.Rows() {
				id, err1 := row.Int64("c0")
				text, err2 := row.String("c1")
				n, err3 := row.Int64("c2")
				f, err4 := row.Float64("c3")
				at, err5 := row.Time("c5")
				if err := errorsJoin(err1, err2, err3, err4, err5); err != nil {
					b.Fatal(err)
				}
				sink += id + int64(len(text)) + n + int64(f) + at.Unix()
			}
			if sink == 0 {
				b.Fatal("nothing read")
			}
		}
		report(b)
		reportBytes(b, allocatedBytes()-start)
	})

	b.Run("sdk-maps", func(b *testing.B) {
		c := newClient(b)
		b.ReportAllocs()
		start := allocatedBytes()
		for b.Loop() {
			res, err := c.Query(ctx, sql)
			if err != nil {
				b.Fatal(err)
			}
			maps, err := res.Maps()
			if err != nil || len(maps) != 1000 {
				b.Fatal(err)
			}
		}
		report(b)
		reportBytes(b, allocatedBytes()-start)
	})

	b.Run("sdk-collect", func(b *testing.B) {
		c := newClient(b)
		b.ReportAllocs()
		start := allocatedBytes()
		for b.Loop() {
			res, err := c.Query(ctx, sql)
			if err != nil {
				b.Fatal(err)
			}
			rows, err := sdk.CollectRows[row1000x12](res)
			if err != nil || len(rows) != 1000 || rows[999].Big != 9007199254740993 {
				b.Fatal(err)
			}
		}
		report(b)
		reportBytes(b, allocatedBytes()-start)
	})
}

func errorsJoin(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
