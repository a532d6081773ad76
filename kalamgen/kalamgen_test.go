package kalamgen_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kalamstack/kalam-go/kalamgen"
	"github.com/kalamstack/kalam-go/sdk"
)

func TestArg(t *testing.T) {
	day := time.Date(2024, 2, 29, 13, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		kind sdk.Kind
		in   any
		want any
	}{
		{sdk.KindDate, day, "2024-02-29"},
		{sdk.KindTimestamp, day, day},
		{sdk.KindTime, 10*time.Hour + 5*time.Second + 250*time.Microsecond, "10:00:05.000250"},
		{sdk.KindEmbedding, []float32{0.1, -2, 3e-8}, "[0.1,-2,3e-8]"},
		{sdk.KindJSON, json.RawMessage(`{"a":1}`), `{"a":1}`},
		{sdk.KindFile, sdk.FileRef{ID: "1", Sub: "f0001", Name: "a.txt"}, `{"id":"1","sub":"f0001","name":"a.txt","size":0,"mime":"","sha256":""}`},
		{sdk.KindBigInt, int64(9007199254740993), int64(9007199254740993)},
	} {
		got, err := kalamgen.Arg(tc.kind, tc.in)
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
	_, err := kalamgen.Arg(sdk.KindTime, 25*time.Hour)
	assert.ErrorContains(t, err, "outside 0..24h")
	_, err = kalamgen.Arg(sdk.KindJSON, json.RawMessage(`{`))
	assert.ErrorContains(t, err, "not valid JSON")
}
