//go:build js && wasm

package realtime

import (
	"bytes"
	"compress/gzip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The browser's DecompressionStream inflates what compress/gzip deflates,
// enforces the limit, and reports a corrupt frame as an error.
func TestGunzipDecompressionStream(t *testing.T) {
	want := []byte(strings.Repeat(`{"type":"change","rows":[1,2,3]}`, 5000))
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(want)
	require.NoError(t, err)
	require.NoError(t, zw.Close())

	got, err := gunzip(buf.Bytes(), 0)
	require.NoError(t, err)
	require.Equal(t, want, got)

	_, err = gunzip(buf.Bytes(), 1000)
	require.ErrorIs(t, err, ErrMessageTooLarge)

	corrupt := append([]byte{}, buf.Bytes()...)
	corrupt[len(corrupt)/2] ^= 0xff
	_, err = gunzip(corrupt, 0)
	require.ErrorContains(t, err, "inflating a gzip frame")
}
