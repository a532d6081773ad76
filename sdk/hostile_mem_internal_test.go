package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/sdk/internal/realtime"
	"github.com/kalamstack/kalam-go/transport"
)

// allocatedDuring returns the bytes allocated while f ran (TotalAlloc
// counts every allocation, so it bounds the peak from above).
func allocatedDuring(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

func bodyResponse(body io.Reader, contentLength int64) *transport.Response {
	h := map[string][]string{"Content-Type": {"application/json"}}
	if contentLength >= 0 {
		h["Content-Length"] = []string{fmt.Sprint(contentLength)}
	}
	return &transport.Response{StatusCode: 200, Header: h, Body: io.NopCloser(body)}
}

// Issue 9 item 12: a declared 64 MiB Content-Length with 33 bytes sent
// allocated 64 MiB up front.
func TestHostileDeclaredLengthAllocatesOnlyWhatArrives(t *testing.T) {
	c := &Client{maxResponseBytes: DefaultMaxResponseBytes}
	body := []byte(`{"status":"success","results":[]}`)
	require.Len(t, body, 33)
	var got []byte
	var err error
	n := allocatedDuring(func() {
		got, err = c.readBody(context.Background(), bodyResponse(bytes.NewReader(body), 64<<20))
	})
	require.NoError(t, err)
	assert.Equal(t, body, got)
	assert.Less(t, n, uint64(256<<10), "allocated %d bytes for a 33-byte body", n)
}

// Issue 9 item 12: a body near the limit peaked at 3–6 times it. Reading
// and decoding it now allocates within a small constant of its size, with
// or without an honest Content-Length.
func TestHostileBodyNearTheLimitStaysWithinAConstant(t *testing.T) {
	const limit = 8 << 20
	var b strings.Builder
	b.WriteString(`{"status":"success","results":[{"schema":[{"name":"id","data_type":"BigInt","index":0},{"name":"body","data_type":"Text","index":1}],"rows":[`)
	text := strings.Repeat("x", 1000)
	rows := 0
	for b.Len() < limit-2048 {
		if rows > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `["%d","%s"]`, rows, text)
		rows++
	}
	fmt.Fprintf(&b, `],"row_count":%d,"as_user":"root"}],"took":1.5,"error":null}`, rows)
	body := []byte(b.String())
	require.LessOrEqual(t, len(body), limit)
	c := &Client{maxResponseBytes: limit}
	for _, declared := range []int64{int64(len(body)), -1} {
		var res *Result
		var err error
		n := allocatedDuring(func() {
			var raw []byte
			raw, err = c.readBody(context.Background(), bodyResponse(bytes.NewReader(body), declared))
			if err == nil {
				res, err = decodeResult(200, "application/json", raw)
			}
		})
		require.NoError(t, err)
		require.Len(t, res.Rows(), rows)
		assert.LessOrEqual(t, n, uint64(len(body))*5/2, "Content-Length %d: %d bytes allocated for a %d-byte body", declared, n, len(body))
	}
	// One byte over the limit fails without reading on.
	_, err := c.readBody(context.Background(), bodyResponse(io.MultiReader(bytes.NewReader(body), strings.NewReader(strings.Repeat(" ", limit))), -1))
	require.ErrorIs(t, err, ErrResponseTooLarge)
}

// Issue 9 item 13: replies KalamDB cannot have sent are
// ErrUnexpectedResponse, not a bare error.
func TestStructurallyImpossibleRepliesAreUnexpectedResponses(t *testing.T) {
	schema := `"schema":[{"name":"a","data_type":"Int","index":0},{"name":"b","data_type":"Int","index":1}]`
	for name, body := range map[string]string{
		"ragged row":     `{"status":"success","results":[{` + schema + `,"rows":[[1,2],[3]],"row_count":2}]}`,
		"long row":       `{"status":"success","results":[{` + schema + `,"rows":[[1,2,3]],"row_count":1}]}`,
		"row_count high": `{"status":"success","results":[{` + schema + `,"rows":[[1,2]],"row_count":5}]}`,
		"row_count low":  `{"status":"success","results":[{` + schema + `,"rows":[[1,2],[3,4]],"row_count":1}]}`,
		"row not array":  `{"status":"success","results":[{` + schema + `,"rows":[{"a":1,"b":2}],"row_count":1}]}`,
		"negative count": `{"status":"success","results":[{"row_count":-1}]}`,
		"bad data_type":  `{"status":"success","results":[{"schema":[{"name":"a","data_type":[1],"index":0}],"rows":[],"row_count":0}]}`,
	} {
		_, err := decodeResult(200, "application/json", []byte(body))
		require.Error(t, err, name)
		assert.True(t, errors.Is(err, ErrUnexpectedResponse), "%s: %v", name, err)
		var re *ResponseError
		assert.True(t, errors.As(err, &re), name)
	}
	// DML: row_count without rows is what was affected.
	res, err := decodeResult(200, "application/json", []byte(`{"status":"success","results":[{"row_count":3,"message":"Inserted 3 row(s)"}]}`))
	require.NoError(t, err)
	assert.Equal(t, 3, res.RowCount)
}

// Issue 9 item 12: a 4 MiB server message ended up whole in the error
// string; it is cut there and kept whole in the error's fields.
func TestHugeServerMessageIsCutInTheErrorString(t *testing.T) {
	msg := strings.Repeat("é", 2<<20) // 4 MiB, two bytes a character
	body := []byte(`{"status":"error","results":[],"took":0,"error":{"code":"SQL_EXECUTION_ERROR","message":"` + msg + `"}}`)
	_, err := decodeResult(400, "application/json", body)
	require.Error(t, err)
	assert.Less(t, len(err.Error()), 2048, "error string of %d bytes", len(err.Error()))
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, msg, se.Message)
	assert.True(t, strings.HasSuffix(err.Error(), "… (cut)"), "the cut is visible")
	assert.True(t, strings.ToValidUTF8(err.Error(), "?") == err.Error(), "cut on a character boundary")

	sub := &SubscriptionError{Code: "INVALID_SQL", Message: msg}
	assert.Less(t, len(sub.Error()), 2048)
}

// Issue 9 item 12: Row.Bytes of a 16 MiB value went through an []int of
// 128 MiB (1.1 GiB in all); it now allocates the bytes once.
func TestLargeBytesCellAllocatesItsSizeOnce(t *testing.T) {
	const size = 16 << 20
	raw := make([]byte, 0, 4*size+2)
	raw = append(raw, '[')
	for i := range size {
		if i > 0 {
			raw = append(raw, ',')
		}
		raw = strconv.AppendInt(raw, int64(i%256), 10)
	}
	raw = append(raw, ']')
	var got []byte
	var err error
	n := allocatedDuring(func() { got, err = bytesOf(raw) })
	require.NoError(t, err)
	require.Len(t, got, size)
	assert.Equal(t, byte(255), got[255])
	assert.LessOrEqual(t, n, uint64(size)+64<<10, "%d bytes allocated for a %d-byte value", n, size)
	for _, bad := range []string{`[256]`, `[1,]`, `[-1]`, `[1,"a"]`, `[1.5]`} {
		_, err := bytesOf([]byte(bad))
		assert.Error(t, err, bad)
	}
	got, err = bytesOf([]byte(`[ 1, 2 ,3 ]`)) // spaced: the general path
	require.NoError(t, err)
	assert.Equal(t, []byte{1, 2, 3}, got)
}

// Issue 9 item 12: every new column name in a row copied the subscription's
// name index (quadratic under a flood); the names a subscription may add
// are bounded, and going past the bound is an error, not silence.
func TestColumnNameFloodIsBounded(t *testing.T) {
	var d rowDecoder
	require.NoError(t, d.setSchema(nil))
	var err error
	rows := 0
	for i := range 100_000 {
		_, err = d.rows([]realtime.RawRow{{{Name: fmt.Sprintf("c%d", i), Value: json.RawMessage(`1`)}, {Name: "_seq", Value: json.RawMessage(`"1"`)}}})
		if err != nil {
			break
		}
		rows++
	}
	require.ErrorIs(t, err, ErrUnexpectedResponse)
	assert.Equal(t, maxExtraColumns, rows)
	assert.LessOrEqual(t, len(d.res.Columns), maxExtraColumns+len(systemColumns))
}
