package sdk

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzByteArrayAgrees checks the direct Bytes-cell parser against the
// encoding/json path it short-cuts: whenever it accepts, json agrees.
func FuzzByteArrayAgrees(f *testing.F) {
	for _, s := range []string{`[]`, `[0,1,255]`, `[256]`, `[1,]`, `[01]`, `[1.0]`, `[-0]`, `[ 1 ]`, `[1e2]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		got, ok := byteArray(raw)
		if !ok {
			return
		}
		var nums []int
		require.NoError(t, json.Unmarshal(raw, &nums), "fast path accepted %q", raw)
		want := make([]byte, len(nums))
		for i, n := range nums {
			require.True(t, n >= 0 && n <= 255, "fast path accepted %q", raw)
			want[i] = byte(n)
		}
		assert.Equal(t, want, got)
	})
}
