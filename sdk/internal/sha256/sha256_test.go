package sha256

import (
	stdsha "crypto/sha256"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// Digests equal crypto/sha256's for every length around the block and
// padding boundaries, written whole and in random pieces.
func TestMatchesCryptoSHA256(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	data := make([]byte, 1000)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for n := 0; n <= len(data); n++ {
		want := stdsha.Sum256(data[:n])
		h := New()
		h.Write(data[:n])
		require.Equal(t, want[:], h.Sum(nil), "length %d", n)

		h.Reset()
		for p := data[:n]; len(p) > 0; {
			c := min(len(p), 1+r.IntN(130))
			h.Write(p[:c])
			p = p[c:]
		}
		require.Equal(t, want[:], h.Sum(nil), "length %d in pieces", n)
		require.Equal(t, want[:], h.Sum(nil), "Sum changed the state")
	}
	require.Equal(t, Size, New().Size())
	require.Equal(t, BlockSize, New().BlockSize())
}
