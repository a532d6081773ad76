package sdk_test

import (
	"context"
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/kalamstack/kalam-go/sdk"
	"github.com/stretchr/testify/require"
)

type myInt int16
type stringer struct{ v string }

func (s stringer) String() string { return "S:" + s.v }

func TestArgsEncoding(t *testing.T) {
	f := newFake(t)
	c, _ := newClient(t, f, basic())
	var nilPtr *int
	seven := 7
	uuid := [16]byte{0x55, 0x0e, 0x84, 0x00, 0xe2, 0x9b, 0x41, 0xd4, 0xa7, 0x16, 0x44, 0x66, 0x55, 0x44, 0x00, 0x00}
	dec, _ := sdk.ParseDecimal("12.50")
	_, err := c.Query(context.Background(), "SELECT $1",
		sdk.Args(nil, true, int64(9007199254740993), uint64(math.MaxUint64), int8(-3), myInt(9),
			3.0, float32(1.5), "text", []byte("bytes"),
			time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("X", 3600)),
			json.Number("12345678901234567890"), json.RawMessage(`"raw"`), uuid, sdk.UUID(uuid),
			stringer{"x"}, dec, nilPtr, &seven))
	require.NoError(t, err)
	var body struct {
		Params json.RawMessage `json:"params"`
	}
	require.NoError(t, json.Unmarshal(f.lastSQL(t).Body, &body))
	require.Equal(t, `[null,true,9007199254740993,"18446744073709551615",-3,9,3.0,1.5,"text","bytes","2024-05-06T06:08:09.123456Z",12345678901234567890,"raw","550e8400-e29b-41d4-a716-446655440000","550e8400-e29b-41d4-a716-446655440000","S:x","12.50",null,7]`, string(body.Params))
}

func TestArgsRejectedBeforeSending(t *testing.T) {
	cases := []struct {
		arg  any
		want string
	}{
		{map[string]int{"a": 1}, "argument $2 (index 1, type map[string]int)"},
		{[]int{1}, "type []int"},
		{struct{ A int }{1}, "struct { A int }"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
		{[]byte{0xff, 0xfe}, "not valid UTF-8"},
		{json.RawMessage(`[1,2]`), "arrays or objects"},
		{json.Number("12abc"), "not a number"},
		{make(chan int), "chan int"},
	}
	for _, tc := range cases {
		f := newFake(t)
		c, _ := newClient(t, f, basic())
		_, err := c.Query(context.Background(), "SELECT $1, $2", sdk.Args("ok", tc.arg))
		require.ErrorContains(t, err, tc.want)
		require.ErrorContains(t, err, "$2")
		require.EqualValues(t, 0, len(f.captured()), "nothing may be sent for a bad argument")
	}
}
